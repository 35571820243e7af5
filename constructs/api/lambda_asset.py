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
import stat
import subprocess
import sys
import tempfile
import zipfile
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
    """The allow-list of source files: what git tracks under `source` (an untracked `.env` never ships).

    Outside a git checkout (a release tarball), every file that is not hidden or a cache.
    """
    tracked = _git_tracked(source)
    if tracked is not None:
        return sorted(source / rel for rel in tracked if (source / rel).is_file())
    return sorted(
        p
        for p in source.rglob("*")
        if p.is_file()
        and not _SKIP.intersection(p.relative_to(source).parts)
        and p.suffix != ".pyc"
        and not any(part.startswith(".") for part in p.relative_to(source).parts)
    )


def _git_tracked(source: Path) -> list[str] | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "ls-files", "-z", "--", "."],
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return [name for name in out.decode().split("\0") if name]


def _normalize_installed(folder: Path) -> None:
    """Remove what would carry the build machine into the zip: console scripts in bin/ (their shebang is this
    machine's interpreter path; Lambda never runs them) and their lines in each wheel's RECORD."""
    shutil.rmtree(folder / "bin", ignore_errors=True)
    for record in folder.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines()
        kept = [line for line in lines if not line.startswith("../") and "__pycache__" not in line]
        record.write_text("\n".join(kept) + "\n")


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
    """The deployment zip (dependencies + source) and its content key; built once per key.

    A single zip is what Lambda takes anyway; handing CDK one file instead of a folder of thousands saves each
    synth from copying them into cdk.out.
    """
    target = target or PythonTarget()
    key = asset_key(source, lock, target)
    archive = cache_root / f"{source.name}-{key[:20]}.zip"
    if not archive.exists():
        folder = _build_folder(source, lock, cache_root, target, key)
        _deterministic_zip(folder, archive)
    return archive, key


def _deterministic_zip(folder: Path, archive: Path) -> None:
    """Same bytes for the same files: sorted entries, fixed timestamps, modes kept (run.sh stays executable)."""
    partial = archive.with_suffix(f".{os.getpid()}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != _MARKER):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    os.replace(partial, archive)


def _build_folder(source: Path, lock: Path, cache_root: Path, target: PythonTarget, key: str) -> Path:
    dest = cache_root / f"{source.name}-{key[:20]}"
    if (dest / _MARKER).exists():
        return dest
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
        _normalize_installed(work)
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
    return dest
