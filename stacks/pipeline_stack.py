"""-c pipeline=true: a CDK Pipelines stack that builds this app with `make synth-locked` (hash-locked Python, the CDK
CLI from package-lock.json) from a CodeConnections source, waits for a manual approval, and only then updates
itself (opt-in), publishes assets and deploys to one account/region. docs/pipeline.md has the threat model."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as codepipeline_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines

from constructs import Construct
from constructs.compliance.nag import acknowledge, ignore_cfn_lint, skip_checkov
from stacks.config import AppConfig
from stacks.llm_chat_stack import LlmChatStack

ROOT = Path(__file__).resolve().parent.parent
# cdk-assets, which CDK Pipelines' asset-publishing projects install with `npm install -g cdk-assets@<version>`
# (default `latest`: aws-cdk-lib pipelines, CodePipelineProps.cdkAssetsCliVersion). 4.7.3 is the npm registry's
# latest on 2026-12-05 and has no dependencies (`npm view cdk-assets@4.7.3 dependencies` is empty: the package is
# bundled), so the exact version fixes every byte it runs; npm never lets a published version change
# (npm docs, "npm-unpublish": a name@version can never be reused).
CDK_ASSETS_VERSION = "4.7.3"
# The Python that requirements-synth.lock is built for (tools/synth_lock.py) and the Node.js of the CDK CLI;
# both are CodeBuild Ubuntu standard:7.0 runtimes ("Available runtimes", AWS CodeBuild User Guide).
SYNTH_RUNTIMES = {"python": "3.12", "nodejs": "22"}


def cdk_cli_version() -> str:
    """The CDK CLI pinned in package.json: self-mutation and asset publishing use the same one as `make synth`."""
    return str(json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"])


def synth_arguments(context: Mapping[str, Any]) -> str:
    """The `-c key=value` arguments that make the pipeline's `make synth` see the same configuration."""
    args = []
    for key, value in sorted(context.items()):
        if value is None:
            continue
        text = (
            json.dumps(value)
            if isinstance(value, dict | list)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )
        args.append(f"-c {shlex.quote(f'{key}={text}')}")
    return " ".join(args)


