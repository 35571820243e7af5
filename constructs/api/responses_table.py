"""ResponsesTable: the DynamoDB table of stored /v1/responses answers (chatapi/responses_store.py), one item per
response keyed by ``<caller>#<response id>``, so a caller can only ever name its own."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct

PARTITION_KEY = "pk"
TTL_ATTRIBUTE = "expires_at"
# What the store does: PutItem (keep), GetItem (read, continue), conditional DeleteItem (delete). No Query or
# Scan: a caller's item is only ever reached by its full key.
ITEM_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")
# What a principal needs on a table's customer-managed key to read and write items: the KMS actions aws-cdk-lib's
# Table.grantReadWriteData adds for such a key (aws-dynamodb/lib/perms.ts, KEY_READ_ACTIONS + KEY_WRITE_ACTIONS),
# with its ``ReEncrypt*`` and ``GenerateDataKey*`` spelled out (AWS KMS API reference: ReEncrypt needs
# kms:ReEncryptFrom and kms:ReEncryptTo; the data-key actions are GenerateDataKey and ...WithoutPlaintext), and only
# through DynamoDB (condition key kms:ViaService, AWS KMS developer guide "kms:ViaService").
KEY_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)


class ResponsesTable(Construct):
    """On-demand DynamoDB table, partition key ``pk``, TTL on ``expires_at``, encrypted with ``key`` (the chat API's
    customer-managed key), point-in-time recovery on, deleted with the stack."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.key = key
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Conversations are the callers' data, but disposable by design (they expire); a stack deletion is an
            # explicit decision to drop them, like the logs.
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def grant_store(self, grantee: iam.IGrantable) -> None:
        """Only the item actions the store uses, on this table only, and the key's data actions."""
        iam.Grant.add_to_principal(grantee=grantee, actions=list(ITEM_ACTIONS), resource_arns=[self.table.table_arn])
        region = cdk.Stack.of(self).region
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(KEY_ACTIONS),
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}},
            )
        )
