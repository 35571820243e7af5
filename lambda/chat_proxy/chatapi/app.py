"""The ASGI application: the request context (``context``), the routers (``routes``) and the engine seam
(``dialects``), wired once from the settings.

FastAPI rather than bare Starlette: pydantic validates every request with messages that name the field, and the
same models publish the OpenAPI schema that schemathesis fuzzes; the routes stay thin. Blocking boto3 calls run
in plain ``def`` routes (FastAPI's threadpool), so the event loop never waits on the model. Streamed answers
(``streaming.EventStreamResponse``) close the model stream as soon as the client disconnects and log ``stream
finished`` with ``error_code: client_disconnected`` (a warning, no trace).

Per-caller metering and limits (``usage``): each model route starts a ticket once the request is valid (429 when
the caller is over a limit) and settles it with the engine's counts (``routes.calls``); the middleware finishes
whatever a request left open.
"""

from __future__ import annotations

import time
from dataclasses import replace

from fastapi import FastAPI

from chatapi import wake
from chatapi.backend import SageMakerBackend, make_client
from chatapi.caller import resolve_caller
from chatapi.context import RequestContextMiddleware, add_error_handlers, logger
from chatapi.dialects import make_dialect
from chatapi.guardrails import Guardrail, guardrail_from_env
from chatapi.responses_store import ResponseStore, load_store_settings
from chatapi.routes import include_flat
from chatapi.routes.calls import ERROR_RESPONSES, STREAM_CONTENT, CallRunner
from chatapi.routes.meta import meta_router
from chatapi.routes.models import ModelTable, ServedModel
from chatapi.routes.openai import chat_route, openai_router
from chatapi.routes.responses import responses_router
from chatapi.routes.tgi import tgi_router
from chatapi.settings import SERVER_FAMILY, Settings
from chatapi.usage import Usage, load_usage_settings

__all__ = ["create_app", "logger"]


def create_app(
    settings: Settings,
    backend: SageMakerBackend | None = None,
    usage: Usage | None = None,
    guardrail: Guardrail | None = None,
) -> FastAPI:
    """The chat API for ``settings``; ``backend`` defaults to boto3's sagemaker-runtime client, ``usage`` (callers,
    metering, limits) and ``guardrail`` (Bedrock, ``GUARDRAIL_ID``/``GUARDRAIL_VERSION``: ``chatapi.guardrails``)
    to what the environment configures."""
    backend = backend or SageMakerBackend(
        make_client(settings),
        settings.endpoint_name,
        inference_component=settings.inference_component_name,
        active_hours=settings.active_hours,
        waker=wake.make_waker(
            settings.inference_component_name,
            settings.wake_wait_seconds,
            settings.wake_poll_seconds,
            settings.aws_region,
        ),
    )
    usage = usage or Usage.from_settings(
        load_usage_settings(), settings.model_id, region=settings.aws_region, logger=logger
    )
    guardrail = guardrail or guardrail_from_env(settings.aws_region, usage.meter, logger)
    app = FastAPI(
        title="LLM chat API",
        version="1.0.0",
        description="OpenAI-compatible and TGI-native chat API in front of a SageMaker TGI or vLLM endpoint.",
        # No /docs, /redoc or /openapi.json: API Gateway routes only the API (constructs/api/chat_api.py), and the
        # schema is for tests and tools, which read app.openapi() in process.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(RequestContextMiddleware, body_limit=settings.request_body_limit_bytes)
    add_error_handlers(app)

    models = serve_models(settings, backend)
    runner = CallRunner(settings, usage, logger, guardrail)
    chat = chat_route(models, runner)
    responses = responses_router(
        model_id=lambda name: models.pick(name, "chat").name,
        chat=chat,
        caller=lambda request: resolve_caller(dict(request.scope["headers"]), usage.settings.caller_identity),
        store=ResponseStore.from_settings(load_store_settings(), region=settings.aws_region),
        responses=ERROR_RESPONSES,
        stream_content=STREAM_CONTENT,
    )
    include_flat(app.router, meta_router())
    include_flat(app.router, openai_router(models, runner, chat, responses, created=int(time.time())))
    include_flat(app.router, tgi_router(models.default.dialect, runner))
    return app


def _wakers(first: wake.Waker | None, components: set[str]) -> dict[str, wake.Waker]:
    """One waker per model component (each with its own lock: one scaling call per wake-up of that component),
    from the first model's (INFERENCE_COMPONENT_NAME); none when the wake-up is off."""
    if first is None:
        return {}
    return {c: first if c == first.component else first.for_component(c) for c in sorted(components)}


def serve_models(settings: Settings, backend: SageMakerBackend) -> ModelTable:
    """The one model of ``MODEL_ID``, or one per inference component of ``MODEL_ROUTES``: its first name is the
    served name, the others aliases; each gets its engine's dialect and a backend naming its component."""
    if not settings.model_routes:
        return ModelTable(
            [ServedModel(settings.model_id, settings.model_aliases, "chat", make_dialect(settings, backend), settings)]
        )
    names: dict[str, list[str]] = {}
    for name, route in settings.model_routes:
        names.setdefault(route.component, []).append(name)
    routes = dict(settings.model_routes)
    wakers = _wakers(backend.waker, {route.component for _, route in settings.model_routes if route.base is None})
    served = []
    for component, (name, *aliases) in names.items():
        route = routes[name]
        # An adapter has no copies of its own: a call that meets none wakes its base's component.
        wakes = routes[route.base].component if route.base is not None else component
        own = replace(
            settings,
            model_id=name,
            model_aliases=tuple(aliases),
            engine=route.engine,
            prompt_family=route.prompt_family or SERVER_FAMILY,
            inference_component_name=component,
            # vLLM checks the context itself; a TGI model keeps the deployment's caps (MAX_*_TOKENS).
            max_total_tokens=route.context_length
            if route.context_length and route.engine == "vllm"
            else settings.max_total_tokens,
        )
        dialect = make_dialect(own, backend.for_component(component, wakers.get(wakes)))
        served.append(ServedModel(name, tuple(aliases), route.kind, dialect, own, route.base, route.context_length))
    return ModelTable(served)
