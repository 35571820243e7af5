"""Synth-time reader of jumpstart.lock.json: resolved SageMaker JumpStart facts, no SDK import, no network.

The lock is written by ``tools/jumpstart_lock.py`` (``make jumpstart-lock``), which runs the SageMaker SDK's
own JumpStart resolution; see that module for the format and why it is not ``cdk.context.json``. When the lock
lacks what synth needs, the ValueError carries the exact command that fills it in.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

DEFAULT_LOCK_PATH = Path(__file__).resolve().parents[2] / "jumpstart.lock.json"
LOCK_SCHEMA_VERSION = 1
# Suggested in the "run this" message when the caller asked for no particular region.
SUGGESTED_REGIONS = ("us-east-1", "eu-west-1")


@dataclass(frozen=True)
class JumpStartImage:
    """The hosting container image and the ECR repository an execution role must be allowed to pull."""

    uri: str
    account: str
    region: str
    repository: str
    repository_arn: str


@dataclass(frozen=True)
class JumpStartModelData:
    """Where the model artifact lives: a ``.tar.gz`` object (Gzip) or an uncompressed prefix (None)."""

    s3_uri: str
    bucket: str
    key: str
    compression: str
    s3_data_type: str

    @property
    def compressed(self) -> bool:
        return self.compression == "Gzip"


@dataclass(frozen=True)
class JumpStartDeployment:
    """Everything CreateModel/CreateEndpointConfig need for one instance type in one region."""

    instance_type: str
    image: JumpStartImage
    model_data: JumpStartModelData
    environment: Mapping[str, str]
    model_package_arn: str | None
    container_startup_health_check_timeout: int | None
    model_data_download_timeout: int | None
    volume_size: int | None


@dataclass(frozen=True)
class JumpStartRegion:
    region: str
    partition: str
    content_bucket: str
    eula_url: str | None
    deployments: Mapping[str, JumpStartDeployment]


@dataclass(frozen=True)
class LockedJumpStartModel:
    """One model version as resolved by the SDK for a set of regions."""

    model_id: str
    requested_version: str
    version: str
    default_instance_type: str
    supported_instance_types: tuple[str, ...]
    enable_network_isolation: bool
    eula_key: str | None
    gated_bucket: bool
    regions: Mapping[str, JumpStartRegion]
    generated_at: str
    sagemaker_core_version: str
    source: str

    @property
    def requires_eula(self) -> bool:
        return self.eula_key is not None

    def eula_document(self, region: str | None = None) -> str:
        """The EULA's URL in ``region`` (or the first locked one), else its key."""
        if self.eula_key is None:
            return ""
        chosen = self.regions[region] if region else next(iter(self.regions.values()))
        return chosen.eula_url or self.eula_key

    def check_instance_type(self, instance_type: str) -> None:
        if instance_type not in self.supported_instance_types:
            raise ValueError(
                f"instance_type {instance_type!r} is not supported by JumpStart model {self.model_id} "
                f"{self.version}; supported: {', '.join(self.supported_instance_types)} "
                f"(default {self.default_instance_type})"
            )

    def deployments(self, instance_type: str) -> dict[str, JumpStartDeployment]:
        """The deployment facts for ``instance_type`` in every locked region (validated first)."""
        self.check_instance_type(instance_type)
        return {region: facts.deployments[instance_type] for region, facts in self.regions.items()}


def jumpstart_lock_command(model_id: str, version: str, regions: Iterable[str]) -> str:
    return (
        f"make jumpstart-lock MODEL={shlex.quote(model_id)} VERSION={shlex.quote(version)} "
        f"REGIONS={shlex.quote(','.join(regions))}"
    )


def _missing(what: str, model_id: str, version: str, regions: Iterable[str], lock_path: Path) -> ValueError:
    return ValueError(
        f"{lock_path.name} {what}. Synth reads JumpStart facts only from the lock; resolve them with the "
        f"SageMaker SDK (needs AWS credentials) by running:\n  {jumpstart_lock_command(model_id, version, regions)}"
    )


