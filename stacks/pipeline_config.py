"""Context keys of the CDK Pipelines option (-c pipeline=true), parsed and cross-checked for stacks/config.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# CodeConnections ARNs, and the older CodeStar Connections ones that CodePipeline still accepts
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html).
CONNECTION_ARN = re.compile(
    r"^arn:aws[\w-]*:(codeconnections|codestar-connections):[a-z]{2,4}(-[a-z]+)+-\d{1,2}:\d{12}:connection/[0-9a-f-]{36}$"
)
# owner/name (GitHub, Bitbucket) or group/subgroup/name (GitLab).
REPO = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)+$")
# A safe subset of git-check-ref-format: no "..", no leading "-" or "/", no trailing "/", "." or ".lock".
BRANCH = re.compile(r"^(?![-/])(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,200}(?<![/.])(?<!\.lock)$")


def _error(message: str) -> ValueError:
    from stacks.config import ConfigError  # stacks.config imports this module: resolve at call time

    return ConfigError(message)


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise _error(f"context key {key!r}: {value!r} is not allowed; expected {what}")
        return value

    return parse


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _error(f"context key {key!r}: {value!r} is not allowed; expected true or false")


PIPELINE_KEYS: dict[str, tuple[Callable[[str, Any], Any], str]] = {
    "pipeline_connection_arn": (
        _pattern(
            CONNECTION_ARN,
            "a CodeConnections connection ARN (arn:aws:codeconnections:<region>:<account>:connection/<id>)",
        ),
        "pipeline source: CodeConnections connection ARN",
    ),
    "pipeline_repo": (_pattern(REPO, "a repository as owner/name"), "pipeline source repository, owner/name"),
    "pipeline_branch": (_pattern(BRANCH, "a git branch name"), "pipeline source branch (default main)"),
    # Off by default: self-mutation deploys the pipeline stack (its IAM roles included) with the CDK deploy role
    # from whatever the branch holds; docs/pipeline.md explains the trade-off.
    "pipeline_self_mutation": (
        _bool,
        "pipeline updates itself from the branch, after the manual approval (default false: update it with "
        "make deploy)",
    ),
}


def check_pipeline(values: dict[str, Any]) -> None:
    """With pipeline=true the source and the target account/region are required; without it, no pipeline keys."""
    given = sorted(k for k in PIPELINE_KEYS if k in values)
    if not values.get("pipeline"):
        if given:
            raise _error(f"context key(s) {', '.join(map(repr, given))} need -c pipeline=true")
        return
    missing = [k for k in ("pipeline_connection_arn", "pipeline_repo", "account", "region") if k not in values]
    if missing:
        raise _error(
            f"context key 'pipeline': true requires {', '.join(map(repr, missing))}: CDK Pipelines deploy to one "
            "account and region, and read the source through a CodeConnections connection "
            "(e.g. -c pipeline_connection_arn=arn:aws:codeconnections:us-east-1:123456789012:connection/<id> "
            "-c pipeline_repo=owner/name -c account=123456789012 -c region=us-east-1)"
        )
