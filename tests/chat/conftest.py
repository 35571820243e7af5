"""Fixtures for the chat tests (the harness itself is in chat_harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from chat_harness import app_env, start_app
from engine_stacks import Stack
from sagemaker_runtime_emulator import Emulator


@pytest.fixture(scope="session")
def session_emulator() -> Iterator[Emulator]:
    emulator = Emulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture(autouse=True)
def _default_scenario(session_emulator: Emulator) -> None:
    """Every test starts with TGI's normal scenario (a test on another engine must not leak into the next)."""
    session_emulator.set_scenario()


@pytest.fixture
def emulator(session_emulator: Emulator) -> Emulator:
    """The emulator reset to its normal scenario, its request log cleared."""
    session_emulator.set_scenario()
    return session_emulator


@pytest.fixture(scope="session")
def app_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("app") / "app.log"


@pytest.fixture(scope="session")
def app_url(session_emulator: Emulator, app_log: Path) -> Iterator[str]:
    proc, url = start_app(app_env(session_emulator.url), app_log)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def http(app_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app_url, timeout=15) as client:
        yield client


@pytest.fixture
def oai(app_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=app_url + "/v1", api_key="unused", max_retries=0, timeout=15) as client:
        yield client


COMBOS = [("tgi", "falcon"), ("tgi", "server"), ("vllm", "falcon"), ("vllm", "server")]


@pytest.fixture(scope="session")
def combo_apps(session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One app process per ENGINE x PROMPT_FAMILY combination, started on first use."""
    started: dict[str, tuple[object, str]] = {}

    class Apps(dict):  # type: ignore[type-arg]
        def __missing__(self, key: str) -> str:
            engine, family = key.split("/")
            log = tmp_path_factory.mktemp(f"app-{engine}-{family}") / "app.log"
            proc, url = start_app(app_env(session_emulator.url, ENGINE=engine, PROMPT_FAMILY=family), log)
            started[key] = (proc, url)
            self[key] = url
            return url

    yield Apps()
    for proc, _ in started.values():
        proc.terminate()  # type: ignore[attr-defined]
        proc.wait(10)  # type: ignore[attr-defined]


@pytest.fixture(params=[f"{e}/{f}" for e, f in COMBOS])
def stack(request: pytest.FixtureRequest, combo_apps: dict[str, str], session_emulator: Emulator) -> Stack:
    engine, family = request.param.split("/")
    result = Stack(combo_apps[request.param], engine, family, session_emulator)
    result.scenario()
    return result
