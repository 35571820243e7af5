"""TGI's native route, ``POST /generate``, on every engine (the SageMaker SDK's ``predict`` shape)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chatapi.dialects import Dialect
from chatapi.routes.calls import ERROR_RESPONSES, STREAM_CONTENT, CallRunner
from chatapi.schemas import GeneratedText, GenerateRequest


def tgi_router(dialect: Dialect, runner: CallRunner) -> APIRouter:
    router = APIRouter(tags=["tgi"])

    @router.post(
        "/generate",
        response_model=None,
        responses={200: {"model": list[GeneratedText], "content": STREAM_CONTENT}, **ERROR_RESPONSES},
    )
    def generate(request: GenerateRequest, http_request: Request) -> Response:
        """TGI-native generation; answers ``[{"generated_text": ...}]`` like the SageMaker SDK's ``predict``."""
        return runner.run(dialect.generate(request), http_request, stream=bool(request.stream), route="generate")

    return router
