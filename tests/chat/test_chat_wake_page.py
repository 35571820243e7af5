"""The browser page shows "waking the model (n s)" while the API holds its stream, then the answer (issue 20)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chat_harness import start_app
from sagemaker_runtime_emulator import Emulator
from test_chat_page_browser import _answers, _ask, _idle, _wait, driver  # noqa: F401 - driver is a fixture
from test_chat_wake import wake_env

BOUND = 60  # a bound for a hung test; the waits end on events


@pytest.fixture(scope="module")
def waking_url(session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_app(
        wake_env(session_emulator.url, WAKE_WAIT_SECONDS="120"), tmp_path_factory.mktemp("wake-page") / "app.log"
    )
    yield url
    proc.terminate()
    proc.wait(10)


def test_the_page_shows_the_wake_up_then_the_answer(
    driver: Any,  # noqa: F811 - the imported fixture
    waking_url: str,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    asleep = threading.Event()
    emulator.set_scenario(no_capacity_until=asleep)
    driver.get(waking_url + "/")
    _ask(driver, "Anyone there?")
    note = _wait(lambda: next((t for t in _answers(driver) if t.startswith("waking the model (")), None), BOUND)
    assert note.endswith(" s)…")
    driver.save_screenshot(str(tmp_path / "waking.png"))
    assert emulator.scaled.wait(BOUND)
    asleep.set()
    _wait(lambda: _answers(driver)[-1:] == ["Hello! How can I help?"] and _idle(driver), BOUND)
    assert len(emulator.scaling_calls) == 1
