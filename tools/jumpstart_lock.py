"""Resolve a SageMaker JumpStart model with the SageMaker SDK and record the facts in jumpstart.lock.json.

    python tools/jumpstart_lock.py --model huggingface-llm-falcon-40b-instruct-bf16 --version '*' \\
        --regions us-east-1,eu-west-1 [--lock jumpstart.lock.json]

(`make jumpstart-lock MODEL=... VERSION=... REGIONS=...` calls exactly this.)

Resolution is the SDK's own code in ``sagemaker-core`` — the same functions ``JumpStartModel`` calls:
``instance_types.retrieve``/``retrieve_default``, ``image_uris.retrieve``, ``model_uris.retrieve``,
``environment_variables.retrieve_default`` (with ``include_aws_sdk_env_vars=False``, as the model factory
does), the model package ARN, the model init/deploy kwargs, the EULA key and the gated-bucket flag. With AWS
credentials it reads the region's ``jumpstart-cache-prod-<region>`` bucket; with
``AWS_JUMPSTART_MANIFEST_LOCAL_ROOT_DIR_OVERRIDE`` and ``AWS_JUMPSTART_SPECS_LOCAL_ROOT_DIR_OVERRIDE`` it
reads local folders instead (the tests use that, and so did the committed lock: there is no AWS account
here). One rule is copied rather than called, because it lives in the SDK's model factory, which needs
the separate ``sagemaker-serve`` package: an ``s3://…/`` artifact URI is an uncompressed prefix
(``S3DataSource`` with ``CompressionType: None``), anything else is a ``.tar.gz`` object.

``*`` is resolved once, in the first region, to a concrete version; every region is then resolved at that
exact version, so one stack deploys the same model everywhere, and the lock records ``"*" -> "2.3.22"``.

Why a separate lock and not ``cdk.context.json``:
- Context entries are keyed by CDK's own lookup providers, are cleared wholesale by ``cdk context --clear``,
  and a missing entry makes the CLI try a live lookup. JumpStart is not a CDK context provider, so a miss
  there could only ever be our own error; here it is one with the exact command to run.
- The lock is the whole answer of one resolution (version, images per instance type, env, artifacts,
  EULA, IAM scoping facts) for every region at once, versioned with ``schema_version`` and stamped with the
  sagemaker-core version that produced it, and it is readable in review; context values are opaque blobs.
- Synth must stay fast and offline: reading a JSON file costs nothing; importing the SDK costs ~2.5 s and
  ~150 MB, and talking to S3 needs credentials. Only this tool imports the SDK.

The file is deterministic: sorted keys, fixed indentation, and an entry whose facts did not change keeps its
old ``generated_at``, so re-running the same command is a no-op in ``git diff``. ``SOURCE_DATE_EPOCH`` pins
the timestamp of new entries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCK = REPO_ROOT / "jumpstart.lock.json"
LOCK_SCHEMA_VERSION = 1
MANIFEST_OVERRIDE = "AWS_JUMPSTART_MANIFEST_LOCAL_ROOT_DIR_OVERRIDE"
SPECS_OVERRIDE = "AWS_JUMPSTART_SPECS_LOCAL_ROOT_DIR_OVERRIDE"
BUCKET_OVERRIDES = (
    "AWS_JUMPSTART_CONTENT_BUCKET_OVERRIDE",
    "AWS_JUMPSTART_GATED_CONTENT_BUCKET_OVERRIDE",
    "AWS_JUMPSTART_MODEL_BUCKET_OVERRIDE",
)
INFERENCE = "inference"
_IMAGE_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.(?P<domain>[a-z0-9.-]+)/"
    r"(?P<repository>[^:@]+)(?P<ref>[:@].+)$"
)
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class LockError(Exception):
    """A resolution or lock-file problem worth one clear line on stderr."""


def _sdk_version() -> str:
    return metadata.version("sagemaker-core")


def _source_description(note: str | None) -> str:
    if os.environ.get(MANIFEST_OVERRIDE) and os.environ.get(SPECS_OVERRIDE):
        paths = [_display_path(os.environ[name]) for name in (MANIFEST_OVERRIDE, SPECS_OVERRIDE)]
        source = f"local JumpStart metadata override (manifest {paths[0]}, specs {paths[1]})"
    else:
        source = "JumpStart metadata from the region's jumpstart-cache-prod-<region> bucket"
    overrides = [f"{name}={os.environ[name]}" for name in BUCKET_OVERRIDES if os.environ.get(name)]
    if overrides:
        source += "; bucket overrides: " + ", ".join(overrides)
    return f"{source}; {note}" if note else source


def _display_path(path: str) -> str:
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(REPO_ROOT))
    except ValueError:
        return str(resolved)


def _now() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_regions(text: str) -> list[str]:
    regions = [part.strip() for part in text.split(",") if part.strip()]
    if not regions:
        raise LockError("--regions: give at least one region, e.g. us-east-1,eu-west-1")
    bad = [region for region in regions if not _REGION.match(region)]
    if bad:
        raise LockError(f"--regions: not region names: {', '.join(bad)}")
    return list(dict.fromkeys(regions))


def image_facts(image_uri: str, partition: str) -> dict[str, str]:
    """Split an ECR image URI into what the IAM policy needs (the repository ARN)."""
    match = _IMAGE_URI.match(image_uri)
    if match is None:
        raise LockError(f"unexpected image URI (not an ECR image): {image_uri}")
    account, region, repository = match["account"], match["region"], match["repository"]
    return {
        "uri": image_uri,
        "account": account,
        "region": region,
        "repository": repository,
        "repository_arn": f"arn:{partition}:ecr:{region}:{account}:repository/{repository}",
    }


def model_data_facts(s3_uri: str) -> dict[str, str]:
    """Describe the artifact the way CreateModel wants it, plus the bucket/key IAM scoping needs."""
    if not s3_uri.startswith("s3://"):
        raise LockError(f"unexpected model artifact URI (not s3://): {s3_uri}")
    bucket, _, key = s3_uri[len("s3://") :].partition("/")
    uncompressed = s3_uri.endswith("/")
    return {
        "s3_uri": s3_uri,
        "bucket": bucket,
        "key": key,
        "compression": "None" if uncompressed else "Gzip",
        "s3_data_type": "S3Prefix" if uncompressed else "S3Object",
    }


def _sdk_session(region: str) -> Any:
    """A SageMaker SDK session (and S3 client) in ``region``, and the SDK's JumpStart cache pointed at it.

    Without this the SDK falls back to its default session (the default region, else us-west-2) for the
    S3 client, and ``get_jumpstart_content_bucket`` resets the cache to that default region whenever the
    region changes, so a multi-region run could read one region's manifest for another.
    """
    import boto3
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.jumpstart.accessors import JumpStartModelsAccessor

    session = Session(boto_session=boto3.Session(region_name=region))
    JumpStartModelsAccessor.reset_cache(cache_kwargs={"s3_client": session.s3_client}, region=region)
    return session


def _region_facts(model_id: str, version: str, region: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Resolve one region; returns (region-independent facts, region facts)."""
    import boto3
    from sagemaker.core import environment_variables, image_uris, instance_types, model_uris
    from sagemaker.core.common_utils import get_domain_for_region
    from sagemaker.core.jumpstart import utils as js_utils
    from sagemaker.core.jumpstart.artifacts import (
        _retrieve_model_deploy_kwargs,
        _retrieve_model_init_kwargs,
        _retrieve_model_package_arn,
    )

    session = _sdk_session(region)
    key = {"model_id": model_id, "model_version": version, "region": region, "sagemaker_session": session}
    specs = js_utils.verify_model_region_and_return_specs(
        model_id=model_id, version=version, scope=INFERENCE, region=region, sagemaker_session=session
    )
    supported = list(instance_types.retrieve(**key, scope=INFERENCE))
    default = instance_types.retrieve_default(**key, scope=INFERENCE)
    init_kwargs = _retrieve_model_init_kwargs(**key)
    partition = boto3.session.Session().get_partition_for_region(region)
    content_bucket = js_utils.get_jumpstart_content_bucket(region)

    per_instance: dict[str, Any] = {}
    for instance_type in sorted(set(supported) | {default}):
        image_uri = image_uris.retrieve(framework=None, **key, image_scope=INFERENCE, instance_type=instance_type)
        model_uri = model_uris.retrieve(**key, model_scope=INFERENCE, instance_type=instance_type)
        environment = environment_variables.retrieve_default(
            **key, include_aws_sdk_env_vars=False, instance_type=instance_type
        )
        deploy_kwargs = _retrieve_model_deploy_kwargs(**key, instance_type=instance_type)
        per_instance[instance_type] = {
            "image": image_facts(image_uri, partition),
            "model_data": model_data_facts(model_uri),
            "environment": {name: str(value) for name, value in environment.items()},
            "model_package_arn": _retrieve_model_package_arn(
                model_id=model_id,
                model_version=version,
                instance_type=instance_type,
                region=region,
                scope=INFERENCE,
                sagemaker_session=session,
            ),
            "deploy": {
                name: deploy_kwargs[name]
                for name in (
                    "container_startup_health_check_timeout",
                    "model_data_download_timeout",
                    "volume_size",
                )
                if name in deploy_kwargs
            },
        }

    eula_key = specs.hosting_eula_key
    common = {
        "default_instance_type": default,
        "supported_instance_types": supported,
        "enable_network_isolation": bool(init_kwargs.get("enable_network_isolation", False)),
        "eula_key": eula_key,
        "gated_bucket": bool(specs.gated_bucket),
        "deprecated": bool(specs.deprecated),
    }
    region_facts = {
        "partition": partition,
        "content_bucket": content_bucket,
        "eula_url": (
            f"https://{content_bucket}.s3.{region}.{get_domain_for_region(region)}/{eula_key}" if eula_key else None
        ),
        "instance_types": per_instance,
    }
    return common, region_facts


