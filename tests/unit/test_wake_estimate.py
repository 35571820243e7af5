"""The wake-up estimate: published reference figures, scaled only where the physics is linear (the S3 download)."""

from __future__ import annotations

import pytest

from constructs.facts.wake_estimate import (
    REFERENCE_S3_SECONDS_CACHED,
    REFERENCE_START_SECONDS,
    REFERENCE_WEIGHTS_GIB,
    estimate,
)


def steps(**kwargs: object) -> dict[str, float | None]:
    defaults: dict[str, object] = {"alarm_period_seconds": 60, "alarm_evaluation_periods": 1}
    return {s.name: s.seconds for s in estimate(**{**defaults, **kwargs}).steps}  # type: ignore[arg-type]


def test_the_reference_model_from_s3_adds_up_to_the_blogs_cached_scale_out_plus_the_alarm() -> None:
    wake = estimate(
        alarm_period_seconds=60, alarm_evaluation_periods=1, weights_gib=REFERENCE_WEIGHTS_GIB, weights_from_s3=True
    )
    # 258 s with container caching (77 s of it the S3 download), after one 60 s alarm period.
    assert REFERENCE_START_SECONDS == 181
    assert wake.complete and wake.known_seconds == pytest.approx(60 + 258)
    assert wake.lines()[-1].split() == ["total", "~5.3", "min"]


def test_the_s3_download_scales_with_the_weights_and_nothing_else_does() -> None:
    small = steps(weights_gib=REFERENCE_WEIGHTS_GIB / 2, weights_from_s3=True)
    large = steps(weights_gib=REFERENCE_WEIGHTS_GIB * 4, weights_from_s3=True)
    assert small["weights"] == pytest.approx(REFERENCE_S3_SECONDS_CACHED / 2)
    assert large["weights"] == pytest.approx(REFERENCE_S3_SECONDS_CACHED * 4)
    assert small["start"] == large["start"] and small["image"] == large["image"] == 0


def test_the_alarm_step_is_the_stacks_own_alarm() -> None:
    assert (
        steps(alarm_period_seconds=30, alarm_evaluation_periods=3, weights_gib=1.0, weights_from_s3=True)["alarm"] == 90
    )


def test_hub_weights_have_no_figure_so_the_total_is_a_lower_bound_naming_them() -> None:
    wake = estimate(alarm_period_seconds=60, alarm_evaluation_periods=1, weights_gib=14.2, weights_from_s3=False)
    assert not wake.complete and wake.known_seconds == pytest.approx(60 + REFERENCE_START_SECONDS)
    weights_row = next(row for row in wake.lines() if row.startswith("weights"))
    assert weights_row.split()[1] == "?" and "no published figure" in weights_row
    assert wake.lines()[-1].startswith("total") and "> 4.0 min  plus the weights" in wake.lines()[-1]


def test_s3_weights_of_unknown_size_are_not_guessed() -> None:
    assert steps(weights_gib=None, weights_from_s3=True)["weights"] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alarm_period_seconds": 0}, "positive period"),
        ({"alarm_evaluation_periods": 0}, "positive period"),
        ({"weights_gib": 0.0}, "weights_gib 0.0 must be positive"),
    ],
)
def test_impossible_inputs_are_refused(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "alarm_period_seconds": 60,
        "alarm_evaluation_periods": 1,
        "weights_gib": 1.0,
        "weights_from_s3": True,
    }
    with pytest.raises(ValueError, match=message):
        estimate(**{**base, **kwargs})  # type: ignore[arg-type]
