"""The README is part of the product: its commands, keys and routes must match the code, and it stays short."""

from __future__ import annotations

import re
from pathlib import Path

from stacks.config import CONTEXT_KEYS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# The full key reference until the generated docs/options.md replaces it.
API = (ROOT / "docs" / "api.md").read_text()
ROUTES = ("POST /v1/chat/completions", "GET /v1/models", "POST /generate", "GET /health")
# A newcomer's page: depth lives in docs/.
MAX_README_LINES = 320


def _table_keys(text: str) -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE))


def test_the_readme_stays_short() -> None:
    lines = len(README.splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move depth into a docs/ page"


def test_quick_start_is_the_two_make_commands() -> None:
    block = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["make synth", "make test"]


def test_the_readme_options_block_names_only_real_keys() -> None:
    assert README.count("<!-- options:start -->") == README.count("<!-- options:end -->") == 1
    block = README.split("<!-- options:start -->", 1)[1].split("<!-- options:end -->", 1)[0]
    keys = _table_keys(block)
    assert keys, "the README's options block lists no key"
    assert keys <= set(CONTEXT_KEYS), keys - set(CONTEXT_KEYS)
    assert "](docs/options.md)" in README.split("<!-- options:end -->", 1)[1]


def test_every_context_key_is_documented_in_the_options_reference() -> None:
    reference = (ROOT / "docs" / "options.md").read_text()
    documented = re.findall(r"^\| `([a-z_]+)` \|", reference, flags=re.MULTILINE)
    assert documented == list(CONTEXT_KEYS)


def test_the_readme_shows_the_top_options_and_links_the_reference() -> None:
    block = README.split("<!-- options:start -->", 1)[1].split("<!-- options:end -->", 1)[0]
    shown = re.findall(r"^\| `([a-z_]+)` \|", block, flags=re.MULTILINE)
    assert {"model", "instance_type", "scale_to_zero"} <= set(shown) < set(CONTEXT_KEYS)
    assert "(docs/options.md)" in block


def test_every_api_route_is_documented() -> None:
    for route in ROUTES:
        assert f"`{route}`" in README
        assert f"`{route}`" in API


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = set(re.findall(r"\]\(docs/([a-z0-9-]+\.md)", README))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert pages <= linked, f"docs pages a reader cannot reach from the README: {sorted(pages - linked)}"


def test_the_architecture_picture_is_a_committed_file() -> None:
    (target,) = re.findall(r"\]\((docs/[^)]+\.svg)\)", README)
    assert (ROOT / target).is_file()


def test_the_ci_script_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
