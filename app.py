#!/usr/bin/env python3
"""CDK entry point: read context once into a validated AppConfig, build the stack, check it, synthesize."""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.config import CONTEXT_KEYS, AppConfig, ConfigError, from_context
from stacks.llm_chat_stack import LlmChatStack
from stacks.summary import summary


def build(app: cdk.App) -> tuple[AppConfig, LlmChatStack]:
    context = app.node.get_all_context()
    config = from_context(context)
    env = cdk.Environment(account=config.account, region=config.region) if config.region else None
    if config.pipeline:
        from stacks.pipeline_stack import PipelineStack

        assert env is not None  # from_context requires account and region with pipeline=true
        ours = {k: v for k, v in context.items() if k in CONTEXT_KEYS}
        pipeline = PipelineStack(app, f"{config.stack_name}Pipeline", config=config, synth_context=ours, env=env)
        stack = pipeline.stage.stack
    else:
        stack = LlmChatStack(app, config.stack_name, config=config, env=env)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return config, stack


def main() -> None:
    app = cdk.App()
    try:
        config, stack = build(app)
    except (ConfigError, ValueError) as err:
        # A configuration mistake is the user's to fix: say what, without a Python traceback.
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    print(summary(stack), file=sys.stderr)
    if config.pipeline:
        print(
            f"pipeline     {config.stack_name}Pipeline: {config.pipeline_repo}@{config.pipeline_branch} → make synth "
            f"→ manual approval → deploy {config.stack_name} to {config.account}/{config.region}",
            file=sys.stderr,
        )
    app.synth()


if __name__ == "__main__":
    main()
