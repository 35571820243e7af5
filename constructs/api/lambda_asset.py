"""Build a Python Lambda asset without Docker: pip's cross-platform wheel install, cached by content.

`pip install --platform manylinux2014_aarch64 --only-binary=:all: --no-deps --require-hashes -r <lock>` puts the
exact locked wheels for the Lambda's architecture and Python into a folder, next to the function's source. The
folder is keyed by a hash of everything that goes in (lock, sources, platform, Python), so a second synth, a
test session or CI reuses it and CDK's asset hash is that key (no re-hashing of thousands of files per synth).

Bytecode: Lambda's `/var/task` is read-only, so a package without `.pyc` files compiles every module it imports on
every cold start (about 3x the CPU of an import from bytecode, measured with `make bench`). When this machine has
an interpreter of the Lambda's Python minor version (`python3.13`), every module is compiled with it into the zip
(`--invalidation-mode unchecked-hash`: no timestamps, no source check at import; the build folder's path is
recorded as `/var/task`, so the bytes do not depend on where it was built).
Without one the zip ships sources only, as before; `make synth` says which (see docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
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


LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks a function's zip (LAMBDA_TASK_ROOT)


@dataclass(frozen=True)
class Compiler:
    """An interpreter that writes bytecode the Lambda's Python loads: same implementation and minor version."""

    executable: str
    version: str  # its full version: part of the asset key, since bytecode may differ between patch releases

    @classmethod
    @functools.cache
    def find(cls, python_version: str) -> Compiler | None:
        """This interpreter if it is CPython `python_version`, else `python<version>` on PATH if it is; else None.

        Looked up once per process: every synth in it (a test session has many) asks again."""
        tag = "cpython-" + python_version.replace(".", "")
        if sys.implementation.cache_tag == tag:
            return cls(sys.executable, platform.python_version())
        found = shutil.which(f"python{python_version}")
        if found is None:
            return None
        probe = "import sys, platform; print(sys.implementation.cache_tag, platform.python_version())"
        try:
            out = subprocess.run([found, "-c", probe], check=True, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        cache_tag, _, version = out.stdout.strip().partition(" ")
        return cls(found, version) if cache_tag == tag else None

    def compile(self, folder: Path) -> None:
        """Write `__pycache__/*.pyc` for every module under `folder`, recorded at LAMBDA_TASK_ROOT.

        A file that does not compile (a dependency's Python 2 example, say) is left as source, as compileall does;
        importing it would fail the same way with or without bytecode.
        """
        subprocess.run(
            [
                self.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                "-s", str(folder), "-p", LAMBDA_TASK_ROOT, str(folder),
            ],
            check=False,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip


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


def asset_key(source: Path, lock: Path, target: PythonTarget, compiler: Compiler | None = None) -> str:
    bytecode = f"bytecode:{compiler.version}" if compiler else "sources-only"
    digest = hashlib.sha256(f"{target.platform}|{target.python_version}|{bytecode}|".encode())
    digest.update(lock.read_bytes())
    for path in _sources(source):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


_FIND = object()


def build_python_asset(
    source: Path,
    *,
    lock: Path,
    cache_root: Path,
    target: PythonTarget | None = None,
    compiler: Compiler | object | None = _FIND,
) -> tuple[Path, str]:
    """The deployment zip (dependencies + source, plus bytecode when `compiler` is given or found) and its content
    key; built once per key.

    A single zip is what Lambda takes anyway; handing CDK one file instead of a folder of thousands saves each
    synth from copying them into cdk.out.
    """
    target = target or PythonTarget()
    chosen = Compiler.find(target.python_version) if compiler is _FIND else compiler
    assert chosen is None or isinstance(chosen, Compiler)
    key = asset_key(source, lock, target, chosen)
    archive = cache_root / f"{source.name}-{key[:20]}.zip"
    if not archive.exists():
        folder = _build_folder(source, lock, cache_root, target, key, chosen)
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


def _build_folder(
    source: Path, lock: Path, cache_root: Path, target: PythonTarget, key: str, compiler: Compiler | None
) -> Path:
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
        if compiler is not None:
            compiler.compile(work)
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
