"""Every context key: its default, and a bad value failing with a message naming key, value and what's allowed."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import CONTEXT_KEYS, ConfigError, from_context


def cfg(**ctx: Any) -> Any:
    return from_context(ctx)


def test_defaults_reproduce_the_original_guide() -> None:
    c = cfg()
    assert c.model.hf_model_id == "tiiuae/falcon-40b-instruct"
    assert (c.deployment, c.instance_type, c.instance_count) == ("tgi", "ml.g5.12xlarge", 1)
    assert (c.max_input_tokens, c.max_total_tokens, c.health_check_timeout) == (1024, 2048, None)
    assert c.quantize is None and c.tgi_version is None and c.api_auth == "iam"


def test_cli_strings_are_parsed_to_types() -> None:
    c = cfg(instance_count="2", health_check_timeout="900", model_params_b="7.2", model="a/b")
    assert (c.instance_count, c.health_check_timeout, c.model.params_b) == (2, 900, 7.2)
    assert cfg(deployment="jumpstart", accept_eula="true").accept_eula is True


def test_cdk_and_feature_flag_keys_are_not_ours() -> None:
    cfg(**{"@aws-cdk/core:checkSecretUsage": True, "aws:cdk:enable-path-metadata": True})


def test_unknown_key_names_it_and_the_known_keys() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown context key\(s\) 'instance' \(did you mean 'instance_type'\?\); known keys: model,"
    ):
        cfg(instance="ml.g5.12xlarge")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("model", "not a model", r"'model': 'not a model' is not allowed; a preset \(falcon-7b-instruct"),
        ("deployment", "docker", r"'deployment': 'docker' is not allowed; allowed values: tgi, jumpstart"),
        ("instance_type", "ml.m5.large", r"'instance_type': 'ml.m5.large' .*GPU instance types .*ml.g5.12xlarge"),
        ("instance_count", "0", r"'instance_count': '0' .*whole number from 1 to 20"),
        ("instance_count", "two", r"'instance_count': 'two' .*whole number"),
        ("tgi_version", "9.9.9", r"'tgi_version': '9.9.9' .*TGI versions with a SageMaker DLC: 0.6.0, .*0.9.3"),
        ("quantize", "int3", r"'quantize': 'int3' .*allowed values: bitsandbytes, bitsandbytes-nf4"),
        ("health_check_timeout", "30", r"'health_check_timeout': '30' .*from 60 to 3600"),
        ("health_check_timeout", "3601", r"'health_check_timeout': '3601' .*from 60 to 3600"),
        ("model_download_timeout", "5000", r"'model_download_timeout': '5000' .*from 60 to 3600"),
        ("volume_size", "0", r"'volume_size': '0' .*from 1 to 512"),
        ("max_input_tokens", "-1", r"'max_input_tokens': '-1' .*whole number"),
        ("max_total_tokens", "1.5", r"'max_total_tokens': '1.5' .*whole number"),
        ("num_gpus", "9", r"'num_gpus': '9' .*from 1 to 8"),
        ("accept_eula", "yes", r"'accept_eula': 'yes' .*true or false"),
        ("api_auth", "none", r"'api_auth': 'none' .*allowed values: iam, api_key"),
        ("region", "moon-1", r"'region': 'moon-1' .*an AWS region"),
        ("account", "123", r"'account': '123' .*12-digit"),
        ("prompt_family", "alpaca", r"'prompt_family': 'alpaca' .*falcon, chatml"),
        ("extra_env", "{not json", r"'extra_env': .*JSON object of strings"),
        (
            "extra_env",
            '{"HF_TOKEN": "hf_x"}',
            r"'extra_env': .*HF_TOKEN look like secrets: pass a token with hf_token_secret",
        ),
        ("hf_token_secret", "bad secret name!", r"'hf_token_secret': .*Secrets Manager secret name or ARN"),
        ("stack_name", "1stack", r"'stack_name': '1stack' .*CloudFormation stack name"),
        ("model_params_b", "0", r"'model_params_b': '0' .*number from 0.01"),
    ],
)
def test_bad_value_names_key_value_and_allowed(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cfg(**{key: value})


def test_total_tokens_must_exceed_input_tokens() -> None:
    with pytest.raises(ConfigError, match=r"'max_total_tokens': 1024 .*greater than max_input_tokens \(1024\)"):
        cfg(max_input_tokens="1024", max_total_tokens="1024")


def test_prefill_must_hold_the_longest_input() -> None:
    with pytest.raises(ConfigError, match=r"'max_batch_prefill_tokens': 512 .*at least max_input_tokens \(1024\)"):
        cfg(max_batch_prefill_tokens="512")


def test_original_guide_max_input_length_is_an_alias() -> None:
    assert cfg(max_input_length="1500", max_total_tokens="3000").max_input_tokens == 1500
    with pytest.raises(ConfigError, match="disagree"):
        cfg(max_input_length="1500", max_input_tokens="1000")


def test_num_gpus_may_not_exceed_the_instance() -> None:
    with pytest.raises(ConfigError, match=r"'num_gpus': 8 .*ml.g5.12xlarge has 4 GPU"):
        cfg(num_gpus="8")


def test_unlocked_non_preset_model_needs_its_size_or_the_lock_command() -> None:
    with pytest.raises(
        ConfigError,
        match=r"'model_params_b' is required for 'acme/chat-7b', which is neither a catalog preset .* nor in "
        r"models.lock.json: run `make model-lock MODEL=acme/chat-7b`",
    ):
        cfg(model="acme/chat-7b")
    c = cfg(model="acme/chat-7b", model_params_b="7.25")
    assert (c.model.hf_model_id, c.model.params_b, c.model.prompt_family, c.engine) == (
        "acme/chat-7b",
        7.25,
        "server",
        "vllm",
    )


def test_preset_size_cannot_be_overridden() -> None:
    with pytest.raises(ConfigError, match=r"'model_params_b'.*falcon-40b-instruct is a preset"):
        cfg(model_params_b="40")


def test_preset_brings_its_default_instance_type() -> None:
    assert cfg(model="falcon-7b-instruct").instance_type == "ml.g5.2xlarge"


def test_gated_model_needs_a_token_secret() -> None:
    with pytest.raises(ConfigError, match=r"gated on the Hugging Face Hub.*-c hf_token_secret="):
        cfg(model="falcon-180b-chat")
    assert cfg(model="falcon-180b-chat", hf_token_secret="hf/token").hf_token_secret == "hf/token"


def test_burst_must_cover_rate() -> None:
    with pytest.raises(ConfigError, match=r"'api_burst_limit': 5 .*at least api_rate_limit"):
        cfg(api_rate_limit="10", api_burst_limit="5")


def test_jumpstart_defaults_to_the_presets_jumpstart_model_and_its_instance() -> None:
    c = cfg(deployment="jumpstart")
    assert c.jumpstart_model == "huggingface-llm-falcon-40b-instruct-bf16"
    assert c.jumpstart_version == "*"
    assert c.instance_type is None


def test_every_key_documents_itself() -> None:
    assert all(help_text for _, help_text in CONTEXT_KEYS.values())
