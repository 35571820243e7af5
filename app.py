#!/usr/bin/env python3
"""CDK entry point: read context once into a validated AppConfig, build the stack, check it, synthesize."""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.config import CONTEXT_KEYS, AppConfig, ConfigError, from_context, identity_from_context
from stacks.llm_chat_stack import LlmChatStack
from stacks.summary import summary


def build(app: cdk.App) -> tuple[AppConfig, LlmChatStack]:
    context = app.node.get_all_context()
    config = from_context(context)
    # account alone pins the account (the CLI refuses other credentials); the region stays agnostic.
    env = cdk.Environment(account=config.account, region=config.region) if config.region or config.account else None
    if config.pipeline:
        from stacks.pipeline_stack import PipelineStack

        assert env is not None  # from_context requires account and region with pipeline=true
        ours = {k: v for k, v in context.items() if k in CONTEXT_KEYS}
        pipeline = PipelineStack(app, f"{config.stack_name}Pipeline", config=config, synth_context=ours, env=env)
        stack = pipeline.stage.stack
    else:
        stack = LlmChatStack(app, config.stack_name, config=config, env=env)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    if config.cfn_validation:
        # The validator CDK registers by default (same rules), asked for; cdk.json makes its findings errors.
        cdk.Validations.of(app).add_plugins(cdk.CloudFormationValidatePlugin())
    return config, stack


def new_app(**props: object) -> cdk.App:
    """The App `cdk synth` runs: CDK's built-in CloudFormation validator off unless `-c cfn_validation=true`.

    That validator builds its rule engine on every synth (about 3 s of a 4-7 s synth on a 2-core machine). Every
    shape `make test` synthesizes (each one the docs describe) runs it, strict: an error or a warning fails the test
    (tests/conftest.py), beside cfn-lint, checkov and cdk-nag.
    """
    return cdk.App(builtin_cloud_formation_validation=False, **props)  # type: ignore[arg-type]


def is_stack_operation(app: cdk.App) -> bool:
    """True when the CLI runs the app for a command that only needs stack names (destroy, list, ...).

    The CLI sets `aws:cdk:bundling-stacks` to [] for every command that does not deploy or diff (the
    BUNDLING_COMMANDS of aws-cdk's CLI: deploy, diff, synth, watch, import, publish-assets, refactor).
    """
    return app.node.try_get_context("aws:cdk:bundling-stacks") == []


def main() -> None:
    app = new_app()
    if is_stack_operation(app):
        # `cdk destroy` must work whatever the model config was (or has become): only the stack's name and
        # environment matter to it.
        try:
            name, env = stack_identity(app.node.get_all_context())
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(1)
        cdk.Stack(app, name, env=env, description="LLM chat endpoint (identity only, for destroy/list)")
        if str(app.node.try_get_context("pipeline")).lower() == "true":
            # With -c pipeline=true the app's own stack is the pipeline; the endpoint stack is the pipeline's
            # deployment of the same name. List both so `cdk destroy --all` removes both.
            cdk.Stack(app, f"{name}Pipeline", env=env, description="LLM chat pipeline (identity only)")
        app.synth()
        return
    try:
        config, stack = build(app)
    except (ConfigError, ValueError) as err:
        # A configuration mistake is the user's to fix: say what, without a Python traceback.
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    print(summary(stack), file=sys.stderr)
    if config.pipeline:
        print(
            f"pipeline     {config.stack_name}Pipeline: {config.pipeline_repo}@{config.pipeline_branch} → make "
            f"synth-locked → manual approval → {'update itself → ' if config.pipeline_self_mutation else ''}"
            f"deploy {config.stack_name} to {config.account}/{config.region}",
            file=sys.stderr,
        )
    app.synth()


def stack_identity(context: dict[str, object]) -> tuple[str, cdk.Environment | None]:
    name, region, account = identity_from_context(context)
    return name, cdk.Environment(account=account, region=region) if region or account else None


if __name__ == "__main__":
    main()
