"""docs/architecture.svg is drawn from the code by tools/architecture.py; these tests keep the two in step."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tools.architecture import OUTPUT, load_app, render

SVG = "{http://www.w3.org/2000/svg}"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _parse(svg: str) -> ET.Element:
    # Our own generated file, not untrusted input: the standard library parser is the point of the check.
    return ET.fromstring(svg.encode("utf-8"))  # noqa: S314


@pytest.fixture(scope="module")
def generated() -> str:
    return render()


def test_committed_picture_matches_the_code(generated: str) -> None:
    committed = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    assert committed == generated, (
        "docs/architecture.svg no longer matches the code: run `python tools/architecture.py` and commit the result"
    )


def test_picture_is_well_formed_svg_with_a_title_and_description(generated: str) -> None:
    for svg in (generated, OUTPUT.read_text(encoding="utf-8")):
        root = _parse(svg)
        assert root.tag == f"{SVG}svg"
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and title.text
        assert desc is not None and desc.text


def test_picture_names_every_route_the_app_serves(generated: str) -> None:
    root = _parse(generated)
    texts = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    # The OpenAPI schema is the app's own list of what it serves (no docs or schema routes).
    paths = load_app().openapi()["paths"]
    served = {f"{method.upper()} {path}" for path, item in paths.items() for method in item if method in HTTP_METHODS}
    assert served, "the app serves no routes"
    missing = sorted(served - texts)
    assert not missing, f"routes missing from the picture: {missing}; run `python tools/architecture.py`"
