"""Private-deployment context keys: parsing, defaults, and the combinations that must fail with a clear message."""

from __future__ import annotations

from typing import Any

import pytest

from constructs.private.keys import check_volume_key
from constructs.private.model_data import S3ModelData, offline_environment
from constructs.private.network import NetworkSettings
from stacks.config import ConfigError, from_context

WEIGHTS = "s3://my-weights/models/falcon-7b/"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def cfg(**ctx: Any) -> Any:
    return from_context(ctx)


def test_everything_is_off_by_default() -> None:
    c = cfg()
    assert (c.model_data, c.vpc, c.vpc_id, c.subnet_ids, c.security_group_ids, c.kms_key) == (
        None,
        None,
        None,
        (),
        (),
        None,
    )
    assert (c.data_capture, c.data_capture_days) == (False, 30)


def test_cli_strings_become_typed_values() -> None:
    c = cfg(
        model_data=WEIGHTS,
        vpc_id="vpc-0123456789abcdef0",
        subnet_ids="subnet-0123456789abcdef0, subnet-11111111",
        security_group_ids="sg-0123456789abcdef0",
        kms_key=KEY,
        data_capture="true",
        data_capture_days="7",
    )
    assert c.subnet_ids == ("subnet-0123456789abcdef0", "subnet-11111111")
    assert c.security_group_ids == ("sg-0123456789abcdef0",)
    assert (c.model_data, c.kms_key, c.data_capture, c.data_capture_days) == (WEIGHTS, KEY, True, 7)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("model_data", "s3://my-weights/models/falcon-7b", r"'model_data'.*trailing slash"),
        ("model_data", "https://my-weights.s3.amazonaws.com/x/", r"'model_data'.*S3 folder URI"),
        ("model_data", "s3://My_Bucket/x/", r"'model_data'.*S3 folder URI"),
        ("vpc", "yes", r"'vpc': 'yes' is not allowed; allowed values: create"),
        ("vpc_id", "vpc-xyz", r"'vpc_id'.*a VPC id like vpc-"),
        ("subnet_ids", "subnet-12", r"'subnet_ids'.*subnet-0123456789abcdef0"),
        ("subnet_ids", "subnet-11111111,subnet-11111111", r"'subnet_ids'.*distinct"),
        ("security_group_ids", ",".join(f"sg-1111111{i}" for i in range(6)), r"'security_group_ids'.*1 to 5"),
        ("kms_key", "alias/mine", r"'kms_key'.*create or a KMS key ARN"),
        ("data_capture", "yes", r"'data_capture'.*true or false"),
        ("data_capture_days", "0", r"'data_capture_days'.*from 1 to 3650"),
        ("model_data_kms_key", "key", r"'model_data_kms_key'.*KMS key ARN"),
    ],
)
def test_bad_values_name_key_value_and_what_is_allowed(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cfg(**{key: value, **({"data_capture": "true"} if key == "data_capture_days" else {})})


@pytest.mark.parametrize(
    ("ctx", "message"),
    [
        ({"deployment": "jumpstart", "model_data": WEIGHTS}, r"not with deployment=jumpstart: JumpStart already loads"),
        ({"vpc": "create"}, r"'vpc=create' makes a VPC without internet access.*-c model_data=s3://"),
        ({"model_data": WEIGHTS, "hf_token_secret": "hf/token"}, r"'model_data' and 'hf_token_secret' exclude"),
        ({"subnet_ids": "subnet-11111111"}, r"'subnet_ids' needs 'vpc_id'"),
        ({"security_group_ids": "sg-11111111"}, r"'security_group_ids' needs 'vpc_id'"),
        ({"vpc_id": "vpc-11111111"}, r"'vpc_id' needs 'subnet_ids'"),
        (
            {"vpc": "create", "vpc_id": "vpc-11111111", "subnet_ids": "subnet-11111111", "model_data": WEIGHTS},
            r"'vpc=create' builds a new VPC",
        ),
        ({"data_capture_days": "7"}, r"'data_capture_days' needs data_capture=true"),
        ({"model_data_kms_key": KEY}, r"'model_data_kms_key' needs 'model_data'"),
    ],
)
def test_invalid_combinations_fail_with_a_clear_message(ctx: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cfg(**ctx)


def test_hub_weights_in_an_existing_vpc_are_allowed_and_gated_models_need_no_token_from_s3() -> None:
    cfg(vpc_id="vpc-11111111", subnet_ids="subnet-11111111")  # the user's VPC may have a NAT gateway
    assert cfg(model="falcon-180b-chat", model_data=WEIGHTS).hf_token_secret is None


def test_s3_model_data_is_an_uncompressed_prefix() -> None:
    data = S3ModelData("s3://my-weights/models/falcon-7b/")
    assert data.s3_read == ("my-weights", "models/falcon-7b/")
    assert S3ModelData("s3://my-weights/").s3_read == ("my-weights", "")
    with pytest.raises(ValueError, match="not an S3 folder URI"):
        S3ModelData("s3://my-weights/file.safetensors")


def test_offline_environment_drops_every_hub_variable() -> None:
    env = {"HF_MODEL_ID": "org/name", "HF_TOKEN": "x", "HUGGING_FACE_HUB_TOKEN": "x", "SM_NUM_GPUS": "4"}
    assert offline_environment(env, model_id_key="HF_MODEL_ID") == {
        "HF_MODEL_ID": "/opt/ml/model",
        "SM_NUM_GPUS": "4",
        "HF_HUB_OFFLINE": "1",
    }
    vllm = offline_environment({"SM_VLLM_MODEL": "org/name"}, model_id_key=None, drop=frozenset({"SM_VLLM_MODEL"}))
    assert vllm == {"HF_HUB_OFFLINE": "1"}


def test_volume_key_only_where_the_instance_has_an_ebs_volume() -> None:
    assert check_volume_key("ml.p3.8xlarge", data_capture=False) is True
    assert check_volume_key("ml.g5.12xlarge", data_capture=True) is False
    with pytest.raises(
        ValueError, match=r"kms_key: ml.g5.12xlarge has local NVMe instance storage.*rejects a KmsKeyId"
    ):
        check_volume_key("ml.g5.12xlarge", data_capture=False)
    with pytest.raises(ValueError, match=r"kms_key: ml.p3dn.24xlarge has local NVMe"):
        check_volume_key("ml.p3dn.24xlarge", data_capture=False)


def test_network_settings_validate_ids() -> None:
    with pytest.raises(ValueError, match="vpc=create builds its own VPC"):
        NetworkSettings(create=True, vpc_id="vpc-11111111")
    with pytest.raises(ValueError, match="subnet_ids: give 1 to 16"):
        NetworkSettings(vpc_id="vpc-11111111")


def test_capture_readers_are_iam_principal_arns_and_need_data_capture() -> None:
    arn = "arn:aws:iam::123456789012:role/prompt-auditors"
    config = from_context({"data_capture": "true", "capture_readers": f"{arn}, arn:aws:iam::123456789012:user/ana"})
    assert config.capture_readers == (arn, "arn:aws:iam::123456789012:user/ana")
    assert from_context({"data_capture": "true"}).capture_readers == ()
    with pytest.raises(ConfigError, match=r"'capture_readers' needs data_capture=true"):
        from_context({"capture_readers": arn})
    with pytest.raises(ConfigError, match=r"'capture_readers'.*'arn:aws:s3:::b' not valid; expected .*role or user"):
        from_context({"data_capture": "true", "capture_readers": "arn:aws:s3:::b"})
