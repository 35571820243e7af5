"""tools/jumpstart_lock.py: the SDK's real JumpStart resolution (offline, via its local overrides) into the lock."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jumpstart_models import EULA_MODEL, FALCON_7B, FALCON_40B, FALCON_180B, FIXTURES, OVERRIDES, PACKAGE_MODEL

from tools.jumpstart_lock import DEFAULT_LOCK, LockError, dump_lock, lock_model, main, merge, resolve

pytestmark = pytest.mark.usefixtures("offline_jumpstart")


def _version(lock_path: Path, model_id: str, requested: str = "*") -> dict[str, Any]:
    model = json.loads(lock_path.read_text())["models"][model_id]
    return dict(model["versions"][model["requests"][requested]])


def _instance(lock_path: Path, model_id: str, region: str, instance_type: str) -> dict[str, Any]:
    return dict(_version(lock_path, model_id)["regions"][region]["instance_types"][instance_type])


def test_lock_records_the_sdk_resolution_per_region_and_instance_type(fixture_lock: Path) -> None:
    entry = _version(fixture_lock, FALCON_40B)
    assert entry["default_instance_type"] == "ml.g5.48xlarge"
    supported = ["ml.g5.12xlarge", "ml.g5.24xlarge", "ml.g5.48xlarge", "ml.p4d.24xlarge"]
    assert entry["supported_instance_types"] == supported
    assert entry["enable_network_isolation"] is True
    for region in ("us-east-1", "eu-west-1"):
        g5_12 = entry["regions"][region]["instance_types"]["ml.g5.12xlarge"]
        assert g5_12["image"]["uri"] == (
            f"763104351884.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-tgi-inference:"
            "2.1.1-tgi1.4.0-gpu-py310-cu121-ubuntu20.04"
        )
        assert g5_12["image"]["repository_arn"] == (
            f"arn:aws:ecr:{region}:763104351884:repository/huggingface-pytorch-tgi-inference"
        )
        assert g5_12["model_data"]["bucket"] == f"jumpstart-cache-prod-{region}"
        assert g5_12["deploy"]["container_startup_health_check_timeout"] == 3600


def test_instance_variants_change_the_environment(fixture_lock: Path) -> None:
    types = _version(fixture_lock, FALCON_40B)["regions"]["us-east-1"]["instance_types"]
    assert types["ml.g5.48xlarge"]["environment"]["SM_NUM_GPUS"] == "8"
    assert "MAX_BATCH_PREFILL_TOKENS" not in types["ml.g5.48xlarge"]["environment"]
    assert types["ml.g5.12xlarge"]["environment"]["SM_NUM_GPUS"] == "4"
    assert types["ml.g5.12xlarge"]["environment"]["MAX_BATCH_PREFILL_TOKENS"] == "2048"


def test_container_env_leaves_out_what_the_sdk_model_class_does_not_set(fixture_lock: Path) -> None:
    env = _instance(fixture_lock, FALCON_40B, "us-east-1", "ml.g5.48xlarge")["environment"]
    assert env["HF_MODEL_ID"] == "/opt/ml/model"
    assert env["ENDPOINT_SERVER_TIMEOUT"] == "3600"  # an int in the spec, a string on the container
    assert "SAGEMAKER_SUBMIT_DIRECTORY" not in env


def test_star_is_pinned_to_the_newest_version_and_an_explicit_pin_is_kept(fixture_lock: Path) -> None:
    model = json.loads(fixture_lock.read_text())["models"][FALCON_40B]
    assert model["requests"] == {"*": "2.3.22", "1.1.0": "1.1.0"}
    older = model["versions"]["1.1.0"]["regions"]["us-east-1"]["instance_types"]["ml.g5.48xlarge"]
    newer = model["versions"]["2.3.22"]["regions"]["us-east-1"]["instance_types"]["ml.g5.48xlarge"]
    assert "/inference-prepack/v1.0.0/" in older["model_data"]["key"]
    assert "/inference-prepack/v1.0.1/" in newer["model_data"]["key"]


def test_uncompressed_prefix_artifact(fixture_lock: Path) -> None:
    data = _instance(fixture_lock, FALCON_40B, "eu-west-1", "ml.g5.48xlarge")["model_data"]
    assert data == {
        "s3_uri": "s3://jumpstart-cache-prod-eu-west-1/huggingface-llm/huggingface-llm-falcon-40b-instruct-bf16"
        "/artifacts/inference-prepack/v1.0.1/",
        "bucket": "jumpstart-cache-prod-eu-west-1",
        "key": "huggingface-llm/huggingface-llm-falcon-40b-instruct-bf16/artifacts/inference-prepack/v1.0.1/",
        "compression": "None",
        "s3_data_type": "S3Prefix",
    }


def test_compressed_tarball_artifact(fixture_lock: Path) -> None:
    data = _instance(fixture_lock, FALCON_180B, "us-east-1", "ml.p4de.24xlarge")["model_data"]
    assert data["key"] == "huggingface-infer/prepack/v1.2.0/infer-prepack-huggingface-llm-falcon-180b-bf16.tar.gz"
    assert (data["compression"], data["s3_data_type"]) == ("Gzip", "S3Object")


def test_eula_model_records_the_key_the_document_and_the_gated_bucket(fixture_lock: Path) -> None:
    entry = _version(fixture_lock, EULA_MODEL)
    assert entry["eula_key"] == "fmhMetadata/eula/fixtureSyntheticEula.txt"
    assert entry["gated_bucket"] is True
    region = entry["regions"]["eu-west-1"]
    assert region["eula_url"] == (
        "https://jumpstart-cache-prod-eu-west-1.s3.eu-west-1.amazonaws.com/fmhMetadata/eula/fixtureSyntheticEula.txt"
    )
    assert region["instance_types"]["ml.g5.2xlarge"]["model_data"]["bucket"] == "jumpstart-private-cache-prod-eu-west-1"


def test_models_without_eula_record_none(fixture_lock: Path) -> None:
    entry = _version(fixture_lock, FALCON_40B)
    assert (entry["eula_key"], entry["gated_bucket"], entry["regions"]["us-east-1"]["eula_url"]) == (None, False, None)


def test_model_package_arn_is_recorded_per_region(fixture_lock: Path) -> None:
    entry = _version(fixture_lock, PACKAGE_MODEL)
    arn = entry["regions"]["eu-west-1"]["instance_types"]["ml.g5.2xlarge"]["model_package_arn"]
    assert arn == "arn:aws:sagemaker:eu-west-1:111122223333:model-package/fixture-falcon-7b-v1"
    assert _instance(fixture_lock, FALCON_40B, "eu-west-1", "ml.g5.12xlarge")["model_package_arn"] is None


def test_region_without_the_model_package_fails_with_the_sdk_message() -> None:
    with pytest.raises(LockError, match=r"ap-east-1: Model package arn .* not supported in ap-east-1"):
        resolve(PACKAGE_MODEL, "*", ["us-east-1", "ap-east-1"])


def test_other_regions_use_their_own_ecr_account() -> None:
    _, entry = resolve(FALCON_7B, "4.6.16", ["ap-east-1"])
    image = entry["regions"]["ap-east-1"]["instance_types"]["ml.g5.2xlarge"]["image"]
    assert (image["account"], image["region"]) == ("871362719292", "ap-east-1")


def test_unknown_model_fails_with_the_sdks_suggestion() -> None:
    expected = r"Unable to find model manifest for 'huggingface-llm-falcon-40b-instruct'.*Did you mean"
    with pytest.raises(LockError, match=expected):
        resolve("huggingface-llm-falcon-40b-instruct", "*", ["us-east-1"])


def test_unknown_version_fails() -> None:
    with pytest.raises(LockError, match=r"with version '9\.9\.9'"):
        resolve(FALCON_40B, "9.9.9", ["us-east-1"])


def test_without_credentials_or_overrides_the_tool_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*OVERRIDES, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(LockError, match=r"NoCredentialsError.*Run with AWS credentials"):
        resolve(FALCON_40B, "*", ["us-east-1"])


def _publish_to_moto_s3(region: str, keep: Callable[[dict[str, str]], bool]) -> None:
    """Put the fixture manifest (filtered) and its specs where the SDK looks: jumpstart-cache-prod-<region>."""
    import boto3

    s3 = boto3.client("s3", region_name=region)
    bucket = f"jumpstart-cache-prod-{region}"
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **location)
    manifest = [h for h in json.loads((FIXTURES / "manifest" / "models_manifest.json").read_text()) if keep(h)]
    s3.put_object(Bucket=bucket, Key="models_manifest.json", Body=json.dumps(manifest).encode())
    for header in manifest:
        spec = FIXTURES / "specs" / header["spec_key"]
        s3.put_object(Bucket=bucket, Key=header["spec_key"], Body=spec.read_bytes())


def test_without_overrides_each_region_is_read_from_its_own_s3_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's real S3 path (moto in-process): eu-west-1's manifest lacks 2.3.22, and that is noticed."""
    from moto import mock_aws

    for name in OVERRIDES:
        monkeypatch.delenv(name)
    with mock_aws():
        _publish_to_moto_s3("us-east-1", lambda header: True)
        _publish_to_moto_s3("eu-west-1", lambda header: header["version"] != "2.3.22")
        assert resolve(FALCON_40B, "*", ["eu-west-1"])[0] == "1.1.0"
        version, entry = resolve(FALCON_40B, "*", ["us-east-1"])
        assert version == "2.3.22"
        assert entry["regions"]["us-east-1"]["instance_types"]["ml.g5.12xlarge"]["environment"]["SM_NUM_GPUS"] == "4"
        with pytest.raises(LockError, match=r"2\.3\.22 \(resolved from '\*'\) in eu-west-1: Unable to find model"):
            resolve(FALCON_40B, "*", ["us-east-1", "eu-west-1"])


