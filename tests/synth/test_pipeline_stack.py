"""-c pipeline=true: a CDK Pipelines stack (CodeConnections source → make synth → approval → deploy)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from stacks.pipeline_stack import synth_arguments

pytestmark = pytest.mark.xdist_group("synth")

CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/0123abcd-0123-4567-89ab-0123456789ab"
PIPELINE = {
    "pipeline": "true",
    "pipeline_connection_arn": CONNECTION,
    "pipeline_repo": "acme/llm-chat",
    "account": "123456789012",
    "region": "us-east-1",
}


@pytest.fixture(scope="module")
def piped(synth: Any) -> Any:
    return synth(**PIPELINE)


def _pipeline_template(s: Any) -> dict[str, Any]:
    return dict(json.loads((Path(s.outdir) / "LlmChatPipeline.template.json").read_text()))


def _stages(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    return {stage["Name"]: stage["Actions"] for stage in pipeline["Properties"]["Stages"]}


def test_source_is_the_connection_repository_and_branch(piped: Any) -> None:
    (source,) = _stages(_pipeline_template(piped))["Source"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["ConnectionArn"] == CONNECTION
    assert source["Configuration"]["FullRepositoryId"] == "acme/llm-chat"
    assert source["Configuration"]["BranchName"] == "main"


def test_synth_step_runs_make_synth_with_the_same_context(piped: Any) -> None:
    template = _pipeline_template(piped)
    projects = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodeBuild::Project"]
    inline = [p["Properties"]["Source"]["BuildSpec"] for p in projects]
    specs = [json.loads(spec) for spec in inline if spec.startswith("{")]  # asset projects name a file instead
    (synth,) = [s for s in specs if any("make synth" in c for c in s["phases"]["build"]["commands"])]
    (command,) = synth["phases"]["build"]["commands"]
    args = shlex.split(shlex.split(command)[2].removeprefix("CDK_ARGS="))
    given = dict(a.split("=", 1) for a in args if a != "-c")
    assert {k: given[k] for k in PIPELINE} == PIPELINE
    assert given["model"] == "falcon-40b-instruct"
    assert synth["phases"]["install"]["runtime-versions"] == {"python": "3.12", "nodejs": "22"}
    assert synth["artifacts"]["base-directory"] == "cdk.out"


def test_self_mutation_uses_the_pinned_cdk_cli(piped: Any) -> None:
    pinned = json.loads((Path(__file__).resolve().parents[2] / "package.json").read_text())["devDependencies"]
    installs = re.findall(r"npm install -g (cdk-assets|aws-cdk)@([\w.]+)", json.dumps(_pipeline_template(piped)))
    assert ("aws-cdk", pinned["aws-cdk"]) in installs
    assert {version for tool, version in installs if tool == "aws-cdk"} == {pinned["aws-cdk"]}


def test_a_manual_approval_comes_before_the_endpoint_changes(piped: Any) -> None:
    stages = _stages(_pipeline_template(piped))
    assert list(stages) == ["Source", "Build", "UpdatePipeline", "Assets", "Deploy"]
    approval = [a for a in stages["Deploy"] if a["ActionTypeId"]["Category"] == "Approval"]
    deploys = [a for a in stages["Deploy"] if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert [a["Name"] for a in approval] == ["ApproveEndpointChange"]
    assert deploys and all(a["RunOrder"] > approval[0]["RunOrder"] for a in deploys)
    assert {a["Configuration"]["StackName"] for a in deploys} == {"LlmChat"}  # same name as a direct deploy


def test_artifacts_are_kms_encrypted(piped: Any) -> None:
    template = _pipeline_template(piped)
    (bucket,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    (key,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    assert key["EnableKeyRotation"] is True
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    assert pipeline["Properties"]["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"
    assert pipeline["Properties"]["PipelineType"] == "V2"


def test_the_deployed_stage_is_the_same_app(piped: Any, default_synth: Any) -> None:
    assert piped.stack.stack_name == "LlmChat"
    assert piped.stack.region == "us-east-1" and piped.stack.account == "123456789012"
    kinds = sorted(r["Type"] for r in piped.template["Resources"].values())
    assert kinds == sorted(r["Type"] for r in default_synth.template["Resources"].values())


def test_without_pipeline_there_is_only_the_app(default_synth: Any) -> None:
    assert [p.name for p in Path(default_synth.outdir).rglob("*.template.json")] == ["LlmChat.template.json"]


def test_synth_arguments_round_trip_through_the_shell() -> None:
    args = synth_arguments({"extra_env": {"A": "1 2"}, "accept_eula": True, "model": "org/x", "skip": None})
    assert shlex.split(args) == ["-c", "accept_eula=true", "-c", 'extra_env={"A": "1 2"}', "-c", "model=org/x"]
