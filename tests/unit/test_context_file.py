"""CONTEXT_FILE: a deployment's keys from a JSON file, before any explicit -c (which the CLI lets win)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

from context_file import context_args


def test_each_key_becomes_one_context_argument(tmp_path: Path) -> None:
    path = tmp_path / "prod.json"
    path.write_text(json.dumps({"region": "eu-west-1", "instance_count": 2, "extra_env": {"A": "1"}}))
    assert context_args(path) == ["-c", "region=eu-west-1", "-c", "instance_count=2", "-c", 'extra_env={"A":"1"}']


@pytest.mark.parametrize("content", ["[1, 2]", "{not json"])
def test_a_file_that_is_not_an_object_fails_naming_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SystemExit, match=r"error: context file .*bad.json"):
        context_args(path)
