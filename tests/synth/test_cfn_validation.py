"""CDK's built-in CloudFormation validator: off in `make synth` (app.new_app) unless `-c cfn_validation=true`, and
on and strict in every test synth (tests/conftest.py), so a shape that draws a finding fails `make test`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import app as app_module
from tests.conftest import STRICT_CFN_VALIDATION, cdk_json_context

pytestmark = pytest.mark.xdist_group("synth")

PLUGIN = "CloudFormation Validate"  # CloudFormationValidatePlugin.PLUGIN_NAME


def _finding(stack: cdk.Stack) -> None:
    """A resource CloudFormation's schema refuses: AWS::SNS::Topic has no property `NotAProperty`."""
    cdk.CfnResource(stack, "Refused", type="AWS::SNS::Topic", properties={"NotAProperty": "x"})


def _reports(outdir: Path) -> dict[str, Any]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return {r["pluginName"]: r for r in report["pluginReports"]}


def test_make_synth_leaves_cdk_validator_off(tmp_path: Path) -> None:
    app = app_module.new_app(context=cdk_json_context(), outdir=str(tmp_path))
    _, stack = app_module.build(app)
    _finding(stack)
    app.synth()  # the refused property is not noticed: the validator did not run
    reports = _reports(tmp_path)
    assert "AwsSolutions" in reports and PLUGIN not in reports  # cdk-nag runs either way


def test_cfn_validation_true_runs_it_and_a_finding_fails_synth(tmp_path: Path) -> None:
    app = app_module.new_app(context={**cdk_json_context(), "cfn_validation": "true"}, outdir=str(tmp_path))
    _, stack = app_module.build(app)
    _finding(stack)
    # cdk.json sets @aws-cdk/core:validateAgainstDefaultRules: the finding stays an error, and synth fails.
    with pytest.raises(Exception, match="NotAProperty"):
        app.synth()


def test_test_synths_fail_on_any_validator_finding(tmp_path: Path) -> None:
    """The conftest settings turn the same finding into a failed synth, so no shipped shape can carry one."""
    app = cdk.App(context=STRICT_CFN_VALIDATION, outdir=str(tmp_path), builtin_cloud_formation_validation=True)
    _finding(cdk.Stack(app, "S"))
    with pytest.raises(Exception, match="NotAProperty"):
        app.synth()
