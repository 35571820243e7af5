"""Outside the deployment's active hours the API says when the model runs (code outside_active_hours), instead of
"starting, retry in 60 s"; inside them a refused call is still a wake-up (model_starting)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openai
import pytest
from chat_harness import MODEL_ID, app_env, start_app
from chatapi.active_hours import MAX_RETRY_AFTER_SECONDS, ActiveHours
from chatapi.settings import SettingsError, load_settings
from sagemaker_runtime_emulator import Emulator

COMPONENT = "LlmChat-Llm-Component-7A2EEE1A"
BERLIN = ActiveHours.parse("MON-FRI 08:00-19:00 Europe/Berlin")
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def closed_hours(now: datetime) -> tuple[str, datetime]:
    """Hours on one day two days from now (UTC), so `now` is outside them; and their next start."""
    day = (now + timedelta(days=2)).date()
    return f"{DAYS[day.weekday()]} 08:00-09:00 UTC", datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "start"),
    [
        # Saturday evening in Berlin: Monday 08:00 CET.
        ("2026-12-05T17:40:00+00:00", "2026-12-07T08:00:00+01:00"),
        # Monday before the start, after the end, and Friday after the end (next: Monday).
        ("2026-12-07T06:59:00+00:00", "2026-12-07T08:00:00+01:00"),
        ("2026-12-07T18:00:00+00:00", "2026-12-08T08:00:00+01:00"),
        ("2026-12-11T18:30:00+00:00", "2026-12-14T08:00:00+01:00"),
        # Across the switch to summer time (29 March 2026): 08:00 CEST.
        ("2026-03-28T12:00:00+00:00", "2026-03-30T08:00:00+02:00"),
    ],
)
def test_next_start_is_the_first_scheduled_start_after_now_in_the_time_zone(now: str, start: str) -> None:
    when = datetime.fromisoformat(now)
    assert not BERLIN.is_active(when)
    assert BERLIN.next_start(when).isoformat() == start
    error = BERLIN.closed_error(when)
    assert error is not None and (error.status, error.type, error.code) == (
        503,
        "service_unavailable",
        "outside_active_hours",
    )
    assert f"next start at {start}" in error.message and "MON-FRI 08:00-19:00 Europe/Berlin" in error.message
    wait = (datetime.fromisoformat(start) - when).total_seconds()
    assert error.headers["Retry-After"] == str(min(MAX_RETRY_AFTER_SECONDS, int(wait)))


def test_inside_the_hours_there_is_no_closed_answer() -> None:
    for inside in ("2026-12-07T07:00:00+00:00", "2026-12-11T17:59:00+00:00"):
        assert BERLIN.is_active(datetime.fromisoformat(inside))
        assert BERLIN.closed_error(datetime.fromisoformat(inside)) is None


def test_day_lists_and_ranges() -> None:
    hours = ActiveHours.parse("MON-WED,SAT 09:30-10:00 UTC")
    assert hours.days == frozenset({0, 1, 2, 5})
    thursday = datetime(2026, 12, 10, 9, 45, tzinfo=UTC)
    assert not hours.is_active(thursday)
    assert hours.next_start(thursday) == datetime(2026, 12, 12, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["MON-FRI 08:00-19:00", "FUNDAY 08:00-19:00 UTC", "MON 19:00-08:00 UTC", "FRI-MON 08:00-09:00 UTC"]
)
def test_a_bad_schedule_fails_at_start_up_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="ACTIVE_HOURS"):
        load_settings({"SAGEMAKER_ENDPOINT_NAME": "e", "ACTIVE_HOURS": value})


def test_the_schedule_is_read_from_the_environment() -> None:
    settings = load_settings({"SAGEMAKER_ENDPOINT_NAME": "e", "ACTIVE_HOURS": " MON-FRI  08:00-19:00 Europe/Berlin"})
    assert settings.active_hours == BERLIN
    assert load_settings({"SAGEMAKER_ENDPOINT_NAME": "e"}).active_hours is None


@pytest.fixture(scope="module")
def closed_url(session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    hours, _ = closed_hours(datetime.now(UTC))
    log: Path = tmp_path_factory.mktemp("closed") / "app.log"
    proc, url = start_app(app_env(session_emulator.url, INFERENCE_COMPONENT_NAME=COMPONENT, ACTIVE_HOURS=hours), log)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("stream", [False, True])
def test_a_refused_call_outside_the_hours_names_the_next_start(
    closed_url: str, emulator: Emulator, stream: bool
) -> None:
    emulator.set_scenario(fault="no_capacity")
    _, start = closed_hours(datetime.now(UTC))
    with openai.OpenAI(base_url=closed_url + "/v1", api_key="unused", max_retries=0, timeout=15) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "hi"}], stream=stream)
    response = caught.value.response
    assert response.status_code == 503
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("service_unavailable", "outside_active_hours")
    assert f"next start at {start.isoformat()}" in error["message"]
    assert 1 <= int(response.headers["retry-after"]) <= MAX_RETRY_AFTER_SECONDS
    assert [r["inference_component"] for r in emulator.requests] == [COMPONENT]


def test_outside_the_hours_a_model_that_still_answers_is_used(closed_url: str, emulator: Emulator) -> None:
    # The schedule only explains a refusal; it never refuses a call SageMaker would serve.
    with openai.OpenAI(base_url=closed_url + "/v1", api_key="unused", max_retries=0, timeout=15) as client:
        answer = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hello! How can I help?"
