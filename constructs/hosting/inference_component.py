"""Scaling shapes of a hosted endpoint: scale to zero with an inference component, and always-on autoscaling.

`HostedEndpoint._host` calls `production_variant` / `add_scaling` from here; nothing in this module knows an
engine. Facts behind the shapes (resource properties, metric names, the wake-up alarm, timings) are gathered
with their sources in docs/sources.md (AWS, "Scale an endpoint to zero instances"); the ones that matter are
cited next to the code.

- Scale to zero: the variant names no model (SageMaker refuses an inference component on an endpoint whose
  variant names one), has an execution role on its endpoint config, managed instance scaling 0..N and
  least-outstanding-requests routing. An `AWS::SageMaker::InferenceComponent` carries the model with its
  accelerators and memory ask. Application Auto Scaling scales its copies 0..N: target tracking on concurrent
  requests per copy scales out; target tracking cannot leave zero, so a step policy on the
  `NoCapacityInvocationFailures` alarm adds the first copy; an idle alarm takes it back to zero after
  `idle_minutes` without requests. Managed instance scaling then releases the instances.
- Always-on autoscaling: target tracking on `SageMakerVariantConcurrentRequestsPerModelHighResolution` over the
  variant's instance count, min..max.
- Active hours: scheduled actions (cron with an IANA time zone) on the copy count.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from constructs.compliance.nag import acknowledge, acknowledge_log_retention_provider, rendered_arn
from constructs.facts.gpu_facts import HOST_MEMORY_GIB
from constructs.hosting.active_hours import IDLE_MINUTES_RANGE, ActiveHours
from constructs.hosting.routing import Routing

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
# Predefined metric types of Application Auto Scaling (botocore's application-autoscaling service model,
# shape MetricType, lists both); 10-second resolution, so scale-out reacts within a minute.
COPY_CONCURRENCY_METRIC = "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
# Published per inference component (dimension InferenceComponentName) when a call finds no copy to serve it.
NO_CAPACITY_METRIC = "NoCapacityInvocationFailures"
COPY_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"
# Share of the instance's host memory (per GPU the component uses) that the component asks for. SageMaker keeps
# some memory for its own agents and refuses asks above what is left ("There is not enough hardware
# resources"); half of the component's share always fits and is far more than the serving process needs
# beside the weights, which live in GPU memory.
MEMORY_SHARE = 0.5
FALLBACK_MEMORY_MB = 1024
# How an update of the component (every model change: PrimaryContainer is create-only in CloudFormation's
# AWS::SageMaker::Model schema, so a new Model replaces the old and the component's Specification.ModelName changes)
# reaches SageMaker. Not as a rolling update: InferenceComponentRollingUpdatePolicy.MaximumBatchSize "must be
# between 5% to 50% of the copy count of the inference component" (botocore sagemaker 2017-07-24 service-2.json;
# SageMaker API reference), and this component runs 0 or 1 copy most of the time, where no whole batch
# exists. Without a DeploymentConfig, UpdateInferenceComponent does SageMaker's blue/green update of a component
# (AWS ML blog "Enhance deployment guardrails with inference component rolling updates for Amazon SageMaker AI
# inference", 2025-03: it provisions the new copies beside the old, then removes the old). New copies need free
# accelerators, so the variant's MaxInstanceCount leaves room for a second set of instances (UPDATE_HEADROOM);
# the copy target's maximum still caps serving at max_instances worth of copies, so the room is used only
# during an update (or never: an update at zero copies only swaps the spec).
COMPONENT_UPDATE = "blue/green (SageMaker's default for inference components)"
UPDATE_HEADROOM = 2
# Specification.DataCacheConfig.EnableCaching: "the endpoint caches this data [model artifacts and container image]
# in each instance that it provisions for the inference component", so a copy placed again on a live instance skips
# both downloads (botocore sagemaker 2017-07-24 InferenceComponentDataCacheConfig; CloudFormation
# AWS::SageMaker::InferenceComponent InferenceComponentSpecification.DataCacheConfig, cfn-lint's schema).
DATA_CACHE = True


@dataclass(frozen=True)
class ScaleToZero:
    """Inference-component hosting: 0..max_instances instances, copies scaled by load, zero after idle_minutes."""

    max_instances: int = 1
    idle_minutes: int = 15
    target_concurrency: int = 4
    scale_out_cooldown: int = 60
    active_hours: ActiveHours | None = None

    def __post_init__(self) -> None:
        if self.max_instances < 1:
            raise ValueError(f"max_instances {self.max_instances} must be at least 1")
        lo, hi = IDLE_MINUTES_RANGE
        if not lo <= self.idle_minutes <= hi:
            raise ValueError(f"idle_minutes {self.idle_minutes} is out of range; allowed {lo} to {hi}")
        if self.target_concurrency < 1:
            raise ValueError(f"target_concurrency {self.target_concurrency} must be at least 1")


def memory_ask_mb(instance_type: str, accelerators: int, instance_gpus: int) -> int:
    """The component's MinMemoryRequiredInMb: half its GPUs' share of the host memory (see MEMORY_SHARE)."""
    host = HOST_MEMORY_GIB.get(instance_type)
    if host is None:
        return FALLBACK_MEMORY_MB
    return max(FALLBACK_MEMORY_MB, int(host * 1024 * accelerators / max(instance_gpus, 1) * MEMORY_SHARE))


def component_variant(
    *,
    variant_name: str,
    instance_type: str,
    instance_count: int,
    max_instances: int,
    health_check_timeout: int,
    model_download_timeout: int | None,
    volume_size: int | None,
    inference_ami_version: str | None = None,
    routing: Routing | None = None,
) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
    """A variant without a model: the inference component brings it; managed instance scaling 0..2 x max
    (the second set only for an update's new copies, see COMPONENT_UPDATE)."""
    return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=variant_name,
        instance_type=instance_type,
        initial_instance_count=instance_count,
        container_startup_health_check_timeout_in_seconds=health_check_timeout,
        model_data_download_timeout_in_seconds=model_download_timeout,
        volume_size_in_gb=volume_size,
        inference_ami_version=inference_ami_version,
        managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
            status="ENABLED", min_instance_count=0, max_instance_count=max_instances * UPDATE_HEADROOM
        ),
        routing_config=(routing if routing is not None else Routing("least_outstanding_requests")).config(),
    )


