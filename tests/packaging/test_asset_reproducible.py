"""The Lambda zip is the same bytes from two clean checkouts at different paths, and ships only tracked sources."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from constructs.api.lambda_asset import PythonTarget, build_python_asset

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.xdist_group("asset")


def _checkout(where: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(where)], check=True)
    return where / "lambda" / "chat_proxy"


def _build(source: Path, cache: Path) -> bytes:
    archive, _ = build_python_asset(source, lock=source / "requirements.lock", cache_root=cache, target=PythonTarget())
    return archive.read_bytes()


def test_two_clean_checkouts_build_byte_identical_zips_without_untracked_files(tmp_path: Path) -> None:
    first = _checkout(tmp_path / "machine-a" / "src")
    second = _checkout(tmp_path / "elsewhere" / "deeper" / "checkout")
    (first / ".env").write_text("HF_TOKEN=hf_secret\n")  # an untracked file a developer left behind
    (first / "scratch.py").write_text("print('not committed')\n")

    zip_a = _build(first, tmp_path / "cache-a")
    zip_b = _build(second, tmp_path / "cache-b")

    assert zip_a == zip_b
    with zipfile.ZipFile(io.BytesIO(zip_a)) as archive:
        names = archive.namelist()
        contents = [archive.read(name) for name in names]
    assert "main.py" in names and "run.sh" in names and "fastapi/__init__.py" in names
    assert ".env" not in names and "scratch.py" not in names
    assert not [n for n in names if n.startswith("bin/")]
    # No build machine path in any file (console-script shebangs, RECORD lines, direct_url.json).
    for machine_path in (str(tmp_path), str(Path(sys.executable).parent)):
        assert not [n for n, data in zip(names, contents, strict=True) if machine_path.encode() in data]
