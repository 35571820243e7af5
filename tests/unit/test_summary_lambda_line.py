"""The summary's `lambda` line says whether the chat Lambda's zip carries bytecode (stacks/summary.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from constructs.api.lambda_asset import Compiler
from stacks.summary import _lambda_line


def _stack(bytecode: Compiler | None) -> Any:
    return SimpleNamespace(chat=SimpleNamespace(bytecode=bytecode))


def test_says_which_python_compiled_the_bytecode() -> None:
    line = _lambda_line(_stack(Compiler("/usr/bin/python3.13", "3.13.7")))
    assert line.startswith("lambda ") and "bytecode compiled with Python 3.13.7" in line


def test_says_when_cold_starts_compile_because_no_python313_was_found() -> None:
    line = _lambda_line(_stack(None))
    assert "no bytecode" in line and "python3.13" in line and "docs/benchmarks.md" in line