class ComponentScaling(Construct):
    """The inference component of a scale-to-zero endpoint and its copy-count scaling (see the module doc)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: sagemaker.CfnEndpoint,
        model: sagemaker.CfnModel,
        variant_name: str,
        settings: ScaleToZero | None,
        accelerators: int,
        instance_type: str,
        instance_gpus: int,
        health_check_timeout: int,
        model_download_timeout: int | None,
        execution_policy: iam.Policy,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        if not 1 <= accelerators <= instance_gpus:
            raise ValueError(f"the model needs {accelerators} GPU(s); {instance_type} has {instance_gpus}")
        self.copies_per_instance = instance_gpus // accelerators
        # Without scale to zero (several always-on models on one endpoint) the component keeps its one copy.
        self.max_copies = settings.max_instances * self.copies_per_instance if settings is not None else 1
        # CfnInferenceComponent has no name attribute (its Ref is the ARN), and callers must name it on every
        # call, so it gets a name here: unique per stack and construct path, within the API's 63 characters.
        self.name = cdk.Names.unique_resource_name(self, max_length=63, separator="-").replace("_", "-")
        self.component = sagemaker.CfnInferenceComponent(
            self,
            "Resource",
            inference_component_name=self.name,
            endpoint_name=endpoint.attr_endpoint_name,
            variant_name=variant_name,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=model.attr_model_name,
                compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                    number_of_accelerator_devices_required=accelerators,
                    min_memory_required_in_mb=memory_ask_mb(instance_type, accelerators, instance_gpus),
                ),
                startup_parameters=sagemaker.CfnInferenceComponent.InferenceComponentStartupParametersProperty(
                    container_startup_health_check_timeout_in_seconds=health_check_timeout,
                    model_data_download_timeout_in_seconds=model_download_timeout,
                ),
                data_cache_config=sagemaker.CfnInferenceComponent.InferenceComponentDataCacheConfigProperty(
                    enable_caching=DATA_CACHE
                ),
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(copy_count=1),
        )
        self.component.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        self._grant_logs(stack, execution_policy)
        # Like the endpoint's: SageMaker creates the component's log group and never expires or deletes it.
        log_group = f"/aws/sagemaker/InferenceComponents/{self.name}"
        self.log_retention = logs.LogRetention(
            self,
            "LogRetention",
            log_group_name=log_group,
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        # Deleted after the component, so nothing writes to the group once it is gone.
        self.log_retention.node.add_dependency(self.component)
        acknowledge_log_retention_provider(stack, log_group_pattern=f"log-group:{log_group}:*")
        if settings is not None:
            self._scale(settings)

    def _scale(self, settings: ScaleToZero) -> None:
        """Copy-count scaling 0..max_copies: load, wake-up and idle policies with their alarms."""
        self.target = appscaling.CfnScalableTarget(
            self,
            "CopyTarget",
            service_namespace="sagemaker",
            resource_id=f"inference-component/{self.name}",
            scalable_dimension=COPY_DIMENSION,
            min_capacity=0,
            max_capacity=self.max_copies,
            scheduled_actions=self._schedule(settings.active_hours),
        )
        # The resource id is a literal: CloudFormation would register the target before the component exists.
        self.target.node.add_dependency(self.component)
        dimensions = [cloudwatch.CfnAlarm.DimensionProperty(name="InferenceComponentName", value=self.name)]

        self.load_policy = appscaling.CfnScalingPolicy(
            self,
            "LoadPolicy",
            policy_name=f"{self.name}-load",
            policy_type="TargetTrackingScaling",
            scaling_target_id=self.target.ref,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=settings.target_concurrency,
                predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type=COPY_CONCURRENCY_METRIC
                ),
                scale_out_cooldown=settings.scale_out_cooldown,
                # Scale-in is the idle alarm's: target tracking would take the last copy after its own fixed
                # ~15 minutes (90 high-resolution datapoints) whatever idle_minutes says.
                disable_scale_in=True,
            ),
        )
        # Target tracking cannot scale out of zero: with no copy there is no per-copy metric. The failed calls
        # are counted, though; one of them wakes the component (AWS "Scale an endpoint to zero instances").
        # ExactCapacity 1 with no cooldown, not ChangeInCapacity +1 with one (docs/operations.md, "Wake-up and
        # idle", reasons it through): an alarm with an Auto Scaling action re-invokes it every minute it stays in
        # ALARM (CloudWatch user guide, "Alarm actions"), and so does the idle alarm at zero. Should the idle
        # alarm's last ExactCapacity 0 land after the wake-up, a +1 re-invoked inside its cooldown adds nothing
        # ("capacity added by the initiating scale-out activity is calculated as part of the desired capacity for
        # the next scale-out": Application Auto Scaling API reference, StepScalingPolicyConfiguration.Cooldown), so
        # callers would be refused for the whole cooldown. ExactCapacity 1 is idempotent: re-invoked while calls
        # are refused it restores a cancelled wake-up a minute later, and it never adds a second copy however long
        # the start-up takes (scaling out beyond one copy is the load policy's).
        self.wake_policy = appscaling.CfnScalingPolicy(
            self,
            "WakePolicy",
            policy_name=f"{self.name}-wake",
            policy_type="StepScaling",
            scaling_target_id=self.target.ref,
            step_scaling_policy_configuration=appscaling.CfnScalingPolicy.StepScalingPolicyConfigurationProperty(
                adjustment_type="ExactCapacity",
                metric_aggregation_type="Maximum",
                cooldown=0,
                step_adjustments=[
                    appscaling.CfnScalingPolicy.StepAdjustmentProperty(
                        metric_interval_lower_bound=0, scaling_adjustment=1
                    )
                ],
            ),
        )
        self.wake_alarm = cloudwatch.CfnAlarm(
            self,
            "WakeAlarm",
            alarm_description=f"A call found no copy of {self.name}: add one (scale out of zero)",
            namespace=SAGEMAKER_NAMESPACE,
            metric_name=NO_CAPACITY_METRIC,
            dimensions=dimensions,
            statistic="Maximum",
            period=60,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[self.wake_policy.ref],
        )
        self.idle_policy = appscaling.CfnScalingPolicy(
            self,
            "IdlePolicy",
            policy_name=f"{self.name}-idle",
            policy_type="StepScaling",
            scaling_target_id=self.target.ref,
            step_scaling_policy_configuration=appscaling.CfnScalingPolicy.StepScalingPolicyConfigurationProperty(
                adjustment_type="ExactCapacity",
                metric_aggregation_type="Maximum",
                cooldown=60,
                step_adjustments=[
                    appscaling.CfnScalingPolicy.StepAdjustmentProperty(
                        metric_interval_upper_bound=0, scaling_adjustment=0
                    )
                ],
            ),
        )
        # Idle = for idle_minutes in a row, no call finished, none in flight (ConcurrentRequestsPerCopy counts a
        # streamed request until its last token: awsdocs/amazon-sagemaker-developer-guide,
        # doc_source/endpoint-auto-scaling-add-code-define.md) and none refused for lack of capacity: a caller
        # waiting for the wake-up keeps the starting copy alive, or this alarm (re-invoked every minute in ALARM)
        # would undo the wake policy. FILL makes a minute without datapoints count as idle.
        self.idle_alarm = cloudwatch.CfnAlarm(
            self,
            "IdleAlarm",
            alarm_description=f"No request to {self.name} for {settings.idle_minutes} minutes: scale to zero",
            metrics=[
                _query("invocations", "Invocations", "Sum", dimensions),
                _query("concurrent", "ConcurrentRequestsPerCopy", "Maximum", dimensions),
                _query("refused", NO_CAPACITY_METRIC, "Sum", dimensions),
                cloudwatch.CfnAlarm.MetricDataQueryProperty(
                    id="busy",
                    expression="MAX([FILL(invocations, 0), FILL(concurrent, 0), FILL(refused, 0)])",
                    label="requests finished, in flight or waiting for a copy",
                    return_data=True,
                ),
            ],
            evaluation_periods=settings.idle_minutes,
            threshold=1,
            comparison_operator="LessThanThreshold",
            treat_missing_data="breaching",
            alarm_actions=[self.idle_policy.ref],
        )

    def _schedule(self, hours: ActiveHours | None) -> list[appscaling.CfnScalableTarget.ScheduledActionProperty] | None:
        if hours is None:
            return None

        def action(
            name: str, at: tuple[int, int], low: int, high: int
        ) -> appscaling.CfnScalableTarget.ScheduledActionProperty:
            return appscaling.CfnScalableTarget.ScheduledActionProperty(
                scheduled_action_name=f"{self.name}-{name}",
                schedule=hours.cron(at),
                timezone=hours.timezone,
                scalable_target_action=appscaling.CfnScalableTarget.ScalableTargetActionProperty(
                    min_capacity=low, max_capacity=high
                ),
            )

        # Inside the hours at least one copy stays up (the idle policy is clamped to it); outside them the
        # maximum is zero, so neither a call nor the wake alarm can start the model.
        return [action("start", hours.start, 1, self.max_copies), action("stop", hours.end, 0, 0)]

    def _grant_logs(self, stack: cdk.Stack, policy: iam.Policy) -> None:
        """The model's container logs and metrics go to the component's own log group and namespace.

        `/aws/sagemaker/InferenceComponents/<name>` is where AWS samples and exported account state find the
        component's logs; the AWS docs name the namespace of its utilization metrics the same way.
        """
        group = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/sagemaker/InferenceComponents/{self.name}",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        policy.add_statements(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[group, f"{group}:*"],
            ),
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/InferenceComponents*"}},
            ),
        )
        self.log_group_arn = group
        acknowledge(
            policy,
            {
                "AwsSolutions::AwsSolutions-IAM5[Resource::"
                f"{rendered_arn(stack, 'logs', f'log-group:/aws/sagemaker/InferenceComponents/{self.name}:*')}]": (
                    "the log streams of the inference component's one log group; SageMaker names them per copy "
                    "at run time"
                )
            },
        )

    @property
    def arn(self) -> str:
        return self.component.attr_inference_component_arn


def _query(
    query_id: str, metric: str, stat: str, dimensions: list[cloudwatch.CfnAlarm.DimensionProperty]
) -> cloudwatch.CfnAlarm.MetricDataQueryProperty:
    return cloudwatch.CfnAlarm.MetricDataQueryProperty(
        id=query_id,
        metric_stat=cloudwatch.CfnAlarm.MetricStatProperty(
            metric=cloudwatch.CfnAlarm.MetricProperty(
                namespace=SAGEMAKER_NAMESPACE, metric_name=metric, dimensions=dimensions
            ),
            period=60,
            stat=stat,
        ),
        return_data=False,
    )
