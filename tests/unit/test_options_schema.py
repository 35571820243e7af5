"""The context-key schema (stacks/options.py) is the one declaration: the options reference is generated from it,
the typed config is filled from it, and the config modules import each other in one direction only."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from stacks.config import CONTEXT_KEYS, AppConfig, ConfigError, from_context
from stacks.options import ContextOptions, option

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import options_doc  # noqa: E402


def test_docs_and_readme_block_match_the_schema() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "options_doc.py"), "--check"], check=False)
    assert result.returncode == 0, "docs/options.md or README.md is stale: run .venv/bin/python tools/options_doc.py"


def test_a_changed_doc_line_makes_the_reference_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    committed = (ROOT / "docs" / "options.md").read_text(encoding="utf-8")
    assert options_doc.reference() == committed
    field = ContextOptions.model_fields["idle_minutes"]
    monkeypatch.setattr(field, "description", "a different sentence")
    assert options_doc.reference() != committed


def test_the_reference_states_type_default_range_and_shape() -> None:
    rows = {line.split(" | ")[0]: line for line in options_doc.reference().splitlines() if line.startswith("| `")}
    assert rows["| `instance_count`"].startswith("| `instance_count` | integer | `1` (`min_instances` when that")
    assert "| 1-20 | all |" in rows["| `instance_count`"]
    assert "| `true`, `false` | `deployment=tgi` |" in rows["| `trust_remote_code`"]
    assert "| `api_auth=api_key` |" in rows["| `api_quota_per_day`"]
    assert "| `engine=vllm` |" in rows["| `lmcache`"]
    assert "| `responses_store=true` |" in rows["| `responses_retention_days`"]


def test_every_config_field_is_a_declared_key() -> None:
    assert {f.name for f in fields(AppConfig)} <= set(ContextOptions.model_fields)
    assert list(CONTEXT_KEYS) == list(ContextOptions.model_fields)


def test_defaults_come_from_the_schema() -> None:
    config = from_context({})
    for name in ("api_rate_limit", "api_burst_limit", "stack_name", "data_capture_days", "vllm_image"):
        assert getattr(config, name) == ContextOptions.model_fields[name].default


def test_every_key_says_what_it_accepts() -> None:
    assert all(getattr(option(k).parse, "allowed", "") for k in ContextOptions.model_fields)


def test_extra_keys_are_forbidden_by_the_model_too() -> None:
    assert ContextOptions.model_config.get("extra") == "forbid"
    with pytest.raises(ConfigError, match=r"unknown context key\(s\) 'instnce_type' \(did you mean 'instance_type'"):
        ContextOptions.read({"instnce_type": "x"})


def test_validation_errors_surface_as_the_parsers_message() -> None:
    message = r"^context key 'scale_to_zero': 'maybe' is not allowed; expected true or false$"
    with pytest.raises(ConfigError, match=message):
        ContextOptions.read({"scale_to_zero": "maybe"})


def _imports(module: str) -> set[str]:
    tree = ast.parse((ROOT / "stacks" / f"{module}.py").read_text())
    found = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    found |= {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    return {name for name in found if name.startswith("stacks")}


def test_config_modules_import_downwards_only() -> None:
    """config → options → option_types / context_rules; nothing below imports what is above it."""
    assert not (ROOT / "stacks" / "pipeline_config.py").exists()
    assert _imports("option_types") == set()
    assert _imports("context_rules") == set()
    assert not {i for i in _imports("options") if i.startswith("stacks.config")}


@pytest.mark.parametrize("key", ["model", "instance_type", "tgi_version"])
def test_a_json_list_where_text_belongs_fails_naming_the_key(key: str) -> None:
    # cdk.json or a context file can hold any JSON value; a list used to end synth with "unhashable type: 'list'".
    with pytest.raises(ConfigError, match=rf"^context key '{key}': \['x'\] is not allowed; expected "):
        from_context({key: ["x"]})


def test_a_burst_below_the_default_rate_names_the_burst_in_effect() -> None:
    with pytest.raises(
        ConfigError, match=r"^context key 'api_burst_limit': 20 is not allowed; must be at least api_rate"
    ):
        from_context({"api_rate_limit": "50"})
