"""`make chat` and the `llm-chat` console script run the same function, and the package ships only llmchat."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_console_script_points_at_the_cli_main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = project["project"]["scripts"]["llm-chat"]
    module, _, name = target.partition(":")
    assert callable(getattr(importlib.import_module(module), name))
    # Only the client is packaged: stacks/, constructs/ (a namespace portion) and tools/ stay out of the wheel.
    assert project["tool"]["setuptools"]["packages"] == ["llmchat"]


def test_make_chat_runs_the_package() -> None:
    recipe = re.search(r"^chat:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe and recipe.group(1) == "$(PY) -m llmchat $(CHAT_ARGS)"
    assert (ROOT / "llmchat" / "__main__.py").read_text().startswith("from llmchat.cli import main")
