"""Synth-time reader of models.lock.json: a Hugging Face model's facts, read offline, no huggingface_hub import.

The lock is written by ``tools/model_lock.py`` (``make model-lock MODEL=org/name``) from the Hub's model info
API (revision, gated, licence, safetensors parameter count), the model's ``config.json`` and its
``tokenizer_config.json`` (whether it ships a chat template). Synth turns an entry into a model preset: sizing
knows the architecture (so the KV cache), the engine renders the model's own chat template, and the container is
pinned to the locked revision.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_LOCK_PATH = Path(__file__).resolve().parents[2] / "models.lock.json"
LOCK_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LockedHubModel:
    """One model at one Hub revision."""

    model_id: str
    revision: str
    params: int
    dtype: str
    model_type: str
    architectures: tuple[str, ...]
    layers: int | None
    attention_heads: int | None
    kv_heads: int | None
    head_dim: int | None
    context_length: int | None
    chat_template: bool
    gated: bool
    license: str | None
    trust_remote_code: bool

    @property
    def params_b(self) -> float:
        return round(self.params / 1e9, 2)

    @property
    def has_architecture(self) -> bool:
        return None not in (self.layers, self.attention_heads, self.kv_heads, self.head_dim)


def command_for(model_id: str) -> str:
    return f"make model-lock MODEL={model_id}"


@functools.cache
def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"lock_metadata": {"schema_version": LOCK_SCHEMA_VERSION}, "models": {}}
    data = json.loads(path.read_text())
    version = data.get("lock_metadata", {}).get("schema_version")
    if version != LOCK_SCHEMA_VERSION:
        raise ValueError(
            f"{path.name} has schema_version {version!r}, this code reads {LOCK_SCHEMA_VERSION}: regenerate it "
            "with make model-lock"
        )
    return dict(data)


def locked_model(model_id: str, path: Path | None = None) -> LockedHubModel | None:
    """The lock's entry for `model_id` (exact Hub id), or None when it was never locked."""
    entry = _read(path or DEFAULT_LOCK_PATH)["models"].get(model_id)
    if entry is None:
        return None
    return LockedHubModel(
        model_id=model_id,
        revision=entry["revision"],
        params=int(entry["params"]),
        dtype=entry["dtype"],
        model_type=entry["model_type"],
        architectures=tuple(entry["architectures"]),
        layers=entry["layers"],
        attention_heads=entry["attention_heads"],
        kv_heads=entry["kv_heads"],
        head_dim=entry["head_dim"],
        context_length=entry["context_length"],
        chat_template=bool(entry["chat_template"]),
        gated=bool(entry["gated"]),
        license=entry["license"],
        trust_remote_code=bool(entry["trust_remote_code"]),
    )


def locked_model_ids(path: Path | None = None) -> list[str]:
    return sorted(_read(path or DEFAULT_LOCK_PATH)["models"])
