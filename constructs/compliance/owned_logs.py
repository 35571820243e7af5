"""Log groups that AWS services would otherwise create outside the template: owned here, so `cdk destroy` removes
them and they get the stack's retention and KMS key like every other log group.

* API Gateway writes execution logs to `API-Gateway-Execution-Logs_{rest-api-id}/{stage}` and creates that group
  itself (no retention, no key) if it does not exist (API Gateway developer guide, "Set up CloudWatch logging
  for REST APIs in API Gateway": "API Gateway ... creates a log group named API-Gateway-Execution-Logs_{rest-api-id}
  /{stage_name}"). Created in the template before the stage, it is ours.
* CDK's LogRetention provider is a Lambda function that would log to `/aws/lambda/<its name>`, created by Lambda
  on first invocation. Its `LoggingConfig.LogGroup` points it at a group of ours instead (Lambda's advanced
  logging controls: AWS::Lambda::Function LoggingConfig.LogGroup).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from constructs.compliance.nag import LOG_RETENTION_PROVIDER_ID


def own_execution_log_group(
    api: apigw.RestApi,
    *,
    stage_name: str,
    key: kms.IKey,
    retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
) -> logs.LogGroup:
    """The stage's execution-log group, created (encrypted, with retention) before the stage can create it.

    `stage_name` is the literal name: the stage's own `stage_name` attribute is a Ref to the stage, which would
    make the group depend on the stage it must precede.
    """
    stage = api.deployment_stage
    name = f"API-Gateway-Execution-Logs_{api.rest_api_id}/{stage_name}"
    allow_logs_to_use(key, name)
    group = logs.LogGroup(
        api,
        "ExecutionLogs",
        log_group_name=name,
        encryption_key=key,
        retention=retention,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    stage.node.add_dependency(group)
    return group


def allow_logs_to_use(key: kms.IKey, log_group_name: str) -> None:
    """Let CloudWatch Logs use `key` for the log group(s) `log_group_name` names (may end in `*`): the key policy
    CloudWatch Logs documents, narrowed by the `kms:EncryptionContext:aws:logs:arn` condition."""
    stack = cdk.Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.{stack.url_suffix}")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=log_group_name,
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )


def own_log_retention_logs(
    stack: cdk.Stack,
    *,
    key: kms.IKey,
    name: str,
    retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
) -> logs.LogGroup | None:
    """Point CDK's LogRetention provider function at an encrypted log group of ours (None: no provider)."""
    provider = stack.node.try_find_child(LOG_RETENTION_PROVIDER_ID)
    if provider is None:
        return None
    function = provider.node.default_child
    assert isinstance(function, cdk.CfnResource)
    group = logs.LogGroup(
        stack,
        "LogRetentionProviderLogs",
        # Named under the chat API's log prefix, which its key policy already lets CloudWatch Logs use.
        log_group_name=name,
        encryption_key=key,
        retention=retention,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    # The function references the group, so CloudFormation creates the group first and deletes it last, after
    # the LogRetention custom resources have run their delete handlers.
    function.add_property_override("LoggingConfig", {"LogGroup": group.log_group_name, "LogFormat": "JSON"})
    return group
