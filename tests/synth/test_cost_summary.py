"""The summary's cost lines for each hosting shape: serving, idle, monthly."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.summary import summary
from tests.synth.test_scaling import SCALED, ZERO, ZERO_PRIVATE, ZERO_SMALL

pytestmark = pytest.mark.xdist_group("synth")


def test_always_on_bills_while_idle_and_all_month(default_synth: Any) -> None:
    text = summary(default_synth.stack)
    assert "cost         ~$7.09/hour on demand while deployed" in text
    assert "idle         ~$7.09/hour: an always-on endpoint bills while idle" in text
    assert "monthly      ~$5,176 (730 h always on)" in text
    assert "component" not in text


def test_scale_to_zero_with_active_hours_costs_only_the_hours(synth: Any) -> None:
    text = summary(synth(**ZERO).stack)
    assert "idle         $0/hour for instances at zero, reached after 30 min without requests" in text
    assert "/month below still bills" in text
    # 5 days × 11 h × 365/7/12 weeks = 238.9 h × $7.09
    assert "monthly      ~$1,694 for 239 h/month on one instance inside active hours" in text
    assert "(MON-FRI 08:00-19:00 Europe/Berlin)" in text
    assert "component    LlmChat-Llm-Component-" in text


def test_scale_to_zero_without_hours_costs_the_hours_used(synth: Any) -> None:
    text = summary(synth(**ZERO_SMALL).stack)
    assert "idle         $0/hour for instances at zero, reached after 15 min" in text
    assert "monthly      hours used × $7.09 (e.g. 8 h × 22 days ≈ $1,248)" in text


def test_autoscaling_names_the_floor_and_the_range(synth: Any) -> None:
    text = summary(synth(**SCALED).stack)
    assert "idle         ~$7.09/hour: min_instances=1 stay up" in text
    assert "monthly      ~$5,176 to ~$15,527 (1-3 instances, 730 h" in text


def _counted(template: dict[str, Any]) -> dict[str, int]:
    """What bills whatever the traffic, counted straight from the synthesized template."""
    resources = template["Resources"].values()
    return {
        "endpoint_azs": sum(
            len(r["Properties"]["SubnetIds"])
            for r in resources
            if r["Type"] == "AWS::EC2::VPCEndpoint" and r["Properties"].get("VpcEndpointType") == "Interface"
        ),
        "keys": sum(r["Type"] == "AWS::KMS::Key" for r in resources),
        "alarm_metrics": sum(
            len([q for q in r["Properties"]["Metrics"] if "MetricStat" in q]) if "Metrics" in r["Properties"] else 1
            for r in resources
            if r["Type"] == "AWS::CloudWatch::Alarm"
        ),
        "dashboards": sum(r["Type"] == "AWS::CloudWatch::Dashboard" for r in resources),
    }


@pytest.mark.parametrize("context", [{}, ZERO_PRIVATE])
def test_fixed_cost_is_counted_from_the_template(synth: Any, context: dict[str, str]) -> None:
    s = synth(**context)
    n = _counted(s.template)
    # PrivateLink $0.01 per endpoint per AZ-hour, KMS $1 per key-month, CloudWatch $0.10 per alarm metric-month and
    # $3 per dashboard-month (us-east-1 list prices cited in stacks/cost.py).
    monthly = n["endpoint_azs"] * 0.01 * 730 + n["keys"] * 1.0 + n["alarm_metrics"] * 0.10 + n["dashboards"] * 3.0
    (line,) = [line for line in summary(s.stack).splitlines() if line.startswith("fixed ")]
    assert line.startswith(f"fixed        ~${monthly:,.2f}/month whatever the traffic")
    assert f"{n['keys']} KMS key(s)" in line and f"{n['alarm_metrics']} alarm metrics" in line


def test_a_created_vpc_bills_its_interface_endpoints_per_az_hour_while_idle(synth: Any) -> None:
    s = synth(**ZERO_PRIVATE)
    n = _counted(s.template)
    assert n["endpoint_azs"] >= 2 and n["keys"] >= 2  # e.g. 3 endpoints x 2 AZs; endpoint, flow log and log keys
    text = summary(s.stack)
    assert f"{n['endpoint_azs']} interface-endpoint AZs ${n['endpoint_azs'] * 7.30:,.2f}" in text
    assert "logs and flow logs per GB" in text
    (idle,) = [line for line in text.splitlines() if line.startswith("idle ")]
    assert "$0/hour for instances at zero" in idle and "still bills" in idle
    assert "~$1/month" not in text
