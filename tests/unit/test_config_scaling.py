"""Context keys of the hosting shape: scale_to_zero, idle_minutes, active_hours, min/max_instances, autoscaling."""

from __future__ import annotations

import pytest

from constructs.hosting.active_hours import ActiveHours
from stacks.config import ConfigError, from_context

BERLIN = "MON-FRI 08:00-19:00 Europe/Berlin"


def test_default_is_one_always_on_instance_without_scaling() -> None:
    c = from_context({})
    assert (c.scale_to_zero, c.instance_count, c.min_instances, c.max_instances) == (False, 1, 1, 1)
    assert (c.idle_minutes, c.active_hours, c.target_concurrency) == (None, None, None)


def test_scale_to_zero_with_active_hours_parses_days_hours_and_zone() -> None:
    c = from_context({"scale_to_zero": "true", "active_hours": BERLIN, "idle_minutes": "30"})
    assert c.scale_to_zero and c.idle_minutes == 30 and c.max_instances == 1
    assert c.active_hours == ActiveHours("MON-FRI", (8, 0), (19, 0), "Europe/Berlin")
    assert c.active_hours.cron(c.active_hours.start) == "cron(0 8 ? * MON-FRI *)"
    assert c.active_hours.hours_per_week == 55


@pytest.mark.parametrize(
    ("days", "count"), [("MON-FRI", 5), ("MON,WED,FRI", 3), ("MON-WED,SAT", 4), ("SUN", 1), ("MON-SUN", 7)]
)
def test_days_take_ranges_and_lists(days: str, count: int) -> None:
    hours = ActiveHours.parse(f"{days} 09:30-10:00 UTC")
    assert hours.days == days and hours.hours_per_week == count * 0.5


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("MON-FRY 08:00-19:00 Europe/Berlin", r"day 'MON-FRY' is not a day or a day range; days are MON, TUE"),
        ("FRI-MON 08:00-19:00 Europe/Berlin", r"day range 'FRI-MON' runs backwards"),
        ("mon-fri 08:00-19:00 Europe/Berlin", r"day 'mon-fri' is not a day"),
        ("MON-FRI 8:00-19:00 Europe/Berlin", r"hours '8:00-19:00' are not HH:MM-HH:MM"),
        ("MON-FRI 08:00-24:00 Europe/Berlin", r"hours run 00-23 and minutes 00-59"),
        ("MON-FRI 19:00-08:00 Europe/Berlin", r"the end must be later than the start"),
        ("MON-FRI 08:00-19:00 Europe/Berlln", r"time zone 'Europe/Berlln' is not an IANA time zone"),
        ("MON-FRI 08:00-19:00 CEST", r"time zone 'CEST' is not an IANA time zone"),
        ("MON-FRI 08:00-19:00", r"expected 'DAYS HH:MM-HH:MM TIMEZONE'"),
    ],
)
def test_bad_active_hours_name_the_key_and_the_problem(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"context key 'active_hours': .*" + message):
        from_context({"scale_to_zero": "true", "active_hours": value})


@pytest.mark.parametrize("key", ["idle_minutes", "active_hours"])
def test_idle_minutes_and_active_hours_require_scale_to_zero(key: str) -> None:
    value = BERLIN if key == "active_hours" else "30"
    with pytest.raises(ConfigError, match=rf"context key '{key}' requires scale_to_zero=true"):
        from_context({key: value})


@pytest.mark.parametrize("value", ["4", "1441", "ten"])
def test_idle_minutes_range(value: str) -> None:
    with pytest.raises(ConfigError, match=r"context key 'idle_minutes': .*whole number from 5 to 1440"):
        from_context({"scale_to_zero": "true", "idle_minutes": value})


def test_scale_to_zero_has_no_instance_floor() -> None:
    with pytest.raises(ConfigError, match=r"'min_instances': 1 is not allowed; scale_to_zero=true always scales"):
        from_context({"scale_to_zero": "true", "min_instances": "1"})
    assert from_context({"scale_to_zero": "true", "min_instances": "0"}).min_instances == 0


def test_scale_to_zero_scales_in_by_idle_minutes_not_a_cooldown() -> None:
    with pytest.raises(ConfigError, match=r"'scale_in_cooldown' does not apply with scale_to_zero=true"):
        from_context({"scale_to_zero": "true", "scale_in_cooldown": "300"})


def test_scale_to_zero_initial_count_within_max() -> None:
    assert from_context({"scale_to_zero": "true", "instance_count": "2"}).max_instances == 2
    with pytest.raises(ConfigError, match=r"'instance_count': 3 .*at most max_instances \(2\)"):
        from_context({"scale_to_zero": "true", "instance_count": "3", "max_instances": "2"})


def test_autoscaling_range_and_initial_count() -> None:
    c = from_context({"max_instances": "4"})
    assert (c.min_instances, c.instance_count, c.max_instances) == (1, 1, 4)
    c = from_context({"min_instances": "2", "max_instances": "4"})
    assert (c.min_instances, c.instance_count, c.max_instances) == (2, 2, 4)
    c = from_context({"instance_count": "3"})
    assert (c.min_instances, c.instance_count, c.max_instances) == (3, 3, 3)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"min_instances": "3", "max_instances": "2"}, r"'max_instances': 2 .*at least min_instances \(3\)"),
        (
            {"min_instances": "2", "max_instances": "4", "instance_count": "5"},
            r"'instance_count': 5 .*between min_instances \(2\) and max_instances \(4\)",
        ),
        ({"min_instances": "0"}, r"'min_instances': 0 .*needs scale_to_zero=true"),
        ({"target_concurrency": "8"}, r"'target_concurrency' need autoscaling: set max_instances above"),
        ({"scale_in_cooldown": "60", "max_instances": "1"}, r"'scale_in_cooldown' need autoscaling"),
        ({"max_instances": "21"}, r"'max_instances': '21' .*from 1 to 20"),
        ({"target_concurrency": "0", "max_instances": "2"}, r"'target_concurrency': '0' .*from 1 to 1000"),
    ],
)
def test_bad_scaling_combinations_fail_with_the_key(context: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_context(context)
