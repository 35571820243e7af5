"""Deployment guardrails of an endpoint: how SageMaker shifts traffic to a new endpoint config, and which alarms
roll the update back by themselves.

Property names, ranges and the 1-10 alarm limit are those of CloudFormation's `AWS::SageMaker::Endpoint`
registry schema (cfn-lint 1.58's copy, `DeploymentConfig`, `BlueGreenUpdatePolicy`, `TrafficRoutingConfig`,
`CapacitySize`, `RollingUpdatePolicy`, `AutoRollbackConfig`) and the SageMaker API reference
(`TrafficRoutingConfig`: a canary is at most 50 % of the variant's instances, a linear step 10-50 %;
`RollingUpdatePolicy.MaximumBatchSize`: 5-50 %; `BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds` must
exceed the total of its waits).

The scale-to-zero shape has no DeploymentConfig of its own: see `inference_component.COMPONENT_UPDATE`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aws_cdk import aws_sagemaker as sagemaker

STRATEGIES = ("auto", "all_at_once", "canary", "linear", "rolling", "none")
# How long each step is watched before more traffic (or the rest of the fleet) moves: the "baking period".
BAKE_SECONDS = 600
LINEAR_STEP_WAIT_SECONDS = 300
ROLLING_STEP_WAIT_SECONDS = 300
# The old fleet stays up this long after the last shift, so a late alarm can still roll back in seconds.
TERMINATION_WAIT_SECONDS = 300
# Room to launch a GPU instance before the container's own start-up budget (health check + download) begins.
INSTANCE_LAUNCH_SECONDS = 900
EXECUTION_TIMEOUT_RANGE = (600, 28_800)
DEFAULT_DOWNLOAD_SECONDS = 1800
MAX_ROLLBACK_ALARMS = 10


def resolve_strategy(strategy: str, instance_count: int) -> str:
    """`auto` is canary traffic shifting with more than one instance, all at once (with a bake) with one."""
    if strategy not in STRATEGIES:
        raise ValueError(f"deployment_strategy {strategy!r} is not supported; allowed: {', '.join(STRATEGIES)}")
    if strategy == "auto":
        return "canary" if instance_count > 1 else "all_at_once"
    if strategy in ("canary", "linear", "rolling") and instance_count < 2:
        raise ValueError(
            f"deployment_strategy {strategy!r} needs instance_count of at least 2 (got {instance_count}): "
            "SageMaker shifts at most half of the instances per step; with one instance use all_at_once "
            "(blue/green with a baking period) or auto"
        )
    return strategy


@dataclass(frozen=True)
class UpdatePolicy:
    """One endpoint's update policy: the strategy resolved for its instance count and its time budget."""

    strategy: str
    instance_count: int
    health_check_timeout: int
    model_download_timeout: int | None = None

    def __post_init__(self) -> None:
        resolve_strategy(self.strategy, self.instance_count)

    @property
    def resolved(self) -> str:
        return resolve_strategy(self.strategy, self.instance_count)

    def _execution_timeout(self, waits: int) -> int:
        # The new fleet has to launch and load the model before any traffic moves; that counts against the
        # timeout too, so budget for it on top of the waits.
        start_up = (
            INSTANCE_LAUNCH_SECONDS
            + self.health_check_timeout
            + (self.model_download_timeout if self.model_download_timeout is not None else DEFAULT_DOWNLOAD_SECONDS)
        )
        lo, hi = EXECUTION_TIMEOUT_RANGE
        return max(lo, min(hi, start_up + waits))

    def _linear_step(self) -> int:
        # 10-50 % of the instances per step, whole instances: ceil(10 %), at least one.
        return max(1, math.ceil(self.instance_count * 0.1))

    def _rolling_batch(self) -> int:
        # 5-50 % of the instances per batch, whole instances: ceil(5 %), at least one.
        return max(1, math.ceil(self.instance_count * 0.05))

    def config(self, alarm_names: list[str]) -> sagemaker.CfnEndpoint.DeploymentConfigProperty | None:
        """The endpoint's DeploymentConfig, or None for `none` (SageMaker's default: all at once, no rollback)."""
        strategy = self.resolved
        if strategy == "none":
            return None
        if not 1 <= len(alarm_names) <= MAX_ROLLBACK_ALARMS:
            raise ValueError(f"auto-rollback takes 1 to {MAX_ROLLBACK_ALARMS} alarms, got {len(alarm_names)}")
        rollback = sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=name) for name in alarm_names]
        )
        if strategy == "rolling":
            batch = self._rolling_batch()
            steps = math.ceil(self.instance_count / batch)
            return sagemaker.CfnEndpoint.DeploymentConfigProperty(
                auto_rollback_configuration=rollback,
                rolling_update_policy=sagemaker.CfnEndpoint.RollingUpdatePolicyProperty(
                    maximum_batch_size=_instances(batch),
                    wait_interval_in_seconds=ROLLING_STEP_WAIT_SECONDS,
                    rollback_maximum_batch_size=_instances(self.instance_count),
                    # Every batch launches and loads the model before its wait.
                    maximum_execution_timeout_in_seconds=self._execution_timeout(
                        steps * ROLLING_STEP_WAIT_SECONDS + (steps - 1) * INSTANCE_LAUNCH_SECONDS
                    ),
                ),
            )
        if strategy == "canary":
            routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                type="CANARY", canary_size=_instances(1), wait_interval_in_seconds=BAKE_SECONDS
            )
            waits = BAKE_SECONDS
        elif strategy == "linear":
            step = self._linear_step()
            routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                type="LINEAR", linear_step_size=_instances(step), wait_interval_in_seconds=LINEAR_STEP_WAIT_SECONDS
            )
            waits = math.ceil(self.instance_count / step) * LINEAR_STEP_WAIT_SECONDS
        else:
            routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                type="ALL_AT_ONCE", wait_interval_in_seconds=BAKE_SECONDS
            )
            waits = BAKE_SECONDS
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            auto_rollback_configuration=rollback,
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=routing,
                termination_wait_in_seconds=TERMINATION_WAIT_SECONDS,
                maximum_execution_timeout_in_seconds=self._execution_timeout(waits + TERMINATION_WAIT_SECONDS),
            ),
        )

    @property
    def extra_instances(self) -> int:
        """Instances SageMaker runs on top of the fleet during an update (what the service quota must allow)."""
        strategy = self.resolved
        if strategy == "none" or strategy in ("all_at_once", "canary", "linear"):
            return self.instance_count  # blue/green: a whole second fleet until the old one is terminated
        return self._rolling_batch()


def _instances(count: int) -> sagemaker.CfnEndpoint.CapacitySizeProperty:
    return sagemaker.CfnEndpoint.CapacitySizeProperty(type="INSTANCE_COUNT", value=count)
