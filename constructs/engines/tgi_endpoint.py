"""TgiEndpoint: a Hugging Face model on the TGI Deep Learning Container behind a SageMaker real-time endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.facts.catalog import QUANTIZE_CHOICES, SizingReport, check_fit, valid_shards
from constructs.facts.presets import Architecture
from constructs.facts.sdk_data import gpu_info, resolve_image
from constructs.hosting.endpoint import HostedEndpoint
from constructs.hosting.shape import Hosting
from constructs.private.model_data import offline_environment
from constructs.private.private_hosting import PrivateSettings

IMAGE_FRAMEWORK = "huggingface-llm"
# TGI 2.0 renamed MAX_INPUT_LENGTH to MAX_INPUT_TOKENS; older images only know the old name.
_INPUT_TOKENS_RENAMED_IN = (2, 0, 0)
# Keys the construct owns; extra_env may not override them.
RESERVED_ENV = frozenset(
    {
        "HF_MODEL_ID",
        "SM_NUM_GPUS",
        "MAX_INPUT_TOKENS",
        "MAX_INPUT_LENGTH",
        "MAX_TOTAL_TOKENS",
        "MAX_BATCH_PREFILL_TOKENS",
        "MAX_BATCH_TOTAL_TOKENS",
        "HF_MODEL_QUANTIZE",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        # TGI's sagemaker-entrypoint.sh maps HF_MODEL_REVISION → REVISION and HF_MODEL_TRUST_REMOTE_CODE →
        # TRUST_REMOTE_CODE (the launcher's env names, launcher/src/main.rs, TGI 0.9.3 … 3.3.6).
        "HF_MODEL_REVISION",
        "REVISION",
        "HF_MODEL_TRUST_REMOTE_CODE",
        "TRUST_REMOTE_CODE",
    }
)


@dataclass(frozen=True)
class TgiModel:
    """What TGI serves and with which limits; mirrors the env of the SageMaker SDK's HuggingFaceModel."""

    hf_model_id: str = "tiiuae/falcon-40b-instruct"
    tgi_version: str | None = None
    params_b: float | None = None
    architecture: Architecture | None = None
    num_gpus: int | None = None
    max_input_tokens: int = 1024
    max_total_tokens: int = 2048
    max_batch_prefill_tokens: int | None = None
    max_batch_total_tokens: int | None = None
    quantize: str | None = None
    hf_token_secret: str | None = None
    revision: str | None = None
    trust_remote_code: bool = False
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.quantize is not None and self.quantize not in QUANTIZE_CHOICES:
            raise ValueError(f"quantize {self.quantize!r} is not supported; allowed: {', '.join(QUANTIZE_CHOICES)}")
        if self.max_total_tokens <= self.max_input_tokens:
            raise ValueError(
                f"max_total_tokens {self.max_total_tokens} must be greater than max_input_tokens "
                f"{self.max_input_tokens}"
            )
        if self.max_batch_prefill_tokens is not None and self.max_batch_prefill_tokens < self.max_input_tokens:
            raise ValueError(
                f"max_batch_prefill_tokens {self.max_batch_prefill_tokens} must be at least max_input_tokens "
                f"{self.max_input_tokens}"
            )
        clash = sorted(RESERVED_ENV & set(self.extra_env))
        if clash:
            raise ValueError(f"extra_env may not set {', '.join(clash)}: use the TgiModel field instead")


