"""Issue 11: each finding as the user's `-c` keys and the message they now get (or the value they now get)."""

from __future__ import annotations

from typing import Any

import pytest

from constructs.engines.quantization import quantize_problem
from constructs.facts.sdk_data import gpu_info, gpu_source, gpu_table
from stacks.config import APPLIES_WHEN, CONTEXT_KEYS, ConfigError, from_context, identity_from_context
from stacks.context_rules import AppliesWhen, check_applicability, is_cdk_key


def cfg(**ctx: Any) -> Any:
    return from_context(ctx)


# 1. Keys the CDK CLI writes (the CLI test writes them with the real commands: tests/integration).
@pytest.mark.parametrize(
    "key",
    [
        "acknowledged-issue-numbers",
        "cli-telemetry",
        "some-future-cli-setting",
        "availability-zones:account=123456789012:region=us-east-1",
        "@aws-cdk/core:newStyleStackSynthesis",
        "aws:cdk:bundling-stacks",
        "$dontSaveContext",
    ],
)
def test_cdk_cli_keys_are_not_ours(key: str) -> None:
    assert is_cdk_key(key, CONTEXT_KEYS)
    cfg(**{key: [32775] if key.startswith("ack") else False})


@pytest.mark.parametrize(
    ("key", "meant"),
    [("modle", "model"), ("max-input-tokens", "max_input_tokens"), ("instanceType", "instance_type"),
     ("Region", "region"), ("api-auth", "api_auth")],
)  # fmt: skip
def test_misspelt_keys_of_ours_still_fail_and_suggest_the_right_one(key: str, meant: str) -> None:
    with pytest.raises(ConfigError, match=rf"unknown context key\(s\) '{key}' \(did you mean '{meant}'\?\)"):
        cfg(**{key: "x"})


# 2. Nothing silently ignored.
@pytest.mark.parametrize(
    ("key", "value"),
    [("quantize", "gptq"), ("num_gpus", "2"), ("max_total_tokens", "4096"), ("tgi_version", "0.9.3"),
     ("extra_env", '{"MAX_CONCURRENT_REQUESTS":"64"}'), ("hf_token_secret", "hf/token"), ("model_params_b", "40")],
)  # fmt: skip
def test_tgi_only_keys_with_jumpstart_fail_saying_why(key: str, value: str) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"context key '{key}' has no effect with deployment=jumpstart: .*locked JumpStart spec.*"
        r"use it with deployment=tgi",
    ):
        cfg(deployment="jumpstart", **{key: value})


@pytest.mark.parametrize("key", ["jumpstart_model", "jumpstart_version", "accept_eula"])
def test_jumpstart_only_keys_with_tgi_fail(key: str) -> None:
    with pytest.raises(ConfigError, match=rf"'{key}' has no effect with deployment=tgi"):
        cfg(**{key: "true" if key == "accept_eula" else "x"})


def test_quota_without_api_keys_fails() -> None:
    with pytest.raises(ConfigError, match=r"'api_quota_per_day' has no effect with api_auth=iam: only API keys"):
        cfg(api_quota_per_day="500")
    assert cfg(api_auth="api_key", api_quota_per_day="500").api_quota_per_day == 500


def test_account_without_region_pins_the_account() -> None:
    c = cfg(account="123456789012")
    assert (c.account, c.region) == ("123456789012", None)


def test_a_key_without_a_rule_applies_in_every_shape() -> None:
    rules = {"only_vllm": AppliesWhen("engine", ("vllm",), "only vLLM reads it")}
    assert check_applicability(["brand_new_key"], {"engine": "tgi"}, rules) is None
    assert "has no effect with engine=tgi: only vLLM reads it" in str(
        check_applicability(["only_vllm"], {"engine": "tgi"}, rules)
    )
    assert all(rule for rule in APPLIES_WHEN.values())


# 3. Fail at synth, not at deploy.
def test_a_presets_hub_id_gets_the_presets_facts() -> None:
    c = cfg(model="tiiuae/falcon-7b-instruct", model_params_b="7.22")
    assert (c.model.name, c.model.prompt_family, c.instance_type) == ("falcon-7b-instruct", "falcon", "ml.g5.2xlarge")
    assert c.model.architecture is not None and c.model.architecture.attention_heads == 71
    assert cfg(model="TIIUAE/Falcon-180B-chat", hf_token_secret="hf/t").model.gated


