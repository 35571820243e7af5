"""``litellm.responses`` (plain, streamed, a function tool) against ``/v1/responses`` with the engine emulated as vLLM
with server-side templates. litellm cannot be installed beside this repo's pins (litellm 1.110.2 requires
importlib-metadata>=8, sagemaker-core 2.27.0 <7), so it runs from a venv of its own, named by ``LITELLM_PYTHON``
(e.g. ``python3.11 -m venv /tmp/litellm && /tmp/litellm/bin/pip install litellm==1.110.2``); without it this module
is not collected."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from chat_harness import MODEL_ID
from engine_stacks import make_stack

LITELLM_PYTHON = os.environ.get("LITELLM_PYTHON")
if not LITELLM_PYTHON:
    pytest.skip("LITELLM_PYTHON is not set (litellm needs a venv of its own)", allow_module_level=True)

CLIENT = Path(__file__).with_name("litellm_responses_client.py")


def test_litellm_responses(combo_apps: dict[str, str], session_emulator: Any) -> None:
    stack = make_stack(combo_apps, session_emulator, "vllm", "server")
    stack.scenario(tool_calls=[{"name": "get_weather", "arguments": '{"city": "Paris"}'}])
    done = subprocess.run(
        [str(LITELLM_PYTHON), str(CLIENT), stack.url + "/v1", MODEL_ID],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["create"] == result["stream"] == "Hello! How can I help?"
    assert result["tool"] == [["function_call", "get_weather", '{"city": "Paris"}']]
