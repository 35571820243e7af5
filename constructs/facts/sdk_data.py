"""Facts read from the SageMaker Python SDK's bundled data files, without importing the SDK.

`sagemaker.core.image_uris` costs ~2.4 s and ~230 MB to import; the JSON it reads is a few hundred KB. We locate
the files through the installed distribution's metadata, so nothing from `sagemaker` is imported at synth.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from constructs.facts.gpu_facts import SUPPLEMENTARY_GPU_FACTS

SDK_DISTRIBUTION = "sagemaker-core"
_CONFIG_DIR = "sagemaker/core/image_uri_config"

# Where ECR lives outside the commercial partition; mirrors the SDK's use of botocore's endpoint data without
# paying for loading it. A region missing here falls back to the commercial domain.
_PARTITION_DOMAINS = {
    "cn-": "amazonaws.com.cn",
    "us-iso-": "c2s.ic.gov",
    "us-isob-": "sc2s.sgov.gov",
    "us-isof-": "csp.hci.ic.gov",
    "eu-isoe-": "cloud.adc-e.uk",
    "eusc-": "amazonaws.eu",
}
_PARTITIONS = {
    "cn-": "aws-cn",
    "us-gov-": "aws-us-gov",
    "us-iso-": "aws-iso",
    "us-isob-": "aws-iso-b",
    "us-isof-": "aws-iso-f",
    "eu-isoe-": "aws-iso-e",
    "eusc-": "aws-eusc",
}


def _longest_prefix(region: str, table: dict[str, str], default: str) -> str:
    hits = [p for p in table if region.startswith(p)]
    return table[max(hits, key=len)] if hits else default


def ecr_domain(region: str) -> str:
    return _longest_prefix(region, _PARTITION_DOMAINS, "amazonaws.com")


def partition(region: str) -> str:
    return _longest_prefix(region, _PARTITIONS, "aws")


@functools.cache
def sdk_version() -> str:
    return metadata.version(SDK_DISTRIBUTION)


@functools.cache
def _load(name: str) -> Any:
    path = Path(str(metadata.distribution(SDK_DISTRIBUTION).locate_file(f"{_CONFIG_DIR}/{name}")))
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the installed {SDK_DISTRIBUTION} {sdk_version()} does not ship {name}; "
            f"install the version pinned in requirements.txt"
        )
    return json.loads(path.read_text())


@dataclass(frozen=True)
class ContainerImage:
    """One DLC image in one region: the pinned URI and what IAM needs to pull it."""

    region: str
    account: str
    repository: str
    tag: str
    uri: str

    @property
    def repository_arn(self) -> str:
        return f"arn:{partition(self.region)}:ecr:{self.region}:{self.account}:repository/{self.repository}"


@dataclass(frozen=True)
class ImageFamily:
    """An SDK image config (`huggingface-llm`, `huggingface-vllm`, ...) at one resolved version."""

    framework: str
    version: str
    tag: str
    repository: str
    registries: dict[str, str]

    @property
    def regions(self) -> list[str]:
        return sorted(self.registries)

    def in_region(self, region: str) -> ContainerImage:
        if region not in self.registries:
            raise ValueError(
                f"{self.framework} {self.version} has no image in region {region!r}; the SageMaker SDK "
                f"{sdk_version()} lists: {', '.join(self.regions)}"
            )
        account = self.registries[region]
        uri = f"{account}.dkr.ecr.{region}.{ecr_domain(region)}/{self.repository}:{self.tag}"
        return ContainerImage(region, account, self.repository, self.tag, uri)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def image_versions(framework: str) -> list[str]:
    """Every concrete version the SDK lists for `framework`, oldest first."""
    versions = _load(f"{framework}.json")["inference"]["versions"]
    return sorted(versions, key=_version_key)


def image_aliases(framework: str) -> dict[str, str]:
    """The SDK's version aliases for `framework` ("3.3" → "3.3.6"), as `image_uris.retrieve` accepts them."""
    return dict(_load(f"{framework}.json")["inference"].get("version_aliases", {}))


def resolve_image(framework: str, version: str | None = None) -> ImageFamily:
    """Resolve an SDK image family like `image_uris.retrieve` does, for GPU hosting.

    `version` may be concrete ("0.9.3"), an alias the SDK defines ("0.9" → "0.9.3") or None for the newest.
    The tag is `{tag_prefix}-gpu-{py}-{container_version}`, pinned to one published build.
    """
    inference = _load(f"{framework}.json")["inference"]
    versions = inference["versions"]
    aliases = inference.get("version_aliases", {})
    wanted = version if version is not None else max(versions, key=_version_key)
    concrete = aliases.get(wanted, wanted)
    if concrete not in versions:
        allowed = sorted(set(versions) | set(aliases), key=_version_key)
        raise ValueError(
            f"unknown {framework} version {version!r}; the SageMaker SDK {sdk_version()} knows: {', '.join(allowed)}"
        )
    cfg = versions[concrete]
    py = cfg["py_versions"][0]
    container = cfg["container_version"]["gpu"]
    tag = f"{cfg['tag_prefix']}-gpu-{py}-{container}"
    return ImageFamily(framework, concrete, tag, cfg["repository"], dict(cfg["registries"]))


@dataclass(frozen=True)
class GpuInfo:
    count: int
    memory_mib: int

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / 1024


@functools.cache
def gpu_table() -> dict[str, GpuInfo]:
    """GPU count and total GPU memory per instance type (union over the SDK's regions, then our supplement)."""
    table: dict[str, GpuInfo] = {}
    for per_region in _load("instance_gpu_info.json").values():
        for instance_type, info in per_region.items():
            table.setdefault(instance_type, GpuInfo(int(info["Count"]), int(info["TotalGpuMemoryInMiB"])))
    # Current types the SDK's file lacks (g6, g6e, p5e...): our sourced rows, never overriding the SDK's.
    for instance_type, fact in SUPPLEMENTARY_GPU_FACTS.items():
        table.setdefault(instance_type, GpuInfo(fact.count, fact.memory_mib))
    return table


def gpu_source(instance_type: str) -> str:
    """Where an instance type's GPU facts come from: the SDK's file, or the supplementary row's source."""
    sdk_types = {t for per_region in _load("instance_gpu_info.json").values() for t in per_region}
    if instance_type in sdk_types:
        return f"{SDK_DISTRIBUTION} {sdk_version()} instance_gpu_info.json"
    return SUPPLEMENTARY_GPU_FACTS[instance_type].source


def gpu_info(instance_type: str) -> GpuInfo:
    table = gpu_table()
    if instance_type not in table:
        raise ValueError(
            f"instance_type {instance_type!r} has no GPU facts in the SageMaker SDK {sdk_version()}; "
            f"GPU instance types: {', '.join(sorted(table))}"
        )
    return table[instance_type]
