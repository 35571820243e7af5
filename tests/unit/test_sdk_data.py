from __future__ import annotations

import re
import subprocess
import sys

import pytest

from constructs.facts.sdk_data import gpu_info, image_versions, resolve_image


@pytest.mark.parametrize(
    ("region", "account", "domain"),
    [
        ("us-east-1", "763104351884", "amazonaws.com"),
        ("eu-west-1", "763104351884", "amazonaws.com"),
        ("ap-east-1", "871362719292", "amazonaws.com"),
        ("us-gov-west-1", "442386744353", "amazonaws.com"),
        ("cn-north-1", "727897471807", "amazonaws.com.cn"),
    ],
)
def test_image_uri_per_region_uses_the_sdk_registry_account(region: str, account: str, domain: str) -> None:
    image = resolve_image("huggingface-llm", "0.9.3").in_region(region)
    assert image.uri == (
        f"{account}.dkr.ecr.{region}.{domain}/huggingface-pytorch-tgi-inference:2.0.1-tgi0.9.3-gpu-py39-cu118-ubuntu20.04"
    )


def test_gov_cloud_repository_arn_is_in_its_partition() -> None:
    image = resolve_image("huggingface-llm", "0.9.3").in_region("us-gov-west-1")
    assert image.repository_arn.startswith("arn:aws-us-gov:ecr:us-gov-west-1:442386744353:repository/")


def test_original_guide_versions_resolve_to_pinned_tags() -> None:
    assert resolve_image("huggingface-llm", "0.8.2").tag == "2.0.0-tgi0.8.2-gpu-py39-cu118-ubuntu20.04"
    assert resolve_image("huggingface-llm", "0.9.3").tag == "2.0.1-tgi0.9.3-gpu-py39-cu118-ubuntu20.04"


def test_default_version_is_the_newest_the_sdk_lists() -> None:
    newest = image_versions("huggingface-llm")[-1]
    assert resolve_image("huggingface-llm").version == newest
    assert re.fullmatch(
        r"\d+\.\d+\.\d+-tgi\d+\.\d+\.\d+-gpu-py\d+-cu\d+-ubuntu\d+\.\d+", resolve_image("huggingface-llm").tag
    )


def test_sdk_alias_resolves_to_concrete_version() -> None:
    assert resolve_image("huggingface-llm", "0.9").version == "0.9.3"


def test_unknown_version_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown huggingface-llm version '0\.7\.0'.*0\.8\.2.*0\.9\.3"):
        resolve_image("huggingface-llm", "0.7.0")


def test_unknown_region_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"no image in region 'mars-north-1'.*us-east-1"):
        resolve_image("huggingface-llm", "0.9.3").in_region("mars-north-1")


def test_gpu_facts_come_from_the_sdk() -> None:
    assert gpu_info("ml.g5.12xlarge").count == 4
    assert gpu_info("ml.g5.12xlarge").memory_mib == 98304
    assert gpu_info("ml.p4de.24xlarge").count == 8


def test_reading_sdk_data_does_not_import_the_sdk() -> None:
    code = (
        "import sys\n"
        "from constructs.facts.sdk_data import resolve_image, gpu_info\n"
        "resolve_image('huggingface-llm'); gpu_info('ml.g5.12xlarge')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('sagemaker'))\n"
        "assert not loaded, loaded\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
