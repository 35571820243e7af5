"""Shared fixtures. CDK synths are expensive (jsii start-up once per process, ~1-3 s per app after that), so
every distinct context is synthesized once per session and shared; tests that synth are grouped on one xdist
worker with `pytest.mark.xdist_group("synth")`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def cdk_json_context() -> dict[str, Any]:
    return dict(json.loads((ROOT / "cdk.json").read_text())["context"])


@dataclass
class Synth:
    """One synthesized app: its config, stack, template dict and the cloud assembly folder."""

    context: dict[str, Any]
    outdir: Path
    config: Any
    stack: Any
    template: dict[str, Any]

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.template["Resources"])

    def of_type(self, cfn_type: str) -> dict[str, Any]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}

    def one(self, cfn_type: str) -> dict[str, Any]:
        found = list(self.of_type(cfn_type).values())
        assert len(found) == 1, f"expected one {cfn_type}, found {len(found)}"
        return dict(found[0]["Properties"])

    def assertions(self) -> Any:
        from aws_cdk.assertions import Template

        return Template.from_json(self.template)

    @property
    def validation_report(self) -> dict[str, Any]:
        return dict(json.loads((self.outdir / "validation-report.json").read_text()))


# CDK's built-in CloudFormation validator, which `make synth` leaves off (app.new_app), runs on every test synth
# and strictly: its errors stay errors (validateAgainstDefaultRules) and a warning fails synth too
# (strictCfnValidateErrors; aws-cdk-lib core/lib/private/synthesis-validation.js). Its rule engine is built once
# per process and shared by every synth after the first.
STRICT_CFN_VALIDATION = {
    "@aws-cdk/core:validateAgainstDefaultRules": True,
    "@aws-cdk/core:strictCfnValidateErrors": True,
}


def _synth(outdir: Path, context: dict[str, Any]) -> Synth:
    import aws_cdk as cdk

    import app as app_module

    full = {**cdk_json_context(), **context}
    app = cdk.App(
        context={**full, **STRICT_CFN_VALIDATION}, outdir=str(outdir), builtin_cloud_formation_validation=True
    )
    config, stack = app_module.build(app)
    app.synth()
    # rglob: with -c pipeline=true the app's stack lives in the pipeline's stage (a nested assembly).
    template = json.loads(next(outdir.rglob(f"{stack.artifact_id}.template.json")).read_text())
    return Synth(full, outdir, config, stack, template)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Synth]:
    """`synth(key=value, ...)` → the app synthesized with that context (cached per distinct context)."""
    cache: dict[str, Synth] = {}

    def get(**context: Any) -> Synth:
        key = json.dumps(context, sort_keys=True)
        if key not in cache:
            cache[key] = _synth(tmp_path_factory.mktemp("cdk.out"), context)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def default_synth(synth: Callable[..., Synth]) -> Synth:
    return synth()
