"""Every vLLM preset the app synthesizes starts with the arguments the DLC would give it, and its parsers work
through the API as they do on the engine. A preset whose arguments vLLM refuses fails here.

One vLLM runs at a time (``engines`` stops the previous one), so this module comes after the ChatML modules.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PRESETS, Engines
from differential import compare, compare_stream
from engine_harness import EngineRefused, free_port, local_args, start_vllm

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "maxLength": 12}},
                "required": ["city"],
            },
        },
    }
]
OTHER_PRESETS = [p for p in PRESETS if PRESETS[p][1] != "chatml"]


def _chat(model: str, **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Weather in Paris?"}], "temperature": 0,
            "seed": 7, "max_tokens": 12, **fields}  # fmt: skip


@pytest.mark.parametrize("preset", OTHER_PRESETS)
def test_preset_starts_and_answers_like_the_engine(engines: Engines, preset: str) -> None:
    api = engines.get(preset)
    assert api.server is not None and api.server.process.poll() is None
    compare(api, "POST", "chat/completions", _chat(api.model))
    compare_stream(api, "chat/completions", _chat(api.model, stream=True))
    # The preset's tool parser (llama3_json, mistral, hermes) runs on the tools request, on both sides alike.
    compare(api, "POST", "chat/completions", _chat(api.model, tools=TOOLS, tool_choice="auto"))
    compare_stream(api, "chat/completions", _chat(api.model, tools=TOOLS, tool_choice="auto", stream=True))


def test_reasoning_preset_reports_reasoning_in_the_field_vllm_names_it(engines: Engines) -> None:
    api = engines.get("deepseek_r1")
    engine, _ = compare(api, "POST", "chat/completions", _chat(api.model))
    message = engine.body["choices"][0]["message"]
    # vLLM 0.29 names it `reasoning` (its `reasoning_content` is gone); the R1 template opens <think> in the
    # prompt, so a model that never closes it reasons all along.
    assert "reasoning_content" not in message
    assert message["reasoning"], message
    compare_stream(api, "chat/completions", _chat(api.model, stream=True))


def test_vllm_refuses_a_reasoning_parser_whose_tokens_the_tokenizer_lacks(
    engines: Engines,
    engine_py: Path,
    tiny_model: Callable[[str], Path],
    preset_envs: Callable[[str], Any],
    tmp_path: Path,
) -> None:
    """-c reasoning_parser=deepseek_r1's arguments on a tokenizer without <think> (the tiny ChatML one): vLLM
    refuses to start. This is how a preset with arguments vLLM refuses fails a test."""
    engines.stop()
    container, _ = preset_envs("deepseek_r1")
    port = free_port()
    with pytest.raises(EngineRefused, match="could not locate think start/end tokens"):
        start_vllm(engine_py, local_args(container, tiny_model("chatml"), port), port, tmp_path / "vllm.log")
