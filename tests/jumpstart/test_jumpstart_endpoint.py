"""JumpStartEndpoint: CloudFormation from the lock (one synth for the whole module), and its synth-time errors."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks
from jumpstart_models import EULA_MODEL, FALCON_40B, FALCON_180B, PACKAGE_MODEL

from constructs.engines.jumpstart_endpoint import (
    MODEL_ID_TAG,
    MODEL_VERSION_TAG,
    JumpStartEndpoint,
    JumpStartModelRef,
    jumpstart_hosting,
)
from constructs.facts.jumpstart_lock import load_locked_model
from constructs.hosting.shape import Hosting

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("synth")]

TGI_TAG = "huggingface-pytorch-tgi-inference:2.1.1-tgi1.4.0-gpu-py310-cu121-ubuntu20.04"
SAGEMAKER_ENDPOINT = "AWS::SageMaker::Endpoint"
PREFIX_40B = "huggingface-llm/huggingface-llm-falcon-40b-instruct-bf16/artifacts/inference-prepack/v1.0.1/"


@dataclass
class Synthesized:
    templates: dict[str, dict[str, Any]]
    report: dict[str, Any]

    def template(self, stack: str) -> Template:
        return Template.from_json(self.templates[stack])

    def one(self, stack: str, cfn_type: str) -> dict[str, Any]:
        found = [r for r in self.templates[stack]["Resources"].values() if r["Type"] == cfn_type]
        assert len(found) == 1, f"{stack}: expected one {cfn_type}, found {len(found)}"
        return dict(found[0]["Properties"])


@pytest.fixture(scope="module")
def synthesized(fixture_lock: Path, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Every variant as its own stack of one app, synthesized (and checked by cdk-nag) once."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(outdir))

    def stack(name: str, region: str | None) -> cdk.Stack:
        return cdk.Stack(app, name, env=cdk.Environment(region=region) if region else None)

    JumpStartEndpoint(stack("UsEast1", "us-east-1"), "Llm")
    eu = stack("EuWest1G512", "eu-west-1")
    locked_eu = load_locked_model(FALCON_40B, "*", ["eu-west-1"])
    endpoint = JumpStartEndpoint(eu, "Llm", hosting=jumpstart_hosting(locked_eu, instance_type="ml.g5.12xlarge"))
    endpoint.grant_invoke(iam.Role(eu, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")))
    JumpStartEndpoint(stack("AnyRegion", None), "Llm")
    JumpStartEndpoint(
        stack("Falcon180B", "us-east-1"), "Llm", model=JumpStartModelRef(model_id=FALCON_180B), lock_path=fixture_lock
    )
    JumpStartEndpoint(
        stack("EulaAccepted", "eu-west-1"),
        "Llm",
        model=JumpStartModelRef(model_id=EULA_MODEL, accept_eula=True),
        lock_path=fixture_lock,
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    templates = {name: json.loads((outdir / f"{name}.template.json").read_text()) for name in _stack_names(app)}
    report = json.loads((outdir / "validation-report.json").read_text())
    return Synthesized(templates, report)


def _stack_names(app: cdk.App) -> list[str]:
    return [child.node.id for child in app.node.children if isinstance(child, cdk.Stack)]


def test_default_model_instance_and_timeouts_come_from_the_lock(synthesized: Synthesized) -> None:
    synthesized.template("UsEast1").has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like(
                    {
                        "InstanceType": "ml.g5.48xlarge",
                        "InitialInstanceCount": 1,
                        "ContainerStartupHealthCheckTimeoutInSeconds": 3600,
                        "ModelDataDownloadTimeoutInSeconds": 3600,
                    }
                )
            ]
        },
    )


def test_model_uses_the_locked_image_uncompressed_artifacts_and_network_isolation(synthesized: Synthesized) -> None:
    model = synthesized.one("UsEast1", "AWS::SageMaker::Model")
    container = model["PrimaryContainer"]
    assert model["EnableNetworkIsolation"] is True
    assert container["Image"] == f"763104351884.dkr.ecr.us-east-1.amazonaws.com/{TGI_TAG}"
    assert container["ModelDataSource"] == {
        "S3DataSource": {
            "S3Uri": f"s3://jumpstart-cache-prod-us-east-1/{PREFIX_40B}",
            "S3DataType": "S3Prefix",
            "CompressionType": "None",
        }
    }
    assert "ModelDataUrl" not in container
    assert container["Environment"]["SM_NUM_GPUS"] == "8"
    assert container["Environment"]["HF_MODEL_ID"] == "/opt/ml/model"


def test_other_supported_instance_type_gets_its_variant_env_in_eu_west_1(synthesized: Synthesized) -> None:
    container = synthesized.one("EuWest1G512", "AWS::SageMaker::Model")["PrimaryContainer"]
    assert container["Image"] == f"763104351884.dkr.ecr.eu-west-1.amazonaws.com/{TGI_TAG}"
    assert container["Environment"]["SM_NUM_GPUS"] == "4"
    assert container["Environment"]["MAX_BATCH_PREFILL_TOKENS"] == "2048"
    variant = synthesized.one("EuWest1G512", "AWS::SageMaker::EndpointConfig")["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.g5.12xlarge"


def test_compressed_artifact_is_a_model_data_url(synthesized: Synthesized) -> None:
    container = synthesized.one("Falcon180B", "AWS::SageMaker::Model")["PrimaryContainer"]
    assert container["ModelDataUrl"] == (
        "s3://jumpstart-cache-prod-us-east-1/huggingface-infer/prepack/v1.2.0/"
        "infer-prepack-huggingface-llm-falcon-180b-bf16.tar.gz"
    )
    assert "ModelDataSource" not in container


def test_accepted_eula_sets_model_access_config_on_the_gated_artifact(synthesized: Synthesized) -> None:
    container = synthesized.one("EulaAccepted", "AWS::SageMaker::Model")["PrimaryContainer"]
    source = container["ModelDataSource"]["S3DataSource"]
    assert source["ModelAccessConfig"] == {"AcceptEula": True}
    assert source["S3Uri"].startswith("s3://jumpstart-private-cache-prod-eu-west-1/")


def test_models_without_eula_carry_no_model_access_config(synthesized: Synthesized) -> None:
    source = synthesized.one("UsEast1", "AWS::SageMaker::Model")["PrimaryContainer"]["ModelDataSource"]
    assert "ModelAccessConfig" not in source["S3DataSource"]


@pytest.mark.parametrize("cfn_type", ["AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", SAGEMAKER_ENDPOINT])
def test_sagemaker_resources_carry_the_jumpstart_console_tags(synthesized: Synthesized, cfn_type: str) -> None:
    tags = synthesized.one("UsEast1", cfn_type)["Tags"]
    assert {"Key": MODEL_ID_TAG, "Value": FALCON_40B} in tags
    assert {"Key": MODEL_VERSION_TAG, "Value": "2.3.22"} in tags


def test_no_physical_names_on_replaceable_resources(synthesized: Synthesized) -> None:
    assert "ModelName" not in synthesized.one("UsEast1", "AWS::SageMaker::Model")
    assert "EndpointConfigName" not in synthesized.one("UsEast1", "AWS::SageMaker::EndpointConfig")
    # The endpoint is named (its execution role names its log group): EndpointName is its only create-only
    # property, so the name never forces a replacement.
    assert synthesized.one("UsEast1", "AWS::SageMaker::Endpoint")["EndpointName"].startswith("UsEast1-")


def _execution_statements(synthesized: Synthesized, stack: str) -> list[dict[str, Any]]:
    policies = [
        r["Properties"]
        for r in synthesized.templates[stack]["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and "ExecutionPolicy" in r["Properties"]["PolicyName"]
    ]
    assert len(policies) == 1
    return list(policies[0]["PolicyDocument"]["Statement"])


def _flat(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def test_execution_role_pulls_only_the_resolved_repository(synthesized: Synthesized) -> None:
    statements = _execution_statements(synthesized, "UsEast1")
    pull = [s for s in statements if "ecr:BatchGetImage" in s["Action"]]
    assert [s["Resource"] for s in pull] == [
        "arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-tgi-inference"
    ]


def test_execution_role_reads_only_the_artifact_prefix(synthesized: Synthesized) -> None:
    statements = _execution_statements(synthesized, "UsEast1")
    s3 = [s for s in statements if any(str(a).startswith("s3:") for a in _as_list(s["Action"]))]
    assert sorted(_flat(s["Action"]) for s in s3) == ['"s3:GetObject"', '"s3:ListBucket"']
    get = next(s for s in s3 if s["Action"] == "s3:GetObject")
    listing = next(s for s in s3 if s["Action"] == "s3:ListBucket")
    assert f":s3:::jumpstart-cache-prod-us-east-1/{PREFIX_40B}*" in _flat(get["Resource"])
    assert _flat(listing["Resource"]).endswith(':s3:::jumpstart-cache-prod-us-east-1"]]}')
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{PREFIX_40B}*"]}}


def test_no_statement_grants_a_wildcard_action_or_s3_on_star(synthesized: Synthesized) -> None:
    for stack in synthesized.templates:
        for statement in _execution_statements(synthesized, stack):
            actions = _as_list(statement["Action"])
            assert not any(a == "*" or a.endswith(":*") for a in actions)
            if statement["Resource"] == "*":
                assert set(actions) <= {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}


def _as_list(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else [value]


def test_grant_invoke_allows_exactly_the_two_invoke_actions_on_this_endpoint(synthesized: Synthesized) -> None:
    template = synthesized.templates["EuWest1G512"]
    endpoint_id = next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::SageMaker::Endpoint")
    caller = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["PolicyName"].startswith("CallerDefaultPolicy")
    ]
    assert caller == [
        [
            {
                "Action": ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
                "Effect": "Allow",
                "Resource": {"Ref": endpoint_id},
            }
        ]
    ]


def test_region_agnostic_stack_maps_every_locked_region(synthesized: Synthesized) -> None:
    template = synthesized.templates["AnyRegion"]
    (mapping,) = template["Mappings"].values()
    assert sorted(mapping) == ["ap-east-1", "eu-west-1", "us-east-1", "us-west-2"]
    assert mapping["ap-east-1"]["imageUri"] == f"871362719292.dkr.ecr.ap-east-1.amazonaws.com/{TGI_TAG}"
    assert mapping["eu-west-1"]["artifactBucket"] == "jumpstart-cache-prod-eu-west-1"
    container = synthesized.one("AnyRegion", "AWS::SageMaker::Model")["PrimaryContainer"]
    assert container["Image"]["Fn::FindInMap"][1:] == [{"Ref": "AWS::Region"}, "imageUri"]
    uri = container["ModelDataSource"]["S3DataSource"]["S3Uri"]
    assert uri["Fn::FindInMap"][1:] == [{"Ref": "AWS::Region"}, "artifactUri"]


def test_cdk_nag_passes_with_reasoned_acknowledgments_only(synthesized: Synthesized) -> None:
    (plugin,) = synthesized.report["pluginReports"]
    assert plugin["conclusion"] == "success", [v["ruleName"] for v in plugin["violations"]]
    assert all(s["reason"].strip() for s in plugin["suppressedViolations"])


# Synth-time errors: raised while constructing, so no synth is needed.


def _new_stack(region: str | None = "us-east-1") -> cdk.Stack:
    return cdk.Stack(cdk.App(), "S", env=cdk.Environment(region=region) if region else None)


def test_eula_model_without_acceptance_fails_naming_the_document(fixture_lock: Path) -> None:
    expected = (
        "requires accepting its end-user license agreement (EULA): https://jumpstart-cache-prod-us-east-1.s3."
        "us-east-1.amazonaws.com/fmhMetadata/eula/fixtureSyntheticEula.txt"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        JumpStartEndpoint(_new_stack(), "Llm", model=JumpStartModelRef(model_id=EULA_MODEL), lock_path=fixture_lock)


def test_unsupported_instance_type_fails_naming_the_supported_ones_and_the_default() -> None:
    expected = (
        f"instance_type 'ml.g5.2xlarge' is not supported by JumpStart model {FALCON_40B} 2.3.22; supported: "
        "ml.g5.12xlarge, ml.g5.24xlarge, ml.g5.48xlarge, ml.p4d.24xlarge (default ml.g5.48xlarge)"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        JumpStartEndpoint(_new_stack(), "Llm", hosting=Hosting(instance_type="ml.g5.2xlarge"))


def test_region_missing_from_the_lock_fails_with_the_command_to_run() -> None:
    expected = (
        f"make jumpstart-lock MODEL={FALCON_40B} VERSION='*' REGIONS=ap-east-1,eu-west-1,us-east-1,us-west-2,ap-south-1"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        JumpStartEndpoint(_new_stack("ap-south-1"), "Llm")


def test_model_package_models_are_refused(fixture_lock: Path) -> None:
    with pytest.raises(ValueError, match="served from a SageMaker model package"):
        JumpStartEndpoint(_new_stack(), "Llm", model=JumpStartModelRef(model_id=PACKAGE_MODEL), lock_path=fixture_lock)
