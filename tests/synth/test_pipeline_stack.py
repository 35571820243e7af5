"""-c pipeline=true: a CDK Pipelines stack (CodeConnections source → hash-locked synth → approval → deploy)."""

from __future__ import annotations

import ast
import json
import re
import shlex
import sys
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest

import stacks.pipeline_stack as pipeline_module
from stacks.pipeline_stack import synth_arguments

ROOT = Path(__file__).resolve().parents[2]

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


@pytest.fixture(scope="module")
def self_mutating(synth: Any) -> Any:
    return synth(**PIPELINE, pipeline_self_mutation="true")


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


def _buildspecs(s: Any) -> list[dict[str, Any]]:
    """Every CodeBuild project's buildspec: inline ones, and the files the asset projects name in cdk.out."""
    template = _pipeline_template(s)
    specs = []
    for project in (r for r in template["Resources"].values() if r["Type"] == "AWS::CodeBuild::Project"):
        spec = project["Properties"]["Source"]["BuildSpec"]
        specs.append(json.loads(spec if spec.startswith("{") else (Path(s.outdir) / spec).read_text()))
    return specs


def _commands(spec: dict[str, Any]) -> list[str]:
    return [c for phase in spec["phases"].values() for c in phase.get("commands", [])]


def _synth_spec(s: Any) -> dict[str, Any]:
    (synth,) = [spec for spec in _buildspecs(s) if any("make synth" in c for c in _commands(spec))]
    return synth


def _make_recipe(target: str) -> list[str]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = lines.index(f"{target}:")
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_synth_step_runs_the_locked_synth_with_the_same_context(piped: Any) -> None:
    synth = _synth_spec(piped)
    (command,) = synth["phases"]["build"]["commands"]
    make, target, cdk_args = shlex.split(command)
    assert (make, target) == ("make", "synth-locked")
    args = shlex.split(cdk_args.removeprefix("CDK_ARGS="))
    given = dict(a.split("=", 1) for a in args if a != "-c")
    assert {k: given[k] for k in PIPELINE} == PIPELINE
    assert given["model"] == "falcon-40b-instruct"
    assert synth["phases"]["install"]["runtime-versions"] == {"python": "3.12", "nodejs": "22"}
    assert synth["artifacts"]["base-directory"] == "cdk.out"


def test_the_locked_synth_installs_only_the_hash_locked_lock_and_npm_ci() -> None:
    recipe = _make_recipe("synth-locked")
    pip = [line for line in recipe if "pip install" in line]
    assert pip == [line for line in pip if "--require-hashes" in line and "-r requirements-synth.lock" in line]
    assert len(pip) == 1 and "--no-deps" in pip[0] and "--upgrade" not in pip[0]
    assert not any("requirements-dev" in line or "$(VENV)/.installed" in line for line in recipe)
    assert [line.split()[:2] for line in recipe if line.startswith("npm ")] == [["npm", "ci"]]


def test_the_synth_lock_pins_every_package_by_hash_for_the_codebuild_python(piped: Any) -> None:
    lock = (ROOT / "requirements-synth.lock").read_text().splitlines()
    python = _synth_spec(piped)["phases"]["install"]["runtime-versions"]["python"]
    assert f"CPython {python}," in lock[0]  # the lock was resolved for the Python the buildspec asks for
    pins = {}
    for line in (x for x in lock if x and not x.startswith("#")):
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+) --hash=sha256:[0-9a-f]{64}", line)
        assert match, line
        pins[_normal(match[1])] = match[2]
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            assert pins.get(_normal(name)) == version, f"{name}: re-run make synth-lock"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_synth_lock_provides_every_module_synth_imports() -> None:
    """app.py, stacks/ and constructs/ import only the standard library, this repo and locked distributions."""
    locked = {
        _normal(line.split("==")[0])
        for line in (ROOT / "requirements-synth.lock").read_text().splitlines()
        if line and not line.startswith("#")
    }
    local = {"app", "stacks", "constructs"}
    by_module = packages_distributions()
    missing = set()
    for path in [ROOT / "app.py", *(ROOT / "stacks").rglob("*.py"), *(ROOT / "constructs").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else []
            )
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in local or top == "__future__":
                    continue
                if not {_normal(d) for d in by_module.get(top, [])} & locked:
                    missing.add(f"{top} ({path.relative_to(ROOT)})")
    assert not missing


def test_every_tool_the_pipeline_installs_is_pinned(self_mutating: Any) -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    cdk_cli = lock["packages"]["node_modules/aws-cdk"]["version"]
    installs = []
    for spec in _buildspecs(self_mutating):
        for command in _commands(spec):
            assert "@latest" not in command, command
            assert not re.search(r"pip install(?!.*--require-hashes)", command), command
            installs += re.findall(r"npm install -g (\S+)", command)
    cdk_assets = pipeline_module.CDK_ASSETS_VERSION
    assert sorted(installs) == sorted([f"aws-cdk@{cdk_cli}", f"cdk-assets@{cdk_assets}"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", cdk_assets)


def _order(s: Any) -> list[str]:
    return list(_stages(_pipeline_template(s)))


def test_a_manual_approval_comes_before_anything_that_can_change_iam(piped: Any) -> None:
    """Self-mutation is off by default; assets are published and the stack deployed only after the approval."""
    stages = _stages(_pipeline_template(piped))
    assert list(stages) == ["Source", "Build", "Approve", "Assets", "Deploy"]
    (approval,) = stages["Approve"]
    assert approval["ActionTypeId"]["Category"] == "Approval"
    assert "IAM" in approval["Configuration"]["CustomData"]
    assert all(a["ActionTypeId"]["Category"] != "Approval" for name in ("Assets", "Deploy") for a in stages[name])
    deploys = [a for a in stages["Deploy"] if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert {a["Configuration"]["StackName"] for a in deploys} == {"LlmChat"}  # same name as a direct deploy


def test_self_mutation_is_opt_in_and_runs_after_the_approval(self_mutating: Any) -> None:
    stages = _stages(_pipeline_template(self_mutating))
    assert list(stages) == ["Source", "Build", "Approve", "UpdatePipeline", "Assets", "Deploy"]
    (mutate,) = stages["UpdatePipeline"]
    assert mutate["ActionTypeId"]["Provider"] == "CodeBuild"


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
