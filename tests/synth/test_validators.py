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

# Every shape of app the README documents: default (region-agnostic), pinned region, older TGI, gated model.
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
    "per-caller-limits": {"daily_token_budget": "100000", "max_streams_per_caller": "2"},
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
    templates = sorted(str(p) for p in Path(synthesized.outdir).glob("*.template.json"))
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
