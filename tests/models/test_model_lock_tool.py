"""tools/model_lock.py with the real huggingface_hub client against a local fake Hub serving published-file fixtures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from constructs.facts.model_lock import locked_model, locked_model_ids
from constructs.facts.presets import PRESETS
from tests.models.fake_hub import endpoint, fake_hub
from tests.models.lock_from_fixtures import LOCKED_MODELS, ROOT, SOURCE, regenerate, run_tool


@pytest.fixture(scope="module")
def hub() -> Iterator[Any]:
    with fake_hub() as server:
        yield server


def _lock(hub: Any, tmp_path: Path, model: str, **kwargs: Any) -> dict[str, Any]:
    lock = tmp_path / "lock.json"
    done = run_tool(endpoint(hub), model, lock, **kwargs)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(lock.read_text()))


def test_qwen_facts_come_from_model_info_config_and_tokenizer_config(hub: Any, tmp_path: Path) -> None:
    entry = _lock(hub, tmp_path, "Qwen/Qwen2.5-7B-Instruct")["models"]["Qwen/Qwen2.5-7B-Instruct"]
    assert entry == {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_heads": 28,
        "chat_template": True,
        "context_length": 32768,
        "dtype": "BF16",
        "gated": False,
        "head_dim": 128,
        "kv_heads": 4,
        "layers": 28,
        "license": "apache-2.0",
        "model_type": "qwen2",
        "params": 7_615_616_512,
        "revision": "a09a35458c702b33eeacc393d103063234e8bc28",
        "trust_remote_code": False,
    }


def test_files_are_read_at_the_locked_commit_not_the_branch(hub: Any, tmp_path: Path) -> None:
    hub.requests.clear()
    _lock(hub, tmp_path, "Qwen/Qwen2.5-7B-Instruct")
    files = [r for r in hub.requests if "/resolve/" in r]
    assert files and all("/resolve/a09a35458c702b33eeacc393d103063234e8bc28/" in r for r in files)


def test_model_without_template_and_with_auto_map_is_recorded_as_such(hub: Any, tmp_path: Path) -> None:
    entry = _lock(hub, tmp_path, "tiiuae/falcon-7b-instruct")["models"]["tiiuae/falcon-7b-instruct"]
    assert (entry["chat_template"], entry["trust_remote_code"]) == (False, True)
    # Falcon's multi-query config: 71 heads, one KV head, hidden 4544 / 71 = 64 per head.
    assert (entry["attention_heads"], entry["kv_heads"], entry["head_dim"]) == (71, 1, 64)


def test_gated_model_without_a_token_says_what_to_do(hub: Any, tmp_path: Path) -> None:
    done = run_tool(endpoint(hub), "meta-llama/Llama-3.1-8B-Instruct", tmp_path / "lock.json", token=None)
    assert done.returncode == 1
    assert "meta-llama/Llama-3.1-8B-Instruct is gated: accept its licence on the Hub, then run again with HF_TOKEN" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "lock.json").exists()


def test_unknown_model_is_an_error_not_a_traceback(hub: Any, tmp_path: Path) -> None:
    done = run_tool(endpoint(hub), "acme/nothing-here", tmp_path / "lock.json")
    assert done.returncode == 1
    assert "error: acme/nothing-here: no such model on http://127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr


def test_locking_twice_gives_the_same_bytes_and_keeps_other_entries(hub: Any, tmp_path: Path) -> None:
    lock = tmp_path / "lock.json"
    for model in ("Qwen/Qwen2.5-7B-Instruct", "mistralai/Mistral-7B-Instruct-v0.3"):
        run_tool(endpoint(hub), model, lock)
    first = lock.read_bytes()
    run_tool(endpoint(hub), "Qwen/Qwen2.5-7B-Instruct", lock)
    assert lock.read_bytes() == first
    assert sorted(json.loads(first)["models"]) == ["Qwen/Qwen2.5-7B-Instruct", "mistralai/Mistral-7B-Instruct-v0.3"]


def test_committed_lock_is_what_the_tool_makes_from_the_fixtures(tmp_path: Path) -> None:
    regenerated = tmp_path / "models.lock.json"
    regenerate(regenerated)
    assert regenerated.read_text() == (ROOT / "models.lock.json").read_text()
    assert json.loads(regenerated.read_text())["lock_metadata"]["source"] == SOURCE
    assert locked_model_ids() == sorted(LOCKED_MODELS)


def test_catalog_presets_agree_with_their_lock_entries() -> None:
    for preset in PRESETS.values():
        locked = locked_model(preset.hf_model_id)
        if locked is None:
            continue
        assert preset.architecture is not None
        assert (locked.layers, locked.attention_heads, locked.kv_heads, locked.head_dim) == (
            preset.architecture.layers,
            preset.architecture.attention_heads,
            preset.architecture.kv_heads,
            preset.architecture.head_dim,
        ), preset.name
        assert (locked.params_b, locked.context_length, locked.gated) == (
            preset.params_b,
            preset.context_length,
            preset.gated,
        ), preset.name
        assert locked.chat_template == preset.chat_template and locked.trust_remote_code is False


@pytest.mark.parametrize("model", LOCKED_MODELS)
def test_fixture_parameter_counts_match_their_dense_architecture(model: str) -> None:
    """The safetensors totals in the fixtures follow from config.json (embeddings, attention, MLP, norms)."""
    c = json.loads((Path(__file__).parent / "fixtures" / model / "config.json").read_text())
    info = json.loads((Path(__file__).parent / "fixtures" / model / "model_info.json").read_text())
    h, n, kv, layers = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["num_hidden_layers"]
    hd = c.get("head_dim") or h // n
    per_layer = 2 * h * n * hd + 2 * h * kv * hd + 3 * h * c["intermediate_size"] + 2 * h
    if c["model_type"] == "qwen2":  # Qwen2 has biases on q, k and v
        per_layer += n * hd + 2 * kv * hd
    embeddings = c["vocab_size"] * h * (1 if c["tie_word_embeddings"] else 2)
    assert layers * per_layer + embeddings + h == info["safetensors"]["total"]
