"""Copy a Hugging Face Hub model snapshot into S3 for `-c model_data=s3://…/` (weights from S3, network isolation).

    python tools/stage_weights.py --model tiiuae/falcon-40b-instruct --bucket my-weights [--prefix models/x/]
        [--revision <sha>] [--lock models.lock.json]

(`make stage-weights MODEL=… BUCKET=… [PREFIX=…] [REVISION=…]` calls exactly this.)

- Revision: `--revision`, else the one pinned for the model in models.lock.json, else the Hub's current `main`;
  always resolved to a commit sha first, and every file is fetched at that sha.
- Checksums: each file is downloaded (huggingface_hub, honouring HF_TOKEN and HF_ENDPOINT) and checked before it
  is uploaded: LFS files against the sha256 the Hub lists in their LFS metadata, the others against their git
  blob id (sha1 of "blob <size>\\0" + content). The upload asks S3 to verify SHA-256 checksums
  (`ChecksumAlgorithm="SHA256"`, per part for multipart uploads), then the object's checksum as S3 reports it
  is compared with the one computed locally (for multipart: the checksum of the part checksums, "-<parts>").
- Resumable: an object that already has the expected size and the expected `sha256` metadata is skipped, so
  re-running after an interruption copies only what is missing or different. Files go one at a time through a
  temporary folder, so the local disk needs room for the largest file only.
- A manifest `<prefix without the trailing slash>.manifest.json` (beside the folder, so SageMaker does not copy
  it into /opt/ml/model) records the model, the resolved sha and every file's size and sha256; it is written
  last, so its presence means the copy is complete.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from huggingface_hub import HfApi, hf_hub_download

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCK = ROOT / "models.lock.json"
# One fixed part size, so the multipart checksum S3 reports ("checksum of part checksums-<n>") can be computed
# locally the same way (S3 user guide, "Checking object integrity": composite checksums).
PART_SIZE = 64 * 1024 * 1024
READ_SIZE = 1024 * 1024


class ChecksumMismatch(RuntimeError):
    """A downloaded file or an uploaded object does not have the checksum the Hub (or we) computed."""


@dataclass(frozen=True)
class HubFile:
    name: str
    size: int
    sha256: str | None  # LFS files: the Hub's sha256 of the content
    blob_id: str | None  # every file: its git object id (sha1 over "blob <size>\0" + content)


def lock_revision(lock: Path, model: str) -> str | None:
    """The revision pinned for `model` in models.lock.json ({"models": {"org/name": {"revision": sha}}}), if any."""
    try:
        data = json.loads(lock.read_text())
    except (OSError, ValueError):
        return None
    models = data.get("models") if isinstance(data, dict) else None
    entry = models.get(model) if isinstance(models, dict) else None
    revision = entry.get("revision") if isinstance(entry, dict) else None
    return revision if isinstance(revision, str) and revision else None


def resolve(api: HfApi, model: str, revision: str | None) -> tuple[str, list[HubFile]]:
    """The commit sha `revision` (default main) points to, and every file of that commit with its checksums."""
    info = api.model_info(model, revision=revision or "main", files_metadata=True)
    if not info.sha:
        raise RuntimeError(f"the Hub returned no commit sha for {model}@{revision or 'main'}")
    files = [
        HubFile(
            name=s.rfilename,
            size=s.lfs.size if s.lfs else int(s.size or 0),
            sha256=s.lfs.sha256 if s.lfs else None,
            blob_id=s.blob_id,
        )
        for s in info.siblings or []
    ]
    return info.sha, sorted(files, key=lambda f: f.name)


def _chunks(path: Path, size: int = READ_SIZE) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def local_checksums(path: Path) -> tuple[str, str, str]:
    """(sha256 hex, git blob sha1 hex, the SHA-256 checksum S3 reports for an upload in PART_SIZE parts)."""
    size = path.stat().st_size
    whole, blob = hashlib.sha256(), hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    parts: list[bytes] = []
    for part in _chunks(path, PART_SIZE):
        whole.update(part)
        blob.update(part)
        parts.append(hashlib.sha256(part).digest())
    if len(parts) <= 1:
        s3_checksum = base64.b64encode(whole.digest()).decode()
    else:
        s3_checksum = base64.b64encode(hashlib.sha256(b"".join(parts)).digest()).decode() + f"-{len(parts)}"
    return whole.hexdigest(), blob.hexdigest(), s3_checksum


def _head(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return dict(s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"))
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _already_there(head: dict[str, Any] | None, file: HubFile) -> bool:
    if head is None or head.get("ContentLength") != file.size:
        return False
    meta = head.get("Metadata", {})
    if file.sha256 is not None:
        return bool(meta.get("sha256") == file.sha256)
    return bool(file.blob_id is not None and meta.get("git-blob-id") == file.blob_id)


def _same_checksum(reported: str, expected: str) -> bool:
    # S3 appends "-<parts>" to a composite checksum; moto reports the same digest without it.
    digest, _, parts = reported.partition("-")
    want_digest, _, want_parts = expected.partition("-")
    return digest == want_digest and parts in ("", want_parts)


def _verify_download(path: Path, file: HubFile) -> tuple[str, str]:
    sha256, blob_id, s3_checksum = local_checksums(path)
    if path.stat().st_size != file.size:
        raise ChecksumMismatch(f"{file.name}: downloaded {path.stat().st_size} bytes, the Hub lists {file.size}")
    if file.sha256 is not None and sha256 != file.sha256:
        raise ChecksumMismatch(f"{file.name}: sha256 {sha256} does not match the Hub's LFS sha256 {file.sha256}")
    if file.sha256 is None and file.blob_id is not None and blob_id != file.blob_id:
        raise ChecksumMismatch(f"{file.name}: git blob id {blob_id} does not match the Hub's {file.blob_id}")
    return sha256, s3_checksum


def stage(
    *,
    model: str,
    bucket: str,
    prefix: str | None = None,
    revision: str | None = None,
    lock: Path = DEFAULT_LOCK,
    s3: Any = None,
    api: HfApi | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Copy `model` at the resolved revision to s3://bucket/prefix/; return the manifest it wrote."""
    api = api or HfApi()
    s3 = s3 or boto3.client("s3")
    wanted = revision or lock_revision(lock, model)
    sha, files = resolve(api, model, wanted)
    prefix = prefix if prefix is not None else f"models/{model}/{sha}/"
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    log(
        f"{model}@{sha} ({'--revision' if revision else 'models.lock.json' if wanted else 'main'}): "
        f"{len(files)} files, {sum(f.size for f in files) / 2**30:.2f} GiB -> s3://{bucket}/{prefix}"
    )
    config = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE)
    entries, copied, skipped = [], 0, 0
    with tempfile.TemporaryDirectory(prefix="stage-weights-") as tmp:
        for file in files:
            key = prefix + file.name
            head = _head(s3, bucket, key)
            if _already_there(head, file):
                assert head is not None
                skipped += 1
                entries.append({"name": file.name, "size": file.size, "sha256": head["Metadata"].get("sha256")})
                continue
            path = Path(hf_hub_download(model, file.name, revision=sha, local_dir=tmp))
            sha256, s3_checksum = _verify_download(path, file)
            metadata = {"sha256": sha256, **({"git-blob-id": file.blob_id} if file.blob_id else {})}
            s3.upload_file(
                str(path),
                bucket,
                key,
                ExtraArgs={"ChecksumAlgorithm": "SHA256", "Metadata": metadata},
                Config=config,
            )
            reported = (_head(s3, bucket, key) or {}).get("ChecksumSHA256")
            if reported is None or not _same_checksum(reported, s3_checksum):
                s3.delete_object(Bucket=bucket, Key=key)
                raise ChecksumMismatch(f"{file.name}: S3 reports SHA-256 {reported}, expected {s3_checksum}")
            path.unlink()
            copied += 1
            entries.append({"name": file.name, "size": file.size, "sha256": sha256})
            log(f"  copied {file.name} ({file.size} bytes, sha256 {sha256[:12]}…)")
    manifest = {"model": model, "revision": sha, "uri": f"s3://{bucket}/{prefix}", "files": entries}
    s3.put_object(
        Bucket=bucket,
        Key=prefix.rstrip("/") + ".manifest.json",
        Body=json.dumps(manifest, indent=2, sort_keys=True).encode(),
        ContentType="application/json",
        ChecksumAlgorithm="SHA256",
    )
    log(f"{copied} copied, {skipped} already in place (same size and checksum)")
    log(f"deploy with: -c model_data=s3://{bucket}/{prefix}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="Hugging Face model id, org/name")
    parser.add_argument("--bucket", required=True, help="S3 bucket (yours, in the endpoint's region)")
    parser.add_argument("--prefix", help="folder in the bucket (default models/<org>/<name>/<sha>/)")
    parser.add_argument("--revision", help="branch, tag or commit (default: models.lock.json's, else main)")
    parser.add_argument("--lock", type=Path, default=DEFAULT_LOCK, help="models.lock.json to read the revision from")
    args = parser.parse_args(argv)
    try:
        stage(model=args.model, bucket=args.bucket, prefix=args.prefix, revision=args.revision, lock=args.lock)
    except ChecksumMismatch as err:
        print(f"error: checksum mismatch, nothing more copied: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
