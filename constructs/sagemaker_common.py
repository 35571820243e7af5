"""What every SageMaker real-time endpoint of ours shares: execution role, endpoint config, endpoint, logs, grants.

`HostedEndpoint` is the base of `TgiEndpoint` and `JumpStartEndpoint`: a subclass builds its Model (image,
environment, artifacts) and hands it to `_host`, which adds the EndpointConfig, Endpoint and log retention.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from constructs.deployment import UpdatePolicy
from constructs.monitoring import RollbackAlarms
from constructs.nag import acknowledge, acknowledge_log_retention_provider, rendered_arn

INVOKE_ACTIONS = ("sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream")
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
# Instance families without local NVMe storage; only they accept an EBS VolumeSizeInGB.
EBS_VOLUME_FAMILIES = ("ml.p2.", "ml.p3.", "ml.c5.", "ml.m5.", "ml.r5.", "ml.inf1.")
HEALTH_CHECK_RANGE = (60, 3600)
DOWNLOAD_TIMEOUT_RANGE = (60, 3600)
VOLUME_RANGE = (1, 512)
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")


def _check_range(name: str, value: int | None, bounds: tuple[int, int]) -> None:
    if value is not None and not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{name} {value} is out of range; allowed {bounds[0]} to {bounds[1]}")


def accepts_volume_size(instance_type: str) -> bool:
    return instance_type.startswith(EBS_VOLUME_FAMILIES) and not instance_type.startswith("ml.p3dn.")


@dataclass(frozen=True)
class Hosting:
    """How the endpoint is hosted: instance type and count, and the timeouts SageMaker applies at start-up."""

    instance_type: str = "ml.g5.12xlarge"
    instance_count: int = 1
    health_check_timeout: int = 600
    model_download_timeout: int | None = None
    volume_size: int | None = None
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    deployment_strategy: str = "auto"

    def __post_init__(self) -> None:
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
    def update_policy(self) -> UpdatePolicy:
        return UpdatePolicy(
            strategy=self.deployment_strategy,
            instance_count=self.instance_count,
            health_check_timeout=self.health_check_timeout,
            model_download_timeout=self.model_download_timeout,
        )


def confused_deputy_guard(principal: iam.ServicePrincipal, stack: cdk.Stack, service: str) -> iam.IPrincipal:
    """Only this account's resources of `service` may make the service assume the role (SageMaker's
    "Cross-service confused deputy prevention" page: aws:SourceAccount, plus aws:SourceArn with wildcards for
    resources whose ARN is not known yet, here every resource of the service in this account and region)."""
    return principal.with_conditions(
        {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:{service}:{stack.region}:{stack.account}:*"},
        }
    )


class HostedEndpoint(Construct):
    """Base: an execution role, a Model (built by the subclass), an EndpointConfig, an Endpoint and its logs."""

    role: iam.IRole
    image_uri: str
    model: sagemaker.CfnModel
    endpoint_config: sagemaker.CfnEndpointConfig
    endpoint: sagemaker.CfnEndpoint
    hosting: Hosting

    def _execution_role(
        self,
        role: iam.IRole | None,
        *,
        ecr_repository_arns: Sequence[str],
        s3_read: Sequence[tuple[str, str]] = (),
    ) -> iam.IRole:
        """The role SageMaker assumes to pull the image (and artifacts) and to write the endpoint's logs."""
        stack = cdk.Stack.of(self)
        if role is None:
            role = iam.Role(
                self,
                "ExecutionRole",
                assumed_by=confused_deputy_guard(iam.ServicePrincipal("sagemaker.amazonaws.com"), stack, "sagemaker"),
                description="SageMaker execution role: pull one DLC image, read its artifacts, write its logs",
            )
        policy = iam.Policy(self, "ExecutionPolicy")
        policy.add_statements(
            iam.PolicyStatement(actions=list(ECR_PULL_ACTIONS), resources=list(ecr_repository_arns)),
            # GetAuthorizationToken has no resource-level permissions (ECR docs): "*" is its only resource.
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                # The endpoint's name is generated at deploy time, after this role exists: scope to the prefix.
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="/aws/sagemaker/Endpoints/*",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            ),
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints*"}},
            ),
        )
        for bucket, prefix in s3_read:
            bucket_arn = f"arn:{stack.partition}:s3:::{bucket}"
            policy.add_statements(
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{bucket_arn}/{prefix}*"]),
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                ),
            )
        policy.attach_to_role(role)
        self._execution_policy = policy
        logs_arn = rendered_arn(stack, "logs", "log-group:/aws/sagemaker/Endpoints/*")
        acknowledge(
            policy,
            {
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]": "ecr:GetAuthorizationToken and "
                "cloudwatch:PutMetricData (conditioned on the SageMaker endpoint namespace) have no resource-level "
                "permissions",
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{logs_arn}]": "the endpoint's name is generated by "
                "CloudFormation after this role exists (no physical names), so its log group is scoped by prefix",
            },
        )
        return role

    def _host(self, model: sagemaker.CfnModel, hosting: Hosting) -> None:
        self.model = model
        self.hosting = hosting
        # The role's policy must exist before SageMaker tries to pull the image.
        model.node.add_dependency(self._execution_policy)
        variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name="AllTraffic",
            model_name=model.attr_model_name,
            initial_instance_count=hosting.instance_count,
            instance_type=hosting.instance_type,
            initial_variant_weight=1.0,
            container_startup_health_check_timeout_in_seconds=hosting.health_check_timeout,
            model_data_download_timeout_in_seconds=hosting.model_download_timeout,
            volume_size_in_gb=hosting.volume_size,
        )
        self.endpoint_config = sagemaker.CfnEndpointConfig(self, "EndpointConfig", production_variants=[variant])
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint", endpoint_config_name=self.endpoint_config.attr_endpoint_config_name
        )
        self._guard_updates(hosting)
        for resource in (model, self.endpoint_config, self.endpoint):
            resource.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        # SageMaker creates the log group itself and never expires it; this sets retention and removes it on
        # destroy, so `cdk destroy` leaves nothing behind that keeps costing.
        self.log_retention = logs.LogRetention(
            self,
            "EndpointLogRetention",
            log_group_name=f"/aws/sagemaker/Endpoints/{self.endpoint.attr_endpoint_name}",
            retention=hosting.log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        stack = cdk.Stack.of(self)
        endpoint_ref = f"<{stack.resolve(stack.get_logical_id(self.endpoint))}.EndpointName>"
        acknowledge_log_retention_provider(
            stack, log_group_pattern=f"log-group:/aws/sagemaker/Endpoints/{endpoint_ref}:*"
        )

    def _guard_updates(self, hosting: Hosting) -> None:
        """Rollback alarms on the variant, named in the endpoint's DeploymentConfig (blue/green or rolling)."""
        self.variant_name = "AllTraffic"
        self.rollback_alarms = RollbackAlarms(
            self,
            "RollbackAlarms",
            dimensions={"EndpointName": self.endpoint.attr_endpoint_name, "VariantName": self.variant_name},
        )
        self.update_policy = hosting.update_policy
        self.endpoint.deployment_config = self.update_policy.config(self.rollback_alarms.names)

    @property
    def endpoint_name(self) -> str:
        return self.endpoint.attr_endpoint_name

    @property
    def endpoint_arn(self) -> str:
        return self.endpoint.ref

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow `grantee` to invoke this endpoint (streaming and not), and nothing else."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(INVOKE_ACTIONS), resource_arns=[self.endpoint_arn]
        )
