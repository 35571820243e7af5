"""Links in the README and docs/ resolve inside a clone; no tracked file points outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and [text](target "title"), not images' remote URLs or in-page code.
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# Inline code spans (`![ ](…)` quoted in prose) are text, not links: CommonMark renders no link inside one.
CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
OUTSIDE = ("../shared/", "/work/")


def _links(path: Path) -> list[str]:
    text = CODE_SPAN.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))
    return [target for target in LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", FENCE.sub("", path.read_text(encoding="utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        file_part, _, anchor = target.partition("#")
        resolved = (doc.parent / file_part).resolve() if file_part else doc
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(f"{target} (no such file in the repository)")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target} (no heading with that anchor)")
    assert not broken, f"{doc.relative_to(ROOT)}: {broken}"


def test_code_spans_hold_no_links(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("Quoted `![ ](…)` and ``[a](b)``, but [real](missing.md).\n", encoding="utf-8")
    assert _links(page) == ["missing.md"]


def test_the_anchor_rule_matches_githubs() -> None:
    anchors = _anchors(ROOT / "docs" / "sources.md")
    assert {"the-original-guide", "scale-to-zero-and-safe-deployments", "vllm-on-sagemaker"} <= anchors


def test_no_tracked_file_points_outside_the_repository() -> None:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    offenders = []
    for name in filter(None, listed.decode().split("\0")):
        path = ROOT / name
        if not path.is_file() or path.suffix in (".gz", ".png", ".zip"):
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        offenders += [f"{name}: {marker}" for marker in OUTSIDE if marker in text]
    # This file names the markers it looks for.
    offenders = [o for o in offenders if not o.startswith("tests/unit/test_doc_links.py")]
    assert not offenders, f"pointers a clone cannot follow (copy the fact into docs/ with its source): {offenders}"
