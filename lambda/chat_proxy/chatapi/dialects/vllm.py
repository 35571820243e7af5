"""vLLM's OpenAI server (behind SageMaker's ``/invocations``): chat and completions pass through as OpenAI JSON;
``/generate`` and chat with a prompt the proxy renders (a ``PROMPT_FAMILY`` other than ``server``) become vLLM
completions requests (``tgi_to_vllm``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from chatapi.backend import SageMakerBackend, engine_error
from chatapi.dialects.embedding_calls import embedding_call
from chatapi.dialects.openai_calls import messages_chat, openai_completion
from chatapi.dialects.seam import Call
from chatapi.dialects.text_calls import prompted_chat, tgi_generate
from chatapi.dialects.transport import VllmText
from chatapi.embeddings import EmbeddingRequest
from chatapi.errors import ApiError
from chatapi.schemas import ChatCompletionRequest, CompletionRequest, GenerateRequest
from chatapi.settings import Settings


def vllm_max_tokens(request: ChatCompletionRequest, settings: Settings) -> int | None:
    """The request's limit as sent, else the operator's default; None leaves it to vLLM (the rest of the
    context: vLLM checks max_model_len - prompt itself)."""
    if request.max_tokens is None and request.max_completion_tokens is None:
        return settings.default_max_tokens
    return None


def _unchanged(payload: dict[str, Any]) -> Any:
    return payload


class VllmOpenAI:
    """vLLM; ``rendered_prompt``: the proxy renders the chat prompt (chosen once, by the factory)."""

    owned_by = "vllm"

    def __init__(self, settings: Settings, backend: SageMakerBackend, *, rendered_prompt: bool) -> None:
        self.settings = settings
        self.backend = backend
        self.text = VllmText(backend, settings.model_id)
        if rendered_prompt:
            self._chat = partial(prompted_chat, settings=settings, text=self.text)
        else:
            self._chat = partial(
                messages_chat,
                settings=settings,
                backend=backend,
                path="vllm",
                max_tokens_of=vllm_max_tokens,
                reshape=lambda body: None,
                defuse=_unchanged,
                engine_finish=True,
            )

    def chat(self, request: ChatCompletionRequest) -> Call:
        return self._chat(request)

    def completion(self, request: CompletionRequest) -> Call:
        return openai_completion(request, self.settings, self.backend)

    def generate(self, request: GenerateRequest) -> Call:
        return tgi_generate(request, self.settings, self.text)

    def embeddings(self, request: EmbeddingRequest) -> Call:
        return embedding_call(request, self.settings, self.backend)

    def error(self, body: dict[str, Any], status: int | None = None) -> ApiError:
        return engine_error(body, status)
