"""Fixtures for the tests against a real vLLM on CPU (``make test-engine``; ``make test`` leaves them out).

``ENGINE_PYTHON`` names the engine venv's Python (``make test-engine`` sets ``.venv-engine/bin/python``); without
it nothing here is collected, so ``make test`` stays light and never needs the engine venv.

Contract (other test modules rely on it): ``engine_api`` gives ``.vllm_url`` (vLLM's own OpenAI server, ending in
``/v1``), ``.api_url`` (this API, run as ``make dev`` runs it, through a SageMaker-runtime stand-in in front of
vLLM's ``/invocations``, ending in ``/v1``), ``.model`` (the served model name) and ``.family`` (``chatml``: Qwen2
with hermes tools), for the synthesized ``qwen2.5-7b-instruct`` preset.

vLLM needs ~3 GB RAM and the machine has 2 cores, so one server runs at a time: ``engines`` keeps the current one
and stops it before it starts another (modules that share a preset reuse its server).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))

from engine_harness import EngineApi, build_tiny_model, engine_python, literal_env, running_stack

if engine_python() is None:
    collect_ignore_glob = ["test_*.py"]

# Each preset the app deploys on vLLM, its synth context and the tiny model family that stands in for its model.
PRESETS: dict[str, tuple[dict[str, str], str]] = {
    "qwen2.5-7b-instruct": ({"model": "qwen2.5-7b-instruct"}, "chatml"),
    "llama-3.1-8b-instruct": ({"model": "llama-3.1-8b-instruct", "hf_token_secret": "hf/token"}, "llama3"),
    "llama-3.3-70b-instruct": ({"model": "llama-3.3-70b-instruct", "hf_token_secret": "hf/token"}, "llama3"),
    "mistral-7b-instruct-v0.3": ({"model": "mistral-7b-instruct-v0.3", "hf_token_secret": "hf/token"}, "mistral"),
    # A reasoning model: -c reasoning_parser=deepseek_r1 on a ChatML model whose tokenizer has <think> (as the
    # DeepSeek-R1 Qwen distills do).
    "deepseek_r1": ({"model": "qwen2.5-7b-instruct", "reasoning_parser": "deepseek_r1"}, "chatml-think"),
}


@pytest.fixture(scope="session")
def engine_py() -> Path:
    python = engine_python()
    assert python is not None and python.exists(), f"ENGINE_PYTHON={python}: run `make test-engine`"
    return python


@pytest.fixture(scope="session")
def tiny_model(engine_py: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``tiny_model(family)`` → the folder of that family's tiny model, built once per session."""
    root = tmp_path_factory.mktemp("tiny-models")

    def get(family: str) -> Path:
        return build_tiny_model(engine_py, family, root / family)

    return get


@pytest.fixture(scope="session")
def preset_envs(synth: Callable[..., Any]) -> Callable[[str], tuple[dict[str, str], dict[str, str]]]:
    """``preset_envs(name)`` → (the SageMaker Model's container environment, the chat Lambda's environment), from
    the app synthesized with that preset (the session's shared synth)."""

    def get(name: str) -> tuple[dict[str, str], dict[str, str]]:
        s = synth(**PRESETS[name][0])
        container = literal_env(s.one("AWS::SageMaker::Model")["PrimaryContainer"]["Environment"])
        functions = [
            literal_env(f["Properties"].get("Environment", {}).get("Variables", {}))
            for f in s.of_type("AWS::Lambda::Function").values()
        ]
        chat = [f for f in functions if "MODEL_ID" in f]
        assert len(chat) == 1, f"expected one chat Lambda, found {len(chat)}"
        return container, chat[0]

    return get


class Engines:
    """At most one running vLLM stack; asking for another preset stops the current one first."""

    def __init__(self, python: Path, tiny_model: Callable[[str], Path], envs: Callable[..., Any], tmp: Any) -> None:
        self.python, self.tiny_model, self.envs, self.tmp = python, tiny_model, envs, tmp
        self.current: tuple[str, EngineApi, ExitStack] | None = None
        self.start_seconds: dict[str, float] = {}
        self.rss_mb: dict[str, int] = {}

    def get(self, preset: str) -> EngineApi:
        if self.current is not None and self.current[0] == preset:
            server = self.current[1].server
            if server is not None and server.process.poll() is None:
                return self.current[1]
        self.stop()
        container, lambda_env = self.envs(preset)
        family = PRESETS[preset][1]
        stack = ExitStack()
        api = stack.enter_context(
            running_stack(
                self.python,
                preset=preset,
                family=family,
                model_dir=self.tiny_model(family),
                container_env=container,
                lambda_env=lambda_env,
                work_dir=self.tmp.mktemp(f"engine-{preset}"),
            )
        )
        assert api.server is not None
        self.start_seconds[preset] = round(api.server.started_in, 1)
        self.rss_mb[preset] = api.server.rss_mb()
        self.current = (preset, api, stack)
        return api

    def stop(self) -> None:
        if self.current is not None:
            self.current[2].close()
            self.current = None


@pytest.fixture(scope="session")
def engines(
    engine_py: Path,
    tiny_model: Callable[[str], Path],
    preset_envs: Callable[..., Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Engines]:
    fleet = Engines(engine_py, tiny_model, preset_envs, tmp_path_factory)
    try:
        yield fleet
    finally:
        fleet.stop()
        # Measured numbers, printed at the end of the run (`make test-engine` shows them).
        print(f"\nvLLM start seconds per preset: {fleet.start_seconds}\nvLLM RSS MB after start: {fleet.rss_mb}")


@pytest.fixture(scope="module")
def engine_api(engines: Engines) -> EngineApi:
    """The default engine stack: the qwen2.5-7b-instruct preset on the tiny ChatML model (hermes tools)."""
    return engines.get("qwen2.5-7b-instruct")
