"""The private-deployment options of a hosted endpoint, applied to whichever Model/EndpointConfig shape it builds.

`HostedEndpoint._host` calls `PrivateHosting.apply`; engines only read `settings.model_data` to build their
container (see constructs/private/model_data.py). Everything else (VPC, keys, data capture, grants) lives here.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from constructs.private.data_capture import DataCapture
from constructs.private.keys import check_volume_key, endpoint_key, grant_via_services
from constructs.private.model_data import S3ModelData
from constructs.private.network import NetworkSettings, PrivateNetwork

DATA_CAPTURE_DAYS = 30


@dataclass(frozen=True)
class PrivateSettings:
    """Weights from S3, VPC placement, a customer-managed key and data capture; all off by default."""

    model_data: S3ModelData | None = None
    network: NetworkSettings | None = None
    kms_key: str | None = None  # "create" or a KMS key ARN
    data_capture: bool = False
    data_capture_days: int = DATA_CAPTURE_DAYS
    # IAM role/user ARNs (patterns) that may read captured prompts; none: nobody until named.
    capture_readers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.data_capture_days <= 3650:
            raise ValueError(f"data_capture_days {self.data_capture_days} is out of range; allowed 1 to 3650")

    @property
    def any(self) -> bool:
        return bool(self.model_data or self.network or self.kms_key or self.data_capture)


class PrivateHosting(Construct):
    """Creates what the settings need (network, key, capture bucket) and grants the execution role its share."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: PrivateSettings,
        instance_type: str | None,
        policy: iam.Policy,
    ) -> None:
        volume_key = settings.kms_key is not None and check_volume_key(
            instance_type, data_capture=settings.data_capture
        )
        super().__init__(scope, construct_id)
        self.settings = settings
        self.network = PrivateNetwork(self, "Network", settings=settings.network) if settings.network else None
        key_setting = settings.kms_key or ("create" if settings.data_capture else None)
        self.key = (
            endpoint_key(self, "Key", key_setting, retain=settings.data_capture, ebs_volume=volume_key)
            if key_setting is not None
            else None
        )
        self.volume_key_arn = self.key.key_arn if self.key is not None and volume_key else None
        self.capture = (
            DataCapture(
                self, "DataCapture", key=self.key, days=settings.data_capture_days, readers=settings.capture_readers
            )
            if settings.data_capture and self.key is not None
            else None
        )
        if self.capture is not None:
            self.capture.grant_write(policy)
        data = settings.model_data
        if data is not None and data.kms_key_arn is not None:
            # The weights bucket is the user's: reading SSE-KMS objects needs kms:Decrypt on its key, via S3 only.
            grant_via_services(policy, data.kms_key_arn, ["kms:Decrypt"], ["s3"])

    def apply(
        self, model: sagemaker.CfnModel, endpoint_config: sagemaker.CfnEndpointConfig, *, component: bool = False
    ) -> None:
        """`component`: the endpoint hosts an inference component, whose variant names no model. Its instances are
        the endpoint config's, so VPC placement and network isolation go on the EndpointConfig as well: the
        CreateEndpointConfig API has its own `VpcConfig` and `EnableNetworkIsolation` ("Sets whether all model
        containers deployed to the endpoint are isolated"; botocore sagemaker 2017-07-24 service-2.json,
        CreateEndpointConfigInput), and the SageMaker SDK sets both there when it builds an endpoint whose
        variants name no model (sagemaker-core 2.27 `Session._build_endpoint_config_request`, which also adds the
        ExecutionRoleArn such an endpoint needs). The Model keeps them too, as the SDK's Model does."""
        if self.settings.model_data is not None:
            # Weights are in /opt/ml/model before start-up: the container needs no network at all.
            model.enable_network_isolation = True
            if component:
                endpoint_config.enable_network_isolation = True
        if self.network is not None:
            model.vpc_config = sagemaker.CfnModel.VpcConfigProperty(
                subnets=self.network.subnet_ids, security_group_ids=self.network.security_group_ids
            )
            if component:
                endpoint_config.vpc_config = sagemaker.CfnEndpointConfig.VpcConfigProperty(
                    subnets=self.network.subnet_ids, security_group_ids=self.network.security_group_ids
                )
        if self.volume_key_arn is not None:
            endpoint_config.kms_key_id = self.volume_key_arn
        if self.capture is not None:
            endpoint_config.data_capture_config = self.capture.config()
