"""Real validators on real synth output: cdk-nag (AwsSolutions, v3 plugin), cfn-lint, checkov."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("synth")

# Every shape of app the README and docs/ document: default (region-agnostic), pinned region, older TGI, gated model.
CONTEXTS: dict[str, dict[str, str]] = {
    "default": {},
    "us-east-1": {"region": "us-east-1"},
    "tgi-0.9.3-eu-west-1": {"tgi_version": "0.9.3", "region": "eu-west-1"},
    "falcon-180b-gated": {"model": "falcon-180b-chat", "hf_token_secret": "hf/token"},
    "api-key-auth": {"api_auth": "api_key", "reserved_concurrency": "20", "region": "us-east-1"},
    "jumpstart-us-east-1": {"deployment": "jumpstart", "region": "us-east-1"},
    "jumpstart-eu-west-1-g5-12xlarge": {
        "deployment": "jumpstart",
        "region": "eu-west-1",
        "instance_type": "ml.g5.12xlarge",
    },
    "jumpstart-agnostic": {"deployment": "jumpstart"},
    # Private deployments (same contexts as tests/synth/test_private.py, so each synth is shared).
    "private-s3-weights": {
        "model": "falcon-7b-instruct",
        "model_data": "s3://my-weights/models/falcon-7b/",
        "region": "us-east-1",
    },
    "private-all-on": {
        "model": "falcon-7b-instruct",
        "instance_type": "ml.p3.8xlarge",
        "model_data": "s3://my-weights/models/falcon-7b/",
        "model_data_kms_key": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "vpc": "create",
        "kms_key": "create",
        "data_capture": "true",
        "data_capture_days": "7",
    },
    "private-existing-vpc": {
        "vpc_id": "vpc-0123456789abcdef0",
        "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "kms_key": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "data_capture": "true",
        "region": "us-east-1",
    },
    "private-jumpstart": {"deployment": "jumpstart", "region": "us-east-1", "vpc": "create", "data_capture": "true"},
    "vllm-qwen-agnostic": {"model": "qwen2.5-7b-instruct"},
    "vllm-qwen-eu-west-1": {"model": "qwen2.5-7b-instruct", "region": "eu-west-1"},
    "vllm-llama-70b-gated": {"model": "llama-3.3-70b-instruct", "hf_token_secret": "hf/token", "region": "us-east-1"},
    "tgi-server-qwen": {"model": "qwen2.5-7b-instruct", "engine": "tgi"},
    "pipeline": {
        "pipeline": "true",
        "pipeline_connection_arn": "arn:aws:codeconnections:us-east-1:123456789012:connection/"
        "0123abcd-0123-4567-89ab-0123456789ab",
        "pipeline_repo": "acme/llm-chat",
        "account": "123456789012",
        "region": "us-east-1",
    },
    "pipeline-self-mutation": {
        "pipeline": "true",
        "pipeline_connection_arn": "arn:aws:codeconnections:us-east-1:123456789012:connection/"
        "0123abcd-0123-4567-89ab-0123456789ab",
        "pipeline_repo": "acme/llm-chat",
        "account": "123456789012",
        "region": "us-east-1",
        "pipeline_self_mutation": "true",
    },
    "g6e-account-pinned-region-agnostic": {"instance_type": "ml.g6e.12xlarge", "account": "123456789012"},
    "scale-to-zero-active-hours": {"scale_to_zero": "true", "active_hours": "MON-FRI 08:00-19:00 Europe/Berlin"},
    "scale-to-zero-jumpstart": {"deployment": "jumpstart", "region": "us-east-1", "scale_to_zero": "true"},
    "autoscaling": {"max_instances": "3", "region": "us-east-1"},
    # Prefix-aware routing (the same context as tests/synth/test_routing.py, so the synth is shared).
    "prefix-aware": {
        "model": "qwen2.5-7b-instruct",
        "routing_strategy": "prefix_aware",
        "max_instances": "3",
        "region": "us-east-1",
    },
    # Several models on one endpoint (the same contexts as tests/synth/test_several_models.py).
    "several-models": {
        "models": "qwen2.5-7b-instruct,llama-3.1-8b-instruct",
        "hf_token_secret": "hf/token",
        "embedding_model": "qwen3-embedding-0.6b",
        "adapters": "support-bot=s3://my-adapters/support/,legal=s3://my-adapters/legal/",
    },
    "several-models-scale-to-zero": {
        "models": "qwen2.5-7b-instruct,mistral-7b-instruct-v0.3,llama-3.1-8b-instruct",
        "hf_token_secret": "hf/token",
        "scale_to_zero": "true",
        "region": "us-east-1",
    },
    "ops-api-keys-email-linear": {
        "api_auth": "api_key",
        "api_keys": "alice,bob-2",
        "alarm_email": "ops@example.com",
        "instance_count": "3",
        "deployment_strategy": "linear",
        "region": "us-east-1",
    },
    "ops-rolling-email-agnostic": {
        "instance_count": "2",
        "deployment_strategy": "rolling",
        "alarm_email": "ops@example.com",
    },
    "ops-no-guardrails": {"deployment_strategy": "none"},
    "per-caller-limits": {"daily_token_budget": "100000", "max_streams_per_caller": "2"},
    # Bedrock guardrails (same contexts as tests/synth/test_guardrail.py, so each synth is shared).
    "guardrail-create": {"guardrail": "create"},
    "guardrail-existing-us-east-1": {"guardrail": "abc123def456:1", "region": "us-east-1"},
    "responses-store-vllm-limits": {
        "model": "qwen2.5-7b-instruct",
        "responses_store": "true",
        "daily_token_budget": "100000",
        "region": "us-east-1",
    },
    # Combinations across issues (same contexts as tests/synth/test_scaling.py).
    "vllm-scale-to-zero": {"model": "qwen2.5-7b-instruct", "scale_to_zero": "true", "region": "us-east-1"},
    "private-scale-to-zero": {
        "model": "falcon-7b-instruct",
        "scale_to_zero": "true",
        "model_data": "s3://my-weights/models/falcon-7b/",
        "vpc": "create",
        "data_capture": "true",
        "region": "us-east-1",
    },
}


@pytest.fixture(scope="module", params=sorted(CONTEXTS))
def synthesized(request: pytest.FixtureRequest, synth: Any) -> Any:
    return synth(**CONTEXTS[request.param])


def test_cdk_nag_has_no_unacknowledged_findings_and_every_ack_has_a_reason(synthesized: Any) -> None:
    (report,) = synthesized.validation_report["pluginReports"]
    assert report["pluginName"] == "AwsSolutions"
    assert report["conclusion"] == "success"
    assert report["violations"] == []
    for suppressed in report["suppressedViolations"]:
        assert len(suppressed["reason"]) >= 40, suppressed


def test_cfn_lint_reports_no_errors_or_warnings(synthesized: Any) -> None:
    templates = sorted(str(p) for p in Path(synthesized.outdir).rglob("*.template.json"))  # stages: nested
    out = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "json", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(out.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)
    assert out.returncode == 0, out.stderr


def test_checkov_fails_no_check_and_every_skip_has_a_reason(synthesized: Any) -> None:
    checkov = os.environ.get("CHECKOV") or shutil.which("checkov")
    if checkov is None:
        pytest.fail("checkov not found: run through `make test` (it installs .venv-checkov) or set CHECKOV")
    out = subprocess.run(
        [checkov, "-d", str(synthesized.outdir), "--framework", "cloudformation", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    reports = json.loads(out.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [f"{c['check_id']} {c['resource']}" for r in reports for c in r["results"]["failed_checks"]]
    assert failed == []
    passed = sum(len(r["results"]["passed_checks"]) for r in reports)
    assert passed > 10
    for r in reports:
        for skipped in r["results"]["skipped_checks"]:
            assert len(skipped["check_result"].get("suppress_comment", "")) >= 30, skipped["check_id"]
