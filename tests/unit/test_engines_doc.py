"""docs/engines.md states the default vLLM image and the newest of each family as the SDK data has them."""

from __future__ import annotations

from pathlib import Path

from constructs.facts.catalog import VLLM_IMAGE_FRAMEWORKS
from constructs.facts.sdk_data import resolve_image

DOC = (Path(__file__).resolve().parents[2] / "docs" / "engines.md").read_text(encoding="utf-8")


def test_the_doc_names_the_default_image_and_version_the_stack_deploys() -> None:
    default = resolve_image(VLLM_IMAGE_FRAMEWORKS["huggingface"])
    assert f"Hugging Face's vLLM DLC {default.version} stays the default" in DOC
    assert f"`{default.tag}`" in DOC


def test_the_doc_names_the_newest_aws_image_the_sdk_lists() -> None:
    newest = resolve_image(VLLM_IMAGE_FRAMEWORKS["aws"])
    assert f"**{newest.version}**" in DOC and f"`{newest.tag}`" in DOC
