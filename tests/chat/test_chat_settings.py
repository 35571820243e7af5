"""Settings read once from the environment; bad values fail fast naming the variable."""

from __future__ import annotations

import pytest
from chatapi.settings import SettingsError, load_settings

BASE = {"SAGEMAKER_ENDPOINT_NAME": "ep"}


def test_defaults() -> None:
    s = load_settings(BASE)
    assert (s.model_id, s.prompt_family, s.max_input_tokens, s.max_total_tokens) == ("tgi", "falcon", 1024, 2048)
    assert (s.max_new_tokens_cap, s.default_max_new_tokens) == (1024, 512)
    assert (s.system_prompt, s.log_prompts, s.request_body_limit_bytes) == (None, False, 1048576)
    assert s.backend_read_timeout_seconds == 500


def test_time_limits_agree_with_the_stack() -> None:
    """The proxy's copy of SageMaker's limits (messages, read timeout) is the stack's (constructs/api/time_limits)."""
    import runpy
    from pathlib import Path

    from chatapi import backend

    limits = runpy.run_path(str(Path(__file__).resolve().parents[2] / "constructs" / "api" / "time_limits.py"))
    assert backend.STREAM_TIME_LIMIT_SECONDS == limits["SAGEMAKER_STREAM_SECONDS"] == 480
    assert backend.INVOKE_TIME_LIMIT_SECONDS == limits["SAGEMAKER_INVOKE_SECONDS"] == 60
    assert load_settings(BASE).backend_read_timeout_seconds == limits["BACKEND_READ_TIMEOUT_SECONDS"]


def test_endpoint_name_is_required() -> None:
    with pytest.raises(SettingsError, match="SAGEMAKER_ENDPOINT_NAME is required"):
        load_settings({})


def test_default_max_new_tokens_is_bounded_by_the_cap() -> None:
    s = load_settings({**BASE, "MAX_INPUT_TOKENS": "1900", "MAX_TOTAL_TOKENS": "2048"})
    assert (s.max_new_tokens_cap, s.default_max_new_tokens) == (148, 148)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PROMPT_FAMILY": "gpt"}, r"PROMPT_FAMILY='gpt' is not supported; expected one of \['chatml'.*'server'"),
        ({"MAX_INPUT_TOKENS": "lots"}, "MAX_INPUT_TOKENS='lots' is not an integer"),
        ({"MAX_INPUT_TOKENS": "0"}, "MAX_INPUT_TOKENS=0 is too small"),
        ({"MAX_TOTAL_TOKENS": "1024"}, "MAX_TOTAL_TOKENS=1024 must be greater than MAX_INPUT_TOKENS=1024"),
        ({"MAX_NEW_TOKENS_CAP": "2000"}, "MAX_NEW_TOKENS_CAP=2000 exceeds"),
        ({"DEFAULT_MAX_NEW_TOKENS": "2000"}, "DEFAULT_MAX_NEW_TOKENS=2000 exceeds MAX_NEW_TOKENS_CAP=1024"),
        ({"LOG_PROMPTS": "maybe"}, "LOG_PROMPTS='maybe' is not a boolean"),
        ({"REQUEST_BODY_LIMIT_BYTES": "-1"}, "REQUEST_BODY_LIMIT_BYTES=-1 is too small"),
        ({"BACKEND_READ_TIMEOUT_SECONDS": "1.5"}, "BACKEND_READ_TIMEOUT_SECONDS='1.5' is not an integer"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**BASE, **env})


def test_main_module_fails_fast_without_endpoint(tmp_path) -> None:
    import subprocess
    import sys

    from chat_harness import APP_DIR

    result = subprocess.run(
        [sys.executable, "-c", "import main"], cwd=APP_DIR, env={"PATH": "/usr/bin"}, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SAGEMAKER_ENDPOINT_NAME is required" in result.stderr


def test_engine_and_server_templates() -> None:
    s = load_settings({**BASE, "ENGINE": "vllm", "PROMPT_FAMILY": "server"})
    assert (s.engine, s.prompt_family, s.server_templates) == ("vllm", "server", True)
    assert load_settings(BASE).engine == "tgi"
    assert not load_settings(BASE).server_templates


def test_bad_engine_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"ENGINE='tensorrt' is not supported; expected one of \['tgi', 'vllm'\]"):
        load_settings({**BASE, "ENGINE": "tensorrt"})


def test_operator_default_max_tokens_and_aliases() -> None:
    s = load_settings({**BASE, "MODEL_ID": "org/m", "MODEL_ALIASES": "m, other ,org/m,m"})
    assert (s.model_aliases, s.default_max_tokens) == (("m", "other"), None)
    assert load_settings({**BASE, "DEFAULT_MAX_NEW_TOKENS": "100"}).default_max_tokens == 100


def test_vllm_default_max_tokens_is_bounded_by_the_context_not_the_tgi_cap() -> None:
    s = load_settings({**BASE, "ENGINE": "vllm", "DEFAULT_MAX_NEW_TOKENS": "1500"})
    assert (s.default_max_tokens, s.engine_bounds_tokens) == (1500, True)
    with pytest.raises(SettingsError, match="DEFAULT_MAX_NEW_TOKENS=2048 leaves no room"):
        load_settings({**BASE, "ENGINE": "vllm", "DEFAULT_MAX_NEW_TOKENS": "2048"})
    with pytest.raises(SettingsError, match="DEFAULT_MAX_NEW_TOKENS=1500 exceeds MAX_NEW_TOKENS_CAP=1024"):
        load_settings({**BASE, "DEFAULT_MAX_NEW_TOKENS": "1500"})
