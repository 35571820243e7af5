"""The harness builds vLLM's command line the way the HF vLLM DLC's sagemaker_entrypoint.sh does, and changes
only what a CPU test box must change (no server needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PRESETS
from engine_harness import NOT_ARGUMENTS, SWAPPED, VLLM_ENVIRONMENT, dlc_args, local_args


def test_every_sm_vllm_variable_becomes_a_flag_with_its_value() -> None:
    args = dlc_args({"SM_VLLM_MAX_MODEL_LEN": "2048", "SM_VLLM_TOOL_CALL_PARSER": "hermes", "HF_ENABLE_LMCACHE": "0"})
    assert args == ["--port", "8080", "--max-model-len", "2048", "--tool-call-parser", "hermes"]


def test_true_is_a_bare_flag_false_is_dropped_in_any_case() -> None:
    args = dlc_args({"SM_VLLM_ENABLE_AUTO_TOOL_CHOICE": "true", "SM_VLLM_TRUST_REMOTE_CODE": "FALSE",
                     "SM_VLLM_ENFORCE_EAGER": "True"})  # fmt: skip
    assert args == ["--port", "8080", "--enable-auto-tool-choice", "--enforce-eager"]


def test_an_empty_value_is_a_bare_flag() -> None:
    assert dlc_args({"SM_VLLM_DISABLE_LOG_STATS": ""}) == ["--port", "8080", "--disable-log-stats"]


def test_the_model_falls_back_to_opt_ml_model_then_hf_model_id() -> None:
    assert dlc_args({"HF_MODEL_ID": "org/m"}, model_dir_populated=True)[2:] == ["--model", "/opt/ml/model"]
    assert dlc_args({"HF_MODEL_ID": "org/m"})[2:] == ["--model", "org/m"]
    assert dlc_args({"SM_VLLM_MODEL": "a/b", "HF_MODEL_ID": "org/m"})[2:] == ["--model", "a/b"]


def test_local_args_swap_only_the_model_revisions_parallelism_and_port(tmp_path: Path) -> None:
    env = {
        "SM_VLLM_MODEL": "org/m",
        "SM_VLLM_SERVED_MODEL_NAME": "org/m",
        "SM_VLLM_REVISION": "abc",
        "SM_VLLM_TOKENIZER_REVISION": "abc",
        "SM_VLLM_TENSOR_PARALLEL_SIZE": "8",
        "SM_VLLM_MAX_MODEL_LEN": "2048",
        "SM_VLLM_GPU_MEMORY_UTILIZATION": "0.9",
    }
    args = local_args(env, tmp_path, 1234)
    assert args == ["--port", "1234", "--model", str(tmp_path), "--served-model-name", "org/m",
                    "--tensor-parallel-size", "1", "--max-model-len", "2048", "--gpu-memory-utilization", "0.9",
                    "--host", "127.0.0.1"]  # fmt: skip


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_synthesized_preset_keeps_every_setting_but_the_swapped_ones(
    preset: str, preset_envs: Callable[[str], Any], tmp_path: Path
) -> None:
    container, _ = preset_envs(preset)
    local = local_args(container, tmp_path, 1234)
    deployed = dlc_args(container)
    kept = {k for k in container if k.startswith("SM_VLLM_") and k not in SWAPPED}
    for key in kept:
        flag = "--" + key.removeprefix("SM_VLLM_").lower().replace("_", "-")
        assert flag in local, f"{preset}: {key} lost on the way to vLLM"
        at = deployed.index(flag)
        if at + 1 < len(deployed) and not deployed[at + 1].startswith("--"):
            assert local[local.index(flag) + 1] == deployed[at + 1], f"{preset}: {key} changed"
    vllm_env = {k for k in container if k.startswith(VLLM_ENVIRONMENT)}  # passed to the process's environment
    assert set(container) - kept - vllm_env - set(SWAPPED) <= set(NOT_ARGUMENTS), (
        "an env key neither passed nor explained"
    )
