"""The README's SigV4 recipe: the unmodified openai client, signed, streaming and not; and the README's own block."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import httpx
import openai
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from chat_harness import MODEL_ID, REPO, app_env, start_app
from sagemaker_runtime_emulator import Emulator

from llmchat.sigv4 import SigV4


def _session() -> botocore.session.Session:
    session = botocore.session.Session()
    session.set_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    return session


def test_openai_client_requests_are_sigv4_signed_and_verifiable(app_url: str) -> None:
    seen: list[httpx.Request] = []
    http_client = httpx.Client(
        auth=SigV4(region="us-east-1", session=_session()), event_hooks={"request": [seen.append]}
    )
    client = openai.OpenAI(base_url=f"{app_url}/v1", api_key="unused", http_client=http_client, max_retries=0)
    reply = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "Hi"}], max_tokens=8)
    assert reply.choices[0].message.content is not None

    (request,) = seen
    auth = request.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/execute-api/aws4_request" in auth
    # Recompute the signature independently from what was sent: it must match.
    signed = {
        k: v
        for k, v in request.headers.items()
        if k.lower() in auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    }
    check = AWSRequest(
        method=request.method,
        url=str(request.url),
        data=request.content,
        headers={k: v for k, v in signed.items() if k.lower() != "x-amz-date"},
    )
    check.context["timestamp"] = request.headers["x-amz-date"]
    signer: Any = SigV4Auth(
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "execute-api", "us-east-1"
    )
    check.headers["X-Amz-Date"] = request.headers["x-amz-date"]
    expected = signer.signature(signer.string_to_sign(check, signer.canonical_request(check)), check)
    assert auth.endswith(f"Signature={expected}")


def test_signed_openai_client_streams(app_url: str) -> None:
    http_client = httpx.Client(auth=SigV4(region="us-east-1", session=_session()))
    client = openai.OpenAI(base_url=f"{app_url}/v1", api_key="unused", http_client=http_client, max_retries=0)
    stream = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "Hi"}], max_tokens=8, stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text


def test_the_readme_openai_example_runs_as_written(session_emulator: Emulator, tmp_path: Path) -> None:
    """The README's `openai` block, run unchanged in its own Python against an app serving the model it names."""
    readme = (REPO / "README.md").read_text()
    code = readme.split("### openai (Python)", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    (model,) = re.findall(r'model="([^"]+)"', code)
    proc, url = start_app(app_env(session_emulator.url, MODEL_ID=model), tmp_path / "app.log")
    # The example signs with the standard AWS credential chain: environment credentials only, no profile.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    try:
        # A bound for a hung process, not a timing assertion.
        run = subprocess.run(
            [sys.executable, "-c", f"URL = {url + '/'!r}\n{code}"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        proc.terminate()
        proc.wait(10)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip()
