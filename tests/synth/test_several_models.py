"""Several models on one inference-component endpoint: one component per model with its own GPUs, adapters on
the first model, an embedding model on vLLM's pooling runner, the chat Lambda's MODEL_ROUTES and invoke grant."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.config import ConfigError, from_context
from tests.synth.test_validators import CONTEXTS

pytestmark = pytest.mark.xdist_group("synth")

SEVERAL = CONTEXTS["several-models"]
SCALING = CONTEXTS["several-models-scale-to-zero"]
IC = "AWS::SageMaker::InferenceComponent"


@pytest.fixture(scope="module")
def several(synth: Any) -> Any:
    return synth(**SEVERAL)


@pytest.fixture(scope="module")
def scaling(synth: Any) -> Any:
    return synth(**SCALING)


def _components(s: Any) -> list[dict[str, Any]]:
    return [r["Properties"] for r in s.of_type(IC).values()]


def _chat_env(s: Any) -> dict[str, str]:
    functions = s.of_type("AWS::Lambda::Function").values()
    chat = [
        f for f in functions if "SAGEMAKER_ENDPOINT_NAME" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert len(chat) == 1
    return dict(chat[0]["Properties"]["Environment"]["Variables"])


def _routes(s: Any) -> dict[str, Any]:
    return dict(json.loads(_chat_env(s)["MODEL_ROUTES"]))


def _model_env(s: Any, component: dict[str, Any]) -> dict[str, str]:
    model_id = component["Specification"]["ModelName"]["Fn::GetAtt"][0]
    return dict(s.resources[model_id]["Properties"]["PrimaryContainer"]["Environment"])


def test_each_model_is_its_own_component_with_one_gpu_and_adapters_name_the_first(several: Any) -> None:
    components = _components(several)
    models = [c for c in components if "ModelName" in c["Specification"]]
    adapters = [c for c in components if "BaseInferenceComponentName" in c["Specification"]]
    assert len(models) == 3 and len(adapters) == 2
    assert all(
        c["Specification"]["ComputeResourceRequirements"]["NumberOfAcceleratorDevicesRequired"] == 1 for c in models
    )
    assert len({c["Specification"]["ModelName"]["Fn::GetAtt"][0] for c in models}) == 3
    base = next(c for c in models if _model_env(several, c)["SM_VLLM_MODEL"] == "Qwen/Qwen2.5-7B-Instruct")
    assert {a["Specification"]["BaseInferenceComponentName"] for a in adapters} == {base["InferenceComponentName"]}
    assert {a["Specification"]["Container"]["ArtifactUrl"] for a in adapters} == {
        "s3://my-adapters/support/",
        "s3://my-adapters/legal/",
    }
    # Adapters use their base's compute; vLLM must accept runtime-loaded LoRA adapters.
    assert all("ComputeResourceRequirements" not in a["Specification"] for a in adapters)
    env = _model_env(several, base)
    assert env["SM_VLLM_ENABLE_LORA"] == "true" and env["SM_VLLM_MAX_LORAS"] == "2"
    assert env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "true"
    assert env["SM_VLLM_TENSOR_PARALLEL_SIZE"] == "1"


def test_the_embedding_model_runs_vllms_pooling_runner_and_chat_models_do_not(several: Any) -> None:
    envs = {
        e["SM_VLLM_MODEL"]: e
        for c in _components(several)
        if "ModelName" in c["Specification"]
        for e in [_model_env(several, c)]
    }
    assert envs["Qwen/Qwen3-Embedding-0.6B"]["SM_VLLM_RUNNER"] == "pooling"
    assert "SM_VLLM_RUNNER" not in envs["meta-llama/Llama-3.1-8B-Instruct"]
    assert "SM_VLLM_ENABLE_LORA" not in envs["meta-llama/Llama-3.1-8B-Instruct"]


def test_model_routes_map_every_name_and_alias_to_a_component_of_the_template(several: Any) -> None:
    routes = _routes(several)
    names = {c["InferenceComponentName"] for c in _components(several)}
    assert {r["component"] for r in routes.values()} == names
    assert routes["qwen2.5-7b-instruct"] == routes["Qwen/Qwen2.5-7B-Instruct"]
    assert routes["qwen3-embedding-0.6b"]["kind"] == "embedding"
    assert routes["support-bot"]["base"] == "Qwen/Qwen2.5-7B-Instruct" and routes["support-bot"]["kind"] == "chat"
    assert all(r["engine"] == "vllm" for r in routes.values())


def test_the_lambda_may_invoke_the_endpoint_and_exactly_these_components(several: Any) -> None:
    statements = [
        st
        for p in several.of_type("AWS::IAM::Policy").values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if "sagemaker:InvokeEndpoint" in st["Action"]
    ]
    assert len(statements) == 1
    resources = statements[0]["Resource"]
    arns = {
        r["Fn::GetAtt"][0] for r in resources if "Fn::GetAtt" in r and r["Fn::GetAtt"][1] == "InferenceComponentArn"
    }
    assert arns == set(several.of_type(IC))
    assert len(resources) == len(arns) + 1  # and the endpoint


def test_the_execution_role_reads_only_the_adapter_folders(several: Any) -> None:
    reads = [
        st["Resource"]
        for p in several.of_type("AWS::IAM::Policy").values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if st["Action"] == "s3:GetObject"
    ]
    rendered = json.dumps(reads)
    assert "my-adapters/support/*" in rendered and "my-adapters/legal/*" in rendered
    assert "my-adapters/*" not in rendered


def test_without_scale_to_zero_components_keep_one_copy_and_have_no_scaling(several: Any) -> None:
    assert not several.of_type("AWS::ApplicationAutoScaling::ScalableTarget")
    assert all(c["RuntimeConfig"]["CopyCount"] == 1 for c in _components(several) if "RuntimeConfig" in c)


def test_with_scale_to_zero_each_model_scales_on_its_own_with_its_own_alarms(scaling: Any) -> None:
    names = {c["InferenceComponentName"] for c in _components(scaling)}
    assert len(names) == 3
    targets = scaling.of_type("AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert {t["Properties"]["ResourceId"] for t in targets} == {f"inference-component/{n}" for n in names}
    assert all(t["Properties"]["MinCapacity"] == 0 for t in targets)
    woken = {
        d["Value"]
        for a in scaling.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "NoCapacityInvocationFailures"
        for d in a["Properties"]["Dimensions"]
    }
    assert woken == names


@pytest.mark.parametrize("shape", ["several", "scaling"])
def test_every_model_pages_on_its_own_5xx_and_latency_and_the_dashboard_shows_it(
    shape: str, several: Any, scaling: Any
) -> None:
    s = several if shape == "several" else scaling
    names = {
        c["InferenceComponentName"]
        for c in _components(s)
        if "BaseInferenceComponentName" not in c["Specification"]  # adapters share their base's copies
    }
    alarmed: dict[str, set[str]] = {}
    for a in s.of_type("AWS::CloudWatch::Alarm").values():
        p = a["Properties"]
        if p.get("MetricName") in {"Invocation5XXErrors", "ModelLatency"}:
            (dim,) = p["Dimensions"]
            assert dim["Name"] == "InferenceComponentName"
            alarmed.setdefault(p["MetricName"], set()).add(dim["Value"])
    assert alarmed == {"Invocation5XXErrors": names, "ModelLatency": names}
    (board,) = s.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(board["Properties"]["DashboardBody"])
    assert body.count("-invocation-5xx") == len(names)


def test_the_summary_prints_one_line_per_component_with_its_share(several: Any) -> None:
    from stacks.summary import summary

    lines = [line for line in summary(several.stack).splitlines() if line.startswith("component")]
    assert len(lines) == 5
    assert sum("1/4 GPU(s) = 25%: ~$1.77 of the instance's $7.09/hour always on" in line for line in lines) == 3
    assert sum("adapter" in line for line in lines) == 2


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({**SEVERAL, "instance_type": "ml.g5.2xlarge"}, r"instance_type.*Instance types that fit: ml.g5.12xlarge"),
        ({"embedding_model": "bge-m3"}, r"embedding_model.*served by tgi: add -c engine=vllm"),
        ({"adapters": "Bad Name=s3://b/p/"}, r"adapters.*name=s3://bucket/prefix/"),
        ({"embedding_model": "no-such"}, r"embedding_model.*qwen3-embedding-0.6b, bge-m3"),
        ({"models": "qwen2.5-7b-instruct,llama-3.1-8b-instruct"}, r"models.*gated.*hf_token_secret"),
        ({"models": "qwen2.5-7b-instruct", "num_gpus": "2"}, r"num_gpus.*each component is sized"),
    ],
)
def test_bad_several_model_contexts_fail_naming_the_key(context: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_context(context)


def test_without_the_keys_nothing_changes_shape(default_synth: Any) -> None:
    assert "MODEL_ROUTES" not in _chat_env(default_synth)
    assert not default_synth.of_type(IC)


def test_every_component_gets_the_start_up_timeout_and_its_own_memory_ask(synth: Any) -> None:
    s = synth(**{**SEVERAL, "health_check_timeout": "1200"})
    specs = [c["Specification"] for c in _components(s) if "ModelName" in c["Specification"]]
    assert [sp["StartupParameters"]["ContainerStartupHealthCheckTimeoutInSeconds"] for sp in specs] == [1200] * 3
    # Half of each GPU's share of ml.g5.12xlarge's 192 GiB of host memory (inference_component.MEMORY_SHARE).
    assert [sp["ComputeResourceRequirements"]["MinMemoryRequiredInMb"] for sp in specs] == [24576] * 3
