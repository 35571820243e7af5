"""Proxy overhead on loopback: the chat API (uvicorn, as `make dev` runs it) vs a direct boto3 call.

Both paths hit the same SageMaker runtime emulator (tests/chat/sagemaker_runtime_emulator.py, a subprocess), so
the difference is what the proxy adds: HTTP parsing, validation, the boto3 call it makes, response shaping.
Requests are interleaved so drift affects both sides alike. Prints a table; timing is reported, never asserted.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx

REPO = Path(__file__).resolve().parents[1]
N_INVOKE = 300
N_STREAM = 100
WARMUP = 30
PAYLOAD = {"inputs": "User: hi\nFalcon:", "parameters": {"max_new_tokens": 64}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1] if len(values) > 1 else values[0]


def main() -> int:
    emu_port, app_port = free_port(), free_port()
    emu_url, app_url = f"http://127.0.0.1:{emu_port}", f"http://127.0.0.1:{app_port}"
    aws = {
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        aws,
        SAGEMAKER_ENDPOINT_NAME="bench",
        AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=emu_url,
        POWERTOOLS_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "INFO"),
    )
    if os.environ.get("BENCH_APP_PYTHONPATH"):  # e.g. try optional uvicorn speedups without installing them
        env["PYTHONPATH"] = os.environ["BENCH_APP_PYTHONPATH"]
    procs = [
        subprocess.Popen(
            [sys.executable, str(REPO / "tests/chat/sagemaker_runtime_emulator.py"), "--port", str(emu_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(REPO / "lambda/chat_proxy"),
                "main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(app_port),
                "--no-access-log",
                # As the Lambda runs it (no uvloop/httptools in its package); e.g. "--loop uvloop --http httptools".
                *os.environ.get("BENCH_UVICORN_ARGS", "--loop asyncio --http h11").split(),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        wait_for(emu_url + "/_emulator/requests")
        wait_for(app_url + "/health")
        client = boto3.session.Session(
            aws_access_key_id=aws["AWS_ACCESS_KEY_ID"], aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"]
        ).client("sagemaker-runtime", endpoint_url=emu_url, region_name="us-east-1")
        http = httpx.Client(base_url=app_url, timeout=30)
        body = json.dumps({**PAYLOAD, "parameters": {**PAYLOAD["parameters"]}, "stream": True}).encode()

        def direct() -> float:
            # The proxy answers a non-streamed request from a stream it reads to the end (SageMaker allows
            # InvokeEndpoint 60 s, a stream 8 minutes: docs/limits.md): the baseline is the same call.
            t = time.perf_counter()
            response = client.invoke_endpoint_with_response_stream(
                EndpointName="bench", Body=body, ContentType="application/json"
            )
            for _ in response["Body"]:
                pass
            return time.perf_counter() - t

        def proxied() -> float:
            t = time.perf_counter()
            http.post("/generate", json=PAYLOAD).raise_for_status()
            return time.perf_counter() - t

        stream_body = json.dumps({**PAYLOAD, "stream": True}).encode()

        def direct_first_byte() -> float:
            t = time.perf_counter()
            response = client.invoke_endpoint_with_response_stream(
                EndpointName="bench", Body=stream_body, ContentType="application/json"
            )
            for _ in response["Body"]:
                first = time.perf_counter() - t
                break
            response["Body"].close()
            return first

        def proxied_first_byte() -> float:
            t = time.perf_counter()
            with http.stream("POST", "/generate", json={**PAYLOAD, "stream": True}) as response:
                chunks = response.iter_raw()
                next(chunks)
                first = time.perf_counter() - t
                for _ in chunks:
                    pass
            return first

        httpx.post(emu_url + "/_emulator/scenario", json={}).raise_for_status()
        for _ in range(WARMUP):
            direct()
            proxied()
        d_times, p_times = [], []
        for _ in range(N_INVOKE):
            d_times.append(direct())
            p_times.append(proxied())
        httpx.post(emu_url + "/_emulator/scenario", json={"token_delay": 0.002}).raise_for_status()
        for _ in range(10):
            direct_first_byte()
            proxied_first_byte()
        d_first, p_first = [], []
        for _ in range(N_STREAM):
            d_first.append(direct_first_byte())
            p_first.append(proxied_first_byte())
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)

    ms = 1000.0
    rows = [
        ("non-stream p50", pct(d_times, 50) * ms, pct(p_times, 50) * ms, 2.0),
        ("non-stream p99", pct(d_times, 99) * ms, pct(p_times, 99) * ms, 10.0),
        ("first byte p50", pct(d_first, 50) * ms, pct(p_first, 50) * ms, 10.0),
        ("first byte p99", pct(d_first, 99) * ms, pct(p_first, 99) * ms, 10.0),
    ]
    print(f"chat proxy overhead on loopback (non-stream N={N_INVOKE}, stream N={N_STREAM}, interleaved)")
    print(f"{'metric':<16} {'direct ms':>10} {'proxy ms':>10} {'overhead ms':>12} {'target ms':>10}  result")
    for name, direct_ms, proxy_ms, target in rows:
        overhead = proxy_ms - direct_ms
        verdict = "ok" if overhead <= target else "MISSED"
        print(f"{name:<16} {direct_ms:>10.2f} {proxy_ms:>10.2f} {overhead:>12.2f} {'<= ' + str(target):>10}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
