"""The summary's cost lines for each hosting shape: serving, idle, monthly."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.summary import summary
from tests.synth.test_scaling import SCALED, ZERO, ZERO_SMALL

pytestmark = pytest.mark.xdist_group("synth")


def test_always_on_bills_while_idle_and_all_month(default_synth: Any) -> None:
    text = summary(default_synth.stack)
    assert "cost         ~$7.09/hour on demand while deployed" in text
    assert "idle         ~$7.09/hour: an always-on endpoint bills while idle" in text
    assert "monthly      ~$5,176 (730 h always on)" in text
    assert "component" not in text


def test_scale_to_zero_with_active_hours_costs_only_the_hours(synth: Any) -> None:
    text = summary(synth(**ZERO).stack)
    assert "idle         $0/hour at zero instances, reached after 30 min without requests" in text
    assert "KMS key (~$1/month) and stored logs still bill" in text
    # 5 days × 11 h × 365/7/12 weeks = 238.9 h × $7.09
    assert "monthly      ~$1,694 for 239 h/month on one instance inside active hours" in text
    assert "(MON-FRI 08:00-19:00 Europe/Berlin)" in text
    assert "component    LlmChat-Llm-Component-" in text


def test_scale_to_zero_without_hours_costs_the_hours_used(synth: Any) -> None:
    text = summary(synth(**ZERO_SMALL).stack)
    assert "idle         $0/hour at zero instances, reached after 15 min" in text
    assert "monthly      hours used × $7.09 (e.g. 8 h × 22 days ≈ $1,248)" in text


def test_autoscaling_names_the_floor_and_the_range(synth: Any) -> None:
    text = summary(synth(**SCALED).stack)
    assert "idle         ~$7.09/hour: min_instances=1 stay up" in text
    assert "monthly      ~$5,176 to ~$15,527 (1-3 instances, 730 h" in text
