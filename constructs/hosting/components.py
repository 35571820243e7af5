"""More inference components on an endpoint whose first model already lives in one (`Hosting(components=True)`).

An engine turns each model into a `ContainerSpec`; `ModelComponent` turns the spec into a SageMaker Model and an
`AWS::SageMaker::InferenceComponent` with its own accelerators, memory, start-up timeouts and, with scale to
zero, its own copy scaling and alarms (the same `ComponentScaling` the first model uses). `AdapterComponent` is a
LoRA adapter on a base component: SageMaker's adapter inference component names the base
(`Specification.BaseInferenceComponentName`) and the adapter's S3 folder (`Specification.Container.ArtifactUrl`),
and "uses the compute resources that you assigned to the base inference component" (SageMaker developer guide,
"Fine-tune models with adapter inference components",
https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-adapt.html; API reference
InferenceComponentSpecification.BaseInferenceComponentName; CloudFormation schema
AWS::SageMaker::InferenceComponent, InferenceComponentContainerSpecification.ArtifactUrl in cfn-lint's data).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from constructs.compliance.nag import acknowledge, skip_checkov
from constructs.facts.sdk_data import ImageFamily, gpu_info
from constructs.hosting.endpoint import HostedEndpoint, grant_s3_prefix
from constructs.hosting.inference_component import ComponentScaling
from constructs.hosting.monitoring import RollbackAlarms
from constructs.private.model_data import S3_PREFIX_URI


@dataclass(frozen=True)
class ContainerSpec:
    """What an engine hands hosting for one model: image, environment, GPUs, and what the API routes by."""

    served_name: str
    kind: str  # "chat" or "embedding"
    engine: str  # "vllm" or "tgi"
    image: ImageFamily
    environment: Mapping[str, str]
    accelerators: int
    health_check_timeout: int
    context_length: int | None = None


class ModelComponent(Construct):
    """A Model and its inference component on `host`'s endpoint, scaled like the host's own component."""

    def __init__(self, scope: Construct, construct_id: str, *, host: HostedEndpoint, spec: ContainerSpec) -> None:
        super().__init__(scope, construct_id)
        assert host.component is not None, "the host must keep its model in an inference component"
        self.spec = spec
        stack = cdk.Stack.of(self)
        # The execution role may pull the host's one image repository: every component runs that same image.
        if spec.image != getattr(host, "image", None):
            raise ValueError(
                f"{spec.served_name}: {spec.image.framework} {spec.image.version} is not the endpoint's image; "
                "every model on the endpoint runs the same engine image"
            )
        image_uri, _ = host.image_for(stack, spec.image)
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=host.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri, environment=dict(spec.environment)
            ),
        )
        self.model.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        self.model.node.add_dependency(host.execution_policy)
        skip_checkov(
            self.model,
            {
                "CKV_AWS_370": f"{spec.engine} downloads the model from the Hugging Face Hub at start-up, which "
                "network isolation forbids"
            },
        )
        hosting = host.hosting
        self.scaling = ComponentScaling(
            self,
            "Component",
            endpoint=host.endpoint,
            model=self.model,
            variant_name=host.variant_name,
            settings=hosting.scale_to_zero,
            accelerators=spec.accelerators,
            instance_type=hosting.instance_type,
            instance_gpus=gpu_info(hosting.instance_type).count,
            health_check_timeout=spec.health_check_timeout,
            model_download_timeout=hosting.model_download_timeout,
            execution_policy=host.execution_policy,
            log_retention=hosting.log_retention,
        )
        host.extra_component_arns = (*host.extra_component_arns, self.scaling.arn)
        host.scaled_component_arns = (*host.scaled_component_arns, self.scaling.arn)
        # The model's own alarms on its component's invocation metrics (5XX answers, latency), like the first
        # model's: they page; they roll nothing back, because a component takes no rolling update.
        self.alarms = RollbackAlarms(
            self, "Alarms", dimensions={"InferenceComponentName": self.scaling.name}, rolls_back=False
        )

    @property
    def name(self) -> str:
        return self.scaling.name


class AdapterComponent(Construct):
    """A LoRA adapter (a PEFT folder in S3) as an adapter inference component on `host`'s own component."""

    def __init__(self, scope: Construct, construct_id: str, *, host: HostedEndpoint, artifact_url: str) -> None:
        super().__init__(scope, construct_id)
        assert host.component is not None, "an adapter needs a base inference component"
        found = S3_PREFIX_URI.fullmatch(artifact_url)
        if found is None:
            raise ValueError(f"adapter {artifact_url!r} is not an S3 folder URI like s3://bucket/adapters/name/")
        stack = cdk.Stack.of(self)
        self.name = cdk.Names.unique_resource_name(self, max_length=63, separator="-").replace("_", "-")
        self.base_name = host.component.name
        self.component = sagemaker.CfnInferenceComponent(
            self,
            "Resource",
            inference_component_name=self.name,
            endpoint_name=host.endpoint.attr_endpoint_name,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                base_inference_component_name=self.base_name,
                container=sagemaker.CfnInferenceComponent.InferenceComponentContainerSpecificationProperty(
                    artifact_url=artifact_url
                ),
            ),
        )
        self.component.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        # The base must exist first; its name is a literal, so CloudFormation needs to be told.
        self.component.node.add_dependency(host.component.component)
        # SageMaker reads the adapter with the endpoint's execution role: this folder only.
        bucket, prefix = found.group("bucket"), found.group("prefix")
        grant_s3_prefix(host.execution_policy, stack, bucket, prefix)
        partition = "<AWS::Partition>" if cdk.Token.is_unresolved(stack.partition) else stack.partition
        acknowledge(
            host.execution_policy,
            {
                f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:{partition}:s3:::{bucket}/{prefix}*]": (
                    "SageMaker loads every file of the LoRA adapter's folder (adapter_config.json and its weights); "
                    "nothing else in that bucket is readable"
                )
            },
        )
        host.extra_component_arns = (*host.extra_component_arns, self.component.attr_inference_component_arn)
