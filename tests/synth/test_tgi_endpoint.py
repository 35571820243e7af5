"""Fine-grained assertions on what TgiEndpoint and the stack emit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from constructs.facts.sdk_data import image_versions, resolve_image

pytestmark = pytest.mark.xdist_group("synth")

NEWEST = image_versions("huggingface-llm")[-1]


def _stack(region: str | None = None) -> tuple[Any, Any]:
    import aws_cdk as cdk

    app = cdk.App()
    env = cdk.Environment(region=region) if region else None
    return app, cdk.Stack(app, "Test", env=env)


def test_model_environment_is_the_original_guides(default_synth: Any) -> None:
    env = default_synth.one("AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    assert env == {
        "HF_MODEL_ID": "tiiuae/falcon-40b-instruct",
        "HF_MODEL_REVISION": "ecb78d97ac356d098e79f0db222c9ce7c5d9ee5f",  # the original guide's plus the pin
        "SM_NUM_GPUS": "4",
        "MAX_INPUT_TOKENS": "1024",
        "MAX_TOTAL_TOKENS": "2048",
        "MAX_BATCH_PREFILL_TOKENS": "4096",
    }


def test_region_agnostic_stack_maps_every_sdk_region(default_synth: Any) -> None:
    image = default_synth.one("AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    assert image["Fn::FindInMap"][1:] == [{"Ref": "AWS::Region"}, "uri"]
    mapping = default_synth.template["Mappings"][image["Fn::FindInMap"][0]]
    family = resolve_image("huggingface-llm")
    assert sorted(mapping) == family.regions
    assert mapping["us-east-1"]["uri"] == family.in_region("us-east-1").uri
    assert mapping["cn-north-1"]["uri"].startswith("727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/")
    assert all(f"-tgi{NEWEST}-" in v["uri"] for v in mapping.values())


@pytest.mark.parametrize(
    ("region", "account"),
    [
        ("us-east-1", "763104351884"),
        ("eu-west-1", "763104351884"),
        ("ap-east-1", "871362719292"),
        ("af-south-1", "626614931356"),
    ],
)
def test_concrete_region_gets_a_literal_pinned_image(synth: Any, region: str, account: str) -> None:
    s = synth(region=region)
    image = s.one("AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    assert (
        image
        == f"{account}.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-tgi-inference:"
        + resolve_image("huggingface-llm").tag
    )
    assert "Mappings" not in s.template
    (policy,) = [
        p["Properties"] for k, p in s.of_type("AWS::IAM::Policy").items() if k.startswith("LlmExecutionPolicy")
    ]
    ecr = [st for st in policy["PolicyDocument"]["Statement"] if "ecr:BatchGetImage" in st["Action"]]
    assert ecr[0]["Resource"].endswith(f":ecr:{region}:{account}:repository/huggingface-pytorch-tgi-inference")


def test_original_guide_tgi_093_uses_the_old_input_length_name(synth: Any) -> None:
    s = synth(tgi_version="0.9.3", region="us-east-1")
    container = s.one("AWS::SageMaker::Model")["PrimaryContainer"]
    assert container["Image"].endswith(":2.0.1-tgi0.9.3-gpu-py39-cu118-ubuntu20.04")
    assert container["Environment"]["MAX_INPUT_LENGTH"] == "1024"
    assert "MAX_INPUT_TOKENS" not in container["Environment"]


def test_endpoint_config_hosts_one_g5_12xlarge_with_health_check(default_synth: Any) -> None:
    from aws_cdk.assertions import Match

    default_synth.assertions().has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_equals(
                    {
                        "VariantName": "AllTraffic",
                        "InstanceType": "ml.g5.12xlarge",
                        "InitialInstanceCount": 1,
                        "InitialVariantWeight": 1,
                        "ContainerStartupHealthCheckTimeoutInSeconds": 600,
                        "ModelName": {"Fn::GetAtt": [Match.any_value(), "ModelName"]},
                    }
                )
            ]
        },
    )


def test_no_physical_names_and_everything_is_deleted_with_the_stack(default_synth: Any) -> None:
    # The endpoint alone is named (test_the_endpoint_name_fits_cloudformations_endpoint_name_pattern): its name
    # is its only create-only property, and its execution role names its log group.
    for cfn_type, name_key in [
        ("AWS::SageMaker::Model", "ModelName"),
        ("AWS::SageMaker::EndpointConfig", "EndpointConfigName"),
        ("AWS::SageMaker::Endpoint", None),
    ]:
        (resource,) = default_synth.of_type(cfn_type).values()
        assert name_key is None or name_key not in resource["Properties"]
        assert resource["DeletionPolicy"] == "Delete"
        assert resource["UpdateReplacePolicy"] == "Delete"


def test_endpoint_log_group_gets_retention_and_is_removed_on_destroy(default_synth: Any) -> None:
    (retention,) = default_synth.of_type("Custom::LogRetention").values()
    props = retention["Properties"]
    assert props["RetentionInDays"] == 30
    assert props["RemovalPolicy"] == "destroy"
    parts = props["LogGroupName"]["Fn::Join"][1]
    assert parts[0] == "/aws/sagemaker/Endpoints/"
    assert parts[1]["Fn::GetAtt"][1] == "EndpointName"


def test_execution_role_is_trusted_by_sagemaker_only_and_has_no_managed_policies(default_synth: Any) -> None:
    roles = [
        r["Properties"]
        for r in default_synth.of_type("AWS::IAM::Role").values()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service")
        == "sagemaker.amazonaws.com"
    ]
    assert len(roles) == 1
    assert "ManagedPolicyArns" not in roles[0]


def test_execution_policy_pulls_only_the_dlc_repository_and_writes_endpoint_logs(default_synth: Any) -> None:
    policies = [
        p["Properties"]
        for k, p in default_synth.of_type("AWS::IAM::Policy").items()
        if k.startswith("LlmExecutionPolicy")
    ]
    statements = policies[0]["PolicyDocument"]["Statement"]
    by_action = {json.dumps(s["Action"]): s for s in statements}
    pull = by_action[json.dumps(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"])]
    assert pull["Resource"]["Fn::FindInMap"][2] == "repositoryArn"
    assert by_action['"ecr:GetAuthorizationToken"']["Resource"] == "*"
    logs = by_action[json.dumps(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"])]
    (endpoint,) = default_synth.of_type("AWS::SageMaker::Endpoint").values()
    group = f":log-group:/aws/sagemaker/Endpoints/{endpoint['Properties']['EndpointName']}"
    # this endpoint's group and its streams, not every endpoint's
    assert [r["Fn::Join"][1][-1] for r in logs["Resource"]] == [group, f"{group}:log-stream:*"]
    assert all(s["Action"] != "*" and not str(s["Action"]).endswith(":*") for s in statements)


def test_model_waits_for_its_execution_policy(default_synth: Any) -> None:
    (model,) = default_synth.of_type("AWS::SageMaker::Model").values()
    assert any(dep.startswith("LlmExecutionPolicy") for dep in model["DependsOn"])


def test_outputs_and_description(default_synth: Any) -> None:
    outputs = default_synth.template["Outputs"]
    assert {"EndpointName", "ModelId", "ImageUri", "InstanceType"} <= set(outputs)
    assert outputs["ModelId"]["Value"] == "tiiuae/falcon-40b-instruct"
    assert outputs["InstanceType"]["Value"] == "ml.g5.12xlarge"
    assert default_synth.template["Description"].startswith(
        "tiiuae/falcon-40b-instruct on Hugging Face TGI (1 x ml.g5.12xlarge)"
    )


def test_quantize_token_limits_and_extra_env(synth: Any) -> None:
    s = synth(
        quantize="bitsandbytes-nf4",
        max_input_tokens="3000",
        max_total_tokens="4096",
        max_batch_total_tokens="16384",
        extra_env='{"MAX_CONCURRENT_REQUESTS": "64"}',
        region="us-east-1",
    )
    env = s.one("AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    assert env["HF_MODEL_QUANTIZE"] == "bitsandbytes-nf4"
    assert (env["MAX_INPUT_TOKENS"], env["MAX_TOTAL_TOKENS"], env["MAX_BATCH_TOTAL_TOKENS"]) == (
        "3000",
        "4096",
        "16384",
    )
    assert env["MAX_BATCH_PREFILL_TOKENS"] == "4096"
    assert env["MAX_CONCURRENT_REQUESTS"] == "64"


def test_hf_token_is_a_dynamic_reference_never_plaintext(synth: Any) -> None:
    s = synth(model="falcon-180b-chat", hf_token_secret="prod/hf-token", region="us-east-1")
    env = s.one("AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    assert env["HF_TOKEN"] == "{{resolve:secretsmanager:prod/hf-token:SecretString:::}}"
    assert env["HUGGING_FACE_HUB_TOKEN"] == env["HF_TOKEN"]
    assert env["SM_NUM_GPUS"] == "8"


def test_falcon_7b_runs_on_one_shard(synth: Any) -> None:
    s = synth(model="falcon-7b-instruct", instance_type="ml.g5.12xlarge", region="us-east-1")
    assert s.one("AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]["SM_NUM_GPUS"] == "1"


def test_volume_size_only_where_the_instance_takes_one() -> None:
    from constructs.engines.tgi_endpoint import Hosting, TgiEndpoint, TgiModel

    _, stack = _stack("us-east-1")
    endpoint = TgiEndpoint(
        stack,
        "P3",
        model=TgiModel(hf_model_id="tiiuae/falcon-7b-instruct", params_b=7.22),
        hosting=Hosting(instance_type="ml.p3.8xlarge", volume_size=100, model_download_timeout=1200),
    )
    variant = stack.resolve(endpoint.endpoint_config.production_variants)[0]
    assert variant["volumeSizeInGb"] == 100
    assert variant["modelDataDownloadTimeoutInSeconds"] == 1200
    with pytest.raises(ValueError, match=r"volume_size is not accepted for ml.g5.12xlarge: it has local NVMe"):
        Hosting(instance_type="ml.g5.12xlarge", volume_size=100)


def test_health_check_timeout_bounds_are_enforced_by_the_construct() -> None:
    from constructs.hosting.shape import Hosting

    with pytest.raises(ValueError, match=r"health_check_timeout 59 is out of range; allowed 60 to 3600"):
        Hosting(health_check_timeout=59)


def test_too_big_a_model_fails_before_anything_is_emitted() -> None:
    from constructs.engines.tgi_endpoint import TgiEndpoint, TgiModel

    _, stack = _stack("us-east-1")
    with pytest.raises(
        ValueError,
        match=r"does not fit ml.g5.12xlarge: 179.52B parameters × 2 bytes = 334.4 GiB of weights .* hold 96.0 GiB\. "
        r"Smallest instance types that fit: ml.p4de.24xlarge, ml.p5.48xlarge",
    ):
        TgiEndpoint(stack, "Big", model=TgiModel(hf_model_id="tiiuae/falcon-180B-chat", params_b=179.52))
    assert not stack.node.children


def test_num_gpus_must_divide_the_heads() -> None:
    from constructs.engines.tgi_endpoint import TgiEndpoint, TgiModel
    from constructs.facts.presets import PRESETS

    _, stack = _stack("us-east-1")
    with pytest.raises(ValueError, match=r"71 attention heads, which TGI cannot split evenly over 4 shards"):
        TgiEndpoint(
            stack,
            "Seven",
            model=TgiModel(
                hf_model_id="tiiuae/falcon-7b-instruct",
                architecture=PRESETS["falcon-7b-instruct"].architecture,
                num_gpus=4,
            ),
        )


def test_extra_env_cannot_override_what_the_construct_owns() -> None:
    from constructs.engines.tgi_endpoint import TgiModel

    with pytest.raises(ValueError, match=r"extra_env may not set SM_NUM_GPUS"):
        TgiModel(extra_env={"SM_NUM_GPUS": "2"})


def test_existing_role_is_used_instead_of_a_new_one() -> None:
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Template

    from constructs.engines.tgi_endpoint import TgiEndpoint

    _, stack = _stack("us-east-1")
    role = iam.Role(stack, "Mine", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    endpoint = TgiEndpoint(stack, "Llm", role=role)
    assert endpoint.role is role
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::IAM::Role", 2)  # ours + the LogRetention provider's
    model = template.find_resources("AWS::SageMaker::Model")
    (props,) = [m["Properties"] for m in model.values()]
    assert props["ExecutionRoleArn"] == {"Fn::GetAtt": [stack.get_logical_id(role.node.default_child), "Arn"]}


def test_grant_invoke_allows_both_invoke_actions_on_this_endpoint_only() -> None:
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Template

    from constructs.engines.tgi_endpoint import TgiEndpoint

    _, stack = _stack("us-east-1")
    endpoint = TgiEndpoint(stack, "Llm")
    caller = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    endpoint.grant_invoke(caller)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    (doc,) = [p["Properties"]["PolicyDocument"] for k, p in policies.items() if k.startswith("CallerDefaultPolicy")]
    assert doc["Statement"] == [
        {
            "Action": ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
            "Effect": "Allow",
            "Resource": {"Ref": stack.get_logical_id(endpoint.endpoint)},
        }
    ]


def test_the_endpoint_name_fits_cloudformations_endpoint_name_pattern(default_synth: Any) -> None:
    import re

    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::SageMaker::Endpoint").schema
    (endpoint,) = default_synth.of_type("AWS::SageMaker::Endpoint").values()
    name = endpoint["Properties"]["EndpointName"]
    assert re.fullmatch(schema["properties"]["EndpointName"]["pattern"], name)
    assert schema["createOnlyProperties"] == ["/properties/EndpointName"]  # naming it never blocks an update


def test_the_default_model_is_pinned_to_a_hub_commit(default_synth: Any) -> None:
    """A start fetches the same Falcon-40B-Instruct weights and tokenizer every time, not the branch head."""
    (model,) = default_synth.of_type("AWS::SageMaker::Model").values()
    env = model["Properties"]["PrimaryContainer"]["Environment"]
    assert env["HF_MODEL_ID"] == "tiiuae/falcon-40b-instruct"
    assert env["HF_MODEL_REVISION"] == "ecb78d97ac356d098e79f0db222c9ce7c5d9ee5f"
