"""Embeddings on vLLM's pooling runner: OpenAI's embeddings body to ``/invocations`` (vLLM's SageMaker router
validates a body against each request type the model serves and a pooling model serves ``EmbeddingRequest``:
``vllm/entrypoints/serve/sagemaker/api_router.py`` and ``vllm/entrypoints/pooling/factories.py``,
``get_pooling_invocation_types``, vLLM 0.29), answered in OpenAI's shape with its usage. Not streamed: one
InvokeEndpoint, within SageMaker's 60 seconds."""

from __future__ import annotations

from typing import Any

from chatapi.backend import SageMakerBackend
from chatapi.dialects.seam import Call, CallerText, ModelStream, StreamOutcome, prompt_texts
from chatapi.embeddings import EmbeddingRequest
from chatapi.errors import ApiError
from chatapi.settings import Settings
from chatapi.usage import Cost, Ticket


def _bad_answer() -> ApiError:
    return ApiError(502, "The model answered without embeddings.", type="upstream_error", code="bad_response")


def embedding_call(request: EmbeddingRequest, settings: Settings, backend: SageMakerBackend) -> Call:
    """The call for ``request`` on the embedding model ``settings.model_id`` (its served name)."""
    payload = request.engine_body(settings.model_id)

    def answer(outcome: StreamOutcome) -> dict[str, Any]:
        body = backend.invoke(payload)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != request.input_count():
            raise _bad_answer()
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        prompt = usage.get("prompt_tokens")
        prompt_tokens = prompt if isinstance(prompt, int) and not isinstance(prompt, bool) else None
        outcome.prompt_tokens = prompt_tokens
        outcome.generated_tokens = 0
        counted = prompt_tokens if prompt_tokens is not None else request.prompt_estimate()
        return {
            "object": "list",
            "data": data,
            "model": request.model,
            "usage": {"prompt_tokens": counted, "total_tokens": counted},
        }

    def stream(ticket: Ticket, outcome: StreamOutcome) -> tuple[ModelStream, Any]:
        raise ApiError(400, "Embeddings are not streamed.", param="stream", code="unsupported_parameter")

    return Call(
        cost=Cost(request.prompt_estimate(), 0),
        prompt=request.prompt_text(),
        answer=answer,
        stream=stream,
        shape="embeddings",
        said=CallerText("input", prompt_texts(request.input)),
    )
