"""ChatGuardrail: the Amazon Bedrock guardrail the chat API applies to every prompt and answer.

``-c guardrail=create`` defines one in the stack (``AWS::Bedrock::Guardrail`` with the content filters below, and
an ``AWS::Bedrock::GuardrailVersion`` the API pins); ``-c guardrail=<id or ARN>:<version>`` uses an existing one.
Either way the chat Lambda gets ``GUARDRAIL_ID``/``GUARDRAIL_VERSION`` and may call ``bedrock:ApplyGuardrail`` on
that guardrail only (lambda/chat_proxy/chatapi/guardrails.py does the checking; docs/guardrails.md).

Allowed values are CloudFormation's (AWS CloudFormation Template Reference, ``AWS::Bedrock::Guardrail``, checked in
cfn-lint's schema ``aws-bedrock-guardrail.json``): ``Name`` 1-50 of ``[0-9a-zA-Z-_]``; ``BlockedInputMessaging``
and ``BlockedOutputsMessaging`` 1-500 characters; ``ContentPolicyConfig.FiltersConfig`` 1-6 ``ContentFilterConfig``
of ``Type`` SEXUAL | VIOLENCE | HATE | INSULTS | MISCONDUCT | PROMPT_ATTACK with ``InputStrength``/``OutputStrength``
NONE | LOW | MEDIUM | HIGH.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from constructs import Construct

# botocore bedrock-runtime shapes GuardrailIdentifier and GuardrailVersion (ApplyGuardrail's URI members), without
# their empty alternative; the same patterns as cfn-lint's aws-bedrock-guardrailversion.json.
GUARDRAIL_ID = re.compile(r"^[a-z0-9]+$")
GUARDRAIL_ARN = re.compile(r"^arn:aws(-[^:]+)?:bedrock:(?P<region>[a-z0-9-]{1,20}):[0-9]{12}:guardrail/[a-z0-9]+$")
GUARDRAIL_VERSION = re.compile(r"^([1-9][0-9]{0,7}|DRAFT)$")
# Regions with Amazon Bedrock Guardrails ("Supported Regions and models for Amazon Bedrock Guardrails", Amazon
# Bedrock User Guide, guardrails-supported.html; commercial partition), each also publishing the
# AWS::Bedrock::Guardrail resource type (cfn-lint's providers/<region>.json).
GUARDRAIL_REGIONS = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)
# The defaults of -c guardrail=create. HIGH blocks content classified LOW, MEDIUM or HIGH; MEDIUM blocks MEDIUM and
# HIGH ("Configure content filters for Amazon Bedrock Guardrails", Amazon Bedrock User Guide). Hate and sexual
# content are blocked at the lowest confidence; violence, insults and misconduct at MEDIUM so ordinary questions
# (history, medicine, security) still pass. PROMPT_ATTACK looks for jailbreaks and injections in prompts ("Detect
# prompt attacks with Amazon Bedrock Guardrails"), so answers get NONE; MEDIUM, not HIGH, because ApplyGuardrail
# checks every message (system prompts included) and HIGH blocks ordinary imperative prompts (reported in
# aws-samples/sample-autonomous-cloud-coding-agents#56 and psd401/aistudio#728).
DEFAULT_FILTERS: tuple[tuple[str, str, str], ...] = (
    ("HATE", "HIGH", "HIGH"),
    ("SEXUAL", "HIGH", "HIGH"),
    ("VIOLENCE", "MEDIUM", "MEDIUM"),
    ("INSULTS", "MEDIUM", "MEDIUM"),
    ("MISCONDUCT", "MEDIUM", "MEDIUM"),
    ("PROMPT_ATTACK", "MEDIUM", "NONE"),
)
BLOCKED_INPUT = "Sorry, this request was blocked by the service's content guardrail."
BLOCKED_OUTPUT = "Sorry, the answer was blocked by the service's content guardrail."
# ApplyGuardrail list price, us-east-1: content filters (text) USD 0.15 per 1,000 text units; a text unit is up to
# 1,000 characters ("Amazon Bedrock pricing", aws.amazon.com/bedrock/pricing, Guardrails: the price since AWS's
# December 2024 reduction. The copy of that page searched on 2026-12-05 lacked the Guardrails table; the figure was
# taken from pages quoting it. Check it there before relying on it.)
CONTENT_FILTER_USD_PER_1000_UNITS = 0.15


@dataclass(frozen=True)
class GuardrailChoice:
    """``create``, or an existing guardrail's identifier (id or ARN) and version."""

    identifier: str | None = None
    version: str | None = None

    @property
    def create(self) -> bool:
        return self.identifier is None

    @classmethod
    def parse(cls, value: str) -> GuardrailChoice:
        """``create`` or ``<id or ARN>:<version>``; ValueError saying what is allowed."""
        if value == "create":
            return cls()
        identifier, _, version = value.rpartition(":")
        if not (GUARDRAIL_ID.fullmatch(identifier) or GUARDRAIL_ARN.fullmatch(identifier)):
            raise ValueError(
                "expected create, or <guardrail id>:<version> with the id in lower-case letters and digits "
                "(or the guardrail's ARN), e.g. abc123def456:1"
            )
        if not GUARDRAIL_VERSION.fullmatch(version):
            raise ValueError(f"version {version!r} is not a guardrail version: expected 1-99999999 or DRAFT")
        return cls(identifier, version)

    @property
    def region(self) -> str | None:
        """The region an ARN names (a plain id lives in the stack's region)."""
        match = GUARDRAIL_ARN.fullmatch(self.identifier or "")
        return match["region"] if match else None

    def describe(self) -> str:
        return "created in the stack (default content filters)" if self.create else f"{self.identifier} v{self.version}"


