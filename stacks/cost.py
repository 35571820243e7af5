"""The cost lines of the synth summary beyond the hourly price: idle cost and a monthly estimate per hosting shape."""

from __future__ import annotations

from constructs.catalog import hourly_cost
from constructs.sagemaker_common import Hosting

HOURS_PER_MONTH = 730  # 365 × 24 / 12, the figure AWS's pricing calculator uses
WEEKS_PER_MONTH = 365 / 7 / 12
# What bills with no instance running: the chat API's KMS key and logs; API Gateway and Lambda bill per request.
STILL_BILLS = "the KMS key (~$1/month) and stored logs still bill; API Gateway and Lambda only per request"


def cost_lines(hosting: Hosting) -> list[str]:
    """`idle` and `monthly` summary lines; none when the instance type has no price on record."""
    price = hourly_cost(hosting.instance_type, 1)
    if price is None:
        return []
    zero, scaling = hosting.scale_to_zero, hosting.instance_scaling
    if zero is not None:
        serving = f"serving ~${price:,.2f}/hour per instance (up to {zero.max_instances})"
        lines = [
            f"idle         $0/hour at zero instances, reached after {zero.idle_minutes} min without requests; "
            f"{STILL_BILLS}",
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
        return lines
    if scaling is not None:
        low, high = scaling.min_instances, scaling.max_instances
        return [
            f"idle         ~${low * price:,.2f}/hour: min_instances={low} stay up; -c scale_to_zero=true stops that",
            f"monthly      ~${low * price * HOURS_PER_MONTH:,.0f} to ~${high * price * HOURS_PER_MONTH:,.0f} "
            f"({low}-{high} instances, {HOURS_PER_MONTH} h; autoscaling on concurrent requests)",
        ]
    count = hosting.instance_count
    return [
        f"idle         ~${count * price:,.2f}/hour: an always-on endpoint bills while idle; -c scale_to_zero=true "
        "stops that",
        f"monthly      ~${count * price * HOURS_PER_MONTH:,.0f} ({HOURS_PER_MONTH} h always on)",
    ]
