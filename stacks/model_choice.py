"""Which model a context names, and which engine serves it: the rules that need the catalog, models.lock.json and
the SDK's image data (the schema's model validators call them, stacks/options.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs.facts.catalog import VLLM_IMAGE_FRAMEWORKS, VLLM_QUANTIZE_CHOICES
from constructs.facts.model_lock import command_for, locked_model
from constructs.facts.presets import EMBEDDING_PRESETS, PRESETS, Architecture, ModelPreset
from constructs.facts.sdk_data import image_versions
from stacks.option_types import ConfigError, fail, version_tuple

if TYPE_CHECKING:
    from stacks.options import ContextOptions

# The proxy family for a locked model whose tokenizer has no chat template (the engine has nothing to render):
# ChatML, the default every non-preset model got before `server` existed, so such models behave as they did.
NO_TEMPLATE_FAMILY = "chatml"
# TGI dispatches OpenAI chat JSON posted to /invocations from 2.4.0 on (router/src/sagemaker.rs, PR #2683,
# checked at v3.3.6: an untagged SagemakerRequest of Generate | Chat | Completion; no MESSAGES_API_ENABLED needed).
TGI_MESSAGES_ON_INVOCATIONS = (2, 4, 0)


def preset_for(name: str) -> ModelPreset | None:
    """The preset `name` names, by preset name or by its Hugging Face id (Hub ids are case-insensitive)."""
    if name in PRESETS:
        return PRESETS[name]
    return next((p for p in PRESETS.values() if p.hf_model_id.lower() == name.lower()), None)


def resolve_embedding(name: str) -> ModelPreset:
    """An embedding preset (by name or Hub id) or a model locked in models.lock.json, as an embedding model."""
    preset = EMBEDDING_PRESETS.get(name) or next(
        (p for p in EMBEDDING_PRESETS.values() if p.hf_model_id.lower() == name.lower()), None
    )
    if preset is not None:
        return preset
    locked = _locked_preset(name, None, "server")
    if locked is None:
        raise fail(
            "embedding_model",
            name,
            f"an embedding preset ({', '.join(EMBEDDING_PRESETS)}) or a Hub id in models.lock.json "
            f"(run `{command_for(name)}` first)",
        )
    return ModelPreset(**{**locked.__dict__, "kind": "embedding"})


# How far a user's model_params_b may be from a preset's count and still mean the same checkpoint (rounding).
_PARAMS_TOLERANCE = 0.02


def resolve_model(name: str, params_b: float | None, family: str | None) -> ModelPreset:
    preset = preset_for(name)
    if preset is not None:
        # A preset's Hub id gets the preset's facts (size, heads, prompt format), not the generic defaults.
        if params_b is not None and (name == preset.name or abs(params_b / preset.params_b - 1) > _PARAMS_TOLERANCE):
            raise fail(
                "model_params_b",
                params_b,
                f"only for models outside the catalog; {preset.name} is a preset ({preset.hf_model_id}, "
                f"{preset.params_b:g}B parameters): drop model_params_b",
            )
        preset = _with_locked_revision(preset)
        return preset if family is None else ModelPreset(**{**preset.__dict__, "prompt_family": family})
    locked = _locked_preset(name, params_b, family)
    if locked is not None:
        return locked
    if params_b is None:
        raise ConfigError(
            f"context key 'model_params_b' is required for {name!r}, which is neither a catalog preset "
            f"({', '.join(PRESETS)}) nor in models.lock.json: run `{command_for(name)}` (reads its size, "
            "architecture and chat template from the Hub) or give its size, e.g. -c model_params_b=7.2"
        )
    return ModelPreset(
        name=name,
        hf_model_id=name,
        params_b=params_b,
        default_instance_type="ml.g5.12xlarge",
        prompt_family=family or "server",
    )


def plain_checkpoint(model: ModelPreset) -> bool:
    """True when synth knows the checkpoint holds plain bf16/fp16/fp32 weights (a preset, or the lock's dtype)."""
    if model.name in PRESETS:
        return True
    locked = locked_model(model.hf_model_id)
    return locked is not None and locked.dtype.upper() in ("BF16", "F16", "F32")


def _with_locked_revision(preset: ModelPreset) -> ModelPreset:
    """A preset whose Hub id is in models.lock.json is pinned to the locked revision."""
    locked = locked_model(preset.hf_model_id)
    if locked is None or preset.revision is not None:
        return preset
    return ModelPreset(**{**preset.__dict__, "revision": locked.revision})


def _locked_preset(name: str, params_b: float | None, family: str | None) -> ModelPreset | None:
    """A Hub model from models.lock.json as a preset: size, architecture, template and revision from the lock."""
    locked = locked_model(name)
    if locked is None:
        return None
    if params_b is not None:
        raise fail("model_params_b", params_b, f"not needed for {name}: models.lock.json has its size")
    arch = (
        Architecture(
            layers=locked.layers,  # type: ignore[arg-type]
            attention_heads=locked.attention_heads,  # type: ignore[arg-type]
            kv_heads=locked.kv_heads,  # type: ignore[arg-type]
            head_dim=locked.head_dim,  # type: ignore[arg-type]
        )
        if locked.has_architecture
        else None
    )
    return ModelPreset(
        name=name,
        hf_model_id=name,
        params_b=locked.params_b,
        default_instance_type=None,
        prompt_family=family or ("server" if locked.chat_template else NO_TEMPLATE_FAMILY),
        architecture=arch,
        gated=locked.gated,
        context_length=locked.context_length,
        revision=locked.revision,
        trust_remote_code=locked.trust_remote_code,
        chat_template=locked.chat_template,
    )


def check_engine(opts: ContextOptions, model: ModelPreset) -> str:
    """Resolve the engine and refuse keys, families and models it cannot serve."""
    jumpstart = opts.deployment == "jumpstart"
    given = opts.model_fields_set
    if jumpstart and "engine" in given and opts.engine != "tgi":
        raise fail("engine", opts.engine, "deployment=jumpstart runs the JumpStart spec's own TGI image")
    engine = opts.engine if "engine" in given else "tgi" if jumpstart else model.engine
    for key in opts.given():
        only = opts.declared(key).engine
        if only is not None and only != engine:
            raise fail(key, getattr(opts, key), f"it applies to engine={only}, not {engine}")
    if engine == "vllm" and opts.quantize is not None and opts.quantize not in VLLM_QUANTIZE_CHOICES:
        raise fail("quantize", opts.quantize, f"with engine=vllm allowed values: {', '.join(VLLM_QUANTIZE_CHOICES)}")
    if engine == "vllm" and opts.vllm_version is not None:
        framework = VLLM_IMAGE_FRAMEWORKS[opts.vllm_image]
        if opts.vllm_version not in image_versions(framework):
            raise fail(
                "vllm_version",
                opts.vllm_version,
                f"{framework} images exist for: {', '.join(image_versions(framework))}",
            )
    if model.prompt_family == "server" and not model.chat_template:
        raise fail(
            "prompt_family",
            "server",
            f"{model.hf_model_id}'s tokenizer has no chat template; use falcon, chatml, llama2 or mistral",
        )
    if model.prompt_family == "server" and engine == "tgi" and not jumpstart and opts.tgi_version:
        if version_tuple(opts.tgi_version) < TGI_MESSAGES_ON_INVOCATIONS:
            raise fail(
                "tgi_version",
                opts.tgi_version,
                "prompt_family=server needs TGI 2.4.0 or newer (OpenAI messages on /invocations)",
            )
    if model.trust_remote_code and not opts.trust_remote_code:
        raise ConfigError(
            f"model {model.hf_model_id!r} runs its own Python code from the Hub (auto_map in config.json): "
            "review it, then allow it explicitly with -c trust_remote_code=true"
        )
    return engine
