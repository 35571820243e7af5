"""The scale-to-zero wake-up against the idle policy, replayed minute by minute under the documented rules.

Rules (each from the AWS documentation cited beside it):
- An alarm with an Auto Scaling action invokes it when it enters ALARM and again every minute it stays there
  (CloudWatch user guide, "Alarm actions": "For Auto Scaling actions, the alarm continues to invoke the action
  once per minute that the alarm remains in the new state").
- A step policy that scaled out is in cooldown for `Cooldown` seconds; while it is, "capacity added by the
  initiating scale-out activity is calculated as part of the desired capacity for the next scale-out activity"
  (Application Auto Scaling API reference, StepScalingPolicyConfiguration.Cooldown): a second +1 adds nothing.
- ExactCapacity sets the desired capacity; every result is clamped to the scalable target's min..max.
- Two alarms are evaluated independently; CloudWatch documents no order between their actions, so the idle
  alarm's last ExactCapacity 0 (it is in ALARM at zero) may land just after the wake-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("synth")

ZERO = {"scale_to_zero": "true", "region": "us-east-1"}


@dataclass
class StepPolicy:
    adjustment_type: str
    adjustment: int
    cooldown: int
    last_scale_out: float | None = None
    added: int = 0

    @classmethod
    def of(cls, properties: dict[str, Any]) -> StepPolicy:
        step = properties["StepScalingPolicyConfiguration"]
        (adjustment,) = step["StepAdjustments"]
        return cls(step["AdjustmentType"], adjustment["ScalingAdjustment"], step["Cooldown"])


@dataclass
class Target:
    low: int
    high: int
    desired: int = 0
    log: list[tuple[float, str, int]] = field(default_factory=list)

    def invoke(self, policy: StepPolicy, now: float, name: str) -> None:
        in_cooldown = policy.last_scale_out is not None and now - policy.last_scale_out < policy.cooldown
        if policy.adjustment_type == "ExactCapacity":
            wanted = policy.adjustment
        else:
            # Inside the cooldown, what this policy added already counts towards the next scale-out.
            wanted = self.desired + max(0, policy.adjustment - (policy.added if in_cooldown else 0))
        wanted = min(self.high, max(self.low, wanted))
        if wanted > self.desired and not in_cooldown:
            policy.last_scale_out, policy.added = now, wanted - self.desired
        self.desired = wanted
        self.log.append((now, name, self.desired))


def replay(wake: StepPolicy, idle: StepPolicy, *, high: int, refused_minutes: int) -> Target:
    """Zero copies, idle alarm in ALARM. A call is refused at minute 0 and callers retry every minute until a copy
    has been wanted for `refused_minutes` (the start-up). Minute 1: the wake alarm fires, then the idle alarm's
    last invocation lands after it. From then on the refusals keep the idle alarm OK and the wake alarm in ALARM."""
    target = Target(low=0, high=high)
    target.invoke(wake, 60.0, "wake")
    target.invoke(idle, 61.0, "idle")
    wanted_since: float | None = None
    for minute in range(2, 60):
        now = minute * 60.0
        if target.desired >= 1 and wanted_since is None:
            wanted_since = now
        if wanted_since is not None and now - wanted_since >= refused_minutes * 60:
            break  # the copy serves: no more refusals, the wake alarm returns to OK
        target.invoke(wake, now, "wake")
    return target


def _policies(s: Any) -> dict[str, dict[str, Any]]:
    return {
        p["Properties"]["PolicyName"].rsplit("-", 1)[-1]: p["Properties"]
        for p in s.of_type("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }


def test_a_wake_up_cancelled_by_the_idle_alarm_is_restored_at_the_next_minute(synth: Any) -> None:
    s = synth(**ZERO)
    policies = _policies(s)
    target = replay(
        StepPolicy.of(policies["wake"]),
        StepPolicy.of(policies["idle"]),
        high=s.one("AWS::ApplicationAutoScaling::ScalableTarget")["MaxCapacity"],
        refused_minutes=10,
    )
    assert target.log[:2] == [(60.0, "wake", 1), (61.0, "idle", 0)]  # the race
    assert target.log[2] == (120.0, "wake", 1)  # restored by the next re-invocation, not after a cooldown


@pytest.mark.parametrize("context", [ZERO, {**ZERO, "model": "falcon-7b-instruct", "num_gpus": "1"}])
def test_the_wake_policy_never_adds_a_second_copy_however_long_the_start_up(
    synth: Any, context: dict[str, str]
) -> None:
    s = synth(**context)
    policies = _policies(s)
    high = s.one("AWS::ApplicationAutoScaling::ScalableTarget")["MaxCapacity"]
    target = replay(StepPolicy.of(policies["wake"]), StepPolicy.of(policies["idle"]), high=high, refused_minutes=30)
    assert max(desired for _, name, desired in target.log if name == "wake") == 1
    assert high >= 1


def test_the_replay_reproduces_the_lost_wake_up_of_a_change_in_capacity_policy_with_a_cooldown() -> None:
    # The shape this replaced: +1 with a start-up-long cooldown. After the idle alarm's late ExactCapacity 0,
    # every re-invoked +1 inside the cooldown adds nothing: refused for the whole 600 s.
    target = replay(
        StepPolicy("ChangeInCapacity", 1, 600), StepPolicy("ExactCapacity", 0, 60), high=1, refused_minutes=10
    )
    restored = next(t for t, name, desired in target.log[2:] if name == "wake" and desired == 1)
    assert restored >= 60.0 + 600


def test_inside_the_hours_the_idle_policy_cannot_take_the_last_copy(synth: Any) -> None:
    # The scheduled start sets the range to 1..N; a scaling policy never goes below the minimum (RegisterScalableTarget
    # MinCapacity), so the idle ExactCapacity 0 keeps one copy until the scheduled end sets 0..0.
    s = synth(**{**ZERO, "active_hours": "MON-FRI 08:00-19:00 Europe/Berlin"})
    (start, end) = sorted(
        s.one("AWS::ApplicationAutoScaling::ScalableTarget")["ScheduledActions"],
        key=lambda a: a["ScheduledActionName"].endswith("-stop"),
    )
    low, high = start["ScalableTargetAction"]["MinCapacity"], start["ScalableTargetAction"]["MaxCapacity"]
    target = Target(low=low, high=high, desired=1)
    target.invoke(StepPolicy.of(_policies(s)["idle"]), 0.0, "idle")
    assert target.desired == 1
    assert end["ScalableTargetAction"] == {"MinCapacity": 0, "MaxCapacity": 0}