def test_a_presets_hub_id_with_a_different_size_fails() -> None:
    with pytest.raises(ConfigError, match=r"'model_params_b': 40.0 .*falcon-7b-instruct is a preset .*7.22B"):
        cfg(model="tiiuae/falcon-7b-instruct", model_params_b="40")


def test_quantize_needing_a_pre_quantized_checkpoint_fails_for_bf16_presets() -> None:
    with pytest.raises(ConfigError, match=r"'quantize': 'gptq' .*unquantized \(bf16/fp16\) checkpoint.*on the fly"):
        cfg(quantize="gptq")
    with pytest.raises(ConfigError, match=r"'quantize': 'awq'"):
        cfg(model="falcon-7b-instruct", quantize="awq")
    assert cfg(quantize="bitsandbytes-nf4").quantize == "bitsandbytes-nf4"


def test_quantize_check_takes_the_checkpoints_own_quantization() -> None:
    assert quantize_problem("gptq", model_id="a/b-GPTQ", checkpoint_quantization="gptq", checkpoint_known=True) is None
    assert quantize_problem("awq", model_id="a/b-GPTQ", checkpoint_quantization="gptq", checkpoint_known=True)
    # A Hub model synth has no facts for: it cannot tell, so it does not refuse.
    assert quantize_problem("gptq", model_id="a/b", checkpoint_quantization=None, checkpoint_known=False) is None


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("cn-north-1", r"aws-cn partition; supported partitions: aws"),
        ("us-gov-west-1", r"aws-us-gov partition; supported partitions: aws"),
        ("il-central-1", r"regions where the Lambda Web Adapter layer is published: af-south-1"),
    ],
)
def test_regions_without_the_web_adapter_layer_are_refused(region: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"'region': '{region}' is not allowed; .*{message}"):
        cfg(region=region)


# 5. GPU facts beyond the SDK's table, the SDK's data first.
@pytest.mark.parametrize(
    ("instance_type", "count", "gib"),
    [("ml.g6e.12xlarge", 4, 192), ("ml.g6.48xlarge", 8, 192), ("ml.p5e.48xlarge", 8, 1128), ("ml.g5.xlarge", 1, 24)],
)
def test_current_gpu_types_missing_from_the_sdk_are_accepted(instance_type: str, count: int, gib: int) -> None:
    assert cfg(instance_type=instance_type).instance_type == instance_type
    assert (gpu_info(instance_type).count, gpu_info(instance_type).memory_gib) == (count, gib)
    assert gpu_source(instance_type).startswith("https://")


def test_the_sdks_gpu_facts_come_first() -> None:
    assert gpu_source("ml.g5.48xlarge").startswith("sagemaker-core")
    assert gpu_table()["ml.g5.48xlarge"].memory_mib == 183104  # the SDK's figure, not 8 × 24 GiB


# 6. Smaller truths.
def test_tgi_version_aliases_the_sdk_accepts() -> None:
    assert cfg(tgi_version="3.3").tgi_version == "3.3"
    assert cfg(tgi_version="0.9").tgi_version == "0.9"


def test_extra_env_tokenizer_name_is_not_a_secret() -> None:
    assert cfg(extra_env='{"TOKENIZER_NAME":"x","MAX_CONCURRENT_REQUESTS":"64"}').extra_env["TOKENIZER_NAME"] == "x"
    for secret in ("HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY", "DB_PASSWORD"):
        with pytest.raises(ConfigError, match=rf"{secret} look like secrets"):
            cfg(extra_env=f'{{"{secret}":"x"}}')


def test_extra_env_clash_names_the_context_key() -> None:
    with pytest.raises(ConfigError, match=r"MAX_TOTAL_TOKENS \(set it with -c max_total_tokens\)"):
        cfg(extra_env='{"MAX_TOTAL_TOKENS":"4096"}')


# 7. Destroy needs only the stack's identity.
def test_stack_identity_ignores_the_rest_of_the_config() -> None:
    assert identity_from_context({"model": "falcon-180b-chat", "quantize": "gptq", "region": "eu-west-1"}) == (
        "LlmChat",
        "eu-west-1",
        None,
    )
    assert identity_from_context({"stack_name": "Prod"})[0] == "Prod"
    with pytest.raises(ConfigError, match="'stack_name'"):
        identity_from_context({"stack_name": "1bad"})
