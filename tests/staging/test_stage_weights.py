"""tools/stage_weights.py with the real huggingface_hub client against a fake Hub on 127.0.0.1 and moto's S3."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.staging.fake_hub import COMMIT, FakeRepo, fake_hub

MODEL = "acme/tiny-llm"
BUCKET = "my-weights"
MIB = 1024 * 1024


@pytest.fixture
def repo() -> FakeRepo:
    files = {
        "config.json": b'{"model_type": "llama", "num_attention_heads": 4}',
        "tokenizer.json": b'{"version": "1.0"}' * 100,
        # Bigger than the (test) part size: uploaded in 2 parts with a composite SHA-256 checksum.
        "model-00001-of-00002.safetensors": os.urandom(6 * MIB),
        "model-00002-of-00002.safetensors": os.urandom(1 * MIB),
    }
    return FakeRepo(MODEL, files, lfs={n for n in files if n.endswith(".safetensors")})


@pytest.fixture
def tool(repo: FakeRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    with fake_hub(repo) as endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE"):
            monkeypatch.delenv(var, raising=False)
        import huggingface_hub.constants

        # The client reads HF_ENDPOINT when its constants module is imported.
        importlib.reload(huggingface_hub.constants)
        import tools.stage_weights as module

        module = importlib.reload(module)
        monkeypatch.setattr(module, "PART_SIZE", 5 * MIB)  # S3's minimum part size, to exercise multipart
        yield module
    monkeypatch.undo()  # the client's constants go back to the real environment for later tests
    importlib.reload(huggingface_hub.constants)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(var, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _stage(tool: Any, s3: Any, tmp_path: Path, **kwargs: Any) -> tuple[dict[str, Any], list[str]]:
    lines: list[str] = []
    kwargs.setdefault("lock", tmp_path / "missing.lock.json")
    manifest = tool.stage(model=MODEL, bucket=BUCKET, s3=s3, api=tool.HfApi(), log=lines.append, **kwargs)
    return manifest, lines


def test_full_copy_verifies_and_records_the_revision(tool: Any, s3: Any, repo: FakeRepo, tmp_path: Path) -> None:
    manifest, lines = _stage(tool, s3, tmp_path, prefix="models/tiny/")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {f"models/tiny/{n}" for n in repo.files} | {"models/tiny.manifest.json"}
    for name, content in repo.files.items():
        assert s3.get_object(Bucket=BUCKET, Key=f"models/tiny/{name}")["Body"].read() == content
    big = s3.head_object(Bucket=BUCKET, Key="models/tiny/model-00001-of-00002.safetensors", ChecksumMode="ENABLED")
    assert big["ChecksumSHA256"]  # S3 checked each part's SHA-256; the tool compared the composite
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key="models/tiny.manifest.json")["Body"].read())
    assert stored == manifest and stored["revision"] == COMMIT and len(stored["files"]) == 4
    assert lines[-1] == f"deploy with: -c model_data=s3://{BUCKET}/models/tiny/"
    assert "main" in lines[0]  # no --revision and no lock entry: the Hub's main, resolved to its sha


def test_default_prefix_names_model_and_sha(tool: Any, s3: Any, tmp_path: Path) -> None:
    manifest, _ = _stage(tool, s3, tmp_path)
    assert manifest["uri"] == f"s3://{BUCKET}/models/{MODEL}/{COMMIT}/"


def test_rerun_after_an_interruption_copies_only_what_is_missing(
    tool: Any, s3: Any, repo: FakeRepo, tmp_path: Path
) -> None:
    def interrupt_after_two(line: str) -> None:
        if line.startswith("  copied") and sum(1 for d in repo.downloads if d) >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tool.stage(
            model=MODEL,
            bucket=BUCKET,
            prefix="m/",
            s3=s3,
            api=tool.HfApi(),
            log=interrupt_after_two,
            lock=tmp_path / "none.json",
        )
    first = list(repo.downloads)
    assert len(first) == 2
    assert "KeyCount" in s3.list_objects_v2(Bucket=BUCKET, Prefix="m.manifest.json") and not s3.list_objects_v2(
        Bucket=BUCKET, Prefix="m.manifest.json"
    ).get("Contents")
    repo.downloads.clear()
    _, lines = _stage(tool, s3, tmp_path, prefix="m/")
    assert sorted(repo.downloads) == sorted(set(repo.files) - set(first))
    assert "2 copied, 2 already in place (same size and checksum)" in lines


def test_an_object_with_the_same_size_but_other_content_is_copied_again(
    tool: Any, s3: Any, repo: FakeRepo, tmp_path: Path
) -> None:
    _stage(tool, s3, tmp_path, prefix="m/")
    name = "model-00002-of-00002.safetensors"
    s3.put_object(Bucket=BUCKET, Key=f"m/{name}", Body=b"\0" * len(repo.files[name]))
    repo.downloads.clear()
    _stage(tool, s3, tmp_path, prefix="m/")
    assert repo.downloads == [name]
    assert s3.get_object(Bucket=BUCKET, Key=f"m/{name}")["Body"].read() == repo.files[name]


@pytest.mark.parametrize("name", ["model-00001-of-00002.safetensors", "config.json"])
def test_a_corrupted_download_is_detected_and_not_uploaded(
    tool: Any, s3: Any, repo: FakeRepo, tmp_path: Path, name: str
) -> None:
    repo.corrupt.add(name)
    which = "LFS sha256" if name.endswith(".safetensors") else "git blob id"
    with pytest.raises(tool.ChecksumMismatch, match=f"{name}: .*{which.split()[-1]}"):
        _stage(tool, s3, tmp_path, prefix="m/")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    assert f"m/{name}" not in keys and "m.manifest.json" not in keys


def test_revision_comes_from_the_lock_then_the_flag(tool: Any, s3: Any, repo: FakeRepo, tmp_path: Path) -> None:
    lock = tmp_path / "models.lock.json"
    lock.write_text(json.dumps({"models": {MODEL: {"revision": COMMIT, "params": 1}}}))
    assert tool.lock_revision(lock, MODEL) == COMMIT
    _, lines = _stage(tool, s3, tmp_path, prefix="m/", lock=lock)
    assert "(models.lock.json)" in lines[0]
    with pytest.raises(Exception, match=r"404|not found|Revision|Repository"):
        _stage(tool, s3, tmp_path, prefix="n/", revision="f" * 40)


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"models": []}', '{"models": {"acme/tiny-llm": 3}}'])
def test_lock_is_read_defensively(tool: Any, tmp_path: Path, content: str) -> None:
    lock = tmp_path / "models.lock.json"
    lock.write_text(content)
    assert tool.lock_revision(lock, MODEL) is None


def test_command_line_exits_1_on_a_checksum_mismatch(
    tool: Any, s3: Any, repo: FakeRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    argv = ["--model", MODEL, "--bucket", BUCKET, "--prefix", "cli/", "--lock", str(tmp_path / "none.json")]
    assert tool.main(argv) == 0
    assert f"deploy with: -c model_data=s3://{BUCKET}/cli/" in capsys.readouterr().out
    repo.corrupt.add("tokenizer.json")
    assert tool.main([*argv[:5], "other/", *argv[6:]]) == 1
    assert "error: checksum mismatch, nothing more copied: tokenizer.json" in capsys.readouterr().err
