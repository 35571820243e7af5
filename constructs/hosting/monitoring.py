"""Alarms and the operations dashboard: the endpoint's rollback alarms, resource and chat-API alarms, an optional
encrypted SNS topic with an e-mail subscription, and one dashboard for endpoint, Lambda, API and tokens.

Plain `aws_cloudwatch` rather than cdk-monitoring-constructs: a dozen alarms and one dashboard do not pay for a
second jsii library loaded on every synth (and pinned against aws-cdk-lib in the shared requirements).

Metric names, dimensions and statistics: SageMaker's "Amazon SageMaker AI metrics in Amazon CloudWatch"
(https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html): `AWS/SageMaker`
(`Invocation5XXErrors`, valid statistics Average and Sum; `InvocationModelErrors`; `ModelLatency` in microseconds,
valid statistics Average, Sum, Min, Max, Sample Count) and `/aws/sagemaker/Endpoints` (`GPUMemoryUtilization`
summed over the instance's GPUs, i.e. up to 100 % x GPUs; `DiskUtilization`), by `EndpointName` + `VariantName`
(or `InferenceComponentName`). docs/operations.md explains each alarm and why some metrics are graphed only;
docs/sources.md lists the sources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from constructs import Construct

# RFC 5321-ish: one @, no spaces, a dotted domain; SNS confirms the address itself.
EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
# A non-streamed answer of ~1000 tokens takes tens of seconds on a 40B model; an average above two minutes for
# three minutes in a row means the new model (or its settings) is far slower than anything this API is sized for.
# Average, not a percentile: SageMaker documents Average, Sum, Min, Max and Sample Count for ModelLatency, and
# CloudWatch computes percentiles only from raw values or statistic sets with SampleCount 1 or Min = Max
# (CloudWatch API reference, GetMetricStatistics), which SageMaker does not promise to publish.
MODEL_LATENCY_AVERAGE_SECONDS = 120
MODEL_LATENCY_STATISTIC = "Average"
# No GPU memory alarm: TGI sizes its KV cache to fill the GPUs at start-up (launcher CUDA_MEMORY_FRACTION, default
# 1.0; MAX_BATCH_TOTAL_TOKENS inferred from the memory left: huggingface.co/docs/text-generation-inference,
# "Text-generation-launcher arguments") and vLLM reserves gpu_memory_utilization (0.9 here) of each GPU up front
# (vllm/config/cache.py, CacheConfig.gpu_memory_utilization), so GPUMemoryUtilization is a constant set by the engine's
# configuration, not a measure of load or of trouble (98 % never fires on vLLM, ~95 % is TGI's normal). An engine
# out of memory fails requests, which the 5XX alarms catch. The dashboard still graphs it.
DISK_PERCENT = 90
# Lambda Duration p99 at 90 % of the longest generation SageMaker allows (its 8-minute stream limit,
# constructs/api/time_limits.py): generations are about to be cut off.
DURATION_SHARE_OF_TIMEOUT = 0.9
API_5XX_PER_5_MINUTES = 5
TOKEN_METRICS = ("Requests", "PromptTokens", "CompletionTokens")


def alarm_name(scope: Construct, suffix: str) -> str:
    """A name fixed before the alarm exists (stack name + construct id + suffix): the endpoint's DeploymentConfig
    names its rollback alarms while the alarms' own dimensions name the endpoint, so a Ref would be a cycle."""
    return f"{cdk.Aws.STACK_NAME}-{scope.node.id}-{suffix}"


