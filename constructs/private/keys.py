"""The customer-managed KMS key of a private deployment: created by the stack (rotation on) or imported by ARN."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct
from constructs.facts.instances import accepts_volume_size

CREATE = "create"


# Key administration for the account (so it can never lock itself out of the key), without the right to use it.
ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]
USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant"]
# The services that use the key on the stack's behalf: SageMaker (the endpoint's storage volume, which EC2's EBS
# encrypts) and S3 (the data-capture bucket).
KEY_SERVICES = ("sagemaker", "ec2", "s3")


def key_services(*, ebs_volume: bool) -> tuple[str, ...]:
    """The `kms:ViaService` services of a created key: EC2 only when the key encrypts an EBS volume (the
    EndpointConfig's KmsKeyId, accepted only by instance types without local NVMe storage: check_volume_key).
    kms:ViaService is "the name of the AWS service that makes the request on the principal's behalf"
    ("AWS KMS condition keys", AWS KMS Developer Guide): without a volume EC2 makes no request with this key."""
    return KEY_SERVICES if ebs_volume else tuple(s for s in KEY_SERVICES if s != "ec2")


def endpoint_key(scope: Construct, construct_id: str, kms_key: str, *, retain: bool, ebs_volume: bool) -> kms.IKey:
    """`kms_key` is "create" (a new key, yearly rotation) or a key ARN the user owns (its policy stays theirs).

    A created key's policy lets this account administer it, and use it only through SageMaker, S3 and, when it
    encrypts the endpoint's EBS volume (`ebs_volume`), EC2 of this region (`kms:ViaService`,
    `kms:CallerAccount`), where IAM also allows it: the execution role's IAM grant is scoped the same way
    (`grant_via_services`). Nobody can decrypt captured data outside S3 with it. `retain` keeps it after
    `cdk destroy`, so captured data stays readable.
    """
    if kms_key != CREATE:
        return kms.Key.from_key_arn(scope, construct_id, kms_key)
    stack = cdk.Stack.of(scope)
    services = key_services(ebs_volume=ebs_volume)
    account = iam.AccountRootPrincipal()
    policy = iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(sid="Administer", principals=[account], actions=ADMIN_ACTIONS, resources=["*"]),
            iam.PolicyStatement(
                sid="UseThroughTheStacksServices",
                principals=[account],
                actions=USE_ACTIONS,
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [f"{s}.{stack.region}.{stack.url_suffix}" for s in services],
                        "kms:CallerAccount": stack.account,
                    }
                },
            ),
        ]
    )
    return kms.Key(
        scope,
        construct_id,
        description="Encrypts this stack's SageMaker endpoint storage volume and captured requests/responses"
        if ebs_volume
        else "Encrypts this stack's captured SageMaker requests/responses",
        enable_key_rotation=True,
        policy=policy,
        removal_policy=cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY,
        pending_window=cdk.Duration.days(7),
    )


def grant_via_services(
    policy: iam.Policy, key_arn: str, actions: list[str], services: list[str], *, sid: str | None = None
) -> None:
    """Let `policy`'s role use the key only through `services` (e.g. "s3") of this region and account."""
    stack = cdk.Stack.of(policy)
    policy.add_statements(
        iam.PolicyStatement(
            sid=sid,
            actions=actions,
            resources=[key_arn],
            conditions={
                "StringEquals": {
                    "kms:ViaService": [f"{service}.{stack.region}.{stack.url_suffix}" for service in services],
                    "kms:CallerAccount": stack.account,
                }
            },
        )
    )


def check_volume_key(instance_type: str | None, *, data_capture: bool) -> bool:
    """Whether the EndpointConfig may carry `KmsKeyId`; raise when the key would encrypt nothing at all.

    CreateEndpointConfig (API reference, KmsKeyId): "You can't request a KmsKeyId when using an instance type
    with local storage. [...] If you specify a value for KmsKeyId when using any nitro-based instances with local
    storage, the call to CreateEndpointConfig fails." Those volumes are encrypted by a hardware module instead.
    """
    if instance_type is not None and accepts_volume_size(instance_type):
        return True
    if not data_capture:
        raise ValueError(
            f"kms_key: {instance_type or 'the JumpStart default instance type'} has local NVMe instance storage, "
            "which SageMaker encrypts with a hardware module and for which CreateEndpointConfig rejects a "
            "KmsKeyId; with nothing else to encrypt the key would be unused. Drop kms_key, add "
            "-c data_capture=true (the key then encrypts the captured data), or pick an instance type with an "
            "EBS volume (ml.p3.*, ml.p2.*, ml.inf1.*, ml.c5/m5/r5.*)"
        )
    return False
