"""Data capture: the endpoint writes every request and response (prompts and answers) to an encrypted bucket."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from constructs.compliance.nag import acknowledge, skip_checkov
from constructs.private.keys import grant_via_services

CAPTURE_PREFIX = "capture"
# The bodies the chat proxy sends and TGI/vLLM answer; SageMaker stores them as text instead of base64.
JSON_CONTENT_TYPES = ["application/json"]
# What returns a captured object's content (Service Authorization Reference, Amazon S3).
READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectVersionForReplication")


class DataCapture(Construct):
    """A capture bucket (SSE-KMS with `key`, TLS only, no public access, versioned, expiry after `days`) and its
    server-access-log bucket; `config()` is the EndpointConfig's DataCaptureConfig, `grant_write` the role's rights.

    Both buckets are retained on `cdk destroy`: they hold the only record of what the model was asked.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, days: int, readers: Sequence[str] = ()
    ) -> None:
        super().__init__(scope, construct_id)
        self.key, self.days, self.readers = key, days, tuple(readers)
        # S3 server access logging cannot deliver to an SSE-KMS bucket (S3 user guide, "Enabling Amazon S3
        # server access logging": the target must use SSE-S3), so the log bucket uses S3-managed keys.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=cdk.Duration.days(days), noncurrent_version_expiration=cdk.Duration.days(1))
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="capture-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(expiration=cdk.Duration.days(days), noncurrent_version_expiration=cdk.Duration.days(1))
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self._only_readers_get_objects()
        acknowledge(
            self.access_logs,
            {
                "AwsSolutions-S1": "this is the server-access-log bucket of the capture bucket; logging it into "
                "itself would loop",
            },
        )
        log_bucket = self.access_logs.node.default_child
        assert isinstance(log_bucket, cdk.CfnResource)
        skip_checkov(
            log_bucket,
            {
                "CKV_AWS_18": "this is the access-log bucket itself; logging it into itself would loop",
                "CKV_AWS_145": "S3 server access logs can only be delivered to SSE-S3 buckets, not SSE-KMS",
            },
        )

    def _only_readers_get_objects(self) -> None:
        """Captured prompts are readable only by the principals named in `readers` (none: nobody), whatever their
        IAM policies say: an explicit Deny in a bucket policy wins over any Allow ("Policy evaluation logic", IAM
        User Guide). aws:PrincipalArn is the role's ARN for an assumed-role session ("AWS global condition context
        keys"). The actions are those that return object content (GetObject also covers S3 Select and copies
        made by Batch Operations; GetObjectVersionForReplication covers replication): "Actions, resources, and
        condition keys for Amazon S3", Service Authorization Reference. Changing the list is a bucket-policy
        change (a redeploy with -c capture_readers=...), which CloudTrail records."""
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyNamedReadersGetCapturedData",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(READ_ACTIONS),
                resources=[self.bucket.arn_for_objects("*")],
                conditions={"ArnNotLike": {"aws:PrincipalArn": list(self.readers)}} if self.readers else None,
            )
        )

    @property
    def destination(self) -> str:
        return f"s3://{self.bucket.bucket_name}/{CAPTURE_PREFIX}"

    def config(self) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
        # Options and content types as in the CreateEndpointConfig API reference (DataCaptureConfig).
        return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
            enable_capture=True,
            initial_sampling_percentage=100,
            destination_s3_uri=self.destination,
            kms_key_id=self.key.key_arn,
            capture_options=[
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
            ],
            capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                json_content_types=JSON_CONTENT_TYPES
            ),
        )

    def grant_write(self, policy: iam.Policy) -> None:
        """The execution role may put objects under the capture prefix only, encrypting with the key via S3."""
        policy.add_statements(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.bucket.arn_for_objects(f"{CAPTURE_PREFIX}/*")]
            )
        )
        grant_via_services(policy, self.key.key_arn, ["kms:GenerateDataKey", "kms:Encrypt"], ["s3"])
        stack = cdk.Stack.of(self)
        bucket = self.bucket.node.default_child
        assert isinstance(bucket, cdk.CfnResource)
        logical_id = stack.resolve(stack.get_logical_id(bucket))
        acknowledge(
            policy,
            {
                f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{CAPTURE_PREFIX}/*]": "SageMaker "
                "writes one object per capture file with generated names; the role may only put objects under "
                "the capture prefix of this one bucket",
            },
        )
