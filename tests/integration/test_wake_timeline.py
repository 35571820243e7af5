"""`make wake-timeline`: one wake-up read back from CloudWatch, Application Auto Scaling, SageMaker and Logs.

moto serves what it implements (CloudWatch GetMetricData and DescribeAlarmsForMetric, CloudWatch Logs
FilterLogEvents, CloudFormation's outputs). moto 5.2.5 implements neither CloudWatch DescribeAlarmHistory,
Application Auto Scaling DescribeScalingActivities nor SageMaker's inference-component calls: those answers come
from JSON files in tests/integration/wake_timeline/, written in botocore's output shapes (checked against them
here, member by member) with the wording of botocore's own examples (application-autoscaling examples-1.json).
They are constructed, not recorded from an account: docs/cold-start-measure.md says so.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from tools import wake_timeline as wt

HERE = Path(__file__).resolve().parent / "wake_timeline"
REGION = "eu-west-1"
ENDPOINT, COMPONENT, VARIANT = "llmchat-endpoint-x9", "LlmChat-LlmHostingComponent-A1B2C3", "AllTraffic"
ALARM = "LlmChat-LlmHostingWakeAlarm-7Y8U9I"
T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
# (service, operation) of each recorded answer, in the file named after the operation.
FIXTURES = {
    "list_inference_components.json": ("sagemaker", "ListInferenceComponents"),
    "describe_inference_component.json": ("sagemaker", "DescribeInferenceComponent"),
    "describe_alarm_history.json": ("cloudwatch", "DescribeAlarmHistory"),
    "describe_scaling_activities.json": ("application-autoscaling", "DescribeScalingActivities"),
}


def _parse(shape: Any, value: Any, where: str) -> Any:
    """The JSON value as botocore's parser would hand it over (timestamps as datetimes), checked against the
    output shape on the way: unknown members, missing required members and wrong types fail."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{where}: a structure, not {type(value).__name__}"
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{where}: {sorted(unknown)} are not members of {shape.name}"
        missing = set(shape.metadata.get("required", [])) - set(value)
        assert not missing, f"{where}: {shape.name} requires {sorted(missing)}"
        return {k: _parse(shape.members[k], v, f"{where}.{k}") for k, v in value.items()}
    if kind == "list":
        assert isinstance(value, list), f"{where}: a list"
        return [_parse(shape.member, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind == "map":
        return {k: _parse(shape.value, v, f"{where}.{k}") for k, v in value.items()}
    if kind == "timestamp":
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if kind == "string":
        assert isinstance(value, str), f"{where}: a string"
        if "enum" in shape.metadata:
            assert value in shape.metadata["enum"], f"{where}: {value!r} not in {shape.name}"
        return value
    if kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: an integer"
        return value
    if kind in ("double", "float"):
        assert isinstance(value, int | float), f"{where}: a number"
        return value
    if kind == "boolean":
        assert isinstance(value, bool), f"{where}: a boolean"
        return value
    raise AssertionError(f"{where}: unhandled shape type {kind}")


def recorded(name: str) -> dict[str, Any]:
    service, operation = FIXTURES[name]
    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).output_shape
    return dict(_parse(shape, json.loads((HERE / name).read_text()), operation))


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_recorded_answers_have_botocore_output_shapes(name: str) -> None:
    assert recorded(name)


def test_a_member_botocore_does_not_know_is_caught() -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("DescribeInferenceComponent").output_shape
    answer = json.loads((HERE / "describe_inference_component.json").read_text())
    with pytest.raises(AssertionError, match="CopyCount"):
        _parse(shape, {**answer, "CopyCount": 1}, "DescribeInferenceComponent")


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto's backends are per process, not per server: start from nothing.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=60).close()  # noqa: S310
    _seed(url)
    yield url
    server.stop()


def _seed(url: str) -> None:
    """One wake-up at 08:00 UTC: a refused call, the instance and the copy reporting, the container's logs, the
    first calls served."""
    cw = boto3.client("cloudwatch", region_name=REGION, endpoint_url=url)
    ic = [{"Name": "InferenceComponentName", "Value": COMPONENT}]

    def put(namespace: str, metric: str, dims: list[dict[str, str]], at: datetime, value: float) -> None:
        cw.put_metric_data(
            Namespace=namespace,
            MetricData=[{"MetricName": metric, "Dimensions": dims, "Timestamp": at, "Value": value}],
        )

    put("AWS/SageMaker", "NoCapacityInvocationFailures", ic, T0 + timedelta(seconds=10), 2)
    put("AWS/SageMaker", "NoCapacityInvocationFailures", ic, T0 - timedelta(hours=2), 1)  # before the window
    variant = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": VARIANT}]
    put("/aws/sagemaker/Endpoints", "CPUUtilization", variant, T0 + timedelta(minutes=3, seconds=20), 4.0)
    put(
        "/aws/sagemaker/InferenceComponents", "CPUUtilizationNormalized", ic, T0 + timedelta(minutes=5, seconds=30), 9.0
    )
    put("AWS/SageMaker", "Invocations", ic, T0 + timedelta(minutes=8, seconds=5), 2)
    put("AWS/SageMaker", "ModelLatency", ic, T0 + timedelta(minutes=8, seconds=5), 1_500_000)
    cw.put_metric_alarm(
        AlarmName=ALARM,
        Namespace="AWS/SageMaker",
        MetricName="NoCapacityInvocationFailures",
        Dimensions=ic,
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    logs = boto3.client("logs", region_name=REGION, endpoint_url=url)
    group = f"/aws/sagemaker/InferenceComponents/{COMPONENT}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="copy-1/i-0abc")

    def ms(delta: timedelta) -> int:
        return int((T0 + delta).timestamp() * 1000)

    logs.put_log_events(
        logGroupName=group,
        logStreamName="copy-1/i-0abc",
        logEvents=[
            {
                "timestamp": ms(timedelta(minutes=5, seconds=12)),
                "message": "INFO 12-05 08:05:12 api_server: vLLM 0.29.0",
            },
            {"timestamp": ms(timedelta(minutes=6, seconds=40)), "message": "INFO Loading weights took 71.2 seconds"},
            {"timestamp": ms(timedelta(minutes=7, seconds=40)), "message": "INFO:     Application startup complete."},
        ],
    )


def _stubbed(service: str, calls: list[tuple[str, str, dict[str, Any]]]) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name=REGION)
    stub = Stubber(client)
    for operation, fixture, params in calls:
        stub.add_response(operation, recorded(fixture), params)  # Stubber validates it against the output shape too
    stub.activate()
    return client, stub


def _clients(url: str) -> tuple[wt.Clients, list[Stubber]]:
    sagemaker, s1 = _stubbed(
        "sagemaker",
        [
            ("list_inference_components", "list_inference_components.json", {"EndpointNameEquals": ENDPOINT}),
            (
                "describe_inference_component",
                "describe_inference_component.json",
                {"InferenceComponentName": COMPONENT},
            ),
        ],
    )
    autoscaling, s2 = _stubbed(
        "application-autoscaling",
        [
            (
                "describe_scaling_activities",
                "describe_scaling_activities.json",
                {
                    "ServiceNamespace": "sagemaker",
                    "ResourceId": f"inference-component/{COMPONENT}",
                    "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
                    "MaxResults": 50,
                },
            )
        ],
    )
    history, s3 = _stubbed(
        "cloudwatch",
        [
            (
                "describe_alarm_history",
                "describe_alarm_history.json",
                {
                    "AlarmName": ALARM,
                    "HistoryItemType": "StateUpdate",
                    "StartDate": T0 - timedelta(minutes=1),
                    "EndDate": T0 + timedelta(hours=1),
                    "ScanBy": "TimestampAscending",
                    "MaxRecords": 100,
                },
            )
        ],
    )
    clients = wt.Clients(
        cloudwatch=boto3.client("cloudwatch", region_name=REGION, endpoint_url=url),
        autoscaling=autoscaling,
        sagemaker=sagemaker,
        logs=boto3.client("logs", region_name=REGION, endpoint_url=url),
        alarm_history=history,
    )
    return clients, [s1, s2, s3]


def test_timeline_of_one_wake_up(moto: str) -> None:
    clients, stubs = _clients(moto)
    endpoint, component, variant = wt.resolve_names(clients, None, None, ENDPOINT, None)
    assert (endpoint, component, variant) == (ENDPOINT, COMPONENT, VARIANT)
    events, notes = wt.collect(
        clients,
        endpoint=endpoint,
        component=component,
        variant=variant,
        since=T0 - timedelta(minutes=30),
        until=T0 + timedelta(hours=1),
    )
    for stub in stubs:
        stub.assert_no_pending_responses()
    got = [(e.at - T0, e.label, e.approx) for e in events]
    assert got == [
        (timedelta(0), "first call refused (no copy)", True),
        (timedelta(minutes=1, seconds=5, microseconds=120000), "wake alarm in ALARM", False),
        (timedelta(minutes=1, seconds=6, microseconds=300000), "scaling activity started", False),
        (timedelta(minutes=1, seconds=36, microseconds=900000), "scaling activity Successful", False),
        (timedelta(minutes=3), "instance reports metrics", True),
        (timedelta(minutes=5), "copy's container reports metrics", True),
        (timedelta(minutes=5, seconds=12), "container's first log line", False),
        (timedelta(minutes=7, seconds=40), "server ready (log)", False),
        (timedelta(minutes=8), "first calls served", True),
    ]
    assert events[-1].detail == "2 served that minute, ModelLatency 1.5 s average"
    assert events[2].detail == "Setting desired copy count to 1."
    text = wt.render(events, notes)
    assert "total: 8m00s from 'first call refused (no copy)' to 'first calls served'" in text
    assert f"{COMPONENT} now: InService, copies 1/1 (current/desired)" in text
    print(text)
    [line] = [x for x in text.splitlines() if "container's first log line" in x]
    assert line.split()[:3] == ["08:05:12", "5m12s", "0m12s"]


def test_a_window_without_a_wake_up_says_so(moto: str) -> None:
    clients, _ = _clients(moto)
    clients.autoscaling = _stubbed(
        "application-autoscaling", [("describe_scaling_activities", "describe_scaling_activities.json", None)]
    )[0]
    clients.alarm_history = _stubbed("cloudwatch", [("describe_alarm_history", "describe_alarm_history.json", None)])[0]
    clients.sagemaker = _stubbed(
        "sagemaker", [("describe_inference_component", "describe_inference_component.json", None)]
    )[0]
    since, until = T0 + timedelta(hours=3), T0 + timedelta(hours=4)
    events, notes = wt.collect(
        clients, endpoint=ENDPOINT, component=COMPONENT, variant=VARIANT, since=since, until=until
    )
    assert events == []
    text = wt.render(events, notes)
    assert "no wake-up found in the window" in text
    assert "no NoCapacityInvocationFailures since 2026-12-05 11:00 UTC" in text
    assert f"no scaling activity for inference-component/{COMPONENT} in the window" in text


def test_names_come_from_the_stack_outputs(moto: str) -> None:
    cfn = boto3.client("cloudformation", region_name=REGION, endpoint_url=moto)
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}, "Outputs": {"EndpointName": {"Value": ENDPOINT}}}
    cfn.create_stack(StackName="LlmChat", TemplateBody=json.dumps(template))
    clients, _ = _clients(moto)
    assert wt.resolve_names(clients, cfn, "LlmChat", None, None) == (ENDPOINT, COMPONENT, VARIANT)


