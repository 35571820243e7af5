"""Bytecode in the Lambda zip: compiled by an interpreter of the runtime's version when this machine has one.

This machine has CPython 3.11, not the Lambda's 3.13, so the compile step is exercised with this interpreter as the
"runtime" version: the mechanism (what is written, how it is recorded, that the import uses it on a read-only
tree, that the asset key changes) is the same for 3.13.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from constructs.api.lambda_asset import LAMBDA_TASK_ROOT, Compiler, PythonTarget, asset_key

HERE_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
TAG = sys.implementation.cache_tag


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("from pkg.mod import VALUE\n")
    (root / "pkg" / "mod.py").write_text("VALUE = 42\n\ndef where():\n    return __file__\n")
    (root / "main.py").write_text("import pkg\n")
    (root / "broken.py").write_text("print 'python 2'\n")  # a dependency's file that does not compile
    return root


def test_find_takes_an_interpreter_of_the_runtime_version_only() -> None:
    here = Compiler.find(HERE_VERSION)
    assert here is not None and here.executable == sys.executable
    assert here.version.startswith(HERE_VERSION + ".")
    assert Compiler.find("3.99") is None


def test_compiled_tree_imports_from_bytecode_read_only_and_records_no_build_path(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "task")
    compiler = Compiler.find(HERE_VERSION)
    assert compiler is not None
    compiler.compile(tree)

    pyc = tree / "pkg" / "__pycache__" / f"mod.{TAG}.pyc"
    assert pyc.exists() and (tree / "__pycache__" / f"main.{TAG}.pyc").exists()
    assert not (tree / "__pycache__" / f"broken.{TAG}.pyc").exists()  # left as source, build not failed
    data = pyc.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    flags = int.from_bytes(data[4:8], "little")
    assert flags == 0b01  # hash-based, unchecked: no timestamp, no source hash check at import (PEP 552)
    assert f"{LAMBDA_TASK_ROOT}/pkg/mod.py".encode() in data and str(tree).encode() not in data

    # Read-only like /var/task: the import must come from the shipped bytecode and write nothing.
    for path in sorted(tree.rglob("*"), reverse=True):
        path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)
    try:
        before = sorted(p.name for p in tree.rglob("*"))
        out = subprocess.run(
            [sys.executable, "-c", "import main, pkg.mod; print(pkg.mod.__spec__.cached); print(pkg.mod.where())"],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        assert sorted(p.name for p in tree.rglob("*")) == before
    finally:
        for path in tree.rglob("*"):
            path.chmod(stat.S_IMODE(path.stat().st_mode) | 0o200)
    assert out[0].endswith(f"mod.{TAG}.pyc")
    assert out[1] == str(tree / "pkg" / "mod.py")  # the import system names where the file is, not the build path


def test_bytecode_is_the_same_bytes_from_two_build_folders(tmp_path: Path) -> None:
    compiler = Compiler.find(HERE_VERSION)
    assert compiler is not None
    first, second = _tree(tmp_path / "a"), _tree(tmp_path / "elsewhere" / "b")
    compiler.compile(first)
    compiler.compile(second)
    for pyc in first.rglob("*.pyc"):
        assert pyc.read_bytes() == (second / pyc.relative_to(first)).read_bytes()


@pytest.mark.parametrize("version", ["3.13.0", "3.13.9"])
def test_asset_key_names_the_bytecode(tmp_path: Path, version: str) -> None:
    source, lock = _tree(tmp_path / "src"), tmp_path / "requirements.lock"
    lock.write_text("")
    target = PythonTarget()
    sources_only = asset_key(source, lock, target, None)
    compiled = asset_key(source, lock, target, Compiler("/usr/bin/python3.13", version))
    assert compiled != sources_only
    assert compiled != asset_key(source, lock, target, Compiler("/usr/bin/python3.13", "3.13.5"))
