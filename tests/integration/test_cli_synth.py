"""`make synth`'s path end to end: the pinned CDK CLI runs app.py with no AWS credentials."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"

pytestmark = pytest.mark.xdist_group("cli")


def cdk_synth(tmp_path: Path, *context: str) -> subprocess.CompletedProcess[str]:
    if not CDK.exists():
        pytest.fail("node_modules/.bin/cdk missing: run `make install` (make test does)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_")) and k not in ("HOME",)}
    env.update(
        HOME=str(tmp_path),  # no ~/.aws: no credentials, no profile
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_DISABLE_VERSION_CHECK="1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    args = [str(CDK), "synth", "--quiet", "--no-notices", "-o", str(tmp_path / "cdk.out")]
    for c in context:
        args += ["-c", c]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_default_synth_without_credentials_prints_the_summary(tmp_path: Path) -> None:
    out = cdk_synth(tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    for expected in (
        "model        tiiuae/falcon-40b-instruct",
        "engine       TGI ",
        "instance     1 x ml.g5.12xlarge",
        "gpus         SM_NUM_GPUS=4",
        "memory       weights 77.9 GiB",
        "cost         ~$7.09/hour",
    ):
        assert expected in out.stderr
    assert (tmp_path / "cdk.out" / "LlmChat.template.json").is_file()


def test_model_too_big_for_the_instance_fails_with_the_sizing_message(tmp_path: Path) -> None:
    out = cdk_synth(tmp_path, "model=falcon-180b-chat", "instance_type=ml.g5.12xlarge", "hf_token_secret=hf/token")
    assert out.returncode != 0
    assert "does not fit ml.g5.12xlarge" in out.stderr
    assert "Smallest instance types that fit: ml.p4de.24xlarge" in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_context_value_fails_naming_key_and_allowed_values(tmp_path: Path) -> None:
    out = cdk_synth(tmp_path, "deployment=docker")
    assert out.returncode != 0
    assert "context key 'deployment': 'docker' is not allowed; allowed values: tgi, jumpstart" in out.stderr
    assert "Traceback" not in out.stderr
