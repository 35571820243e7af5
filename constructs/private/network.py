"""Where the endpoint's instances sit: a new isolated VPC with the endpoints SageMaker needs, or the user's by ids."""

from __future__ import annotations

import re
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from constructs import Construct
from constructs.compliance.owned_logs import allow_logs_to_use

VPC_ID = re.compile(r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
SUBNET_ID = re.compile(r"^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
SECURITY_GROUP_ID = re.compile(r"^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
# AWS::SageMaker::Model VpcConfig: 1-16 subnets, 1-5 security groups (CloudFormation template reference).
MAX_SUBNETS, MAX_SECURITY_GROUPS = 16, 5
HTTPS = ec2.Port.tcp(443)
# Interface endpoints of the created VPC. SageMaker's guide "Give SageMaker AI hosted endpoints access to
# resources in your Amazon VPC": without internet access the endpoint needs an S3 endpoint for model artifacts;
# ECR (api + dkr) serves the image layers' manifests, whose layers live in S3 (ECR user guide, "Amazon ECR
# interface VPC endpoints": "you must create the Amazon S3 gateway endpoint" as well); CloudWatch Logs receives
# the container's stdout. The chat Lambda stays outside the VPC, so no sagemaker.runtime endpoint is needed.
INTERFACE_ENDPOINTS = {
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
}


@dataclass(frozen=True)
class NetworkSettings:
    """`create=True`: a new VPC; else the user's `vpc_id` with `subnet_ids` (and optional `security_group_ids`)."""

    create: bool = False
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.create:
            if self.vpc_id or self.subnet_ids or self.security_group_ids:
                raise ValueError("vpc=create builds its own VPC: do not give vpc_id, subnet_ids or security_group_ids")
            return
        if self.vpc_id is None or not VPC_ID.fullmatch(self.vpc_id):
            raise ValueError(f"vpc_id {self.vpc_id!r} is not a VPC id like vpc-0123456789abcdef0")
        if not 1 <= len(self.subnet_ids) <= MAX_SUBNETS:
            raise ValueError(f"subnet_ids: give 1 to {MAX_SUBNETS} subnets of {self.vpc_id}")
        bad = [s for s in self.subnet_ids if not SUBNET_ID.fullmatch(s)]
        if bad:
            raise ValueError(f"subnet_ids {', '.join(bad)} are not subnet ids like subnet-0123456789abcdef0")
        if len(self.security_group_ids) > MAX_SECURITY_GROUPS:
            raise ValueError(f"security_group_ids: at most {MAX_SECURITY_GROUPS}")
        bad = [g for g in self.security_group_ids if not SECURITY_GROUP_ID.fullmatch(g)]
        if bad:
            raise ValueError(
                f"security_group_ids {', '.join(bad)} are not security group ids like sg-0123456789abcdef0"
            )


class PrivateNetwork(Construct):
    """Subnets and security groups for the model's VpcConfig.

    `create`: a VPC over 2 AZs with only isolated subnets (no NAT, no internet gateway), the S3 gateway endpoint,
    ECR api/dkr and CloudWatch Logs interface endpoints, and flow logs in a KMS-encrypted log group. Existing:
    the given subnets; the given security groups, or one created with HTTPS egress only.
    """

    subnet_ids: list[str]
    security_group_ids: list[str]

    def __init__(self, scope: Construct, construct_id: str, *, settings: NetworkSettings) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.vpc: ec2.Vpc | None = None
        if settings.create:
            self._create()
            return
        self.subnet_ids = list(settings.subnet_ids)
        if settings.security_group_ids:
            self.security_group_ids = list(settings.security_group_ids)
            return
        # An L1 group: an L2 would need the VPC object, i.e. a context lookup, and synth stays offline.
        group = ec2.CfnSecurityGroup(
            self,
            "ModelSecurityGroup",
            vpc_id=settings.vpc_id or "",
            group_description="SageMaker endpoint instances: no inbound, HTTPS out (VPC endpoints or NAT)",
            security_group_egress=[
                ec2.CfnSecurityGroup.EgressProperty(
                    ip_protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_ip="0.0.0.0/0",
                    description="HTTPS to the VPC's endpoints or NAT; this stack cannot see which without a lookup",
                )
            ],
        )
        self.security_group_ids = [group.attr_group_id]

    def _create(self) -> None:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
            ],
            restrict_default_security_group=False,
        )
        self.vpc = vpc
        self._flow_logs(vpc)
        self.model_security_group = ec2.SecurityGroup(
            self,
            "ModelSecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description="SageMaker endpoint instances: no inbound; HTTPS to the VPC endpoints and S3 only",
        )
        endpoint_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description="VPC interface endpoints: HTTPS from the SageMaker endpoint instances only",
        )
        endpoint_group.add_ingress_rule(self.model_security_group, HTTPS, "HTTPS from the model instances")
        self.model_security_group.add_egress_rule(endpoint_group, HTTPS, "HTTPS to the interface endpoints")
        # S3 (gateway endpoint) has per-region prefix-list ids only a lookup can name; the isolated subnets have
        # no route to the internet, so HTTPS to any address reaches only S3's gateway and the endpoints above.
        self.model_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), HTTPS, "HTTPS to S3 via the gateway endpoint (no internet route exists)"
        )
        vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        for name, service in INTERFACE_ENDPOINTS.items():
            vpc.add_interface_endpoint(
                name, service=service, security_groups=[endpoint_group], open=False, private_dns_enabled=True
            )
        self.subnet_ids = [s.subnet_id for s in vpc.isolated_subnets]
        self.security_group_ids = [self.model_security_group.security_group_id]

    def _flow_logs(self, vpc: ec2.Vpc) -> None:
        key = kms.Key(
            self,
            "FlowLogKey",
            description="Encrypts the private VPC's flow logs",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
        )
        # CloudWatch Logs' documented key policy, for this one log group: CloudWatch Logs calls KMS with the
        # encryption context aws:logs:arn = the group's ARN ("Encrypt log data in CloudWatch Logs using AWS KMS",
        # CloudWatch Logs User Guide), so the key policy names the group. Named so the policy can name it before
        # it exists (the group references the key: a GetAtt back would be a cycle).
        name = f"/llm-chat/{cdk.Aws.STACK_NAME}/vpc-flow-logs"
        allow_logs_to_use(key, name)
        group = logs.LogGroup(
            self,
            "FlowLogs",
            log_group_name=name,
            encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(group))
