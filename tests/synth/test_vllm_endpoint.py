"""Fine-grained assertions on what VllmEndpoint and the stack emit, per engine × deployment × region."""

from __future__ import annotations

from typing import Any

import pytest

from constructs.engines.vllm_endpoint import VllmEndpoint, VllmModel, inference_ami_for
from constructs.facts.model_lock import locked_model
from constructs.facts.presets import PRESETS
from constructs.facts.sdk_data import resolve_image
from constructs.hosting.shape import Hosting

pytestmark = pytest.mark.xdist_group("synth")

QWEN = "Qwen/Qwen2.5-7B-Instruct"
QWEN_REVISION = "a09a35458c702b33eeacc393d103063234e8bc28"
HF_VLLM = resolve_image("huggingface-vllm")


def _variant(s: Any) -> dict[str, Any]:
    (variant,) = s.one("AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    return dict(variant)


def _env(s: Any) -> dict[str, Any]:
    return dict(s.one("AWS::SageMaker::Model")["PrimaryContainer"]["Environment"])


def _chat_env(s: Any) -> dict[str, Any]:
    (fn,) = [r["Properties"] for k, r in s.of_type("AWS::Lambda::Function").items() if k.startswith("ChatFunction")]
    return dict(fn["Environment"]["Variables"])


def _stack(region: str | None = None) -> Any:
    import aws_cdk as cdk

    app = cdk.App()
    return cdk.Stack(app, "Test", env=cdk.Environment(region=region) if region else None)


def test_qwen_preset_runs_vllm_with_the_sm_vllm_contract(synth: Any) -> None:
    s = synth(model="qwen2.5-7b-instruct")
    assert _env(s) == {
        "SM_VLLM_MODEL": QWEN,
        "SM_VLLM_SERVED_MODEL_NAME": QWEN,
        "SM_VLLM_REVISION": QWEN_REVISION,
        "SM_VLLM_TOKENIZER_REVISION": QWEN_REVISION,
        "SM_VLLM_TENSOR_PARALLEL_SIZE": "1",
        "SM_VLLM_MAX_MODEL_LEN": "2048",
        "SM_VLLM_GPU_MEMORY_UTILIZATION": "0.9",
        "SM_VLLM_ENABLE_AUTO_TOOL_CHOICE": "true",
        "SM_VLLM_TOOL_CALL_PARSER": "hermes",
        "SM_VLLM_ALLOWED_MEDIA_DOMAINS": "media.invalid",
        "VLLM_MEDIA_URL_ALLOW_REDIRECTS": "0",
        "HF_ENABLE_LMCACHE": "0",
    }
    assert locked_model(QWEN) is not None and locked_model(QWEN).revision == QWEN_REVISION  # type: ignore[union-attr]


def test_chat_lambda_sends_the_served_name_and_lets_the_engine_render_the_template(synth: Any) -> None:
    s = synth(model="qwen2.5-7b-instruct")
    env = _chat_env(s)
    assert (env["ENGINE"], env["PROMPT_FAMILY"], env["MODEL_ID"]) == ("vllm", "server", QWEN)
    assert env["MODEL_ID"] == _env(s)["SM_VLLM_SERVED_MODEL_NAME"]


def test_vllm_variant_gets_the_host_ami_its_cuda_needs_and_a_longer_start_up(synth: Any) -> None:
    variant = _variant(synth(model="qwen2.5-7b-instruct"))
    assert "-cu130-" in HF_VLLM.tag
    assert variant["InferenceAmiVersion"] == "al2023-ami-sagemaker-inference-gpu-4-1"
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 900
    # Chosen by the sizing code: the cheapest instance type whose GPU holds 14.2 GiB + one sequence of KV cache.
    assert variant["InstanceType"] == "ml.g5.2xlarge"


def test_default_falcon_stack_is_unchanged_tgi_without_a_host_ami(default_synth: Any) -> None:
    variant = _variant(default_synth)
    assert "InferenceAmiVersion" not in variant
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 600
    env = _chat_env(default_synth)
    assert (env["ENGINE"], env["PROMPT_FAMILY"]) == ("tgi", "falcon")


def test_region_agnostic_vllm_maps_its_regions_and_refuses_the_others_before_creating_anything(synth: Any) -> None:
    s = synth(model="qwen2.5-7b-instruct")
    image = s.one("AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    mapping = s.template["Mappings"][image["Fn::FindInMap"][0]]
    assert sorted(mapping) == HF_VLLM.regions
    assert "me-west-1" not in mapping and len(mapping) == 42
    assert mapping["us-east-1"]["uri"] == HF_VLLM.in_region("us-east-1").uri
    (assertion,) = s.template["Rules"]["SupportedRegion"]["Assertions"]
    allowed = assertion["Assert"]["Fn::Contains"][0]
    assert assertion["Assert"]["Fn::Contains"][1] == {"Ref": "AWS::Region"}
    assert set(allowed) <= set(HF_VLLM.regions) and "me-west-1" not in allowed and "us-east-1" in allowed
    assert "huggingface-vllm image" in assertion["AssertDescription"]


def test_pinned_region_gets_a_literal_image_and_no_mapping(synth: Any) -> None:
    s = synth(model="qwen2.5-7b-instruct", region="eu-west-1")
    image = s.one("AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    assert image == HF_VLLM.in_region("eu-west-1").uri
    assert image.endswith(f"/huggingface-vllm:{HF_VLLM.tag}")
    assert "Mappings" not in s.template or not any("Vllm" in k for k in s.template["Mappings"])
    assert "SupportedRegion" not in s.template.get("Rules", {})


def test_a_region_without_the_image_fails_synth_naming_the_regions() -> None:
    with pytest.raises(ValueError, match=r"huggingface-vllm 0\.29\.0 has no image in region 'me-west-1'.*us-east-1"):
        VllmEndpoint(_stack("me-west-1"), "Llm", model=VllmModel(hf_model_id=QWEN))


def test_aws_vllm_image_is_an_option_without_the_hf_lmcache_switch(synth: Any) -> None:
    s = synth(model="qwen2.5-7b-instruct", vllm_image="aws", region="us-east-1")
    aws = resolve_image("vllm")
    assert s.one("AWS::SageMaker::Model")["PrimaryContainer"]["Image"] == aws.in_region("us-east-1").uri
    assert "HF_ENABLE_LMCACHE" not in _env(s)
    assert _variant(s)["InferenceAmiVersion"] == "al2023-ami-sagemaker-inference-gpu-4-1"


def test_gated_70b_shards_over_eight_gpus_with_a_token_and_a_longer_health_check(synth: Any) -> None:
    s = synth(model="llama-3.3-70b-instruct", hf_token_secret="hf/token", region="us-east-1")
    env = _env(s)
    assert env["SM_VLLM_TENSOR_PARALLEL_SIZE"] == "8"
    assert env["SM_VLLM_TOOL_CALL_PARSER"] == "llama3_json"
    assert env["HF_TOKEN"] == "{{resolve:secretsmanager:hf/token:SecretString:::}}"
    variant = _variant(s)
    assert (variant["InstanceType"], variant["ContainerStartupHealthCheckTimeoutInSeconds"]) == (
        "ml.g5.48xlarge",
        1800,
    )


def test_tgi_server_mode_for_a_current_model_pins_the_revision(synth: Any) -> None:
    s = synth(model="qwen2.5-7b-instruct", engine="tgi")
    env = _env(s)
    assert (env["HF_MODEL_ID"], env["HF_MODEL_REVISION"], env["SM_NUM_GPUS"]) == (QWEN, QWEN_REVISION, "1")
    assert not any(k.startswith("SM_VLLM_") for k in env)
    chat = _chat_env(s)
    assert (chat["ENGINE"], chat["PROMPT_FAMILY"]) == ("tgi", "server")
    assert "InferenceAmiVersion" not in _variant(s)


def test_vllm_keys_reach_the_container(synth: Any) -> None:
    s = synth(
        model="qwen2.5-7b-instruct",
        gpu_memory_utilization="0.85",
        max_num_batched_tokens="8192",
        max_total_tokens="8192",
        max_input_tokens="4096",
        quantize="fp8",
        lmcache="true",
        reasoning_parser="deepseek_r1",
        tool_call_parser="pythonic",
        region="us-east-1",
    )
    env = _env(s)
    assert (env["SM_VLLM_GPU_MEMORY_UTILIZATION"], env["SM_VLLM_MAX_NUM_BATCHED_TOKENS"]) == ("0.85", "8192")
    assert (env["SM_VLLM_MAX_MODEL_LEN"], env["SM_VLLM_QUANTIZATION"]) == ("8192", "fp8")
    assert (env["HF_ENABLE_LMCACHE"], env["SM_VLLM_REASONING_PARSER"]) == ("1", "deepseek_r1")
    assert env["SM_VLLM_TOOL_CALL_PARSER"] == "pythonic"
    assert _chat_env(s)["MAX_TOTAL_TOKENS"] == "8192"


def test_media_host_reaches_the_container_and_the_proxy_with_redirects_off(synth: Any) -> None:
    s = synth(model="qwen2.5-7b-instruct", prompt_family="server", image_url_domains="images.example.com")
    assert _env(s)["SM_VLLM_ALLOWED_MEDIA_DOMAINS"] == "images.example.com"
    assert _env(s)["VLLM_MEDIA_URL_ALLOW_REDIRECTS"] == "0"
    assert _chat_env(s)["IMAGE_URL_DOMAINS"] == "images.example.com"


def test_without_a_media_host_the_proxy_gets_none(synth: Any) -> None:
    assert "IMAGE_URL_DOMAINS" not in _chat_env(synth(model="qwen2.5-7b-instruct"))


def test_extra_env_may_not_reopen_media_fetches_or_log_requests() -> None:
    for name in ("SM_VLLM_ALLOWED_MEDIA_DOMAINS", "VLLM_MEDIA_URL_ALLOW_REDIRECTS", "SM_VLLM_ENABLE_LOG_REQUESTS"):
        with pytest.raises(ValueError, match=f"extra_env may not set {name}"):
            VllmModel(hf_model_id=QWEN, extra_env={name: "1"})


def test_model_that_does_not_fit_names_instance_types_that_do(synth: Any) -> None:
    with pytest.raises(
        ValueError,
        match=r"meta-llama/Llama-3.3-70B-Instruct does not fit ml.g5.12xlarge on vLLM: 70.55B parameters × 2 "
        r"bytes = 131.4 GiB of weights .* vLLM may use 0.9 of the 4 GPU\(s\) of ml.g5.12xlarge: 86.4 GiB\. "
        r"Smallest instance types that fit: ml.g5.48xlarge",
    ):
        synth(model="llama-3.3-70b-instruct", instance_type="ml.g5.12xlarge", hf_token_secret="hf/token")


def test_extra_env_may_not_switch_on_remote_code_or_override_owned_keys() -> None:
    for key in ("SM_VLLM_TRUST_REMOTE_CODE", "SM_VLLM_MAX_MODEL_LEN", "HF_ENABLE_LMCACHE", "SM_VLLM_MODEL"):
        with pytest.raises(ValueError, match=rf"extra_env may not set {key}: use the VllmModel field instead"):
            VllmModel(hf_model_id=QWEN, extra_env={key: "true"})


def test_trust_remote_code_is_a_flag_pinned_to_the_revision() -> None:
    endpoint = VllmEndpoint(
        _stack("us-east-1"),
        "Llm",
        model=VllmModel(hf_model_id="acme/custom", revision="abc123", trust_remote_code=True),
    )
    env = endpoint.environment()
    assert (env["SM_VLLM_TRUST_REMOTE_CODE"], env["SM_VLLM_CODE_REVISION"]) == ("true", "abc123")


def test_tensor_parallel_size_must_divide_the_heads() -> None:
    qwen = PRESETS["qwen2.5-7b-instruct"]
    with pytest.raises(ValueError, match=r"num_gpus 3: .*28 attention heads and 4 KV heads.*tensor-parallel size of 3"):
        VllmEndpoint(
            _stack("us-east-1"),
            "Llm",
            model=VllmModel(hf_model_id=QWEN, architecture=qwen.architecture, params_b=7.62, num_gpus=3),
            hosting=Hosting(instance_type="ml.g5.12xlarge"),
        )


def test_max_total_tokens_may_not_exceed_the_models_context() -> None:
    with pytest.raises(
        ValueError, match=r"max_total_tokens 65536 exceeds Qwen/Qwen2.5-7B-Instruct's context length 32768"
    ):
        VllmModel(hf_model_id=QWEN, context_length=32768, max_total_tokens=65536)


@pytest.mark.parametrize(
    ("tag", "ami"),
    [
        ("0.29.0-transformers5.15.0-gpu-py312-cu130-ubuntu24.04-v1.0", "al2023-ami-sagemaker-inference-gpu-4-1"),
        ("0.30.0-gpu-py312-cu130-ubuntu24.04-sagemaker", "al2023-ami-sagemaker-inference-gpu-4-1"),
        ("0.14.0-transformers4.57.3-gpu-py312-cu129-ubuntu22.04", None),
        ("2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04", None),
    ],
)
def test_host_ami_is_derived_from_the_image_tags_cuda(tag: str, ami: str | None) -> None:
    from constructs.facts.sdk_data import ImageFamily

    assert inference_ami_for(ImageFamily("huggingface-vllm", "x", tag, "r", {})) == ami


@pytest.mark.parametrize("tag", ["0.40.0-gpu-py313-cu140-ubuntu26.04", "1.0.0-gpu-py312-ubuntu24.04"])
def test_an_image_the_code_cannot_place_fails_synth(tag: str) -> None:
    from constructs.facts.sdk_data import ImageFamily

    with pytest.raises(ValueError, match=r"cannot tell which SageMaker host AMI its CUDA needs"):
        inference_ami_for(ImageFamily("huggingface-vllm", "9.9", tag, "r", {}))


def test_every_sdk_vllm_image_can_be_placed() -> None:
    from constructs.facts.sdk_data import image_versions

    for framework in ("huggingface-vllm", "vllm"):
        for version in image_versions(framework):
            inference_ami_for(resolve_image(framework, version))


def test_summary_prints_the_vllm_engine_image_and_memory_fit(synth: Any) -> None:
    from stacks.summary import summary

    text = summary(synth(model="qwen2.5-7b-instruct").stack)
    assert f"engine       vLLM {HF_VLLM.version} (huggingface-vllm:{HF_VLLM.tag})" in text
    assert "gpus         SM_VLLM_TENSOR_PARALLEL_SIZE=1" in text
    assert "host AMI     al2023-ami-sagemaker-inference-gpu-4-1" in text
    assert "memory       weights 14.2 GiB + reserve 1.6 GiB of 21.6 GiB GPU memory on 1 shard(s)" in text
    assert f"revision     {QWEN_REVISION} (models.lock.json)" in text


def test_stack_description_names_the_engine(synth: Any) -> None:
    assert synth(model="qwen2.5-7b-instruct").template["Description"].startswith(f"{QWEN} on vLLM (1 x ml.g5.2xlarge)")


def test_cuda_13_image_on_a_volta_instance_fails_synth_naming_the_gpu_generations(synth: Any) -> None:
    # vLLM's images are cu130; CUDA 13.0 removed Maxwell, Pascal and Volta (NVIDIA CUDA 13.0 release notes).
    with pytest.raises(ValueError, match=r"instance_type ml\.p3\.8xlarge: its NVIDIA V100 \(Volta, sm70\).*CUDA 13"):
        synth(model="qwen2.5-7b-instruct", instance_type="ml.p3.8xlarge", region="us-east-1")
