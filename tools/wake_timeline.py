"""Where the minutes of one wake-up go: alarm, scaling, instance, container start, first answer.

    python tools/wake_timeline.py --stack LlmChat [--region eu-west-1] [--since 3h | 2026-12-05T08:00:00Z]
    python tools/wake_timeline.py --endpoint <name> [--component <name>] --since 1h

(`make wake-timeline [STACK=…] [SINCE=…] [REGION=…]` calls exactly this.) It only reads, from the account the
standard AWS credential chain points at, for the stack's scale-to-zero inference component (docs/cold-start-measure.md):

- the first call refused for lack of a copy: CloudWatch `AWS/SageMaker` `NoCapacityInvocationFailures` (Sum per
  minute, dimension `InferenceComponentName`), GetMetricData;
- the wake alarm's move to ALARM: the alarm on that metric (DescribeAlarmsForMetric), its state history
  (DescribeAlarmHistory, HistoryItemType=StateUpdate; `HistoryData` is the JSON with `newState.stateValue`);
- the scale-out: Application Auto Scaling DescribeScalingActivities for `inference-component/<name>`,
  dimension `sagemaker:inference-component:DesiredCopyCount` (StartTime, EndTime, StatusCode, Description);
- the instance: the first `/aws/sagemaker/Endpoints` `CPUUtilization` datapoint of the variant (the instance's
  agent reports it while the instance runs), and the component's first `/aws/sagemaker/InferenceComponents`
  `CPUUtilizationNormalized` datapoint (its copy's container runs);
- the container's start: the first event of the component's log group `/aws/sagemaker/InferenceComponents/<name>`
  (FilterLogEvents), and the first line matching `--ready-pattern` (default uvicorn's "Application startup
  complete", which vLLM's OpenAI server logs when it serves);
- the first answer: the first minute with `Invocations` > 0 for the component, with its `ModelLatency`;
- the component now: DescribeInferenceComponent (status, copies desired/current, LastModifiedTime).

API shapes: botocore's service models (cloudwatch 2010-08-01, application-autoscaling 2016-02-06,
sagemaker 2017-07-24, logs 2014-03-28). Metric names and namespaces: AWS, "Scale an endpoint to zero instances"
and "Monitor Amazon SageMaker AI with Amazon CloudWatch". Metric-based events have a one-minute resolution and are
marked "~"; alarm history, scaling activities and log events carry their own timestamps.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

NAMESPACE = "AWS/SageMaker"
NO_CAPACITY = "NoCapacityInvocationFailures"
COPY_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"
READY_PATTERN = "Application startup complete"
SINCE = re.compile(r"^(\d+)([mhd])$")


@dataclass(order=True)
class Event:
    at: datetime
    label: str = field(compare=False)
    detail: str = field(default="", compare=False)
    approx: bool = field(default=False, compare=False)  # a metric's minute, not an exact timestamp


@dataclass
class Clients:
    """One boto3 client per service (alarm_history: CloudWatch's DescribeAlarmHistory, normally the same client)."""

    cloudwatch: Any
    autoscaling: Any
    sagemaker: Any
    logs: Any
    alarm_history: Any = None

    def __post_init__(self) -> None:
        if self.alarm_history is None:
            self.alarm_history = self.cloudwatch


def parse_since(value: str, now: datetime) -> datetime:
    """`90m`, `3h`, `2d` before now, or an ISO 8601 time (UTC when it names no zone)."""
    match = SINCE.match(value.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"--since {value!r}: give 90m, 3h, 2d or an ISO time such as 2026-12-05T08:00:00Z") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def resolve_names(
    clients: Clients, cloudformation: Any, stack: str | None, endpoint: str | None, component: str | None
) -> tuple[str, str, str | None]:
    """(endpoint, component, variant): from the arguments, else the stack's EndpointName output and the endpoint's
    inference components (ListInferenceComponents)."""
    if endpoint is None:
        if stack is None:
            raise SystemExit("give --stack or --endpoint")
        outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
        names = {o["OutputKey"]: o["OutputValue"] for o in outputs}
        if "EndpointName" not in names:
            raise SystemExit(f"stack {stack!r} has no EndpointName output")
        endpoint = names["EndpointName"]
    found = clients.sagemaker.list_inference_components(EndpointNameEquals=endpoint)["InferenceComponents"]
    if component is None:
        if not found:
            raise SystemExit(
                f"endpoint {endpoint!r} has no inference component: only the scale-to-zero shape "
                "(-c scale_to_zero=true) wakes up"
            )
        if len(found) > 1:
            names_found = ", ".join(c["InferenceComponentName"] for c in found)
            raise SystemExit(f"endpoint {endpoint!r} has several inference components ({names_found}): --component")
        component = found[0]["InferenceComponentName"]
    variant = next((c.get("VariantName") for c in found if c["InferenceComponentName"] == component), None)
    return endpoint, component, variant


def _series(
    cloudwatch: Any, namespace: str, metric: str, stat: str, dims: dict[str, str], start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    """One metric at one-minute periods, oldest first (GetMetricData, MetricDataResults[0])."""
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    },
                    "Period": 60,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
        ],
        StartTime=start,
        EndTime=end,
        ScanBy="TimestampAscending",
    )
    result = answer["MetricDataResults"][0]
    return sorted((_utc(t), v) for t, v in zip(result["Timestamps"], result["Values"], strict=True))


