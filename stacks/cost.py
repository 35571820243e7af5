"""The cost lines of the synth summary beyond the hourly price: idle cost and a monthly estimate per hosting shape,
and what bills whatever the traffic, counted from the resources the stack holds."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms

from constructs.facts.catalog import hourly_cost
from constructs.hosting.shape import Hosting

HOURS_PER_MONTH = 730  # 365 × 24 / 12, the figure AWS's pricing calculator uses
WEEKS_PER_MONTH = 365 / 7 / 12
# What bills with no instance running, us-east-1 list prices (2025), each per its pricing page:
# - an interface VPC endpoint, per endpoint per Availability Zone (one network interface per subnet) per hour:
#   https://aws.amazon.com/privatelink/pricing/ ("Interface Endpoint ... $0.01 per VPC endpoint per AZ"); gateway
#   endpoints (S3) are free (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html, "Pricing");
INTERFACE_ENDPOINT_AZ_HOUR_USD = 0.01
# - a customer managed KMS key, per month (https://aws.amazon.com/kms/pricing/; each of a rotated key's first two
#   rotations adds $1/month more);
KMS_KEY_MONTH_USD = 1.00
# - a standard-resolution alarm, per metric it evaluates (a metric math alarm: each metric it queries), per month,
#   and a dashboard per month beyond the account's first three (https://aws.amazon.com/cloudwatch/pricing/);
ALARM_METRIC_MONTH_USD = 0.10
DASHBOARD_MONTH_USD = 3.00
# - flow logs and every log group bill per GB ingested and stored (CloudWatch pricing, "Vended logs"), which is
#   near nothing while idle; API Gateway and Lambda bill per request only.
PER_USE = "per GB; API Gateway and Lambda per request"


@dataclass(frozen=True)
class FixedCost:
    """The resources of a stack that bill by the hour or month whatever the traffic."""

    interface_endpoint_azs: int
    kms_keys: int
    alarm_metrics: int
    dashboards: int
    flow_logs: int

    @property
    def monthly_usd(self) -> float:
        return (
            self.interface_endpoint_azs * INTERFACE_ENDPOINT_AZ_HOUR_USD * HOURS_PER_MONTH
            + self.kms_keys * KMS_KEY_MONTH_USD
            + self.alarm_metrics * ALARM_METRIC_MONTH_USD
            + self.dashboards * DASHBOARD_MONTH_USD
        )

    def line(self) -> str:
        parts = []
        if self.interface_endpoint_azs:
            endpoint_month = self.interface_endpoint_azs * INTERFACE_ENDPOINT_AZ_HOUR_USD * HOURS_PER_MONTH
            parts.append(f"{self.interface_endpoint_azs} interface-endpoint AZs ${endpoint_month:,.2f}")
        parts.append(f"{self.kms_keys} KMS key(s) ${self.kms_keys * KMS_KEY_MONTH_USD:,.2f}")
        parts.append(f"{self.alarm_metrics} alarm metrics ${self.alarm_metrics * ALARM_METRIC_MONTH_USD:,.2f}")
        parts.append(f"{self.dashboards} dashboard(s) ${self.dashboards * DASHBOARD_MONTH_USD:,.2f} beyond 3 free")
        logs = "logs and flow logs" if self.flow_logs else "logs"
        return (
            f"fixed        ~${self.monthly_usd:,.2f}/month whatever the traffic: {', '.join(parts)}; "
            f"plus {logs} {PER_USE}"
        )


def fixed_cost(stack: cdk.Stack) -> FixedCost:
    """Counts what the synthesized template holds: interface endpoints × their subnets (one per AZ), KMS keys,
    the metrics each alarm evaluates, dashboards and flow logs."""
    endpoint_azs = keys = metrics = dashboards = flows = 0
    for node in stack.node.find_all():
        if isinstance(node, ec2.CfnVPCEndpoint) and node.vpc_endpoint_type == "Interface":
            subnets = node.subnet_ids
            endpoint_azs += len(subnets) if isinstance(subnets, list) else 1
        elif isinstance(node, kms.CfnKey):
            keys += 1
        elif isinstance(node, cloudwatch.CfnAlarm):
            queries = node.metrics if isinstance(node.metrics, list) else []
            metrics += sum(1 for q in queries if getattr(q, "metric_stat", None) is not None) or 1
        elif isinstance(node, cloudwatch.CfnDashboard):
            dashboards += 1
        elif isinstance(node, ec2.CfnFlowLog):
            flows += 1
    return FixedCost(endpoint_azs, keys, metrics, dashboards, flows)


def cost_lines(hosting: Hosting, fixed: FixedCost | None = None) -> list[str]:
    """`idle`, `monthly` and `fixed` summary lines; only `fixed` when the instance type has no price on record."""
    fixed_lines = [fixed.line()] if fixed is not None else []
    price = hourly_cost(hosting.instance_type, 1)
    if price is None:
        return fixed_lines
    still_bills = (
        f"the fixed ~${fixed.monthly_usd:,.2f}/month below still bills" if fixed is not None else "fixed costs bill"
    )
    zero, scaling = hosting.scale_to_zero, hosting.instance_scaling
    if zero is not None:
        serving = f"serving ~${price:,.2f}/hour per instance (up to {zero.max_instances})"
        lines = [
            f"idle         $0/hour for instances at zero, reached after {zero.idle_minutes} min without requests; "
            f"{still_bills}",
        ]
        if zero.active_hours is not None:
            hours = zero.active_hours.hours_per_week * WEEKS_PER_MONTH
            lines.append(
                f"monthly      ~${hours * price:,.0f} for {hours:,.0f} h/month on one instance inside active hours "
                f"({zero.active_hours}); the first request after idle waits minutes; {serving}"
            )
        else:
            lines.append(
                f"monthly      hours used × ${price:,.2f} (e.g. 8 h × 22 days ≈ ${8 * 22 * price:,.0f}); the first "
                f"request after idle waits minutes; {serving}"
            )
        return lines + fixed_lines
    if scaling is not None:
        low, high = scaling.min_instances, scaling.max_instances
        return [
            f"idle         ~${low * price:,.2f}/hour: min_instances={low} stay up; -c scale_to_zero=true stops that",
            f"monthly      ~${low * price * HOURS_PER_MONTH:,.0f} to ~${high * price * HOURS_PER_MONTH:,.0f} "
            f"({low}-{high} instances, {HOURS_PER_MONTH} h; autoscaling on concurrent requests)",
            *fixed_lines,
        ]
    count = hosting.instance_count
    return [
        f"idle         ~${count * price:,.2f}/hour: an always-on endpoint bills while idle; -c scale_to_zero=true "
        "stops that",
        f"monthly      ~${count * price * HOURS_PER_MONTH:,.0f} ({HOURS_PER_MONTH} h always on)",
        *fixed_lines,
    ]