def test_rerunning_the_same_command_leaves_the_file_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    os.environ["SOURCE_DATE_EPOCH"] = "1700000000"
    try:
        lock_model(model_id=FALCON_180B, version="*", regions=["us-east-1"], lock_path=path)
        first = path.read_text()
        os.environ["SOURCE_DATE_EPOCH"] = "1800000000"
        lock_model(model_id=FALCON_180B, version="*", regions=["us-east-1"], lock_path=path)
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]
    assert path.read_text() == first
    assert '"generated_at": "2023-11-14T22:13:20Z"' in first
    assert first == dump_lock(json.loads(first))  # sorted keys, fixed indentation


def test_refreshing_star_moves_the_pin_and_drops_the_unreferenced_version() -> None:
    lock = {"schema_version": 1, "models": {}}
    meta = {"generated_at": "t"}
    merge(lock, model_id="m", requested="*", concrete="1.0.0", entry={"regions": {"r": {}}}, metadata_fields=meta)
    merge(lock, model_id="m", requested="*", concrete="2.0.0", entry={"regions": {"r": {}}}, metadata_fields=meta)
    assert lock["models"]["m"]["requests"] == {"*": "2.0.0"}
    assert list(lock["models"]["m"]["versions"]) == ["2.0.0"]


def test_adding_a_region_keeps_the_regions_already_locked() -> None:
    lock = {"schema_version": 1, "models": {}}
    meta = {"generated_at": "t"}
    merge(lock, model_id="m", requested="*", concrete="1.0.0", entry={"regions": {"a": {}}}, metadata_fields=meta)
    merge(lock, model_id="m", requested="*", concrete="1.0.0", entry={"regions": {"b": {}}}, metadata_fields=meta)
    assert list(lock["models"]["m"]["versions"]["1.0.0"]["regions"]) == ["a", "b"]


