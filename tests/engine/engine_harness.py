"""A real vLLM (CPU) started the way the deployed container starts it, a SageMaker-runtime stand-in in front of it,
and the chat API (``make dev``'s app) behind that stand-in.

The container's command line: Hugging Face's vLLM DLC (the default image, ``huggingface-vllm`` in the SageMaker
SDK's data) runs ``sagemaker_entrypoint.sh``, which "maps SM_VLLM_* env vars to vLLM CLI flags" (``booleans:
true=flag only, false=skip``), always adds ``--port 8080``, falls back to ``/opt/ml/model`` then ``HF_MODEL_ID``
when ``SM_VLLM_MODEL`` is unset, and runs ``python3 -m vllm.entrypoints.openai.api_server "${ARGS[@]}"`` (the HF
DLC's current entrypoint, which layers ``hf_optimizations.sh`` on AWS's; the first version of it,
aws/deep-learning-containers ``huggingface/vllm/build_artifacts/sagemaker_entrypoint.sh`` at commit
cb035a10da530bd891c3eabcdb9d4cb204b9fd7c, passed every value through, ``true`` included). ``dlc_args`` does the
same translation; ``local_args`` then swaps only what cannot run here (``SWAPPED``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from chat_harness import app_env, free_port, start_app
from sagemaker_runtime_emulator import Emulator

REPO = Path(__file__).resolve().parents[2]
PREFIX = "SM_VLLM_"
START_DEADLINE_SECONDS = 600.0  # cold start is ~90 s on 2 cores; a loaded CI machine gets generous room
ENDPOINT_NAME = "engine-test-endpoint"

# What a CPU test box must change in the synthesized container environment, and why. Nothing else is touched.
SWAPPED = {
    "SM_VLLM_MODEL": "the Hub model id becomes the tiny local model of the same family (no Hub, no GPU)",
    "SM_VLLM_REVISION": "a commit of the Hub repository; the local folder has no revisions",
    "SM_VLLM_TOKENIZER_REVISION": "a commit of the Hub repository; the local folder has no revisions",
    "SM_VLLM_CODE_REVISION": "a commit of the Hub repository; the local folder has no revisions",
    "SM_VLLM_TENSOR_PARALLEL_SIZE": "GPU-only: one CPU process (the 70B preset shards over 4-8 GPUs)",
    "SM_VLLM_QUANTIZATION": "GPU kernels (awq/gptq/fp8) the tiny bf16 model does not have",
}
# Outside the SM_VLLM_* contract, read by the DLC's own scripts or the Hub client, never by vLLM's arguments.
NOT_ARGUMENTS = ("HF_ENABLE_LMCACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_MODEL_ID")
# vLLM's own environment variables (vllm/envs.py, e.g. VLLM_MEDIA_URL_ALLOW_REDIRECTS): the container sets them
# and vLLM reads them from its environment, so the local process gets them exactly as synthesized.
VLLM_ENVIRONMENT = "VLLM_"


def dlc_args(env: Mapping[str, str], model_dir_populated: bool = False) -> list[str]:
    """The vLLM arguments the HF vLLM DLC's sagemaker_entrypoint.sh builds from the container environment."""
    args = ["--port", "8080"]
    if not env.get("SM_VLLM_MODEL"):
        if model_dir_populated:
            args += ["--model", "/opt/ml/model"]
        elif env.get("HF_MODEL_ID"):
            args += ["--model", env["HF_MODEL_ID"]]
    for key, value in env.items():
        if not key.startswith(PREFIX):
            continue
        name = "--" + key[len(PREFIX) :].lower().replace("_", "-")
        if value.lower() == "true":
            args.append(name)
        elif value.lower() == "false":
            continue
        else:
            args.append(name)
            if value:
                args.append(value)
    return args


def local_args(env: Mapping[str, str], model_dir: Path, port: int) -> list[str]:
    """``dlc_args`` for this machine: the tiny model, one CPU process, a free port on loopback."""
    replaced = {"SM_VLLM_MODEL": str(model_dir), "SM_VLLM_TENSOR_PARALLEL_SIZE": "1"}
    local = {k: replaced.get(k, v) for k, v in env.items() if k not in SWAPPED or k in replaced}
    args = dlc_args(local)
    # --port 8080 is SageMaker's; tests take a free port and keep the server off the network.
    at = args.index("--port")
    args[at + 1] = str(port)
    return [*args, "--host", "127.0.0.1"]


def engine_process_env(container_env: Mapping[str, str] | None = None) -> dict[str, str]:
    # vLLM's compile cache stays where the user keeps it (~/.cache/vllm): a warm start takes half as long.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SM_VLLM_", "VLLM_"))}
    env.update({k: v for k, v in (container_env or {}).items() if k.startswith(VLLM_ENVIRONMENT)})
    env.update(
        HF_HUB_OFFLINE="1",  # nothing may come from the Hub
        TRANSFORMERS_OFFLINE="1",
        VLLM_CPU_KVCACHE_SPACE=os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),  # GiB of KV cache on CPU
        VLLM_NO_USAGE_STATS="1",
        DO_NOT_TRACK="1",
    )
    return env


