"""Issue 11's template-level findings, each as the user's context and the template property (or summary line)."""

from __future__ import annotations

from typing import Any

import pytest

from constructs.facts.regions import LWA_REGIONS
from constructs.facts.sdk_data import resolve_image
from stacks.summary import summary

pytestmark = pytest.mark.xdist_group("synth")


def test_jumpstart_summary_says_the_shape_changed_the_instance_type(synth: Any) -> None:
    text = summary(synth(deployment="jumpstart", region="us-east-1").stack)
    assert (
        "instance     1 x ml.g5.48xlarge (the JumpStart spec's default; the TGI path would use ml.g5.12xlarge: "
        "-c instance_type=ml.g5.12xlarge to keep it)" in text
    )
    chosen = summary(synth(deployment="jumpstart", region="eu-west-1", instance_type="ml.g5.12xlarge").stack)
    assert "instance     1 x ml.g5.12xlarge\n" in chosen


def test_agnostic_tgi_stack_asserts_its_regions_before_creating_anything(default_synth: Any) -> None:
    rule = default_synth.template["Rules"]["SupportedRegion"]
    (assertion,) = rule["Assertions"]
    regions, region_ref = assertion["Assert"]["Fn::Contains"]
    assert region_ref == {"Ref": "AWS::Region"}
    assert regions == sorted(set(resolve_image("huggingface-llm").regions) & set(LWA_REGIONS))
    assert "cn-north-1" not in regions and "us-east-1" in regions
    assert assertion["AssertDescription"].startswith("This stack deploys only to af-south-1, ")


def test_agnostic_jumpstart_stack_names_the_locked_regions_and_the_lock_command(synth: Any) -> None:
    (assertion,) = synth(deployment="jumpstart").template["Rules"]["SupportedRegion"]["Assertions"]
    regions = assertion["Assert"]["Fn::Contains"][0]
    assert regions == ["ap-east-1", "eu-west-1", "us-east-1", "us-west-2"]
    assert (
        "make jumpstart-lock MODEL=huggingface-llm-falcon-40b-instruct-bf16 VERSION='*' REGIONS="
        in (assertion["AssertDescription"])
    )


def test_pinned_region_needs_no_rule(synth: Any) -> None:
    assert "SupportedRegion" not in synth(region="us-east-1").template["Rules"]  # CDK's bootstrap rule only


def test_execution_log_group_is_owned_encrypted_and_created_before_the_stage(default_synth: Any) -> None:
    groups = default_synth.of_type("AWS::Logs::LogGroup")
    ((logical_id, group),) = [
        (k, g) for k, g in groups.items() if "API-Gateway-Execution-Logs_" in str(g["Properties"].get("LogGroupName"))
    ]
    name = group["Properties"]["LogGroupName"]["Fn::Join"][1]
    assert name[0] == "API-Gateway-Execution-Logs_" and name[2] == "/prod"
    assert "KmsKeyId" in group["Properties"] and group["Properties"]["RetentionInDays"] == 30
    assert group["DeletionPolicy"] == "Delete"
    (stage,) = default_synth.of_type("AWS::ApiGateway::Stage").values()
    assert logical_id in stage["DependsOn"]


def test_log_retention_provider_logs_to_an_owned_encrypted_group(default_synth: Any) -> None:
    providers = [
        r
        for k, r in default_synth.of_type("AWS::Lambda::Function").items()
        if k.startswith("LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a")
    ]
    (provider,) = providers
    ref = provider["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    group = default_synth.resources[ref]
    assert "KmsKeyId" in group["Properties"] and group["DeletionPolicy"] == "Delete"


def test_outputs_have_no_duplicate_endpoint_and_name_the_real_sigv4_class(default_synth: Any) -> None:
    outputs = default_synth.template["Outputs"]
    assert not [k for k in outputs if k.startswith("ChatApiEndpoint")]
    example = str(outputs["OpenAiExample"]["Value"])
    assert "SigV4(region=" in example and "SigV4Client" not in example


def test_a_g6e_instance_the_sdk_lacks_synthesizes_with_its_source_in_the_summary(synth: Any) -> None:
    s = synth(instance_type="ml.g6e.12xlarge", region="us-east-1")
    assert s.one("AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]["SM_NUM_GPUS"] == "4"
    text = summary(s.stack)
    assert "gpu facts    https://aws.amazon.com/ec2/instance-types/g6e/" in text
    assert "cost         unknown: no list price on record for ml.g6e.12xlarge" in text


def test_tgi_version_alias_resolves_to_the_pinned_build(synth: Any) -> None:
    image = synth(tgi_version="3.3", region="us-east-1").one("AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    assert image.endswith(":2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04")
