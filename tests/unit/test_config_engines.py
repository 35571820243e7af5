"""Engine and model-lock keys: defaults per model, good values, and bad values failing with the exact message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from constructs.facts import model_lock
from stacks.config import ConfigError, from_context


def cfg(**ctx: Any) -> Any:
    return from_context(ctx)


def test_falcon_presets_keep_tgi_and_the_guides_prompt() -> None:
    # The default preset is pinned to a Hub commit (constructs/facts/presets.py cites it); falcon-7b serves the head.
    for name, revision in (
        ("falcon-7b-instruct", None),
        ("falcon-40b-instruct", "ecb78d97ac356d098e79f0db222c9ce7c5d9ee5f"),
    ):
        c = cfg(model=name)
        assert (c.engine, c.model.prompt_family, c.model.revision) == ("tgi", "falcon", revision)


@pytest.mark.parametrize(
    ("model", "instance_type"),
    [
        ("qwen2.5-7b-instruct", "ml.g5.2xlarge"),
        ("llama-3.1-8b-instruct", "ml.g5.2xlarge"),
        ("mistral-7b-instruct-v0.3", "ml.g5.2xlarge"),
        ("llama-3.3-70b-instruct", "ml.g5.48xlarge"),
    ],
)
def test_current_presets_default_to_vllm_server_mode_on_the_smallest_instance_that_fits(
    model: str, instance_type: str
) -> None:
    c = cfg(model=model, hf_token_secret="hf/token")
    assert (c.engine, c.model.prompt_family, c.instance_type) == ("vllm", "server", instance_type)
    assert c.model.revision is not None and len(c.model.revision) == 40


def test_a_longer_context_moves_the_default_instance_up() -> None:
    # 128k tokens of Llama-3.1-8B KV cache (16 GiB) no longer fit one 24 GiB A10G next to 15 GiB of weights.
    c = cfg(model="llama-3.1-8b-instruct", hf_token_secret="hf/token", max_total_tokens="131072")
    assert c.instance_type not in ("ml.g5.xlarge", "ml.g5.2xlarge", "ml.g5.4xlarge")


def test_locked_hub_id_needs_no_size_and_gets_the_locks_facts() -> None:
    c = cfg(model="Qwen/Qwen2.5-7B-Instruct")
    assert (c.model.params_b, c.model.prompt_family, c.engine) == (7.62, "server", "vllm")
    assert c.model.architecture is not None and c.model.architecture.kv_heads == 4
    assert c.model.revision == "a09a35458c702b33eeacc393d103063234e8bc28"


def test_locked_hub_id_refuses_a_size_it_already_knows() -> None:
    with pytest.raises(
        ConfigError,
        # The preset's Hub id is the preset (issue 11), whose size is known.
        match=r"'model_params_b': 7.0 is not allowed; only for models outside the catalog; qwen2.5-7b-instruct is a "
        r"preset \(Qwen/Qwen2.5-7B-Instruct, 7.62B parameters\)",
    ):
        cfg(model="Qwen/Qwen2.5-7B-Instruct", model_params_b="7")


@pytest.mark.parametrize(
    ("ctx", "message"),
    [
        ({"engine": "sglang"}, r"'engine': 'sglang' is not allowed; allowed values: tgi, vllm"),
        ({"vllm_version": "0.1.0"}, r"'vllm_version': '0.1.0' .*vLLM versions with a SageMaker DLC: 0.14.0, .*0.29.0"),
        ({"vllm_image": "nvidia"}, r"'vllm_image': 'nvidia' .*allowed values: huggingface, aws"),
        ({"gpu_memory_utilization": "1.5"}, r"'gpu_memory_utilization': '1.5' .*number from 0.1 to 0.99"),
        ({"max_num_batched_tokens": "0"}, r"'max_num_batched_tokens': '0' .*whole number from 1"),
        ({"lmcache": "maybe"}, r"'lmcache': 'maybe' .*true or false"),
        ({"trust_remote_code": "1"}, r"'trust_remote_code': '1' .*true or false"),
        ({"tool_call_parser": "Hermes!"}, r"'tool_call_parser': 'Hermes!' .*a vLLM tool-call parser name"),
        ({"reasoning_parser": "r1 parser"}, r"'reasoning_parser': 'r1 parser' .*a vLLM reasoning parser name"),
        ({"prompt_family": "alpaca"}, r"'prompt_family': 'alpaca' .*falcon, chatml, llama2, mistral, server"),
    ],
)
def test_bad_engine_values_name_key_value_and_allowed(ctx: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cfg(model="qwen2.5-7b-instruct", **ctx)


def test_good_engine_values_are_parsed() -> None:
    c = cfg(
        model="qwen2.5-7b-instruct",
        vllm_version="0.28.0",
        gpu_memory_utilization="0.8",
        max_num_batched_tokens="4096",
        lmcache="true",
        tool_call_parser="hermes",
        reasoning_parser="qwen3",
    )
    assert (c.vllm_version, c.gpu_memory_utilization, c.max_num_batched_tokens) == ("0.28.0", 0.8, 4096)
    assert (c.lmcache, c.tool_call_parser, c.reasoning_parser) == (True, "hermes", "qwen3")
    assert cfg(model="qwen2.5-7b-instruct", vllm_image="aws", vllm_version="0.30.0").vllm_version == "0.30.0"


def test_vllm_version_must_exist_for_the_chosen_image() -> None:
    with pytest.raises(ConfigError, match=r"'vllm_version': '0.30.0' .*huggingface-vllm images exist for: 0.14.0"):
        cfg(model="qwen2.5-7b-instruct", vllm_version="0.30.0")


@pytest.mark.parametrize(
    ("ctx", "message"),
    [
        ({"model": "qwen2.5-7b-instruct", "tgi_version": "3.3.6"}, r"'tgi_version': '3.3.6' .*applies to engine=tgi"),
        (
            {"model": "qwen2.5-7b-instruct", "max_batch_total_tokens": "8192"},
            r"'max_batch_total_tokens': 8192 .*applies to engine=tgi, not vllm",
        ),
        ({"gpu_memory_utilization": "0.8"}, r"'gpu_memory_utilization': 0.8 .*applies to engine=vllm, not tgi"),
        ({"lmcache": "true"}, r"'lmcache': True .*applies to engine=vllm, not tgi"),
        (
            {"deployment": "jumpstart", "engine": "vllm"},
            r"'engine': 'vllm' .*deployment=jumpstart runs the JumpStart spec's own TGI image",
        ),
        (
            {"model": "qwen2.5-7b-instruct", "quantize": "eetq"},
            r"'quantize': 'eetq' .*with engine=vllm allowed values: awq, gptq, fp8, bitsandbytes",
        ),
        (
            {"prompt_family": "server"},
            r"'prompt_family': 'server' .*tiiuae/falcon-40b-instruct's tokenizer has no chat template",
        ),
        (
            {"model": "qwen2.5-7b-instruct", "engine": "tgi", "tgi_version": "2.3.1"},
            r"'tgi_version': '2.3.1' .*prompt_family=server needs TGI 2.4.0 or newer",
        ),
    ],
)
def test_keys_and_families_the_engine_cannot_use_are_refused(ctx: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cfg(**ctx)


def test_tgi_can_serve_a_current_model_in_server_mode() -> None:
    c = cfg(model="qwen2.5-7b-instruct", engine="tgi", tgi_version="3.3.6")
    # 14.2 GiB of weights + reserve would fit one 16 GiB T4 (TGI may fill the whole GPU), but ml.g4dn.xlarge's
    # 16 GiB host has no room to load them: the default is the cheapest type that fits both.
    assert (c.engine, c.model.prompt_family, c.instance_type) == ("tgi", "server", "ml.g5.2xlarge")


def test_gated_presets_need_a_token() -> None:
    with pytest.raises(ConfigError, match=r"'meta-llama/Llama-3.1-8B-Instruct' is gated on the Hugging Face Hub"):
        cfg(model="llama-3.1-8b-instruct")


@pytest.fixture
def custom_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = {"dtype": "BF16", "architectures": ["X"], "context_length": 4096, "gated": False, "license": "mit"}
    arch = {"layers": 24, "attention_heads": 16, "kv_heads": 16, "head_dim": 64}
    lock = {
        "lock_metadata": {"schema_version": 1},
        "models": {
            "acme/remote": {**base, **arch, "model_type": "x", "params": 1_300_000_000, "revision": "a" * 40,
                            "chat_template": True, "trust_remote_code": True},
            "acme/base": {**base, **arch, "model_type": "x", "params": 1_300_000_000, "revision": "b" * 40,
                          "chat_template": False, "trust_remote_code": False},
        },
    }  # fmt: skip
    path = tmp_path / "models.lock.json"
    path.write_text(json.dumps(lock))
    monkeypatch.setattr(model_lock, "DEFAULT_LOCK_PATH", path)
    return path


def test_a_model_needing_remote_code_is_refused_unless_allowed(custom_lock: Path) -> None:
    with pytest.raises(ConfigError, match=r"'acme/remote' runs its own Python code .*-c trust_remote_code=true"):
        cfg(model="acme/remote")
    c = cfg(model="acme/remote", trust_remote_code="true")
    assert (c.trust_remote_code, c.model.revision) == (True, "a" * 40)


def test_a_locked_model_without_a_chat_template_gets_the_chatml_proxy_family(custom_lock: Path) -> None:
    c = cfg(model="acme/base")
    assert (c.model.prompt_family, c.engine) == ("chatml", "vllm")
    with pytest.raises(ConfigError, match=r"'prompt_family': 'server' .*acme/base's tokenizer has no chat template"):
        cfg(model="acme/base", prompt_family="server")


def test_a_default_instance_leaves_the_host_room_for_the_weights_but_an_explicit_one_is_only_gpu_checked() -> None:
    # Qwen2.5-7B's 14.2 GiB of weights fit the 24 GiB A10G of ml.g5.xlarge, whose host has 16 GiB of RAM:
    # not enough room next to the OS and the engine for a default, allowed when asked for.
    assert cfg(model="qwen2.5-7b-instruct").instance_type == "ml.g5.2xlarge"
    assert cfg(model="qwen2.5-7b-instruct", instance_type="ml.g5.xlarge").instance_type == "ml.g5.xlarge"