def test_cli_writes_the_lock_and_reports_the_pin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "lock.json"
    code = main(["--model", FALCON_40B, "--version", "*", "--regions", "us-east-1,eu-west-1", "--lock", str(path)])
    assert code == 0
    assert f"{FALCON_40B} * -> 2.3.22 locked for us-east-1, eu-west-1" in capsys.readouterr().out
    metadata = _version(path, FALCON_40B)["lock_metadata"]
    assert metadata["sagemaker_core_version"] == "2.27.0"
    assert metadata["source"].startswith("local JumpStart metadata override (manifest tests/jumpstart/fixtures/")


def test_cli_rejects_bad_regions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--model", FALCON_40B, "--regions", "us-east-1,Europe"]) == 1
    assert "not region names: Europe" in capsys.readouterr().err


def test_committed_lock_is_what_the_sdk_resolves_from_the_fixtures() -> None:
    committed = json.loads(DEFAULT_LOCK.read_text())
    assert committed["schema_version"] == 1
    for model_id, model in committed["models"].items():
        for requested, concrete in model["requests"].items():
            entry = dict(model["versions"][concrete])
            assert "fixtures built from published specs" in entry.pop("lock_metadata")["source"]
            resolved_version, resolved = resolve(model_id, requested, list(entry["regions"]))
            assert resolved_version == concrete
            assert resolved == entry, f"{model_id} {requested}: committed lock differs from the SDK's resolution"
