"""A local AWS for deploy tests: moto's server on 127.0.0.1 plus what `cdk deploy` does before CreateStack
(bootstrap version parameter, asset bucket, file-asset upload)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from moto.sagemaker import models as sagemaker_models
from moto.server import ThreadedMotoServer

from constructs.facts.sdk_data import gpu_table

ACCOUNT = "123456789012"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _accept_every_gpu_instance_type() -> Iterator[None]:
    """moto's EndpointConfig enum predates g5/p4de/p5; accept the types the SageMaker SDK lists as GPU hosts."""
    original = sagemaker_models.FakeEndpointConfig.validate_instance_type

    def validate(self: Any, instance_type: str) -> None:
        if instance_type not in gpu_table():
            original(self, instance_type)

    sagemaker_models.FakeEndpointConfig.validate_instance_type = validate  # type: ignore[method-assign]
    try:
        yield
    finally:
        sagemaker_models.FakeEndpointConfig.validate_instance_type = original  # type: ignore[method-assign]


@dataclass
class MotoCloud:
    url: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def bootstrap(self) -> None:
        self.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String")
        self.client("s3").create_bucket(Bucket=f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}")

    def publish_assets(self, outdir: Path, stack_artifact: str) -> None:
        manifest = json.loads((outdir / f"{stack_artifact}.assets.json").read_text())
        s3 = self.client("s3")
        for asset in manifest.get("files", {}).values():
            source = outdir / asset["source"]["path"]
            body = _zip_dir(source) if asset["source"].get("packaging") == "zip" else source.read_bytes()
            for dest in asset["destinations"].values():
                bucket = dest["bucketName"].replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", REGION)
                s3.put_object(Bucket=bucket, Key=dest["objectKey"], Body=body)

    def deploy(self, name: str, template: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        cfn = self.client("cloudformation")
        cfn.create_stack(
            StackName=name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
            if not stack["StackStatus"].endswith("IN_PROGRESS"):
                return dict(stack)
            time.sleep(0.2)
        raise TimeoutError(f"stack {name} still in progress after {timeout}s")

    def stack_resources(self, name: str) -> dict[str, dict[str, Any]]:
        cfn = self.client("cloudformation")
        summaries = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
        return {r["LogicalResourceId"]: r for r in summaries}


def _zip_dir(path: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(path.rglob("*")):
            if file.is_file():
                zf.write(file, file.relative_to(path).as_posix())
    return buffer.getvalue()


def without_custom_resources(template: dict[str, Any]) -> dict[str, Any]:
    """moto runs Lambda-backed custom resources only inside Docker, which this machine lacks."""
    t = json.loads(json.dumps(template))
    custom = {k for k, v in t["Resources"].items() if v["Type"].startswith("Custom::")}
    for k in custom:
        del t["Resources"][k]
    for resource in t["Resources"].values():
        deps = resource.get("DependsOn")
        if isinstance(deps, list):
            resource["DependsOn"] = [d for d in deps if d not in custom]
    return t


@contextlib.contextmanager
def moto_cloud() -> Iterator[MotoCloud]:
    port = free_port()
    previous = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    with _accept_every_gpu_instance_type():
        server.start()
        try:
            cloud = MotoCloud(f"http://127.0.0.1:{port}")
            # moto keeps its backends per process, not per server: start every cloud empty, as a new account is.
            requests.post(f"{cloud.url}/moto-api/reset", timeout=10).raise_for_status()
            cloud.bootstrap()
            yield cloud
        finally:
            server.stop()
            for k, v in previous.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
