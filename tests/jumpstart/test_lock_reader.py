"""constructs/facts/jumpstart_lock.py: the synth-time reader (no SDK), its pins and its "run this" messages."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from jumpstart_models import EULA_MODEL, FALCON_40B, FALCON_180B, PACKAGE_MODEL

from constructs.facts.jumpstart_lock import DEFAULT_LOCK_PATH, load_locked_model

ROOT = Path(__file__).resolve().parents[2]


def test_committed_lock_has_falcon_40b_for_the_required_regions_and_instance_types() -> None:
    model = load_locked_model(FALCON_40B, "*", ["us-east-1", "eu-west-1"])
    assert model.version == "2.3.22"
    assert model.default_instance_type == "ml.g5.48xlarge"
    for instance_type in ("ml.g5.48xlarge", "ml.g5.12xlarge"):
        deployments = model.deployments(instance_type)
        assert set(deployments) == {"us-east-1", "eu-west-1"}
        assert deployments["eu-west-1"].image.uri.startswith("763104351884.dkr.ecr.eu-west-1.amazonaws.com/")


def test_star_reads_the_pinned_version_and_an_exact_version_reads_itself(fixture_lock: Path) -> None:
    assert load_locked_model(FALCON_40B, "*", lock_path=fixture_lock).version == "2.3.22"
    older = load_locked_model(FALCON_40B, "1.1.0", lock_path=fixture_lock)
    assert older.version == "1.1.0"
    assert list(older.regions) == ["us-east-1"]


def test_no_regions_means_every_locked_region(fixture_lock: Path) -> None:
    assert set(load_locked_model(FALCON_180B, lock_path=fixture_lock).regions) == {"us-east-1", "eu-west-1"}


def test_missing_region_prints_the_command_with_all_regions_of_the_pin(fixture_lock: Path) -> None:
    with pytest.raises(ValueError, match="not for ap-south-1") as error:
        load_locked_model(FALCON_180B, "*", ["us-east-1", "ap-south-1"], lock_path=fixture_lock)
    assert f"make jumpstart-lock MODEL={FALCON_180B} VERSION='*' REGIONS=eu-west-1,us-east-1,ap-south-1" in str(
        error.value
    )


def test_missing_model_prints_the_command(fixture_lock: Path) -> None:
    with pytest.raises(ValueError, match="no entry for JumpStart model 'huggingface-llm-falcon-7b-bf16'") as error:
        load_locked_model("huggingface-llm-falcon-7b-bf16", "*", ["us-west-2"], lock_path=fixture_lock)
    assert "make jumpstart-lock MODEL=huggingface-llm-falcon-7b-bf16 VERSION='*' REGIONS=us-west-2" in str(error.value)


def test_missing_version_prints_the_command(fixture_lock: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(f"MODEL={FALCON_40B} VERSION=2.0.0 REGIONS=us-east-1")):
        load_locked_model(FALCON_40B, "2.0.0", ["us-east-1"], lock_path=fixture_lock)


def test_missing_lock_file_prints_the_command(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist") as error:
        load_locked_model(FALCON_40B, "*", ["us-east-1", "eu-west-1"], lock_path=tmp_path / "jumpstart.lock.json")
    assert f"make jumpstart-lock MODEL={FALCON_40B} VERSION='*' REGIONS=us-east-1,eu-west-1" in str(error.value)


def test_the_printed_command_is_exactly_what_the_makefile_passes_to_the_tool(fixture_lock: Path) -> None:
    """Whatever the Makefile looks like, the message's MODEL/VERSION/REGIONS parse back as the tool's args."""
    with pytest.raises(ValueError) as error:
        load_locked_model(FALCON_180B, "*", ["ap-east-1"], lock_path=fixture_lock)
    command = str(error.value).splitlines()[-1].strip()
    args = dict(part.split("=", 1) for part in command.split()[2:])
    assert args == {"MODEL": FALCON_180B, "VERSION": "'*'", "REGIONS": "eu-west-1,us-east-1,ap-east-1"}


def test_unsupported_instance_type_names_the_supported_ones_and_the_default(fixture_lock: Path) -> None:
    model = load_locked_model(FALCON_40B, lock_path=fixture_lock)
    expected = (
        "instance_type 'ml.g5.2xlarge' is not supported by JumpStart model huggingface-llm-falcon-40b-instruct-bf16 "
        "2.3.22; supported: ml.g5.12xlarge, ml.g5.24xlarge, ml.g5.48xlarge, ml.p4d.24xlarge (default ml.g5.48xlarge)"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        model.deployments("ml.g5.2xlarge")


def test_compressed_and_uncompressed_artifacts(fixture_lock: Path) -> None:
    tarball = load_locked_model(FALCON_180B, lock_path=fixture_lock).deployments("ml.p4de.24xlarge")["us-east-1"]
    prefix = load_locked_model(FALCON_40B, lock_path=fixture_lock).deployments("ml.g5.12xlarge")["us-east-1"]
    assert (tarball.model_data.compressed, tarball.model_data.s3_data_type) == (True, "S3Object")
    assert (prefix.model_data.compressed, prefix.model_data.s3_data_type) == (False, "S3Prefix")


def test_eula_flag_and_document(fixture_lock: Path) -> None:
    eula = load_locked_model(EULA_MODEL, lock_path=fixture_lock)
    assert eula.requires_eula and eula.gated_bucket
    assert eula.eula_document("eu-west-1").endswith(
        "jumpstart-cache-prod-eu-west-1.s3.eu-west-1.amazonaws.com/fmhMetadata/eula/fixtureSyntheticEula.txt"
    )
    assert not load_locked_model(FALCON_40B, lock_path=fixture_lock).requires_eula


def test_health_check_timeout_and_package_arn(fixture_lock: Path) -> None:
    deployment = load_locked_model(PACKAGE_MODEL, lock_path=fixture_lock).deployments("ml.g5.2xlarge")["us-east-1"]
    assert deployment.container_startup_health_check_timeout == 3600
    assert deployment.model_package_arn == "arn:aws:sagemaker:us-east-1:111122223333:model-package/fixture-falcon-7b-v1"


def test_locked_facts_are_immutable(fixture_lock: Path) -> None:
    model = load_locked_model(FALCON_40B, lock_path=fixture_lock)
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.version = "1.1.0"  # type: ignore[misc]
    with pytest.raises(TypeError):
        model.deployments("ml.g5.12xlarge")["us-east-1"].environment["SM_NUM_GPUS"] = "1"  # type: ignore[index]


def test_reader_rejects_another_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "jumpstart.lock.json"
    path.write_text(json.dumps({"schema_version": 99, "models": {}}))
    with pytest.raises(ValueError, match="schema_version 99"):
        load_locked_model(FALCON_40B, lock_path=path)


def test_reading_the_lock_never_imports_the_sagemaker_sdk() -> None:
    code = (
        "import sys\nfrom constructs.facts.jumpstart_lock import load_locked_model\n"
        f"load_locked_model({FALCON_40B!r}, '*', ['us-east-1'])\n"
        "print(sorted(m for m in sys.modules if m == 'sagemaker' or m.startswith(('sagemaker.', 'boto3'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_default_lock_path_is_the_repo_root_file() -> None:
    assert DEFAULT_LOCK_PATH == ROOT / "jumpstart.lock.json"
