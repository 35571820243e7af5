"""TGI's two dialects: a prompt the proxy renders (``PROMPT_FAMILY`` falcon, chatml, llama2, mistral) sent to
``/generate``'s payload, and its Messages API (``PROMPT_FAMILY=server``), where TGI renders the model's template.
Completions and ``/generate`` travel as TGI text generation in both."""

from __future__ import annotations

from typing import Any

from chatapi.backend import SageMakerBackend, engine_error
from chatapi.checks import resolve_max_tokens
from chatapi.dialects.openai_calls import messages_chat
from chatapi.dialects.openai_plan import reshape_for_tgi
from chatapi.dialects.seam import Call
from chatapi.dialects.text_calls import prompted_chat, tgi_completion, tgi_generate
from chatapi.dialects.transport import TgiText
from chatapi.embeddings import EmbeddingRequest
from chatapi.errors import ApiError
from chatapi.media import defuse_tgi_payload
from chatapi.schemas import ChatCompletionRequest, CompletionRequest, GenerateRequest
from chatapi.settings import Settings


class TgiPrompt:
    """TGI with the prompt rendered by the proxy."""

    owned_by = "sagemaker"

    def __init__(self, settings: Settings, backend: SageMakerBackend) -> None:
        self.settings = settings
        self.backend = backend
        self.text = TgiText(backend)

    def chat(self, request: ChatCompletionRequest) -> Call:
        return prompted_chat(request, self.settings, self.text)

    def completion(self, request: CompletionRequest) -> Call:
        return tgi_completion(request, self.settings, self.text)

    def generate(self, request: GenerateRequest) -> Call:
        return tgi_generate(request, self.settings, self.text)

    def embeddings(self, request: EmbeddingRequest) -> Call:
        # TGI generates text only; an embedding model is a vLLM route of MODEL_ROUTES.
        raise ApiError(
            400,
            f"The model '{request.model}' is served by TGI, which computes no embeddings.",
            param="model",
            code="model_not_supported",
        )

    def error(self, body: dict[str, Any], status: int | None = None) -> ApiError:
        return engine_error(body, status)


def tgi_max_tokens(request: ChatCompletionRequest, settings: Settings) -> int:
    """TGI's Messages API gets the proxy's default and cap (``checks.resolve_max_tokens``)."""
    return resolve_max_tokens(request.max_tokens, request.max_completion_tokens, settings)


class TgiMessages(TgiPrompt):
    """TGI's Messages API: OpenAI chat reshaped to TGI's ``ChatRequest`` (``openai_plan``)."""

    def chat(self, request: ChatCompletionRequest) -> Call:
        return messages_chat(
            request,
            self.settings,
            self.backend,
            path="tgi",
            max_tokens_of=tgi_max_tokens,
            reshape=reshape_for_tgi,
            defuse=defuse_tgi_payload,
            engine_finish=False,
        )