class RollbackAlarms(Construct):
    """Alarms on one endpoint variant's invocation errors and latency: they page, and they roll an update back."""

    def __init__(
        self, scope: Construct, construct_id: str, *, dimensions: Mapping[str, str], rolls_back: bool = True
    ) -> None:
        super().__init__(scope, construct_id)
        owner = scope
        effect = " (rolls back an endpoint update in progress)" if rolls_back else ""

        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=name,
                dimensions_map=dict(dimensions),
                statistic=statistic,
                period=cdk.Duration.minutes(1),
            )

        # One minute periods, two breaching minutes out of three: fast enough to stop a canary, not so twitchy
        # that a single failed request undoes a deployment. Server-side failures only: InvocationModelErrors counts
        # every non-2XX answer of the container, including the engine's 4XX to a bad prompt (TGI's 422, vLLM's
        # 400), so two bad prompts during a bake would roll back a healthy update. Invocation5XXErrors counts the
        # 5XX answers alone (SageMaker sends 1 per 5XX, 0 otherwise: "Amazon SageMaker AI metrics in Amazon
        # CloudWatch"); InvocationModelErrors stays on the dashboard.
        self.alarms = [
            cloudwatch.Alarm(
                self,
                "Invocation5xx",
                alarm_name=alarm_name(owner, "invocation-5xx"),
                alarm_description=f"The endpoint answered 5XX errors{effect}",
                metric=metric("Invocation5XXErrors", "Sum"),
                threshold=1,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "ModelLatency",
                alarm_name=alarm_name(owner, "model-latency"),
                alarm_description=f"Average model latency above {MODEL_LATENCY_AVERAGE_SECONDS} s for 3 min{effect}",
                metric=metric("ModelLatency", MODEL_LATENCY_STATISTIC),
                threshold=MODEL_LATENCY_AVERAGE_SECONDS * 1_000_000,  # ModelLatency is in microseconds
                evaluation_periods=3,
                datapoints_to_alarm=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
        self.names = [alarm_name(owner, s) for s in ("invocation-5xx", "model-latency")]


class Monitoring(Construct):
    """Resource and chat-API alarms, an optional e-mail topic (KMS-encrypted) for every alarm, and one dashboard
    (endpoint, Lambda, API Gateway, tokens per caller from the proxy's EMF metrics in `metrics_namespace`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        variant_name: str,
        gpu_count: int,
        rollback_alarms: Sequence[cloudwatch.Alarm],
        rollback_alarm_names: Sequence[str],
        function: lambda_.Function,
        longest_generation: cdk.Duration,
        api_name: str,
        stage_name: str,
        metrics_namespace: str,
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if alarm_email is not None and not EMAIL.fullmatch(alarm_email):
            raise ValueError(f"alarm_email {alarm_email!r} is not an e-mail address like ops@example.com")
        if gpu_count < 1:
            raise ValueError(f"gpu_count {gpu_count} must be at least 1")
        self.metrics_namespace = metrics_namespace
        variant = {"EndpointName": endpoint_name, "VariantName": variant_name}
        invocations = {**variant}
        api_dims = {"ApiName": api_name, "Stage": stage_name}

        def instance_metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="/aws/sagemaker/Endpoints",
                metric_name=name,
                dimensions_map=variant,
                statistic="Maximum",
                period=cdk.Duration.minutes(5),
            )

        gpu_memory = instance_metric("GPUMemoryUtilization")
        disk = instance_metric("DiskUtilization")
        lambda_errors = function.metric_errors(period=cdk.Duration.minutes(5), statistic="Sum")
        lambda_throttles = function.metric_throttles(period=cdk.Duration.minutes(5), statistic="Sum")
        lambda_duration = function.metric_duration(period=cdk.Duration.minutes(5), statistic="p99")
        api_5xx = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map=api_dims,
            statistic="Sum",
            period=cdk.Duration.minutes(5),
        )

        def alarm(
            construct_id: str,
            name: str,
            metric: cloudwatch.Metric,
            threshold: float,
            description: str,
            *,
            periods: int = 1,
            operator: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        ) -> cloudwatch.Alarm:
            return cloudwatch.Alarm(
                self,
                construct_id,
                alarm_name=alarm_name(self, name),
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                evaluation_periods=periods,
                comparison_operator=operator,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

        self.alarms = [
            alarm("Disk", "disk", disk, DISK_PERCENT, f"Endpoint instance disk above {DISK_PERCENT} %", periods=2),
            alarm(
                "LambdaErrors",
                "lambda-errors",
                lambda_errors,
                1,
                "The chat proxy Lambda failed (crash or timeout, not a 4xx)",
            ),
            alarm(
                "LambdaThrottles",
                "lambda-throttles",
                lambda_throttles,
                1,
                "Invocations of the chat proxy Lambda were throttled",
            ),
            alarm(
                "LambdaDuration",
                "lambda-duration",
                lambda_duration,
                longest_generation.to_milliseconds() * DURATION_SHARE_OF_TIMEOUT,
                f"Chat proxy p99 duration at {int(DURATION_SHARE_OF_TIMEOUT * 100)} % of SageMaker's "
                f"{int(longest_generation.to_seconds())} s limit on one generation: answers are about to be cut off",
            ),
            alarm(
                "Api5xx",
                "api-5xx",
                api_5xx,
                API_5XX_PER_5_MINUTES,
                f"{API_5XX_PER_5_MINUTES}+ API 5XX answers in 5 minutes",
            ),
        ]

        self.topic: sns.Topic | None = None
        if alarm_email is not None:
            self.topic = self._topic(alarm_email)
            action = cw_actions.SnsAction(self.topic)
            for a in [*rollback_alarms, *self.alarms]:
                a.add_alarm_action(action)
                a.add_ok_action(action)

        stack = cdk.Stack.of(self)
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{stack.stack_name}-operations", default_interval=cdk.Duration.hours(6)
        )
        # The status widget names alarms by ARNs built from their fixed names rather than GetAtt: the same ARNs,
        # and the dashboard does not wait for (nor a local CloudFormation emulator have to resolve) every alarm.
        by_arn = [
            cloudwatch.Alarm.from_alarm_arn(
                self,
                f"Status{i}",
                stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name=name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                ),
            )
            for i, name in enumerate([*rollback_alarm_names, *(_name_of(a) for a in self.alarms)])
        ]
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=by_arn, width=24, height=4))
        self.dashboard.add_widgets(
            _graph(
                "Endpoint invocations and errors",
                [
                    _sm("Invocations", invocations, "Sum"),
                    _sm("Invocation4XXErrors", invocations, "Sum"),
                    _sm("Invocation5XXErrors", invocations, "Sum"),
                    _sm("InvocationModelErrors", invocations, "Sum"),
                ],
            ),
            _graph(
                "Model latency (microseconds)",
                [
                    # The statistics SageMaker documents for its latency metrics (no percentiles).
                    _sm("ModelLatency", invocations, "Average"),
                    _sm("ModelLatency", invocations, "Maximum"),
                    _sm("OverheadLatency", invocations, "Average"),
                ],
            ),
            _graph(
                f"GPU (summed over {gpu_count} GPUs) and disk, %",
                [
                    gpu_memory,
                    instance_metric("GPUUtilization"),
                    disk,
                ],
            ),
        )
        self.dashboard.add_widgets(
            _graph(
                "Chat Lambda",
                [
                    function.metric_invocations(statistic="Sum"),
                    lambda_errors,
                    lambda_throttles,
                    function.metric("ConcurrentExecutions", statistic="Maximum"),
                ],
            ),
            _graph("Chat Lambda duration (ms)", [function.metric_duration(statistic="p50"), lambda_duration]),
            _graph(
                "API Gateway",
                [
                    cloudwatch.Metric(
                        namespace="AWS/ApiGateway", metric_name="Count", dimensions_map=api_dims, statistic="Sum"
                    ),
                    cloudwatch.Metric(
                        namespace="AWS/ApiGateway", metric_name="4XXError", dimensions_map=api_dims, statistic="Sum"
                    ),
                    api_5xx,
                ],
            ),
        )
        # Tokens: the proxy's EMF metrics (dimensions Model and Caller on every data point). A Metrics Insights
        # query over the schema needs no list of callers, which are only known at run time.
        self.dashboard.add_widgets(
            _graph(
                "Tokens (all callers)",
                [_insights(metrics_namespace, name) for name in ("PromptTokens", "CompletionTokens")],
            ),
            _graph("Top 10 callers by completion tokens", [_insights(metrics_namespace, "CompletionTokens", top=10)]),
            _graph("Top 10 callers by requests", [_insights(metrics_namespace, "Requests", top=10)]),
        )

    @property
    def dashboard_url(self) -> str:
        region = cdk.Stack.of(self).region
        return (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards:name={self.dashboard.dashboard_name}"
        )

    def _topic(self, email: str) -> sns.Topic:
        key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the alarm notification topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
        )
        stack = cdk.Stack.of(self)
        # CloudWatch alarms publish to an encrypted topic only if the key lets them (SNS docs, "Enable
        # compatibility between event sources from AWS services and encrypted topics"); only this account's alarms.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        topic = sns.Topic(self, "AlarmTopic", display_name="LLM chat alarms", master_key=key, enforce_ssl=True)
        topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic


def _name_of(alarm: cloudwatch.Alarm) -> str:
    cfn = alarm.node.default_child
    assert isinstance(cfn, cloudwatch.CfnAlarm) and cfn.alarm_name is not None
    return cfn.alarm_name


def _sm(name: str, dimensions: Mapping[str, str], statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/SageMaker", metric_name=name, dimensions_map=dict(dimensions), statistic=statistic
    )


def _insights(namespace: str, metric: str, *, top: int | None = None) -> cloudwatch.MathExpression:
    """A Metrics Insights query over the proxy's schema; `top` groups by caller, largest first."""
    if metric not in TOKEN_METRICS or not re.fullmatch(r"[\w/.-]+", namespace):
        raise ValueError(f"no token metric {metric!r} in namespace {namespace!r}")
    # Both parts are checked above: the query is built only from the metric names and the stack name.
    query = f'SELECT SUM({metric}) FROM SCHEMA("{namespace}", Caller, Model)'  # noqa: S608
    if top is not None:
        query += f" GROUP BY Caller ORDER BY SUM() DESC LIMIT {top}"
    return cloudwatch.MathExpression(expression=query, label=metric, period=cdk.Duration.minutes(5))


def _graph(title: str, metrics: Sequence[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(metrics), width=8, height=6)
