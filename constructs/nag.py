"""cdk-nag v3 acknowledgments: one place that states, per finding, why it is accepted."""

from __future__ import annotations

import aws_cdk as cdk

from constructs import IConstruct

# CDK's LogRetention provider: one Lambda per stack that sets retention on log groups it does not own.
LOG_RETENTION_PROVIDER_ID = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"


def acknowledge(scope: IConstruct, findings: dict[str, str]) -> None:
    """Acknowledge each `finding id → reason` on `scope` and everything below it."""
    for finding, reason in findings.items():
        cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def rendered_arn(stack: cdk.Stack, service: str, resource: str) -> str:
    """An ARN of this stack as cdk-nag prints it in a finding id (pseudo parameters as <AWS::...>)."""

    def part(value: str, pseudo: str) -> str:
        return f"<AWS::{pseudo}>" if cdk.Token.is_unresolved(value) else value

    return (
        f"arn:{part(stack.partition, 'Partition')}:{service}:{part(stack.region, 'Region')}:"
        f"{part(stack.account, 'AccountId')}:{resource}"
    )


def acknowledge_log_retention_provider(stack: cdk.Stack, *, log_group_pattern: str) -> None:
    """The provider's role is CDK's; its log-group statement names `log_group_pattern`."""
    provider = stack.node.try_find_child(LOG_RETENTION_PROVIDER_ID)
    if provider is None:
        return
    acknowledge(
        provider,
        {
            "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]": "CDK's LogRetention provider writes only its own logs with the "
            "basic execution policy; it is CDK-owned code we do not fork",
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]": "CDK's LogRetention provider: logs:PutRetentionPolicy"
            " and logs:DeleteRetentionPolicy are granted by CDK on *; the provider only touches log groups it is "
            "given",
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered_arn(stack, 'logs', log_group_pattern)}]": "log streams of one log group whose name is generated at deploy "
            "time; the log group itself is named exactly",
        },
    )