class TgiEndpoint(HostedEndpoint):
    """Execution role, Model on the TGI DLC (tag pinned per region), EndpointConfig and Endpoint.

    Defaults reproduce the original guide: falcon-40b-instruct on one ml.g5.12xlarge (4 × A10G), sharded over
    all 4 GPUs, 1024 input / 2048 total tokens, 600 s start-up health check. Synth fails when the weights
    would not fit the instance's GPU memory.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model: TgiModel | None = None,
        hosting: Hosting | None = None,
        role: iam.IRole | None = None,
        private: PrivateSettings | None = None,
    ) -> None:
        settings = model or TgiModel()
        hosting = hosting or Hosting()
        # Everything that can reject the configuration runs before the construct joins the tree.
        image = resolve_image(IMAGE_FRAMEWORK, settings.tgi_version)
        num_gpus = _num_gpus(settings, hosting.instance_type)
        sizing = _check_fit(settings, hosting.instance_type, num_gpus)
        super().__init__(scope, construct_id)
        self.settings, self.image, self.num_gpus, self.sizing = settings, image, num_gpus, sizing
        self._serve(
            image=image, environment=self.environment, role=role, hosting=hosting, private=private, engine="TGI"
        )

    def environment(self) -> dict[str, str]:
        s = self.settings
        version = tuple(int(p) for p in self.image.version.split("."))
        input_key = "MAX_INPUT_TOKENS" if version >= _INPUT_TOKENS_RENAMED_IN else "MAX_INPUT_LENGTH"
        prefill = s.max_batch_prefill_tokens
        env = {
            "HF_MODEL_ID": s.hf_model_id,
            "SM_NUM_GPUS": str(self.num_gpus),
            input_key: str(s.max_input_tokens),
            "MAX_TOTAL_TOKENS": str(s.max_total_tokens),
            # TGI's default prefill budget (4096) must not be below the longest accepted input.
            "MAX_BATCH_PREFILL_TOKENS": str(prefill if prefill is not None else max(4096, s.max_input_tokens)),
        }
        if s.max_batch_total_tokens is not None:
            env["MAX_BATCH_TOTAL_TOKENS"] = str(s.max_batch_total_tokens)
        if s.revision is not None:
            # The locked Hub commit: a redeploy downloads the same weights and tokenizer.
            env["HF_MODEL_REVISION"] = s.revision
        if s.trust_remote_code:
            env["HF_MODEL_TRUST_REMOTE_CODE"] = "true"
        if s.quantize is not None:
            env["HF_MODEL_QUANTIZE"] = s.quantize
        if s.hf_token_secret is not None:
            # A CloudFormation dynamic reference: resolved at deploy time, never written into the template. But the
            # Model keeps it in its container Environment, which DescribeModel returns in plain text to anyone
            # allowed sagemaker:DescribeModel on it (botocore sagemaker ContainerDefinition.Environment: "Don't
            # include any sensitive data in your environment variables"). Use a fine-grained, read-only token
            # scoped to the gated repositories, or -c model_data=s3://... (no token at all); no role in this
            # stack is granted DescribeModel (tests/synth/test_describe_model.py).
            token = cdk.SecretValue.secrets_manager(s.hf_token_secret).unsafe_unwrap()
            env["HF_TOKEN"] = token
            env["HUGGING_FACE_HUB_TOKEN"] = token
        env.update(s.extra_env)
        if self.private is not None and self.private.model_data is not None:
            # TGI's sagemaker-entrypoint.sh hands HF_MODEL_ID to text-generation-launcher as the model id; a
            # local path is loaded from disk (huggingface/text-generation-inference, sagemaker-entrypoint.sh).
            return offline_environment(env, model_id_key="HF_MODEL_ID")
        return env


def _num_gpus(settings: TgiModel, instance_type: str) -> int:
    gpus = gpu_info(instance_type).count
    wanted = settings.num_gpus
    if wanted is not None and not 1 <= wanted <= gpus:
        raise ValueError(f"num_gpus {wanted} is not possible on {instance_type}, which has {gpus} GPU(s)")
    arch = settings.architecture
    if wanted is not None and arch is not None and arch.attention_heads % wanted:
        raise ValueError(
            f"num_gpus {wanted}: {settings.hf_model_id} has {arch.attention_heads} attention heads, "
            f"which TGI cannot split evenly over {wanted} shards"
        )
    return wanted if wanted is not None else valid_shards(gpus, arch)


def _check_fit(settings: TgiModel, instance_type: str, num_gpus: int) -> SizingReport | None:
    s = settings
    return check_fit(
        model_id=s.hf_model_id,
        params_b=s.params_b,
        instance_type=instance_type,
        quantize=s.quantize,
        shards=num_gpus,
        architecture=s.architecture,
        max_total_tokens=s.max_total_tokens,
        engine="tgi",
    )