def _first(series: list[tuple[datetime, float]], after: datetime, *, positive: bool = True) -> tuple[datetime, float]:
    for when, value in series:
        if when >= after - timedelta(seconds=59) and (value > 0 or not positive):
            return when, value
    raise LookupError


def collect(
    clients: Clients,
    *,
    endpoint: str,
    component: str,
    variant: str | None,
    since: datetime,
    until: datetime,
    ready_pattern: str = READY_PATTERN,
) -> tuple[list[Event], list[str]]:
    """The events of the first wake-up after `since`, and notes on what could not be found."""
    events: list[Event] = []
    notes: list[str] = []
    ic = {"InferenceComponentName": component}

    refused = _series(clients.cloudwatch, NAMESPACE, NO_CAPACITY, "Sum", ic, since, until)
    try:
        start, count = _first(refused, since)
        events.append(Event(start, "first call refused (no copy)", f"{count:g} refused that minute", approx=True))
    except LookupError:
        notes.append(f"no {NO_CAPACITY} since {since:%Y-%m-%d %H:%M} UTC: no wake-up by a refused call in the window")
        start = since

    alarms = clients.cloudwatch.describe_alarms_for_metric(
        MetricName=NO_CAPACITY, Namespace=NAMESPACE, Dimensions=[{"Name": "InferenceComponentName", "Value": component}]
    )["MetricAlarms"]
    if not alarms:
        notes.append(f"no alarm on {NO_CAPACITY} for {component}")
    for alarm in alarms[:1]:
        history = clients.alarm_history.describe_alarm_history(
            AlarmName=alarm["AlarmName"],
            HistoryItemType="StateUpdate",
            StartDate=start - timedelta(minutes=1),
            EndDate=until,
            ScanBy="TimestampAscending",
            MaxRecords=100,
        )["AlarmHistoryItems"]
        window = (start - timedelta(minutes=1), until)
        to_alarm = [h for h in history if _to_alarm(h) and window[0] <= _utc(h["Timestamp"]) <= window[1]]
        if to_alarm:
            first = min(to_alarm, key=lambda h: _utc(h["Timestamp"]))
            events.append(Event(_utc(first["Timestamp"]), "wake alarm in ALARM", alarm["AlarmName"]))
        else:
            notes.append(f"alarm {alarm['AlarmName']} did not go to ALARM in the window")

    activities = clients.autoscaling.describe_scaling_activities(
        ServiceNamespace="sagemaker",
        ResourceId=f"inference-component/{component}",
        ScalableDimension=COPY_DIMENSION,
        MaxResults=50,
    )["ScalingActivities"]
    after = [a for a in activities if start - timedelta(minutes=1) <= _utc(a["StartTime"]) <= until]
    if after:
        scale = min(after, key=lambda a: _utc(a["StartTime"]))
        events.append(Event(_utc(scale["StartTime"]), "scaling activity started", scale["Description"]))
        if scale.get("EndTime"):
            events.append(
                Event(_utc(scale["EndTime"]), f"scaling activity {scale['StatusCode']}", scale.get("StatusMessage", ""))
            )
    else:
        notes.append(f"no scaling activity for inference-component/{component} in the window")

    if variant:
        instance = _series(
            clients.cloudwatch,
            "/aws/sagemaker/Endpoints",
            "CPUUtilization",
            "Maximum",
            {"EndpointName": endpoint, "VariantName": variant},
            start,
            until,
        )
        try:
            events.append(
                Event(_first(instance, start, positive=False)[0], "instance reports metrics", variant, approx=True)
            )
        except LookupError:
            notes.append("no instance metric (/aws/sagemaker/Endpoints CPUUtilization) in the window")
    copy = _series(
        clients.cloudwatch,
        "/aws/sagemaker/InferenceComponents",
        "CPUUtilizationNormalized",
        "Maximum",
        ic,
        start,
        until,
    )
    try:
        events.append(
            Event(_first(copy, start, positive=False)[0], "copy's container reports metrics", "", approx=True)
        )
    except LookupError:
        notes.append("no component metric (/aws/sagemaker/InferenceComponents CPUUtilizationNormalized) in the window")

    group = f"/aws/sagemaker/InferenceComponents/{component}"
    start_ms, until_ms = int(start.timestamp() * 1000), int(until.timestamp() * 1000)
    try:
        logged = clients.logs.filter_log_events(logGroupName=group, startTime=start_ms, endTime=until_ms, limit=50)
        lines = sorted(logged["events"], key=lambda e: e["timestamp"])
        if lines:
            first_line = lines[0]
            events.append(
                Event(_ms(first_line["timestamp"]), "container's first log line", first_line["message"][:80].strip())
            )
        ready = clients.logs.filter_log_events(
            logGroupName=group, startTime=start_ms, endTime=until_ms, filterPattern=f'"{ready_pattern}"', limit=10
        )["events"]
        if ready:
            line = min(ready, key=lambda e: e["timestamp"])
            events.append(Event(_ms(line["timestamp"]), "server ready (log)", line["message"][:80].strip()))
        else:
            notes.append(f"no log line with {ready_pattern!r} in {group} (another engine: --ready-pattern)")
    except clients.logs.exceptions.ResourceNotFoundException:
        notes.append(f"no log group {group}")

    invocations = _series(clients.cloudwatch, NAMESPACE, "Invocations", "Sum", ic, start, until)
    try:
        served, count = _first(invocations, start)
        latency = dict(_series(clients.cloudwatch, NAMESPACE, "ModelLatency", "Average", ic, served, until))
        detail = f"{count:g} served that minute"
        if served in latency:
            detail += f", ModelLatency {latency[served] / 1e6:.1f} s average"  # microseconds (SageMaker metrics)
        events.append(Event(served, "first calls served", detail, approx=True))
    except LookupError:
        notes.append("no Invocations for the component in the window: no call served yet")

    now = clients.sagemaker.describe_inference_component(InferenceComponentName=component)
    runtime = now.get("RuntimeConfig", {})
    notes.append(
        f"{component} now: {now.get('InferenceComponentStatus', '?')}, copies {runtime.get('CurrentCopyCount', '?')}"
        f"/{runtime.get('DesiredCopyCount', '?')} (current/desired), last modified "
        f"{_utc(now['LastModifiedTime']):%Y-%m-%d %H:%M:%S} UTC"
    )
    return sorted(events), notes


