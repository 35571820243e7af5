"""`Hosting`: the frozen shape of a hosted endpoint (instance type and count, start-up timeouts, volume, AMI, and
which scaling shape), checked when it is built so a bad value fails synth naming the field."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_logs as logs

from constructs.facts.instances import EBS_VOLUME_FAMILIES, INSTANCE_TYPE, accepts_volume_size
from constructs.hosting.autoscaling import InstanceScaling
from constructs.hosting.deployment import UpdatePolicy
from constructs.hosting.inference_component import ScaleToZero
from constructs.hosting.routing import Routing

HEALTH_CHECK_RANGE = (60, 3600)
DOWNLOAD_TIMEOUT_RANGE = (60, 3600)
VOLUME_RANGE = (1, 512)


def _check_range(name: str, value: int | None, bounds: tuple[int, int]) -> None:
    if value is not None and not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{name} {value} is out of range; allowed {bounds[0]} to {bounds[1]}")


@dataclass(frozen=True)
class Hosting:
    """How the endpoint is hosted: instance type and count, and the timeouts SageMaker applies at start-up."""

    instance_type: str = "ml.g5.12xlarge"
    instance_count: int = 1
    health_check_timeout: int = 600
    model_download_timeout: int | None = None
    volume_size: int | None = None
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    # The host AMI (NVIDIA driver / CUDA) the variant runs on; None: SageMaker's default. Images built for a
    # newer CUDA than the default host driver need one (see vllm_endpoint.inference_ami_for).
    inference_ami_version: str | None = None
    # At most one: an inference component that scales to zero, or autoscaling of the always-on instances.
    scale_to_zero: ScaleToZero | None = None
    instance_scaling: InstanceScaling | None = None
    deployment_strategy: str = "auto"
    # The model lives in an inference component even without scale to zero, so that other components (more
    # models, adapters, an embedding model) can share the endpoint's instances (constructs/hosting/components.py).
    components: bool = False
    # How the variant spreads requests over instances and copies (routing.py); None: what each shape set before
    # this option existed (no RoutingConfig on an always-on variant, least outstanding requests on a component's).
    routing: Routing | None = None

    def __post_init__(self) -> None:
        if self.scale_to_zero is not None and self.instance_scaling is not None:
            raise ValueError("scale_to_zero and instance_scaling exclude each other: pick one hosting shape")
        if self.scale_to_zero is not None and self.deployment_strategy not in ("auto", "none"):
            raise ValueError(
                f"deployment_strategy {self.deployment_strategy!r} does not apply with scale_to_zero: an inference "
                "component's update is SageMaker's own (see docs/operations.md); allowed: auto, none"
            )
        if self.components and self.instance_scaling is not None:
            raise ValueError("instance_scaling does not apply to several components: each scales its own copies")
        if self.scale_to_zero is not None and self.instance_count > self.scale_to_zero.max_instances:
            raise ValueError(
                f"instance_count {self.instance_count} must be at most max_instances {self.scale_to_zero.max_instances}"
            )
        if self.instance_scaling is not None and not (
            self.instance_scaling.min_instances <= self.instance_count <= self.instance_scaling.max_instances
        ):
            raise ValueError(
                f"instance_count {self.instance_count} must lie between min_instances "
                f"{self.instance_scaling.min_instances} and max_instances {self.instance_scaling.max_instances}"
            )
        if not INSTANCE_TYPE.fullmatch(self.instance_type):
            raise ValueError(f"instance_type {self.instance_type!r} is not a SageMaker type like ml.g5.12xlarge")
        if self.instance_count < 1:
            raise ValueError(f"instance_count {self.instance_count} must be at least 1")
        _check_range("health_check_timeout", self.health_check_timeout, HEALTH_CHECK_RANGE)
        _check_range("model_download_timeout", self.model_download_timeout, DOWNLOAD_TIMEOUT_RANGE)
        _check_range("volume_size", self.volume_size, VOLUME_RANGE)
        if self.volume_size is not None and not accepts_volume_size(self.instance_type):
            raise ValueError(
                f"volume_size is not accepted for {self.instance_type}: it has local NVMe instance storage; "
                f"only {', '.join(f + '*' for f in EBS_VOLUME_FAMILIES)} take an EBS volume size"
            )
        self.update_policy  # noqa: B018  (validates the strategy against the instance count)

    @property
    def in_component(self) -> bool:
        """True when the model lives in an inference component (scale to zero, or several components)."""
        return self.scale_to_zero is not None or self.components

    @property
    def update_policy(self) -> UpdatePolicy:
        return UpdatePolicy(
            strategy=self.deployment_strategy,
            instance_count=self.instance_count,
            health_check_timeout=self.health_check_timeout,
            model_download_timeout=self.model_download_timeout,
        )
