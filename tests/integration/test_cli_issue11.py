"""The real CDK CLI against a copy of the app: keys the CLI writes itself, and destroy without the create config."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"

pytestmark = pytest.mark.xdist_group("cli")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The app in a fresh folder with its own cdk.json and cdk.context.json, as a user's checkout would be."""
    if not CDK.exists():
        pytest.fail("node_modules/.bin/cdk missing: run `make install` (make test does)")
    where = tmp_path / "project"
    where.mkdir()
    for name in ("app.py", "stacks", "constructs", "lambda", "jumpstart.lock.json", ".venv"):
        (where / name).symlink_to(ROOT / name)
    shutil.copy(ROOT / "cdk.json", where / "cdk.json")
    return where


def cdk(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_")) and k != "HOME"}
    env.update(
        HOME=str(project),  # no ~/.aws: no credentials
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_DISABLE_VERSION_CHECK="1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return subprocess.run(
        [str(CDK), *args], cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_keys_written_by_cdk_acknowledge_and_cli_telemetry_do_not_break_synth(project: Path) -> None:
    assert cdk(project, "acknowledge", "32775").returncode == 0
    assert cdk(project, "cli-telemetry", "--disable").returncode == 0
    written = json.loads((project / "cdk.context.json").read_text())
    assert written == {"acknowledged-issue-numbers": [32775], "cli-telemetry": False}

    out = cdk(project, "synth", "--quiet", "--no-notices", "-o", str(project / "cdk.out"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "unknown context key" not in out.stderr
    assert "feature flags are not configured" not in out.stderr + out.stdout  # cdk.json sets CDK's recommended ones
    assert "instance     1 x ml.g5.12xlarge" in out.stderr

    typo = cdk(project, "synth", "--quiet", "--no-notices", "-c", "modle=falcon-7b-instruct")
    assert typo.returncode != 0
    assert "unknown context key(s) 'modle' (did you mean 'model'?)" in typo.stderr


def test_destroy_and_list_need_only_the_stack_identity(project: Path) -> None:
    # Synth refuses this config (a gated model without a token); destroy and ls must not care.
    listed = cdk(project, "ls", "--no-notices", "-c", "model=falcon-180b-chat", "-c", "stack_name=ChatProd")
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert listed.stdout.split() == ["ChatProd"]
    # A pipeline deployment lists its pipeline stack too, so `cdk destroy --all` finds both.
    piped = cdk(project, "ls", "--no-notices", "-c", "pipeline=true", "-c", "stack_name=ChatProd")
    assert piped.returncode == 0, piped.stderr[-3000:]
    assert sorted(piped.stdout.split()) == ["ChatProd", "ChatProdPipeline"]

    destroyed = cdk(project, "destroy", "--force", "--no-notices", "-c", "model=falcon-180b-chat")
    # It gets as far as asking AWS (no credentials here), past the app's config validation.
    assert "LlmChat: destroying" in destroyed.stdout + destroyed.stderr
    assert "Unable to resolve AWS account" in destroyed.stderr
    assert "gated" not in destroyed.stderr
