"""Accepted findings of the validators (cdk-nag v3, checkov, cfn-lint): one place, each with its reason."""

from __future__ import annotations

import aws_cdk as cdk

from constructs import IConstruct

# CDK's LogRetention provider: one Lambda per stack that sets retention on log groups it does not own.
LOG_RETENTION_PROVIDER_ID = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"


def acknowledge(scope: IConstruct, findings: dict[str, str]) -> None:
    """Acknowledge each `finding id → reason` on `scope` and everything below it."""
    for finding, reason in findings.items():
        cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def skip_checkov(resource: cdk.CfnResource, checks: dict[str, str]) -> None:
    """checkov reads `Metadata.checkov.skip`; each skip carries its reason as the comment."""
    metadata = resource.get_metadata("checkov") or {"skip": []}
    metadata["skip"] += [{"id": check, "comment": reason} for check, reason in checks.items()]
    resource.add_metadata("checkov", metadata)


def ignore_cfn_lint(resource: cdk.CfnResource, rule: str, reason: str) -> None:
    """cfn-lint reads `Metadata.cfn-lint.config.ignore_checks`; the reason sits beside it for reviewers."""
    config = resource.get_metadata("cfn-lint") or {"config": {"ignore_checks": []}}
    config["config"]["ignore_checks"].append(rule)
    resource.add_metadata("cfn-lint", config)
    reasons = resource.get_metadata("cfn-lint-reasons") or {}
    resource.add_metadata("cfn-lint-reasons", {**reasons, rule: reason})


# CDK's Function adds DependsOn on its role although Role.Arn is already referenced (cfn-lint W3005).
REDUNDANT_ROLE_DEPENDENCY = "CDK's Function depends on its role explicitly as well as through GetAtt Role.Arn"


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
    function = provider.node.default_child
    assert isinstance(function, cdk.CfnResource)
    if function.get_metadata("checkov") is None:
        ignore_cfn_lint(function, "W3005", REDUNDANT_ROLE_DEPENDENCY)
        skip_checkov(
            function,
            {
                "CKV_AWS_116": "CDK's LogRetention provider runs synchronously inside CloudFormation: no DLQ",
                "CKV_AWS_117": "CDK's LogRetention provider only calls the CloudWatch Logs API: no VPC",
                "CKV_AWS_115": "CDK's LogRetention provider runs once per deployment: no concurrency limit",
            },
        )
        policy = provider.node.find_child("ServiceRole").node.find_child("DefaultPolicy").node.default_child
        assert isinstance(policy, cdk.CfnResource)
        skip_checkov(
            policy,
            {"CKV_AWS_111": "logs:PutRetentionPolicy/DeleteRetentionPolicy have CDK's * resource; see IAM5 ack"},
        )
    acknowledge(
        provider,
        {
            "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]": "CDK's LogRetention provider writes only its own logs with the "
            "basic execution policy; it is CDK-owned code we do not fork",
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]": "CDK's LogRetention provider: logs:PutRetentionPolicy"
            " and logs:DeleteRetentionPolicy are granted by CDK on *; the provider only touches log groups it is "
            "given",
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered_arn(stack, 'logs', log_group_pattern)}]": (
                "log streams of one log group whose name is generated at deploy time"
            ),
        },
    )
