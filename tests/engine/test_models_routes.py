"""Several models against the real engine on CPU: embeddings from vLLM's pooling runner and a LoRA adapter, each
reached by its inference component through this API (as ``make dev`` runs it with ``MODEL_ROUTES``) and the
SageMaker-runtime stand-in forwarding each component to its container's ``/invocations``.

The stand-in does what SageMaker does for an adapter inference component: it calls the base container with the
adapter's id in ``X-Amzn-SageMaker-Adapter-Identifier``, which vLLM's ``/invocations`` puts in the body's
``model`` (``inject_adapter_id(adapter_path="model")``, vllm/entrypoints/serve/sagemaker/api_router.py). One vLLM
runs at a time (~3 GB each): each test starts its own and stops it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from chat_harness import app_env, free_port, start_app
from engine_harness import VllmServer, start_vllm
from sagemaker_runtime_emulator import Emulator

TIMEOUT = 300.0
TEXTS = ["The weather is sunny.", "Paris is the capital of France."]

# A PEFT LoRA adapter of the tiny chatml Qwen2 (hidden 128, 2 heads x 64, 1 KV head): random but large B weights,
# so the adapter visibly changes the answer.
ADAPTER_SCRIPT = """
import json, sys, torch
from safetensors.torch import save_file
out, layers, r = sys.argv[1], 2, 8
torch.manual_seed(1)
shapes = {"q_proj": 128, "v_proj": 64}
tensors = {}
for i in range(layers):
    for name, rows in shapes.items():
        key = f"base_model.model.model.layers.{i}.self_attn.{name}"
        tensors[key + ".lora_A.weight"] = torch.randn(r, 128) * 0.5
        tensors[key + ".lora_B.weight"] = torch.randn(rows, r) * 0.5
save_file(tensors, out + "/adapter_model.safetensors")
json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": 16, "lora_dropout": 0.0,
           "target_modules": list(shapes), "bias": "none", "fan_in_fan_out": False, "modules_to_save": None,
           "base_model_name_or_path": None}, open(out + "/adapter_config.json", "w"))
"""


@pytest.fixture(autouse=True)
def _one_engine_at_a_time(engines: Any) -> None:
    engines.stop()  # another module's server must not run beside this one's


@contextmanager
def serving(
    engine_py: Path, work: Path, args: list[str], routes: dict[str, Any], adapters: dict[str, str]
) -> Iterator[tuple[VllmServer, Emulator, str]]:
    """vLLM with ``args``, the stand-in routing every component of ``routes`` to it, and the app."""
    port = free_port()
    server = start_vllm(engine_py, [*args, "--port", str(port), "--host", "127.0.0.1"], port, work / "vllm.log")
    stand_in = Emulator().start()
    app = None
    try:
        stand_in.component_upstreams = {route["component"]: server.url for route in routes.values()}
        stand_in.adapters = adapters
        env = app_env(stand_in.url, MODEL_ROUTES=json.dumps(routes), ENGINE="vllm", PROMPT_FAMILY="server")
        app, url = start_app(env, work / "app.log")
        yield server, stand_in, url
    finally:
        if app is not None:
            app.terminate()
            app.wait(10)
        stand_in.stop()
        server.stop()


def test_embeddings_from_the_pooling_runner(engine_py: Path, tiny_model: Any, tmp_path: Path) -> None:
    routes = {"tiny-embed": {"component": "embed-ic", "kind": "embedding", "engine": "vllm"}}
    # vLLM 0.29: --runner pooling --convert embed turns the causal LM into an embedding model (last-token pooling).
    args = ["--model", str(tiny_model("chatml")), "--served-model-name", "tiny-embed", "--runner", "pooling"]
    args += ["--convert", "embed", "--max-model-len", "512"]
    with serving(engine_py, tmp_path, args, routes, {}) as (server, stand_in, url):
        own = httpx.post(
            server.url + "/v1/embeddings",
            json={"model": "tiny-embed", "input": TEXTS, "encoding_format": "float"},
            timeout=TIMEOUT,
        ).json()
        with openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=TIMEOUT) as client:
            floats = client.embeddings.create(model="tiny-embed", input=TEXTS, encoding_format="float")
            decoded = client.embeddings.create(model="tiny-embed", input=TEXTS)  # base64, decoded by the client
            tokens = client.embeddings.create(model="tiny-embed", input=[[1, 2, 3]], encoding_format="float")
            with pytest.raises(openai.BadRequestError, match="Matryoshka"):
                client.embeddings.create(model="tiny-embed", input="hi", dimensions=4)
            with pytest.raises(openai.BadRequestError):
                client.embeddings.create(model="tiny-embed", input=["x"] * 10_000)
            with pytest.raises(openai.BadRequestError, match=r"context length|maximum"):  # over --max-model-len
                client.embeddings.create(model="tiny-embed", input="hello " * 600)
        assert [d.embedding for d in floats.data] == [d["embedding"] for d in own["data"]]
        for mine, theirs in zip(decoded.data, own["data"], strict=True):
            assert mine.embedding == pytest.approx(theirs["embedding"], abs=1e-6)
        assert floats.usage.prompt_tokens == own["usage"]["prompt_tokens"] > 0
        assert len(tokens.data) == 1 and len(tokens.data[0].embedding) == len(own["data"][0]["embedding"])
        assert {r["inference_component"] for r in stand_in.requests} == {"embed-ic"}


def test_a_lora_adapter_by_its_name(engine_py: Path, tiny_model: Any, tmp_path: Path) -> None:
    adapter = tmp_path / "support-bot"
    adapter.mkdir()
    subprocess.run([str(engine_py), "-c", ADAPTER_SCRIPT, str(adapter)], check=True, timeout=300)
    routes = {
        "tiny-chat": {"component": "chat-ic", "kind": "chat", "engine": "vllm"},
        # Another name than vLLM's adapter id: only the runtime's adapter header can make vLLM run the adapter.
        "support": {"component": "support-bot-ic", "kind": "chat", "engine": "vllm", "base": "tiny-chat"},
    }
    args = ["--model", str(tiny_model("chatml")), "--served-model-name", "tiny-chat", "--max-model-len", "2048"]
    args += ["--enable-lora", "--max-lora-rank", "8", "--lora-modules", f"support-bot={adapter}"]
    chat = {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8, "temperature": 0}
    with serving(engine_py, tmp_path, args, routes, {"support-bot-ic": "support-bot"}) as (server, stand_in, url):

        def own(model: str) -> str:
            answer = httpx.post(server.url + "/v1/chat/completions", json={**chat, "model": model}, timeout=TIMEOUT)
            return str(answer.json()["choices"][0]["message"]["content"])

        with openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=TIMEOUT) as client:
            through = {
                name: client.chat.completions.create(model=name, **chat).choices[0].message.content  # type: ignore[call-overload]
                for name in routes
            }
            listed = {card.id: card.model_dump() for card in client.models.list()}
        assert through == {"tiny-chat": own("tiny-chat"), "support": own("support-bot")}
        assert through["support"] != through["tiny-chat"]  # the adapter ran, not the base
        assert [r["inference_component"] for r in stand_in.requests] == ["chat-ic", "support-bot-ic"]
        assert stand_in.requests[1]["payload"]["model"] == "support"
        assert listed["support"]["parent"] == "tiny-chat"