class LlmChatStage(cdk.Stage):
    """The app's stack as a deployable stage; the stack keeps its name, so outputs and `make chat` find it."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, env: cdk.Environment) -> None:
        super().__init__(scope, construct_id, env=env)
        self.stack = LlmChatStack(self, config.stack_name, config=config, stack_name=config.stack_name)


class PipelineStack(cdk.Stack):
    """CodePipeline (V2) of CDK Pipelines: source → `make synth` → self-update → assets → approval → deploy."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        synth_context: Mapping[str, Any],
        env: cdk.Environment,
    ) -> None:
        super().__init__(
            scope, construct_id, env=env, description="Deploys the LLM chat app from source (CDK Pipelines)"
        )
        assert config.pipeline_repo and config.pipeline_connection_arn
        self.artifact_key = kms.Key(
            self,
            "ArtifactKey",
            description="Encrypts the LLM chat pipeline's artifacts",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
        )
        self.artifact_bucket = s3.Bucket(
            self,
            "Artifacts",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.artifact_key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=True,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(30))],
            removal_policy=cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=False,
        )
        source = pipelines.CodePipelineSource.connection(
            config.pipeline_repo, config.pipeline_branch, connection_arn=config.pipeline_connection_arn
        )
        # Only what synth needs, hash-locked (requirements-synth.lock; no pip upgrade, no dev tools), and the CDK
        # CLI from package-lock.json with `npm ci`: see the Makefile's synth-locked target.
        self.synth_command = f"make synth-locked CDK_ARGS={shlex.quote(synth_arguments(synth_context))}"
        synth = pipelines.CodeBuildStep(
            "Synth",
            input=source,
            commands=[self.synth_command],
            primary_output_directory="cdk.out",
            partial_build_spec=codebuild.BuildSpec.from_object(
                {"phases": {"install": {"runtime-versions": dict(SYNTH_RUNTIMES)}}}
            ),
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            synth=synth,
            artifact_bucket=self.artifact_bucket,
            pipeline_type=cdk.aws_codepipeline.PipelineType.V2,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_7_0)
            ),
            publish_assets_in_parallel=False,
            cli_version=cdk_cli_version(),
            cdk_assets_cli_version=CDK_ASSETS_VERSION,
            # Self-mutation runs `cdk deploy <pipeline stack>` with the CDK deploy role: whoever can push to the
            # branch could change the pipeline's own IAM roles. Off unless asked for, and then after the approval.
            self_mutation=config.pipeline_self_mutation,
        )
        self.stage = LlmChatStage(self, "Deploy", config=config, env=env)
        self.pipeline.add_stage(self.stage)
        self.pipeline.build_pipeline()
        self.approval = self._approve_before_changes(
            f"Deploy {config.stack_name} ({config.model.hf_model_id} on {config.instance_type}) from "
            f"{config.pipeline_repo}@{config.pipeline_branch}: this can change IAM roles"
            + (", this pipeline itself" if config.pipeline_self_mutation else "")
            + ", the SageMaker endpoint and its hourly cost. Review the commit and `make diff` first."
        )
        self._acknowledge()

    def _approve_before_changes(self, summary: str) -> codepipeline_actions.ManualApprovalAction:
        """A manual approval stage right after Build: before self-mutation (if on), asset publishing and the
        deployment, so nothing built from the branch reaches a role that can change IAM before a person agrees.

        CDK Pipelines offers approvals only as a stage's pre/post steps, which come after its UpdatePipeline and
        Assets stages; the CodePipeline L2 places a stage anywhere (aws-cdk-lib aws_codepipeline,
        Pipeline.addStage with StagePlacement.justAfter)."""
        build = next(stage for stage in self.pipeline.pipeline.stages if stage.stage_name == "Build")
        action = codepipeline_actions.ManualApprovalAction(action_name="ApproveChange", additional_information=summary)
        self.pipeline.pipeline.add_stage(
            stage_name="Approve", actions=[action], placement=codepipeline.StagePlacement(just_after=build)
        )
        return action

    def _project_id(self, project: codebuild.IProject) -> str:
        child = project.node.default_child
        assert isinstance(child, cdk.CfnElement)
        return str(self.resolve(self.get_logical_id(child)))

    def _acknowledge(self) -> None:
        """cdk-nag findings on what CDK Pipelines generates, each with why it is acceptable."""
        region, account = self.region, self.account
        bucket_id = self.resolve(self.get_logical_id(self.artifact_bucket.node.default_child))  # type: ignore[arg-type]
        own_bucket = (
            "CDK Pipelines' grant on its own artifact bucket (read/write of pipeline artifacts): the actions are "
            "scoped to this one KMS-encrypted, TLS-only, non-public bucket and its objects"
        )
        own_key = "encrypt/decrypt grant on the pipeline's own artifact key only (kms:GenerateDataKey*/ReEncrypt*)"
        findings = {
            f"AwsSolutions::AwsSolutions-IAM5[Action::{action}]": own_bucket
            for action in ("s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*")
        }
        findings[f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]"] = own_bucket
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            findings[f"AwsSolutions::AwsSolutions-IAM5[Action::{action}]"] = own_key
        projects = [self.pipeline.synth_project]
        if self.pipeline.self_mutation_enabled:
            projects.append(self.pipeline.self_mutation_project)
        for project in projects:
            name = self._project_id(project)
            own_logs = (
                "CodeBuild writes log streams and test reports named per build under its own project's log group "
                "and report-group prefix; the stream and report names exist only at build time"
            )
            findings[
                f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:logs:{region}:{account}:log-group:/aws/codebuild/<{name}>:*]"
            ] = own_logs
            findings[
                f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:codebuild:{region}:{account}:report-group/<{name}>-*]"
            ] = own_logs
        iam5 = "AwsSolutions::AwsSolutions-IAM5"
        findings.update(
            {
                f"{iam5}[Resource::arn:aws:logs:{region}:{account}:log-group:/aws/codebuild/*]": (
                    "CDK Pipelines creates one asset-publishing CodeBuild project per asset; their shared role "
                    "writes their logs under /aws/codebuild/ in this account and region only"
                ),
                f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:codebuild:{region}:{account}:report-group/*]": (
                    "asset-publishing CodeBuild projects (one per asset, generated) write reports in this account "
                    "and region only"
                ),
                f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:*:iam::{account}:role/*]": (
                    "self-mutation and asset publishing assume only the CDK bootstrap roles: the statement is "
                    "conditioned on iam:ResourceTag/aws-cdk:bootstrap-role (deploy, file- and image-publishing)"
                ),
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]": (
                    "cloudformation:DescribeStacks/s3:ListBucket (self-mutation reads the bootstrap stack and "
                    "bucket before assuming its roles) and codebuild Start/Stop/BatchGetBuilds for the generated "
                    "asset projects, which CDK Pipelines does not scope further"
                ),
                "AwsSolutions::AwsSolutions-S1": (
                    "the artifact bucket holds only this pipeline's build outputs, readable only by its own roles "
                    "(KMS-encrypted, TLS-only, public access blocked); server access logs would need a second bucket"
                ),
            }
        )
        acknowledge(self, findings)
        skip_checkov(
            self.artifact_bucket.node.default_child,  # type: ignore[arg-type]
            {"CKV_AWS_18": findings["AwsSolutions::AwsSolutions-S1"]},
        )
        for node in self.node.find_all():
            if isinstance(node, cdk.aws_iam.CfnPolicy) and "/Assets/FileRole/" in node.node.path:
                skip_checkov(
                    node,
                    {
                        "CKV_AWS_111": "codebuild:StartBuild/StopBuild/BatchGetBuilds on the asset-publishing "
                        "projects CDK Pipelines generates (it does not scope them); no data-plane write access"
                    },
                )
        pipeline = self.pipeline.pipeline.node.default_child
        assert isinstance(pipeline, cdk.CfnResource)
        ignore_cfn_lint(
            pipeline, "W3005", "CDK's Pipeline depends on its role explicitly as well as through GetAtt Role.Arn"
        )
        ignore_cfn_lint(
            pipeline,
            "E3703",
            "CDK Pipelines renders the deploy action's role ARN with Fn::Join; Fn::Sub would be the same string",
        )
