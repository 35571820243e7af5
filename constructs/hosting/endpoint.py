"""What every SageMaker real-time endpoint of ours shares: execution role, endpoint config, endpoint, logs, grants.

`HostedEndpoint` is the base of `TgiEndpoint` and `JumpStartEndpoint`: a subclass builds its Model (image,
environment, artifacts) and hands it to `_host`, which adds the EndpointConfig, Endpoint and log retention.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from constructs.compliance.nag import acknowledge, acknowledge_log_retention_provider, rendered_arn, skip_checkov
from constructs.facts.gpu_facts import check_cuda_support
from constructs.facts.sdk_data import ImageFamily, gpu_info
from constructs.hosting.autoscaling import VariantScaling
from constructs.hosting.inference_component import (
    ComponentScaling,
    component_variant,
)
from constructs.hosting.monitoring import RollbackAlarms
from constructs.hosting.shape import Hosting
from constructs.private.model_data import S3ModelData
from constructs.private.private_hosting import PrivateHosting, PrivateSettings

INVOKE_ACTIONS = ("sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream")
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


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
    # Private-deployment options (S3 weights, VPC, KMS, data capture); a subclass sets it before building.
    private: PrivateSettings | None = None
    private_hosting: PrivateHosting | None = None
    # GPUs the model uses (its tensor-parallel degree); a subclass sets it before `_host`, else all of them.
    num_gpus: int | None = None
    component: ComponentScaling | None = None
    variant_scaling: VariantScaling | None = None
    # The ARNs of the other components on this endpoint (components.py adds them): grant_invoke names them too.
    extra_component_arns: tuple[str, ...] = ()
    # Of those, the ones with copies of their own (models, not adapters): the chat API may wake them
    # (constructs/api/wake_access.py).
    scaled_component_arns: tuple[str, ...] = ()

    @property
    def physical_endpoint_name(self) -> str:
        """`<stack name>-<8 hex of this construct's path>`: known before the endpoint exists, so the execution role
        can name the endpoint's own log group. EndpointName is the endpoint's only create-only property (cfn-lint's
        AWS::SageMaker::Endpoint schema: createOnlyProperties), so a fixed name never blocks an update; it is at
        most 63 characters of letters, digits and '-' (EndpointName pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$)."""
        stack = cdk.Stack.of(self)
        assert not cdk.Token.is_unresolved(stack.stack_name), "the endpoint name needs a literal stack name"
        return f"{stack.stack_name[:54]}-{self.node.addr[:8]}"

    def _execution_role(
        self,
        role: iam.IRole | None,
        *,
        ecr_repository_arns: Sequence[str],
        s3_read: Sequence[tuple[str, str]] = (),
    ) -> iam.IRole:
        """The role SageMaker assumes to pull the image (and artifacts) and to write the endpoint's logs."""
        stack = cdk.Stack.of(self)
        log_group = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/sagemaker/Endpoints/{self.physical_endpoint_name}",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
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
            # This endpoint's log group and its streams only (SageMaker writes to /aws/sagemaker/Endpoints/<name>;
            # "Log Amazon SageMaker AI events with Amazon CloudWatch"). CloudWatch Logs authorizes CreateLogGroup
            # and CreateLogStream on the log-group ARN and PutLogEvents on the log-stream ARN
            # (arn:...:log-group:<name>:log-stream:<stream>; Service Authorization Reference, "Actions, resources,
            # and condition keys for Amazon CloudWatch Logs").
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group, f"{log_group}:log-stream:*"],
            ),
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints*"}},
            ),
        )
        for bucket, prefix in s3_read:
            grant_s3_prefix(policy, stack, bucket, prefix)
        policy.attach_to_role(role)
        self._execution_policy = policy
        streams = rendered_arn(
            stack, "logs", f"log-group:/aws/sagemaker/Endpoints/{self.physical_endpoint_name}:log-stream:*"
        )
        acknowledge(
            policy,
            {
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]": "ecr:GetAuthorizationToken and "
                "cloudwatch:PutMetricData (conditioned on the SageMaker endpoint namespace) have no resource-level "
                "permissions",
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{streams}]": "the streams of this endpoint's own log "
                "group: SageMaker names one per variant and instance at run time",
            },
        )
        return role

    def _serve(
        self,
        *,
        image: ImageFamily,
        environment: Callable[[], dict[str, str]],
        role: iam.IRole | None,
        hosting: Hosting,
        private: PrivateSettings | None,
        engine: str,
    ) -> None:
        """Execution role, Model (the pinned `image`, `environment()` read once `private` is known, weights from the
        Hub or an S3 prefix) and hosting: what every engine running a Hugging Face model in its DLC shares."""
        self.private = private
        weights = private.model_data if private is not None else None
        stack = cdk.Stack.of(self)
        self.image_uri, repository_arn = self._image_for(stack, image)
        self.role = self._execution_role(
            role, ecr_repository_arns=[repository_arn], s3_read=[weights.s3_read] if weights else []
        )
        model_resource = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self.image_uri,
                environment=environment(),
                model_data_source=weights.model_data_source() if weights else None,
            ),
        )
        self._hub_or_s3_weights(model_resource, weights, engine)
        self._host(model_resource, hosting)

    @property
    def execution_policy(self) -> iam.Policy:
        """The execution role's policy: other components on this endpoint add what they read to it."""
        return self._execution_policy

    def image_for(self, stack: cdk.Stack, image: ImageFamily) -> tuple[str, str]:
        """The pinned URI and ECR repository ARN of `image` for this stack (see `_image_for`)."""
        return self._image_for(stack, image)

    def _image_for(self, stack: cdk.Stack, image: ImageFamily) -> tuple[str, str]:
        """The pinned image URI and its ECR repository ARN: literal for a concrete region, else a mapping (the
        stack's SupportedRegion rule refuses regions the mapping lacks before anything is created)."""
        if not cdk.Token.is_unresolved(stack.region):
            resolved = image.in_region(stack.region)
            return resolved.uri, resolved.repository_arn
        mapping = image_mapping(stack, image)
        return (
            mapping.find_in_map(cdk.Aws.REGION, "uri"),
            mapping.find_in_map(cdk.Aws.REGION, "repositoryArn"),
        )

    def _hub_or_s3_weights(self, model: sagemaker.CfnModel, weights: S3ModelData | None, engine: str) -> None:
        """Findings that depend on where the weights come from: the Hub (no network isolation) or an S3 prefix."""
        if weights is None:
            skip_checkov(
                model,
                {
                    "CKV_AWS_370": f"{engine} downloads the model from the Hugging Face Hub at start-up, which "
                    "network isolation forbids (-c model_data=s3://... loads the weights from S3 and enables it)"
                },
            )
            return
        stack = cdk.Stack.of(self)
        partition = "<AWS::Partition>" if cdk.Token.is_unresolved(stack.partition) else stack.partition
        acknowledge(
            self._execution_policy,
            {
                f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:{partition}:s3:::{weights.bucket}/"
                f"{weights.prefix}*]": "SageMaker copies every object under the staged model folder "
                "(model_data) into /opt/ml/model; nothing else in that bucket is readable",
            },
        )

    def _host(self, model: sagemaker.CfnModel, hosting: Hosting) -> None:
        # A mapping token (region-agnostic synth) carries no tag: every region's image is the same build, so the
        # subclass's `image.tag` is checked instead where it has one.
        tag = getattr(getattr(self, "image", None), "tag", None)
        check_cuda_support(tag if tag is not None else self.image_uri, hosting.instance_type)
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
            inference_ami_version=hosting.inference_ami_version,
            routing_config=hosting.routing.config() if hosting.routing is not None else None,
        )
        zero = hosting.scale_to_zero
        if hosting.in_component:
            variant = component_variant(
                variant_name=variant.variant_name,
                instance_type=hosting.instance_type,
                instance_count=hosting.instance_count,
                max_instances=zero.max_instances if zero is not None else hosting.instance_count,
                health_check_timeout=hosting.health_check_timeout,
                model_download_timeout=hosting.model_download_timeout,
                volume_size=hosting.volume_size,
                inference_ami_version=hosting.inference_ami_version,
                routing=hosting.routing,
            )
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[variant],
            # Required when the variant names no model (the inference component brings it).
            execution_role_arn=self.role.role_arn if hosting.in_component else None,
        )
        self._apply_private(model, self.endpoint_config, hosting)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            # Named, so the execution role's log permissions can name its log group (physical_endpoint_name).
            endpoint_name=self.physical_endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            # Without it every stack update resets the instance count autoscaling chose (aws/aws-cdk#23151).
            retain_all_variant_properties=True
            if hosting.in_component or hosting.instance_scaling is not None
            else None,
        )
        self._add_scaling(model, hosting, variant.variant_name)
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

    def _apply_private(
        self, model: sagemaker.CfnModel, endpoint_config: sagemaker.CfnEndpointConfig, hosting: Hosting
    ) -> None:
        """Private-deployment options onto whichever EndpointConfig shape `_host` built (private_hosting.py)."""
        if self.private is None or not self.private.any:
            return
        self.private_hosting = PrivateHosting(
            self,
            "Private",
            settings=self.private,
            instance_type=hosting.instance_type,
            policy=self._execution_policy,
        )
        self.private_hosting.apply(model, endpoint_config, component=hosting.in_component)

    def _add_scaling(self, model: sagemaker.CfnModel, hosting: Hosting, variant_name: str) -> None:
        if hosting.in_component:
            gpus = gpu_info(hosting.instance_type).count
            self.component = ComponentScaling(
                self,
                "Component",
                endpoint=self.endpoint,
                model=model,
                variant_name=variant_name,
                settings=hosting.scale_to_zero,
                accelerators=self.num_gpus if self.num_gpus is not None else gpus,
                instance_type=hosting.instance_type,
                instance_gpus=gpus,
                health_check_timeout=hosting.health_check_timeout,
                model_download_timeout=hosting.model_download_timeout,
                execution_policy=self._execution_policy,
                log_retention=hosting.log_retention,
            )
        elif hosting.instance_scaling is not None:
            self.variant_scaling = VariantScaling(
                self, "Scaling", endpoint=self.endpoint, variant_name=variant_name, settings=hosting.instance_scaling
            )

    @property
    def inference_component_name(self) -> str | None:
        """The inference component callers must name on every call; None when the variant hosts the model."""
        return self.component.name if self.component is not None else None

    def _guard_updates(self, hosting: Hosting) -> None:
        """Rollback alarms on the variant, named in the endpoint's DeploymentConfig (blue/green or rolling)."""
        self.variant_name = "AllTraffic"
        self.update_policy = hosting.update_policy
        if self.component is not None:
            # Scale to zero: the model lives in the inference component, whose invocation metrics carry its name.
            # The alarms page; they roll nothing back, because the component takes no rolling update
            # (inference_component.COMPONENT_UPDATE says why).
            self.rollback_alarms = RollbackAlarms(
                self,
                "RollbackAlarms",
                dimensions={"InferenceComponentName": self.component.name},
                rolls_back=False,
            )
            return
        self.rollback_alarms = RollbackAlarms(
            self,
            "RollbackAlarms",
            dimensions={"EndpointName": self.endpoint.attr_endpoint_name, "VariantName": self.variant_name},
        )
        self.endpoint.deployment_config = self.update_policy.config(self.rollback_alarms.names)
        if self.endpoint.deployment_config is not None:
            self._grant_describe_alarms(self.rollback_alarms.names)

    def _grant_describe_alarms(self, names: Sequence[str]) -> None:
        """SageMaker reads the rollback alarms with the execution role: "Ensure that your IAM execution role has
        permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify"
        (SageMaker developer guide, "Auto-Rollback Configuration and Monitoring",
        https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html). Scoped to those
        alarms' ARNs: DescribeAlarms needs `*` only to return composite alarms ("You can't return information about
        composite alarms if your cloudwatch:DescribeAlarms permission has a narrower scope": botocore cloudwatch
        2010-08-01 service-2.json, DescribeAlarms), and these are metric alarms."""
        stack = cdk.Stack.of(self)
        self._execution_policy.add_statements(
            iam.PolicyStatement(
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name=name,
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                    for name in names
                ],
            )
        )

    @property
    def endpoint_name(self) -> str:
        return self.endpoint.attr_endpoint_name

    @property
    def endpoint_arn(self) -> str:
        return self.endpoint.ref

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow `grantee` to invoke this endpoint (streaming and not), and nothing else."""
        # With an inference component the call names it too; IAM authorizes InvokeEndpoint on the endpoint and
        # on the inference component (service authorization reference: resource types endpoint*,
        # inference-component), so the grant names exactly these two.
        component = [self.component.arn] if self.component is not None else []
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(INVOKE_ACTIONS),
            resource_arns=[self.endpoint_arn, *component, *self.extra_component_arns],
        )


def grant_s3_prefix(policy: iam.Policy, stack: cdk.Stack, bucket: str, prefix: str) -> None:
    """Read every object under one S3 folder, and list only that folder."""
    bucket_arn = f"arn:{stack.partition}:s3:::{bucket}"
    policy.add_statements(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{bucket_arn}/{prefix}*"]),
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        ),
    )


def image_mapping(stack: cdk.Stack, image: ImageFamily) -> cdk.CfnMapping:
    """One CfnMapping per stack and image: region → pinned URI and repository ARN, for every SDK region."""
    mapping_id = "Image" + "".join(ch for ch in f"{image.framework}{image.version}".title() if ch.isalnum())
    existing = stack.node.try_find_child(mapping_id)
    if isinstance(existing, cdk.CfnMapping):
        return existing
    mapping: dict[str, dict[str, str]] = {}
    for region in image.regions:
        resolved = image.in_region(region)
        mapping[region] = {"uri": resolved.uri, "repositoryArn": resolved.repository_arn}
    return cdk.CfnMapping(stack, mapping_id, mapping=mapping)
