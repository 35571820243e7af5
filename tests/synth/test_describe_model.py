"""No role the app creates may call sagemaker:DescribeModel: with -c hf_token_secret the Hugging Face token is in
the Model's container environment, which DescribeModel returns in plain text."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("synth")

# Shapes that carry a token (Hub downloads with a gated model) and every other kind of role the app creates.
SHAPES = {
    "falcon-180b-gated": {"model": "falcon-180b-chat", "hf_token_secret": "hf/token"},
    "vllm-llama-70b-gated": {"model": "llama-3.3-70b-instruct", "hf_token_secret": "hf/token", "region": "us-east-1"},
    "scale-to-zero-jumpstart": {"deployment": "jumpstart", "region": "us-east-1", "scale_to_zero": "true"},
    "per-caller-limits": {"daily_token_budget": "100000", "max_streams_per_caller": "2"},
    "pipeline": {
        "pipeline": "true",
        "pipeline_connection_arn": "arn:aws:codeconnections:us-east-1:123456789012:connection/"
        "0123abcd-0123-4567-89ab-0123456789ab",
        "pipeline_repo": "acme/llm-chat",
        "account": "123456789012",
        "region": "us-east-1",
    },
}
# AWS-managed policies that include DescribeModel (by name; the app attaches none of them).
BROAD_MANAGED = ("AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "AmazonSageMaker")


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_no_policy_grants_describe_model(synth: Any, shape: str) -> None:
    s = synth(**SHAPES[shape])
    granted, managed = [], []
    for path in Path(s.outdir).rglob("*.template.json"):
        for rid, resource in json.loads(path.read_text())["Resources"].items():
            props = resource.get("Properties", {})
            documents = [props.get("PolicyDocument"), props.get("KeyPolicy")]
            documents += [p.get("PolicyDocument") for p in props.get("Policies", [])]
            for doc in filter(None, documents):
                for st in doc["Statement"]:
                    if st.get("Effect", "Allow") == "Allow" and any(
                        fnmatch.fnmatchcase("sagemaker:describemodel", a.lower()) for a in _actions(st)
                    ):
                        granted.append(f"{path.name}:{rid}")
            managed += [
                f"{rid}: {arn}"
                for arn in map(json.dumps, props.get("ManagedPolicyArns", []))
                if any(name in arn for name in BROAD_MANAGED)
            ]
    assert granted == [] and managed == []
