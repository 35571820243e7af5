"""The page's WebCrypto SigV4 signer (static/sigv4.js, run with node) against botocore's SigV4Auth on fixed inputs."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SIGNER = Path(__file__).resolve().parents[2] / "lambda" / "chat_proxy" / "chatapi" / "static" / "sigv4.js"
NODE_RUNNER = """
const { signRequest } = require(process.argv[1]);
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const out = [];
  for (const c of JSON.parse(input)) {
    out.push(await signRequest({ ...c, date: new Date(c.date) }));
  }
  process.stdout.write(JSON.stringify(out));
});
"""
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CASES: list[dict[str, Any]] = [
    {
        "method": "POST",
        "url": "https://abc123.execute-api.us-east-1.amazonaws.com/prod/v1/chat/completions",
        "headers": {"content-type": "application/json"},
        "body": '{"messages":[{"role":"user","content":"Hi"}],"stream":true}',
        "credentials": {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": SECRET},
        "region": "us-east-1",
        "date": "2026-11-29T04:05:06Z",
    },
    {
        "method": "POST",
        "url": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1/chat/completions",
        "headers": {"Content-Type": "application/json", "X-Extra": "  two   spaces  "},
        "body": '{"messages":[{"role":"user","content":"Grüße, 日本語 and emoji 🦙"}]}',
        "credentials": {
            "accessKeyId": "ASIAEXAMPLE",
            "secretAccessKey": SECRET,
            "sessionToken": "FwoGZXIvYXdzE+tok/en==",
        },
        "region": "eu-west-1",
        "date": "2027-01-01T00:00:00Z",
    },
    {
        "method": "get",
        "url": "https://api.example.com:8443/prod//v1/./models?b=2&a=1&a=0",
        "headers": {"user-agent": "not signed", "accept": "application/json"},
        "body": "",
        "credentials": {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": SECRET},
        "region": "ap-southeast-2",
        "date": "2026-02-28T23:59:59Z",
    },
    {
        "method": "POST",
        "url": "http://127.0.0.1:8080/prod/some%20path/with~tilde/(paren)*/",
        "headers": {"content-type": "application/json"},
        "body": "{}",
        "credentials": {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": SECRET},
        "region": "us-west-2",
        "date": "2026-06-15T12:00:00Z",
    },
]


def botocore_headers(case: dict[str, Any]) -> dict[str, str]:
    creds = case["credentials"]
    credentials = Credentials(creds["accessKeyId"], creds["secretAccessKey"], creds.get("sessionToken"))
    request = AWSRequest(
        method=case["method"].upper(), url=case["url"], data=case["body"].encode(), headers=case["headers"]
    )
    when = datetime.datetime.fromisoformat(case["date"].replace("Z", "+00:00")).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(credentials, "execute-api", case["region"]).add_auth(request)
    wanted = ("authorization", "x-amz-date", "x-amz-security-token")
    return {k.lower(): v for k, v in request.headers.items() if k.lower() in wanted}


@pytest.fixture(scope="module")
def node_signed() -> list[dict[str, str]]:
    node = shutil.which("node")
    assert node, "node is required (the CDK CLI needs it too)"
    out = subprocess.run(
        [node, "-e", NODE_RUNNER, str(SIGNER)], input=json.dumps(CASES), capture_output=True, text=True, check=True
    )
    return list(json.loads(out.stdout))


@pytest.mark.parametrize("index", range(len(CASES)))
def test_browser_signer_matches_botocore(node_signed: list[dict[str, str]], index: int) -> None:
    assert node_signed[index] == botocore_headers(CASES[index])


def test_signature_changes_with_the_body(node_signed: list[dict[str, str]]) -> None:
    # Guards the comparison above against both sides ignoring the payload.
    altered = dict(CASES[0], body=CASES[0]["body"].replace("Hi", "Ho"))
    assert botocore_headers(altered)["authorization"] != node_signed[0]["authorization"]


def test_missing_credentials_are_refused_with_a_message() -> None:
    script = (
        f"require({json.dumps(str(SIGNER))}).signRequest({{method:'GET',url:'https://x/',region:'us-east-1',"
        "credentials:{accessKeyId:''}}).catch((e)=>{console.log(e.message)})"
    )
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True)
    assert "access key id and secret access key are required" in out.stdout
