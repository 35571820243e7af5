"""The stack with -c deployment=jumpstart: the JumpStart endpoint wired to the same chat API and outputs."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("synth")

FALCON_40B = "huggingface-llm-falcon-40b-instruct-bf16"


@pytest.fixture(scope="module")
def js(synth: Any) -> Any:
    return synth(deployment="jumpstart", region="us-east-1")


def test_jumpstart_replaces_tgi_with_the_locked_model(js: Any) -> None:
    container = js.one("AWS::SageMaker::Model")["PrimaryContainer"]
    locked = js.stack.llm.locked
    assert container["Image"] == locked.deployments("ml.g5.48xlarge")["us-east-1"].image.uri
    assert container["Image"].startswith("763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi")
    assert js.template["Outputs"]["ModelId"]["Value"] == FALCON_40B
    assert js.template["Outputs"]["InstanceType"]["Value"] == "ml.g5.48xlarge"
    assert js.template["Description"].startswith(f"{FALCON_40B} on SageMaker JumpStart")


def test_chat_proxy_serves_the_jumpstart_model_with_the_specs_token_limits(js: Any) -> None:
    (fn,) = [r["Properties"] for k, r in js.of_type("AWS::Lambda::Function").items() if k.startswith("ChatFunction")]
    env = fn["Environment"]["Variables"]
    spec_env = js.stack.llm.environment
    assert env["MODEL_ID"] == FALCON_40B
    assert env["MAX_INPUT_TOKENS"] == spec_env.get("MAX_INPUT_TOKENS", spec_env.get("MAX_INPUT_LENGTH"))
    assert env["MAX_TOTAL_TOKENS"] == spec_env["MAX_TOTAL_TOKENS"]
    assert env["PROMPT_FAMILY"] == "falcon"


def test_health_check_timeout_comes_from_the_spec_unless_set(js: Any, synth: Any) -> None:
    (variant,) = js.one("AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == js.stack.llm.hosting.health_check_timeout
    overridden = synth(deployment="jumpstart", region="us-east-1", health_check_timeout="900")
    (variant,) = overridden.one("AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 900


def test_unsupported_instance_type_fails_naming_the_supported_ones(synth: Any) -> None:
    with pytest.raises(ValueError, match=r"ml\.g4dn\.xlarge.*ml\.g5\.12xlarge.*ml\.g5\.48xlarge"):
        synth(deployment="jumpstart", region="us-east-1", instance_type="ml.g4dn.xlarge")


def test_region_missing_from_the_lock_prints_the_command_to_run(synth: Any) -> None:
    with pytest.raises(ValueError, match=r"make jumpstart-lock MODEL=huggingface-llm-falcon-40b-instruct-bf16 "):
        synth(deployment="jumpstart", region="sa-east-1")