@dataclass
class VllmServer:
    """One vLLM OpenAI server process (its own process group, so every child dies with it)."""

    args: list[str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]
    started_in: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def rss_mb(self) -> int:
        """Resident memory of the server and its children (the engine core), from /proc."""
        total = 0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total // 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found += [int(child), *_children(int(child))]
    return found


class EngineRefused(RuntimeError):
    """vLLM exited before it was healthy; the message carries its log."""


def start_vllm(
    python: Path, args: list[str], port: int, log_path: Path, container_env: Mapping[str, str] | None = None
) -> VllmServer:
    """Start vLLM and wait for /health: an event (its socket answers 200), bounded by START_DEADLINE_SECONDS."""
    log = log_path.open("wb")
    began = time.monotonic()
    process = subprocess.Popen(
        [str(python), "-m", "vllm.entrypoints.openai.api_server", *args],
        env=engine_process_env(container_env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = VllmServer(args, port, log_path, process)
    try:
        wait_healthy(server)
    except BaseException:
        server.stop()
        raise
    server.started_in = time.monotonic() - began
    return server


def wait_healthy(server: VllmServer) -> None:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise EngineRefused(f"vLLM exited with {server.process.returncode}:\n{server.log()[-6000:]}")
        # Block on the socket until the server accepts (or a short slice passes, to notice an exit).
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=2):
                pass
        except OSError:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(1)  # returns at once if it exits
            continue
        try:
            if httpx.get(server.url + "/health", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(0.5)
    raise TimeoutError(f"vLLM not healthy after {START_DEADLINE_SECONDS:.0f} s:\n{server.log()[-6000:]}")


@dataclass
class EngineApi:
    """The contract other tests rely on: vLLM's own OpenAI server, this API through the stand-in, and what runs."""

    vllm_url: str  # vLLM's OpenAI server, ending in /v1
    api_url: str  # this API (uvicorn, as `make dev` runs it) through the SageMaker-runtime stand-in, ending in /v1
    model: str  # the served model name (the preset's SM_VLLM_SERVED_MODEL_NAME, the Lambda's MODEL_ID)
    family: str  # the tiny model's family: chatml (hermes tools), chatml-think, llama3, mistral
    preset: str = ""
    server: VllmServer | None = None
    stand_in: Emulator | None = None
    app_log: Path | None = None
    container_env: dict[str, str] = field(default_factory=dict)
    lambda_env: dict[str, str] = field(default_factory=dict)

    @property
    def engine_url(self) -> str:
        """vLLM's root (for /invocations, /health, /tokenize)."""
        return self.vllm_url.removesuffix("/v1")

    @property
    def app_url(self) -> str:
        return self.api_url.removesuffix("/v1")


def literal_env(variables: Mapping[str, Any]) -> dict[str, str]:
    """The template's plain-string variables (a token such as an endpoint name's GetAtt is not one)."""
    return {k: v for k, v in variables.items() if isinstance(v, str)}


# Lambda-only settings with no meaning for `make dev` on a laptop: the Lambda Web Adapter's and API Gateway's.
LAMBDA_ONLY = ("AWS_", "PORT", "CALLER_IDENTITY")


def app_environment(lambda_env: Mapping[str, str], stand_in_url: str) -> dict[str, str]:
    kept = {k: v for k, v in lambda_env.items() if not k.startswith(LAMBDA_ONLY)}
    return app_env(stand_in_url, SAGEMAKER_ENDPOINT_NAME=ENDPOINT_NAME, **kept)


@contextlib.contextmanager
def running_stack(
    python: Path,
    *,
    preset: str,
    family: str,
    model_dir: Path,
    container_env: Mapping[str, str],
    lambda_env: Mapping[str, str],
    work_dir: Path,
) -> Iterator[EngineApi]:
    """vLLM + stand-in + app for one synthesized preset; everything is stopped on exit."""
    port = free_port()
    server = start_vllm(python, local_args(container_env, model_dir, port), port, work_dir / "vllm.log", container_env)
    stand_in = Emulator(upstream=server.url).start()
    app_log = work_dir / "app.log"
    app = None
    try:
        app, app_url = start_app(app_environment(lambda_env, stand_in.url), app_log)
        yield EngineApi(
            vllm_url=server.url + "/v1",
            api_url=app_url + "/v1",
            model=container_env["SM_VLLM_SERVED_MODEL_NAME"],
            family=family,
            preset=preset,
            server=server,
            stand_in=stand_in,
            app_log=app_log,
            container_env=dict(container_env),
            lambda_env=dict(lambda_env),
        )
    finally:
        if app is not None:
            app.terminate()
            app.wait(10)
        stand_in.stop()
        server.stop()


def engine_python() -> Path | None:
    value = os.environ.get("ENGINE_PYTHON")
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else REPO / path


def build_tiny_model(python: Path, family: str, out: Path) -> Path:
    if not (out / "tiny-model.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run(
            [str(python), str(Path(__file__).with_name("tiny_models.py")), family, str(out)],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return out
