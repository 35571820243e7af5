"""Fixtures for the chat tests (the harness itself is in chat_harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from chat_harness import app_env, start_app
from sagemaker_runtime_emulator import Emulator


@pytest.fixture(scope="session")
def session_emulator() -> Iterator[Emulator]:
    emulator = Emulator().start()
    yield emulator
    emulator.stop()


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