def _to_alarm(item: dict[str, Any]) -> bool:
    """A state update into ALARM. botocore documents HistoryData only as "Data about the alarm, in JSON format";
    CloudWatch writes {"oldState": {...}, "newState": {"stateValue": ...}} there, and "... to ALARM" in the summary."""
    try:
        data = json.loads(item.get("HistoryData") or "{}")
    except ValueError:
        data = {}
    state = data.get("newState", {}).get("stateValue") if isinstance(data, dict) else None
    if state is not None:
        return bool(state == "ALARM")
    return str(item.get("HistorySummary", "")).endswith("to ALARM")


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def render(events: Sequence[Event], notes: Sequence[str]) -> str:
    lines = []
    if events:
        origin = events[0].at
        previous = origin
        lines.append(f"{'time (UTC)':<12} {'since start':>11} {'step':>8}  event")
        for e in events:
            mark = "~" if e.approx else " "
            since_start = _duration(e.at - origin)
            step = _duration(e.at - previous)
            detail = f"  ({e.detail})" if e.detail else ""
            lines.append(f"{e.at:%H:%M:%S}{mark}    {since_start:>11} {step:>8}  {e.label}{detail}")
            previous = e.at
        lines.append(f"total: {_duration(events[-1].at - origin)} from '{events[0].label}' to '{events[-1].label}'")
        lines.append("~ = a metric's one-minute period (start of the minute), not an exact time")
    else:
        lines.append("no wake-up found in the window")
    lines.extend(f"note: {n}" for n in notes)
    return "\n".join(lines)


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    minutes, rest = divmod(abs(seconds), 60)
    return f"{sign}{minutes}m{rest:02d}s"


def main(argv: Sequence[str] | None = None, *, make_client: Callable[..., Any] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default=None, help="CloudFormation stack (its EndpointName output)")
    parser.add_argument("--endpoint", default=None, help="endpoint name (instead of --stack)")
    parser.add_argument("--component", default=None, help="inference component (default: the endpoint's only one)")
    parser.add_argument("--region", default=None)
    parser.add_argument("--since", default="3h", help="start of the window: 90m, 3h, 2d or an ISO time (default 3h)")
    parser.add_argument("--ready-pattern", default=READY_PATTERN, help="log text that says the server is ready")
    args = parser.parse_args(argv)
    if args.stack is None and args.endpoint is None:
        args.stack = "LlmChat"
    if make_client is None:
        import boto3

        make_client = boto3.client
    until = datetime.now(UTC)
    since = parse_since(args.since, until)

    def client(name: str) -> Any:
        return make_client(name, region_name=args.region) if args.region else make_client(name)

    clients = Clients(client("cloudwatch"), client("application-autoscaling"), client("sagemaker"), client("logs"))
    endpoint, component, variant = resolve_names(
        clients, client("cloudformation"), args.stack, args.endpoint, args.component
    )
    print(f"wake-up of {component} on {endpoint}, since {since:%Y-%m-%d %H:%M} UTC")
    events, notes = collect(
        clients,
        endpoint=endpoint,
        component=component,
        variant=variant,
        since=since,
        until=until,
        ready_pattern=args.ready_pattern,
    )
    print(render(events, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
