"""Harness for the chat tests: one SageMaker runtime emulator and one real uvicorn app process.

The app runs exactly as ``make dev`` runs it (``uvicorn --app-dir lambda/chat_proxy main:app``), configured only
through the environment, with boto3 pointed at the emulator by ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "lambda" / "chat_proxy"
ENDPOINT = "falcon-test-endpoint"
MODEL_ID = "falcon-40b-instruct"
BODY_LIMIT = 65536
READ_TIMEOUT = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_env(emulator_url: str, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(
        SAGEMAKER_ENDPOINT_NAME=ENDPOINT,
        MODEL_ID=MODEL_ID,
        AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=emulator_url,
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
        REQUEST_BODY_LIMIT_BYTES=str(BODY_LIMIT),
        BACKEND_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT),
        POWERTOOLS_SERVICE_NAME="chat-proxy-test",
        POWERTOOLS_LOG_LEVEL="INFO",
    )
    env.update(overrides)
    return env


def start_app(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(APP_DIR),
            "main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            # As lambda/chat_proxy/run.sh serves it: uvicorn's default 5 s keep-alive closes an idle pooled
            # connection just as a client on a loaded machine reuses it (a reset that is the harness's, not the app's).
            "--timeout-keep-alive",
            "75",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited: {log_path.read_text()}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"app did not start: {log_path.read_text()}")
