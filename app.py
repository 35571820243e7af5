#!/usr/bin/env python3
"""CDK entry point: read context once into a validated AppConfig, build the stack, check it, synthesize."""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.config import AppConfig, ConfigError, from_context
from stacks.llm_chat_stack import LlmChatStack
from stacks.summary import summary


def build(app: cdk.App) -> tuple[AppConfig, LlmChatStack]:
    config = from_context(app.node.get_all_context())
    env = cdk.Environment(account=config.account, region=config.region) if config.region else None
    stack = LlmChatStack(app, config.stack_name, config=config, env=env)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return config, stack


def main() -> None:
    app = cdk.App()
    try:
        _, stack = build(app)
    except (ConfigError, ValueError) as err:
        # A configuration mistake is the user's to fix: say what, without a Python traceback.
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    print(summary(stack), file=sys.stderr)
    app.synth()


if __name__ == "__main__":
    main()
