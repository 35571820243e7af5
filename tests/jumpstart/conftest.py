"""JumpStart fixtures: the SDK's real resolution, pointed at local metadata folders (no network, no credentials)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from jumpstart_models import EULA_MODEL, FALCON_40B, FALCON_180B, OVERRIDES, PACKAGE_MODEL


@pytest.fixture(scope="session")
def offline_jumpstart() -> Iterator[None]:
    """Point the SDK at the fixtures and make sure no real AWS credentials or region leak in."""
    saved = dict(os.environ)
    os.environ.update(OVERRIDES)
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "SOURCE_DATE_EPOCH", "AWS_JUMPSTART_MODEL_BUCKET_OVERRIDE"):
        os.environ.pop(name, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def fixture_lock(offline_jumpstart: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One lock built through tools/jumpstart_lock.py for every fixture model (the SDK import is paid once)."""
    from tools.jumpstart_lock import lock_model

    path = tmp_path_factory.mktemp("lock") / "jumpstart.lock.json"
    for model_id, version, regions in (
        (FALCON_40B, "*", ["us-east-1", "eu-west-1"]),
        (FALCON_40B, "1.1.0", ["us-east-1"]),
        (FALCON_180B, "*", ["us-east-1", "eu-west-1"]),
        (EULA_MODEL, "*", ["us-east-1", "eu-west-1"]),
        (PACKAGE_MODEL, "*", ["us-east-1", "eu-west-1"]),
    ):
        lock_model(model_id=model_id, version=version, regions=regions, lock_path=path)
    return path