def resolve(model_id: str, version: str, regions: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Run the SDK's resolution for every region; returns (concrete version, lock entry without metadata)."""
    try:
        return _resolve(model_id, version, regions)
    except (BotoCoreError, ClientError) as error:
        raise LockError(
            f"cannot read the JumpStart metadata ({type(error).__name__}: {error}). Run with AWS credentials "
            f"(e.g. AWS_PROFILE=...), or point {MANIFEST_OVERRIDE} and {SPECS_OVERRIDE} at local metadata."
        ) from error


def _resolve(model_id: str, version: str, regions: Sequence[str]) -> tuple[str, dict[str, Any]]:
    from sagemaker.core.jumpstart.accessors import JumpStartModelsAccessor

    session = _sdk_session(regions[0])
    try:
        specs = JumpStartModelsAccessor.get_model_specs(
            region=regions[0], model_id=model_id, version=version, s3_client=session.s3_client
        )
    except KeyError as error:  # the SDK reports unknown ids/versions as KeyError with a helpful text
        raise LockError(f"{regions[0]}: {error.args[0] if error.args else error}") from error
    concrete = specs.version

    common: dict[str, Any] | None = None
    facts: dict[str, Any] = {}
    for region in regions:
        try:
            region_common, facts[region] = _region_facts(model_id, concrete, region)
        except (KeyError, ValueError) as error:
            raise LockError(
                f"{model_id} {concrete} (resolved from {version!r}) in {region}: "
                f"{error.args[0] if error.args else error}"
            ) from error
        if common is None:
            common = region_common
        elif region_common != common:
            raise LockError(
                f"{model_id} {concrete}: {region} disagrees with {regions[0]} on region-independent facts "
                f"({json.dumps(region_common, sort_keys=True)} vs {json.dumps(common, sort_keys=True)})"
            )
    assert common is not None
    return concrete, {**common, "regions": facts}


def empty_lock() -> dict[str, Any]:
    return {
        "schema_version": LOCK_SCHEMA_VERSION,
        "about": (
            "Resolved SageMaker JumpStart facts, written by tools/jumpstart_lock.py (`make jumpstart-lock "
            "MODEL=... VERSION=... REGIONS=...`) and read at synth by constructs/facts/jumpstart_lock.py. "
            "Do not edit by hand."
        ),
        "models": {},
    }


def load_lock(path: Path) -> dict[str, Any]:
    if not path.exists():
        return empty_lock()
    lock = json.loads(path.read_text(encoding="utf-8"))
    if lock.get("schema_version") != LOCK_SCHEMA_VERSION:
        raise LockError(
            f"{path}: schema_version {lock.get('schema_version')!r}, this tool writes {LOCK_SCHEMA_VERSION}; "
            "move the file away and regenerate it"
        )
    return lock


def merge(
    lock: dict[str, Any],
    *,
    model_id: str,
    requested: str,
    concrete: str,
    entry: dict[str, Any],
    metadata_fields: dict[str, str],
) -> dict[str, Any]:
    """Merge one resolution into the lock (regions are added/updated; unreferenced versions pruned)."""
    model = lock["models"].setdefault(model_id, {"requests": {}, "versions": {}})
    model["requests"][requested] = concrete
    previous = model["versions"].get(concrete)
    regions = dict(previous["regions"]) if previous else {}
    regions.update(entry["regions"])
    merged = {**entry, "regions": dict(sorted(regions.items()))}
    unchanged = previous is not None and {k: v for k, v in previous.items() if k != "lock_metadata"} == merged
    merged["lock_metadata"] = previous["lock_metadata"] if unchanged else metadata_fields
    model["versions"][concrete] = merged
    referenced = set(model["requests"].values())
    model["versions"] = {v: facts for v, facts in model["versions"].items() if v in referenced}
    return lock


def dump_lock(lock: dict[str, Any]) -> str:
    return json.dumps(lock, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def lock_model(
    *,
    model_id: str,
    version: str,
    regions: Sequence[str],
    lock_path: Path = DEFAULT_LOCK,
    source_note: str | None = None,
) -> str:
    """Resolve and write; returns the concrete version."""
    lock = load_lock(lock_path)
    concrete, entry = resolve(model_id, version, regions)
    merge(
        lock,
        model_id=model_id,
        requested=version,
        concrete=concrete,
        entry=entry,
        metadata_fields={
            "generated_at": _now(),
            "generated_by": "tools/jumpstart_lock.py",
            "sagemaker_core_version": _sdk_version(),
            "source": _source_description(source_note),
        },
    )
    text = dump_lock(lock)
    if not lock_path.exists() or lock_path.read_text(encoding="utf-8") != text:
        lock_path.write_text(text, encoding="utf-8")
    return concrete


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Resolve a JumpStart model with the SageMaker SDK and record it in the lock file."
    )
    parser.add_argument("--model", required=True, help="JumpStart model id")
    parser.add_argument("--version", default="*", help="model version; '*' resolves to the newest")
    parser.add_argument("--regions", required=True, help="comma-separated regions, e.g. us-east-1,eu-west-1")
    parser.add_argument("--lock", type=Path, default=DEFAULT_LOCK, help="lock file (default: %(default)s)")
    parser.add_argument("--source", default=None, help="extra provenance note stored with the entry")
    args = parser.parse_args(argv)
    try:
        regions = parse_regions(args.regions)
        concrete = lock_model(
            model_id=args.model,
            version=args.version,
            regions=regions,
            lock_path=args.lock,
            source_note=args.source,
        )
    except LockError as error:
        print(f"jumpstart-lock: {error}", file=sys.stderr)
        return 1
    print(f"{args.model} {args.version} -> {concrete} locked for {', '.join(regions)} in {args.lock}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