def test_an_endpoint_without_components_is_refused_with_the_reason() -> None:
    client = boto3.client("sagemaker", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("list_inference_components", {"InferenceComponents": []}, {"EndpointNameEquals": "ep"})
        clients = wt.Clients(cloudwatch=None, autoscaling=None, sagemaker=client, logs=None)
        with pytest.raises(SystemExit, match="has no inference component: only the scale-to-zero shape"):
            wt.resolve_names(clients, None, None, "ep", None)


def test_since_accepts_durations_and_iso_times() -> None:
    now = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
    assert wt.parse_since("90m", now) == now - timedelta(minutes=90)
    assert wt.parse_since("2d", now) == now - timedelta(days=2)
    assert wt.parse_since("2026-12-05T08:00:00Z", now) == T0
    assert wt.parse_since("2026-12-05T08:00:00", now) == T0
    with pytest.raises(SystemExit, match="give 90m, 3h, 2d or an ISO time"):
        wt.parse_since("yesterday", now)


def test_make_wake_timeline_runs_the_tool() -> None:
    import re

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    recipe = re.search(r"^wake-timeline:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe and recipe.group(1).startswith("$(PY) tools/wake_timeline.py --stack ")


def test_main_prints_the_timeline_from_the_stack(moto: str, capsys: pytest.CaptureFixture[str]) -> None:
    cfn = boto3.client("cloudformation", region_name=REGION, endpoint_url=moto)
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}, "Outputs": {"EndpointName": {"Value": ENDPOINT}}}
    cfn.create_stack(StackName="LlmChat", TemplateBody=json.dumps(template))
    clients, _ = _clients(moto)
    history = recorded("describe_alarm_history.json")

    def make_client(name: str, region_name: str) -> Any:
        assert region_name == REGION
        if name == "cloudwatch":
            client = boto3.client(name, region_name=REGION, endpoint_url=moto)
            # moto has no DescribeAlarmHistory: answer it with the recorded answer, before any HTTP is sent
            # (the hook botocore's own Stubber uses).
            client.meta.events.register(
                "before-call.cloudwatch.DescribeAlarmHistory",
                lambda **_: (AWSResponse(None, 200, {}, None), history),
                unique_id="recorded",
            )
            return client
        if name in ("logs", "cloudformation"):
            return boto3.client(name, region_name=REGION, endpoint_url=moto)
        return {"sagemaker": clients.sagemaker, "application-autoscaling": clients.autoscaling}[name]

    assert (
        wt.main(["--stack", "LlmChat", "--region", REGION, "--since", "2026-12-05T07:30:00Z"], make_client=make_client)
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith(f"wake-up of {COMPONENT} on {ENDPOINT}, since 2026-12-05 07:30 UTC\n")
    assert "total: 8m00s from 'first call refused (no copy)' to 'first calls served'" in out
