"""Always-on autoscaling: target tracking of the variant's instance count, min..max, on concurrent requests.

The scale-to-zero shape (an inference component) is in inference_component.py; `Hosting` takes one or the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct

# A predefined metric type of Application Auto Scaling (botocore's application-autoscaling service model, shape
# MetricType); 10-second resolution, so scale-out reacts within a minute.
VARIANT_CONCURRENCY_METRIC = "SageMakerVariantConcurrentRequestsPerModelHighResolution"
VARIANT_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


@dataclass(frozen=True)
class InstanceScaling:
    """Always-on autoscaling of the variant's instance count between min and max on concurrent requests."""

    min_instances: int = 1
    max_instances: int = 2
    target_concurrency: int = 4
    scale_out_cooldown: int = 60
    scale_in_cooldown: int = 600

    def __post_init__(self) -> None:
        if not 1 <= self.min_instances < self.max_instances:
            raise ValueError(
                f"min_instances {self.min_instances} / max_instances {self.max_instances}: autoscaling needs "
                "1 <= min_instances < max_instances"
            )
        if self.target_concurrency < 1:
            raise ValueError(f"target_concurrency {self.target_concurrency} must be at least 1")


class VariantScaling(Construct):
    """Target tracking of the always-on variant's instance count on concurrent requests per model."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: sagemaker.CfnEndpoint,
        variant_name: str,
        settings: InstanceScaling,
    ) -> None:
        super().__init__(scope, construct_id)
        self.target = appscaling.CfnScalableTarget(
            self,
            "InstanceTarget",
            service_namespace="sagemaker",
            resource_id=f"endpoint/{endpoint.attr_endpoint_name}/variant/{variant_name}",
            scalable_dimension=VARIANT_DIMENSION,
            min_capacity=settings.min_instances,
            max_capacity=settings.max_instances,
        )
        self.policy = appscaling.CfnScalingPolicy(
            self,
            "LoadPolicy",
            policy_name="concurrent-requests",
            policy_type="TargetTrackingScaling",
            scaling_target_id=self.target.ref,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=settings.target_concurrency,
                predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type=VARIANT_CONCURRENCY_METRIC
                ),
                scale_out_cooldown=settings.scale_out_cooldown,
                scale_in_cooldown=settings.scale_in_cooldown,
            ),
        )
