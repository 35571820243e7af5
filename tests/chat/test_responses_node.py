"""Node clients of the Responses API (``openai`` and the Vercel AI SDK's default OpenAI provider, pinned in
package.json) against ``/v1/responses`` with the engine emulated as vLLM with server-side templates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from chat_harness import MODEL_ID, REPO
from engine_stacks import Stack, make_stack

SCRIPT = Path(__file__).with_name("node") / "responses_clients.mjs"
ANSWER = "Hello! How can I help?"


@pytest.fixture
def node_results(combo_apps: dict[str, str], session_emulator: Any, tmp_path: Path) -> dict[tuple[str, str], Any]:
    stack: Stack = make_stack(combo_apps, session_emulator, "vllm", "server")
    node = shutil.which("node")
    assert node is not None, "Node.js is required (make synth needs it too)"
    # ESM resolves packages from the script's folder: run a copy beside the project's node_modules
    # (NODE_MODULES_DIR points elsewhere, e.g. a folder installed from this package-lock.json).
    modules = Path(os.environ.get("NODE_MODULES_DIR", REPO / "node_modules"))
    (tmp_path / "node_modules").symlink_to(modules.resolve(), target_is_directory=True)
    script = tmp_path / SCRIPT.name
    shutil.copy(SCRIPT, script)
    # The emulated model calls the tool while the last message is not a tool result (openai_engines.plan_answer).
    stack.scenario(tool_calls=[{"name": "get_weather", "arguments": '{"city": "Paris"}'}])
    done = subprocess.run(
        [node, str(script), stack.url + "/v1", MODEL_ID], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {(r["client"], r["check"]): r for r in lines}


def test_openai_node_responses_create_and_stream(node_results: dict[tuple[str, str], Any]) -> None:
    for check in ("create", "stream"):
        result = node_results[("openai", check)]
        assert result["ok"], result
        assert result["detail"] == ANSWER


def test_ai_sdk_default_openai_provider(node_results: dict[tuple[str, str], Any]) -> None:
    for check in ("generateText", "streamText"):
        result = node_results[("ai-sdk", check)]
        assert result["ok"], result
        assert result["detail"] == ANSWER
    round_trip = node_results[("ai-sdk", "tool round trip")]
    assert round_trip["ok"], round_trip
    assert round_trip["detail"] == {"text": ANSWER, "calls": ["Paris"]}