def _deployment(instance_type: str, raw: Mapping[str, Any]) -> JumpStartDeployment:
    deploy = raw.get("deploy", {})
    return JumpStartDeployment(
        instance_type=instance_type,
        image=JumpStartImage(**raw["image"]),
        model_data=JumpStartModelData(**raw["model_data"]),
        environment=MappingProxyType(dict(raw["environment"])),
        model_package_arn=raw.get("model_package_arn"),
        container_startup_health_check_timeout=deploy.get("container_startup_health_check_timeout"),
        model_data_download_timeout=deploy.get("model_data_download_timeout"),
        volume_size=deploy.get("volume_size"),
    )


def _region(region: str, raw: Mapping[str, Any]) -> JumpStartRegion:
    return JumpStartRegion(
        region=region,
        partition=raw["partition"],
        content_bucket=raw["content_bucket"],
        eula_url=raw.get("eula_url"),
        deployments=MappingProxyType(
            {name: _deployment(name, facts) for name, facts in sorted(raw["instance_types"].items())}
        ),
    )


def load_locked_model(
    model_id: str,
    version: str = "*",
    regions: Iterable[str] | None = None,
    *,
    lock_path: Path = DEFAULT_LOCK_PATH,
) -> LockedJumpStartModel:
    """The locked facts for ``model_id`` at ``version`` ('*' = the version the lock pinned it to).

    ``regions`` None means every region locked for that version. Raises ValueError (with the command to
    run) when the lock file, model, version or any region is missing.
    """
    wanted = list(dict.fromkeys(regions)) if regions is not None else None
    if not lock_path.exists():
        raise _missing("does not exist", model_id, version, wanted or SUGGESTED_REGIONS, lock_path)
    lock = json.loads(lock_path.read_text(encoding="utf-8"))
    if lock.get("schema_version") != LOCK_SCHEMA_VERSION:
        raise ValueError(
            f"{lock_path.name} has schema_version {lock.get('schema_version')!r}; this code reads "
            f"{LOCK_SCHEMA_VERSION}. Regenerate it with tools/jumpstart_lock.py."
        )

    model = lock.get("models", {}).get(model_id)
    concrete = None
    if model is not None:
        concrete = model["requests"].get(version) or (version if version in model["versions"] else None)
    if model is None or concrete is None:
        raise _missing(
            f"has no entry for JumpStart model {model_id!r} version {version!r}",
            model_id,
            version,
            wanted or SUGGESTED_REGIONS,
            lock_path,
        )

    entry = model["versions"][concrete]
    locked_regions = list(entry["regions"])
    chosen = wanted if wanted is not None else locked_regions
    absent = [region for region in chosen if region not in entry["regions"]]
    if absent:
        raise _missing(
            f"has JumpStart model {model_id!r} version {version!r} (= {concrete}) for "
            f"{', '.join(locked_regions)} but not for {', '.join(absent)}",
            model_id,
            version,
            # Everything already locked for this request too: re-resolving '*' for the missing regions
            # alone could move the pin and leave the others behind.
            list(dict.fromkeys([*locked_regions, *absent])),
            lock_path,
        )

    metadata = entry.get("lock_metadata", {})
    return LockedJumpStartModel(
        model_id=model_id,
        requested_version=version,
        version=concrete,
        default_instance_type=entry["default_instance_type"],
        supported_instance_types=tuple(entry["supported_instance_types"]),
        enable_network_isolation=bool(entry["enable_network_isolation"]),
        eula_key=entry.get("eula_key"),
        gated_bucket=bool(entry.get("gated_bucket", False)),
        regions=MappingProxyType({region: _region(region, entry["regions"][region]) for region in chosen}),
        generated_at=metadata.get("generated_at", ""),
        sagemaker_core_version=metadata.get("sagemaker_core_version", ""),
        source=metadata.get("source", ""),
    )