class ChatGuardrail(Construct):
    """A Bedrock guardrail (created with DEFAULT_FILTERS, or an existing one) and the grant to apply it."""

    def __init__(self, scope: Construct, construct_id: str, *, choice: GuardrailChoice) -> None:
        super().__init__(scope, construct_id)
        self.choice = choice
        stack = cdk.Stack.of(self)
        if choice.create:
            self.guardrail: bedrock.CfnGuardrail | None = bedrock.CfnGuardrail(
                self,
                "Resource",
                # Unique per stack and region; 1-50 of [0-9a-zA-Z-_].
                name=f"{stack.stack_name[:38]}-chat-guard",
                description="Content filters of the chat API (prompts and answers)",
                blocked_input_messaging=BLOCKED_INPUT,
                blocked_outputs_messaging=BLOCKED_OUTPUT,
                content_policy_config=bedrock.CfnGuardrail.ContentPolicyConfigProperty(
                    filters_config=[
                        bedrock.CfnGuardrail.ContentFilterConfigProperty(
                            type=kind, input_strength=inp, output_strength=out
                        )
                        for kind, inp, out in DEFAULT_FILTERS
                    ]
                ),
            )
            # A numbered version: the API applies a fixed configuration, never the editable DRAFT. Its description
            # lists the filters, so changing them changes it and CloudFormation publishes a new version.
            self.version_resource: bedrock.CfnGuardrailVersion | None = bedrock.CfnGuardrailVersion(
                self,
                "Version",
                guardrail_identifier=self.guardrail.attr_guardrail_id,
                description="filters " + ", ".join(f"{k} {i}/{o}" for k, i, o in DEFAULT_FILTERS),
            )
            self.guardrail_id = self.guardrail.attr_guardrail_id
            self.version = self.version_resource.attr_version
            self.arn = self.guardrail.attr_guardrail_arn
        else:
            assert choice.identifier is not None and choice.version is not None
            self.guardrail = None
            self.version_resource = None
            self.guardrail_id = choice.identifier
            self.version = choice.version
            self.arn = (
                choice.identifier
                if choice.identifier.startswith("arn:")
                else stack.format_arn(service="bedrock", resource="guardrail", resource_name=choice.identifier)
            )
        self._region_rule()

    def _region_rule(self) -> None:
        """A region-agnostic template refuses, before creating anything, regions without Bedrock Guardrails."""
        stack = cdk.Stack.of(self)
        if not cdk.Token.is_unresolved(stack.region):
            return  # a pinned region was checked at synth (stacks/guardrail_config.py)
        cdk.CfnRule(
            self,
            "GuardrailRegion",
            assertions=[
                cdk.CfnRuleAssertion(
                    assert_=cdk.Fn.condition_contains(list(GUARDRAIL_REGIONS), cdk.Aws.REGION),
                    assert_description="-c guardrail needs Amazon Bedrock Guardrails, available in: "
                    + ", ".join(GUARDRAIL_REGIONS),
                )
            ],
        )

    def attach(self, function: lambda_.Function) -> None:
        """Tell the chat Lambda which guardrail to apply, and let it apply that one only."""
        function.add_environment("GUARDRAIL_ID", self.guardrail_id)
        function.add_environment("GUARDRAIL_VERSION", self.version)
        self.grant_apply(function)

    def grant_apply(self, grantee: iam.IGrantable) -> None:
        # Resource type "guardrail", arn:${Partition}:bedrock:${Region}:${Account}:guardrail/${GuardrailId}
        # (Service Authorization Reference, "Actions, resources, and condition keys for Amazon Bedrock":
        # ApplyGuardrail).
        iam.Grant.add_to_principal(grantee=grantee, actions=["bedrock:ApplyGuardrail"], resource_arns=[self.arn])
