"""JumpStartEndpoint: a SageMaker JumpStart model, resolved from jumpstart.lock.json, on a real-time endpoint."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from constructs.compliance.nag import acknowledge
from constructs.facts.jumpstart_lock import (
    DEFAULT_LOCK_PATH,
    JumpStartDeployment,
    LockedJumpStartModel,
    load_locked_model,
)
from constructs.hosting.endpoint import HostedEndpoint
from constructs.hosting.shape import Hosting
from constructs.private.private_hosting import PrivateSettings

DEFAULT_JUMPSTART_MODEL = "huggingface-llm-falcon-40b-instruct-bf16"
# The tags the SageMaker SDK puts on JumpStart resources; the console uses them to show the model.
MODEL_ID_TAG = "sagemaker-sdk:jumpstart-model-id"
MODEL_VERSION_TAG = "sagemaker-sdk:jumpstart-model-version"
_TAGGED_TYPES = ["AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint"]
# Used when the lock has no deploy kwargs for the timeouts (the SDK then leaves them to SageMaker).
FALLBACK_HEALTH_CHECK_TIMEOUT = 600


@dataclass(frozen=True)
class JumpStartModelRef:
    """Which JumpStart model: its id, the version ('*' = whatever the lock pinned) and EULA acceptance."""

    model_id: str = DEFAULT_JUMPSTART_MODEL
    version: str = "*"
    accept_eula: bool = False


def jumpstart_hosting(
    locked: LockedJumpStartModel,
    *,
    instance_type: str | None = None,
    instance_count: int = 1,
    health_check_timeout: int | None = None,
    model_download_timeout: int | None = None,
    volume_size: int | None = None,
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
) -> Hosting:
    """Hosting whose unset fields come from the lock: the spec's default instance type and the SDK's timeouts."""
    chosen = instance_type if instance_type is not None else locked.default_instance_type
    facts = next(iter(locked.deployments(chosen).values()))
    return Hosting(
        instance_type=chosen,
        instance_count=instance_count,
        health_check_timeout=(
            health_check_timeout
            if health_check_timeout is not None
            else facts.container_startup_health_check_timeout or FALLBACK_HEALTH_CHECK_TIMEOUT
        ),
        model_download_timeout=(
            model_download_timeout if model_download_timeout is not None else facts.model_data_download_timeout
        ),
        volume_size=volume_size if volume_size is not None else facts.volume_size,
        log_retention=log_retention,
    )


class JumpStartEndpoint(HostedEndpoint):
    """Execution role, Model (JumpStart image + artifacts, network isolation), EndpointConfig and Endpoint.

    Everything model-specific comes from jumpstart.lock.json (no SDK, no network at synth). Defaults: Falcon-40B
    instruct at the version the lock pinned '*' to, on the spec's default instance type with the SDK's
    health-check and download timeouts (see `jumpstart_hosting`). A stack without a concrete region gets a
    CfnMapping over every region locked for that version.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model: JumpStartModelRef | None = None,
        hosting: Hosting | None = None,
        role: iam.IRole | None = None,
        lock_path: Path = DEFAULT_LOCK_PATH,
        private: PrivateSettings | None = None,
    ) -> None:
        if private is not None and private.model_data is not None:
            raise ValueError(
                "model_data is not for JumpStart: its artifacts already come from S3 (the JumpStart bucket of the "
                "locked version) with network isolation on"
            )
        super().__init__(scope, construct_id)
        self.private = private
        self.ref = model or JumpStartModelRef()
        stack = cdk.Stack.of(self)
        concrete_region = None if cdk.Token.is_unresolved(stack.region) else stack.region
        self.locked = load_locked_model(
            self.ref.model_id,
            self.ref.version,
            [concrete_region] if concrete_region else None,
            lock_path=lock_path,
        )
        hosting = hosting or jumpstart_hosting(self.locked)
        deployments = self.locked.deployments(hosting.instance_type)
        self._check_eula()
        self._check_model_package(deployments)
        self.environment = _same_everywhere(deployments, hosting.instance_type)
        # The spec's tensor-parallel degree; without one the container shards over every GPU of the instance.
        spec_gpus = self.environment.get("SM_NUM_GPUS", "")
        self.num_gpus = int(spec_gpus) if spec_gpus.isdigit() else None

        facts = self._regional_facts(stack, deployments, concrete_region)
        self.image_uri = facts["imageUri"]
        self.role = self._execution_role(
            role,
            ecr_repository_arns=[facts["repositoryArn"]],
            s3_read=[(facts["artifactBucket"], facts["artifactKey"])],
        )
        self._acknowledge_artifact_read(facts["artifactBucket"], facts["artifactKey"])
        model_data_url, model_data_source = self._model_data(deployments, facts["artifactUri"])
        model_resource = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            enable_network_isolation=True,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self.image_uri,
                environment=dict(self.environment),
                model_data_url=model_data_url,
                model_data_source=model_data_source,
            ),
        )
        self._host(model_resource, hosting)
        for key, value in ((MODEL_ID_TAG, self.locked.model_id), (MODEL_VERSION_TAG, self.locked.version)):
            cdk.Tags.of(self).add(key, value, include_resource_types=_TAGGED_TYPES)

    @property
    def model_id(self) -> str:
        return self.locked.model_id

    @property
    def model_version(self) -> str:
        return self.locked.version

    def _check_eula(self) -> None:
        if self.locked.requires_eula and not self.ref.accept_eula:
            raise ValueError(
                f"JumpStart model {self.locked.model_id} {self.locked.version} requires accepting its end-user "
                f"license agreement (EULA): {self.locked.eula_document()} . Read it, then deploy with "
                "-c accept_eula=true (JumpStartModelRef(accept_eula=True))."
            )

    def _check_model_package(self, deployments: Mapping[str, JumpStartDeployment]) -> None:
        packaged = sorted({d.model_package_arn for d in deployments.values() if d.model_package_arn})
        if packaged:
            raise ValueError(
                f"JumpStart model {self.locked.model_id} {self.locked.version} is served from a SageMaker model "
                f"package ({', '.join(packaged)}); JumpStartEndpoint deploys image + artifact models only"
            )

    def _regional_facts(
        self, stack: cdk.Stack, deployments: Mapping[str, JumpStartDeployment], region: str | None
    ) -> dict[str, str]:
        """Per-region values: literals for a concrete region, else Fn::FindInMap over the locked regions."""
        table = {
            name: {
                "imageUri": d.image.uri,
                "repositoryArn": d.image.repository_arn,
                "artifactUri": d.model_data.s3_uri,
                "artifactBucket": d.model_data.bucket,
                "artifactKey": d.model_data.key,
            }
            for name, d in deployments.items()
        }
        if region is not None:
            return table[region]
        mapping = cdk.CfnMapping(self, "JumpStartRegions", mapping=table)
        return {key: mapping.find_in_map(cdk.Aws.REGION, key) for key in next(iter(table.values()))}

    def _model_data(
        self, deployments: Mapping[str, JumpStartDeployment], uri: str
    ) -> tuple[str | None, sagemaker.CfnModel.ModelDataSourceProperty | None]:
        """ModelDataUrl for a plain .tar.gz; ModelDataSource for a prefix, or whenever the EULA is accepted."""
        kinds = {(d.model_data.compression, d.model_data.s3_data_type) for d in deployments.values()}
        if len(kinds) != 1:
            raise ValueError(
                f"JumpStart model {self.locked.model_id} {self.locked.version} has compressed artifacts in some "
                "regions and uncompressed ones in others; deploy it with a concrete region (-c region=...)"
            )
        ((compression, data_type),) = kinds
        accept = self.locked.requires_eula and self.ref.accept_eula
        if compression == "Gzip" and not accept:
            return uri, None
        return None, sagemaker.CfnModel.ModelDataSourceProperty(
            s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                s3_uri=uri,
                s3_data_type=data_type,
                compression_type=compression,
                model_access_config=(
                    sagemaker.CfnModel.ModelAccessConfigProperty(accept_eula=True) if accept else None
                ),
            )
        )

    def _acknowledge_artifact_read(self, bucket: str, key: str) -> None:
        stack = cdk.Stack.of(self)

        def rendered(value: str) -> str:  # as cdk-nag prints it in the finding id
            resolved = stack.resolve(value)
            return resolved if isinstance(resolved, str) else json.dumps(resolved, separators=(",", ":"))

        partition = "<AWS::Partition>" if cdk.Token.is_unresolved(stack.partition) else stack.partition
        acknowledge(
            self._execution_policy,
            {
                f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:{partition}:s3:::"
                f"{rendered(bucket)}/{rendered(key)}*]": (
                    "SageMaker reads the JumpStart model artifact: the objects under its prefix (uncompressed) "
                    "or the one .tar.gz; nothing else in the JumpStart bucket"
                )
            },
        )


def _same_everywhere(deployments: Mapping[str, JumpStartDeployment], instance_type: str) -> Mapping[str, str]:
    envs = {tuple(sorted(d.environment.items())) for d in deployments.values()}
    if len(envs) != 1:
        raise ValueError(
            f"the locked container environment for {instance_type} differs between regions "
            f"({', '.join(deployments)}); deploy with a concrete region (-c region=...)"
        )
    return next(iter(deployments.values())).environment
