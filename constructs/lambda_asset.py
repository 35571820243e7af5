"""Build a Python Lambda asset without Docker: pip's cross-platform wheel install, cached by content.

`pip install --platform manylinux2014_aarch64 --only-binary=:all: --no-deps --require-hashes -r <lock>` puts the
exact locked wheels for the Lambda's architecture and Python into a folder, next to the function's source. The
folder is keyed by a hash of everything that goes in (lock, sources, platform, Python), so a second synth, a
test session or CI reuses it and CDK's asset hash is that key (no re-hashing of thousands of files per synth).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_SKIP = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_MARKER = ".asset-complete"


@dataclass(frozen=True)
class PythonTarget:
    """The Lambda side: CPU architecture (as a manylinux platform tag) and Python version."""

    platform: str = "manylinux2014_aarch64"
    python_version: str = "3.13"


def _sources(source: Path) -> list[Path]:
    return sorted(
        p
        for p in source.rglob("*")
        if p.is_file() and not _SKIP.intersection(p.relative_to(source).parts) and p.suffix != ".pyc"
    )


def asset_key(source: Path, lock: Path, target: PythonTarget) -> str:
    digest = hashlib.sha256(f"{target.platform}|{target.python_version}|".encode())
    digest.update(lock.read_bytes())
    for path in _sources(source):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_python_asset(
    source: Path, *, lock: Path, cache_root: Path, target: PythonTarget | None = None
) -> tuple[Path, str]:
    """The folder to deploy (dependencies + source) and its content key; built once per key."""
    target = target or PythonTarget()
    key = asset_key(source, lock, target)
    dest = cache_root / f"{source.name}-{key[:20]}"
    if (dest / _MARKER).exists():
        return dest, key
    cache_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{source.name}-", dir=cache_root))
    try:
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                "--no-deps", "--require-hashes", "--only-binary=:all:", "--implementation", "cp",
                "--platform", target.platform, "--python-version", target.python_version,
                "--target", str(work), "-r", str(lock),
            ],
            check=True,
            capture_output=True,
            text=True,
        )  # fmt: skip
        for path in _sources(source):
            rel = path.relative_to(source)
            if rel.name.startswith("requirements"):
                continue
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, work / rel)
        (work / _MARKER).write_text(key)
        try:
            os.rename(work, dest)
        except OSError:
            # Another process (a parallel test worker) finished the same key first; theirs is identical.
            shutil.rmtree(work, ignore_errors=True)
    except subprocess.CalledProcessError as err:
        shutil.rmtree(work, ignore_errors=True)
        raise RuntimeError(
            f"building the Lambda asset for {source} failed: pip could not install {lock} for "
            f"{target.platform}/cp{target.python_version} (PyPI must be reachable on first build):\n{err.stderr}"
        ) from None
    return dest, key
