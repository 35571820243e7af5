"""UsageTable: the DynamoDB table of per-caller usage counts the chat proxy's limits keep (chatapi/limits.py)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.compliance.nag import acknowledge, skip_checkov

PARTITION_KEY = "pk"
TTL_ATTRIBUTE = "expires_at"
# What the limits do: conditional UpdateItem (count, take a slot) and conditional DeleteItem (release a slot).
ITEM_ACTIONS = ("dynamodb:UpdateItem", "dynamodb:DeleteItem")

_NO_PITR = (
    "the table holds only disposable counters: token counts reset every UTC day and stream leases expire within "
    "16 minutes, so a point-in-time restore could only bring back stale counts"
)
_AWS_OWNED_KEY = (
    "AWS-owned encryption: the items are token counters keyed by IAM principal ARN or API key id (no prompts, no "
    "secrets); a customer-managed key would add a key policy and per-request KMS cost to every chat request"
)


class UsageTable(Construct):
    """On-demand DynamoDB table, partition key ``pk``, TTL on ``expires_at``, encrypted with an AWS-owned key, no
    point-in-time recovery, deleted with the stack."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.DEFAULT,
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        acknowledge(self.table, {"AwsSolutions::AwsSolutions-DDB3": _NO_PITR})
        skip_checkov(
            self.table.node.default_child,  # type: ignore[arg-type]
            {"CKV_AWS_28": _NO_PITR, "CKV_AWS_119": _AWS_OWNED_KEY},
        )

    def grant_counting(self, grantee: iam.IGrantable) -> iam.Grant:
        """Only the item actions the limits use, on this table only."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(ITEM_ACTIONS), resource_arns=[self.table.table_arn]
        )
