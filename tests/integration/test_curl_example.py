"""The `CurlExample` output, run as a user would paste it: real bash, real curl, a real HTTP server on 127.0.0.1.

It must sign with the caller's credentials (SigV4 that botocore agrees with), send the session token, and never
put a secret on curl's command line, where any local user can read it (`ps`, /proc/<pid>/cmdline)."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.xdist_group("synth"),
    pytest.mark.skipif(shutil.which("curl") is None or shutil.which("bash") is None, reason="needs bash and curl"),
]

ACCESS_KEY = "AKIDEXAMPLE1234567890"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLEsessiontoken/+=="
API_KEY = "k3yEXAMPLEapikey0123456789abcdef"


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            seen.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/prod/", seen
    httpd.shutdown()


def _command(s: Any, base_url: str) -> str:
    parts = s.template["Outputs"]["CurlExample"]["Value"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
    rendered, count = re.subn(r"https://\S+?/TOKEN/", base_url, text)
    assert count == 1, text
    return rendered


def _fake_bin(tmp_path: Path) -> Path:
    """`aws` that exports credentials as `aws configure export-credentials --format env` does, and a `curl`
    that records its arguments before running the real curl."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "aws": f"""#!/bin/sh
[ "$*" = "configure export-credentials --format env" ] || exit 3
echo "export AWS_ACCESS_KEY_ID={ACCESS_KEY}"
echo "export AWS_SECRET_ACCESS_KEY={SECRET_KEY}"
echo "export AWS_SESSION_TOKEN={SESSION_TOKEN}"
""",
        "curl": f"""#!/bin/sh
printf '%s\\n' "$@" > "{tmp_path}/curl-argv"
exec {shutil.which("curl")} "$@"
""",
    }
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def _run(command: str, tmp_path: Path, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(extra_env, PATH=f"{_fake_bin(tmp_path)}:{env['PATH']}")
    return subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_iam_curl_example_signs_with_the_callers_credentials_kept_out_of_argv(
    synth: Any, server: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    base_url, seen = server
    done = _run(_command(synth(region="us-east-1"), base_url), tmp_path, {})
    assert done.returncode == 0, done.stderr
    (request,) = seen
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert request["path"] == "/prod/v1/chat/completions"
    assert headers["x-amz-security-token"] == SESSION_TOKEN
    authorization = headers["authorization"]
    match = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/us-east-1/execute-api/aws4_request, "
        r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})",
        authorization,
    )
    assert match, authorization
    assert match.group(1) == ACCESS_KEY
    # botocore computes the same signature from the same request: curl signed what it sent, correctly.
    signed = match.group(3).split(";")
    assert "x-amz-security-token" in signed
    aws_request = AWSRequest(
        method="POST",
        url=f"{base_url}v1/chat/completions",
        data=request["body"],
        headers={h: headers[h] for h in signed if h != "host"},
    )
    aws_request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), "execute-api", "us-east-1")
    canonical = auth.canonical_request(aws_request)
    assert auth.signature(auth.string_to_sign(aws_request, canonical), aws_request) == match.group(4)
    argv = (tmp_path / "curl-argv").read_text()
    for secret in (SECRET_KEY, SESSION_TOKEN):
        assert secret not in argv
    assert json.loads(request["body"])["messages"] == [{"role": "user", "content": "Hello"}]


def test_api_key_curl_example_sends_the_key_in_a_header_not_in_argv(
    synth: Any, server: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    base_url, seen = server
    done = _run(_command(synth(api_auth="api_key", region="us-east-1"), base_url), tmp_path, {"API_KEY": API_KEY})
    assert done.returncode == 0, done.stderr
    (request,) = seen
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["x-api-key"] == API_KEY
    assert "authorization" not in headers
    assert API_KEY not in (tmp_path / "curl-argv").read_text()
