"""The proxy's engine seam (chatapi.dialects): one dialect per engine dialect, chosen once from the settings, and
calls that do no I/O until they are run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chatapi.backend import SageMakerBackend
from chatapi.dialects import make_dialect
from chatapi.dialects.tgi import TgiMessages, TgiPrompt
from chatapi.dialects.vllm import VllmOpenAI
from chatapi.errors import ApiError
from chatapi.schemas import ChatCompletionRequest, CompletionRequest, GenerateRequest
from chatapi.settings import load_settings

ROUTES = Path(__file__).resolve().parents[2] / "lambda" / "chat_proxy" / "chatapi" / "routes"


class NoCalls:
    """A sagemaker-runtime client that fails the test if anything reaches it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the model was called ({name}) while a call was only being built")


def dialect_for(engine: str, family: str) -> Any:
    settings = load_settings({"SAGEMAKER_ENDPOINT_NAME": "x", "ENGINE": engine, "PROMPT_FAMILY": family})
    return make_dialect(settings, SageMakerBackend(NoCalls(), "x"))


@pytest.mark.parametrize(
    ("engine", "family", "kind", "owned_by"),
    [
        ("tgi", "falcon", TgiPrompt, "sagemaker"),
        ("tgi", "chatml", TgiPrompt, "sagemaker"),
        ("tgi", "server", TgiMessages, "sagemaker"),
        ("vllm", "server", VllmOpenAI, "vllm"),
        ("vllm", "mistral", VllmOpenAI, "vllm"),
    ],
)
def test_the_dialect_follows_engine_and_prompt_family(engine: str, family: str, kind: type, owned_by: str) -> None:
    dialect = dialect_for(engine, family)
    assert type(dialect) is kind
    assert dialect.owned_by == owned_by


CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}


@pytest.mark.parametrize(("engine", "family"), [("tgi", "falcon"), ("tgi", "server"), ("vllm", "server")])
def test_building_a_call_checks_and_prices_it_without_calling_the_model(engine: str, family: str) -> None:
    dialect = dialect_for(engine, family)
    for call in (
        dialect.chat(ChatCompletionRequest.model_validate(CHAT)),
        dialect.completion(CompletionRequest.model_validate({"model": "m", "prompt": "Hi", "max_tokens": 5})),
        dialect.generate(GenerateRequest.model_validate({"inputs": "Hi", "parameters": {"max_new_tokens": 5}})),
    ):
        assert call.cost.max_new_tokens == 5
        assert "Hi" in call.prompt


@pytest.mark.parametrize(
    ("engine", "family"), [("tgi", "falcon"), ("tgi", "server"), ("vllm", "server"), ("vllm", "mistral")]
)
def test_every_call_names_its_shape_and_what_the_caller_wrote(engine: str, family: str) -> None:
    """What a guardrail checks (routes/calls.py): each message's text, the prompt, the inputs, on every dialect."""
    dialect = dialect_for(engine, family)
    chat = {**CHAT, "messages": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]}
    calls = [
        dialect.chat(ChatCompletionRequest.model_validate(chat)),
        dialect.completion(CompletionRequest.model_validate({"model": "m", "prompt": "Say", "max_tokens": 5})),
        dialect.generate(GenerateRequest.model_validate({"inputs": "Go", "parameters": {"max_new_tokens": 5}})),
    ]
    assert [(c.shape, c.said.param, c.said.texts) for c in calls] == [
        ("chat", "messages", ("Be brief", "Hi")),
        ("completions", "prompt", ("Say",)),
        ("generate", "inputs", ("Go",)),
    ]


def test_a_prompt_of_token_ids_has_no_text_to_check() -> None:
    request = CompletionRequest.model_validate({"model": "m", "prompt": [1, 2, 3], "max_tokens": 5})
    assert dialect_for("vllm", "server").completion(request).said.texts is None


def test_the_proxy_rendered_dialect_refuses_what_only_a_chat_template_can_render() -> None:
    request = ChatCompletionRequest.model_validate({**CHAT, "logprobs": True})
    with pytest.raises(ApiError, match="logprobs needs the engine to render the model's chat template") as raised:
        dialect_for("tgi", "falcon").chat(request)
    assert raised.value.param == "logprobs"
    dialect_for("vllm", "server").chat(request)  # the engine's template renders it: passes


def test_engine_errors_are_mapped_by_the_dialect() -> None:
    error = dialect_for("vllm", "server").error({"error": {"message": "bad", "code": 400, "param": "n"}})
    assert (error.status, error.param, error.code) == (400, "n", "model_validation_error")


def test_no_route_asks_which_engine_it_talks_to() -> None:
    for module in ROUTES.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        for name in ("settings.engine", "prompt_family", "server_templates", "engine_bounds_tokens"):
            assert name not in text, f"{module.name} branches on {name}: ask the dialect (chatapi.dialects) instead"
