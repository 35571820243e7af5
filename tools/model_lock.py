#!/usr/bin/env python3
"""Lock a Hugging Face model's facts into models.lock.json (``make model-lock MODEL=org/name``).

Synth needs to know, without network: how big the model is (parameter count from the Hub's safetensors
metadata), its architecture (config.json: layers, attention and KV heads, head size, context length, for the
KV-cache sizing), whether its tokenizer ships a chat template (tokenizer_config.json's ``chat_template``, or a
``chat_template.jinja``/``chat_template.json`` file: then the engine renders it), whether it is gated, its licence,
whether it runs its own code (``auto_map`` in config.json: refused at synth unless ``-c trust_remote_code=true``),
and the exact commit (revision) all of that was read at, which synth pins in the container so a redeploy serves
the same weights.

Uses ``huggingface_hub`` (a dev/tool dependency; synth reads only the JSON). It honours ``HF_ENDPOINT`` and
``HF_TOKEN`` like every Hub client: gated models need a token whose account accepted the licence. The lock is
written deterministically (sorted keys, no timestamps) so a re-run with the same Hub state is a no-op diff.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import huggingface_hub
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCK = ROOT / "models.lock.json"
SCHEMA_VERSION = 1
DEFAULT_SOURCE = "the Hugging Face Hub (model info API, config.json, tokenizer_config.json at the locked revision)"
TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


class LockError(RuntimeError):
    """Something the user must fix (unknown model, gated without a token, no safetensors metadata)."""


def _first(config: dict[str, Any], *names: str) -> Any:
    for name in names:
        if config.get(name) is not None:
            return config[name]
    return None


def architecture(config: dict[str, Any]) -> dict[str, Any]:
    """The facts sizing needs, under the names the common config families use (Llama/Qwen/Mistral, Falcon, GPT)."""
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else None
    source = text if text is not None and _first(config, "num_hidden_layers", "n_layer") is None else config
    layers = _first(source, "num_hidden_layers", "n_layer", "num_layers")
    heads = _first(source, "num_attention_heads", "n_head", "num_heads")
    kv_heads = _first(source, "num_key_value_heads", "num_kv_heads", "n_head_kv")
    if kv_heads is None and heads is not None:
        kv_heads = 1 if source.get("multi_query") else heads
    hidden = _first(source, "hidden_size", "n_embd", "d_model")
    head_dim = _first(source, "head_dim")
    if head_dim is None and hidden is not None and heads:
        head_dim = hidden // heads
    return {
        "layers": layers,
        "attention_heads": heads,
        "kv_heads": kv_heads,
        "head_dim": head_dim,
        "context_length": _first(source, "max_position_embeddings", "max_seq_len", "n_positions", "seq_length"),
        "model_type": str(config.get("model_type", source.get("model_type", ""))),
        "architectures": sorted(config.get("architectures") or []),
    }


def _download_json(repo_id: str, filename: str, revision: str, cache_dir: str) -> dict[str, Any] | None:
    try:
        path = hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache_dir)
    except EntryNotFoundError:
        return None
    return dict(json.loads(Path(path).read_text()))


def read_model(repo_id: str, revision: str | None = None) -> dict[str, Any]:
    """Everything the lock records for one model, read from the Hub at one commit."""
    api = HfApi()
    try:
        info = api.model_info(repo_id, revision=revision)
    except RepositoryNotFoundError:
        raise LockError(f"{repo_id}: no such model on {api.endpoint} (or it is private: set HF_TOKEN)") from None
    if info.sha is None:
        raise LockError(f"{repo_id}: the Hub did not report the commit of revision {revision or 'main'}")
    if info.safetensors is None or not info.safetensors.total:
        raise LockError(
            f"{repo_id}@{info.sha}: the Hub has no safetensors metadata (parameter count) for this model; "
            "only models published as safetensors can be locked"
        )
    with tempfile.TemporaryDirectory() as cache_dir:
        try:
            config = _download_json(repo_id, "config.json", info.sha, cache_dir)
            tokenizer = _download_json(repo_id, "tokenizer_config.json", info.sha, cache_dir) or {}
        except GatedRepoError:
            raise LockError(
                f"{repo_id} is gated: accept its licence on the Hub, then run again with HF_TOKEN set to a token "
                "of that account"
            ) from None
    if config is None:
        raise LockError(f"{repo_id}@{info.sha} has no config.json")
    files = {s.rfilename for s in info.siblings or []}
    parameters = dict(info.safetensors.parameters or {})
    card = info.card_data.to_dict() if info.card_data is not None else {}
    licence = card.get("license") or next(
        (t.split(":", 1)[1] for t in info.tags or [] if t.startswith("license:")), None
    )
    return {
        "revision": info.sha,
        "params": int(info.safetensors.total),
        "dtype": max(parameters, key=lambda d: parameters[d]) if parameters else "unknown",
        **architecture(config),
        "chat_template": bool(tokenizer.get("chat_template")) or any(f in files for f in TEMPLATE_FILES),
        "gated": bool(info.gated),
        "license": licence,
        "trust_remote_code": "auto_map" in config,
    }


def write_lock(path: Path, repo_id: str, entry: dict[str, Any], source: str) -> None:
    lock = json.loads(path.read_text()) if path.is_file() else {"models": {}}
    lock["models"][repo_id] = entry
    lock["lock_metadata"] = {
        "schema_version": SCHEMA_VERSION,
        "generated_by": "tools/model_lock.py (make model-lock MODEL=org/name)",
        "huggingface_hub": huggingface_hub.__version__,
        "source": source,
    }
    path.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="Hugging Face model id, org/name")
    parser.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    parser.add_argument("--lock", type=Path, default=DEFAULT_LOCK)
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="recorded in lock_metadata.source")
    args = parser.parse_args(argv)
    try:
        entry = read_model(args.model, args.revision)
    except (LockError, HfHubHTTPError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    write_lock(args.lock, args.model, entry, args.source)
    print(
        f"locked {args.model}@{entry['revision']}: {entry['params']:,} parameters ({entry['dtype']}), "
        f"{entry['layers']} layers, chat template {'yes' if entry['chat_template'] else 'no'}, "
        f"gated {'yes' if entry['gated'] else 'no'} → {args.lock}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
