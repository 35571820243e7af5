"""The ASGI application: routes, request context (ids, body cap, logs) and error handlers.

FastAPI rather than bare Starlette: pydantic validates every request with messages that name the field, and the
same models publish the OpenAPI schema that schemathesis fuzzes; the routes stay thin. Blocking boto3 calls run
in plain ``def`` routes (FastAPI's threadpool), so the event loop never waits on the model.

Request ids (``request_ids``): API Gateway's ``requestId`` forwarded by the Lambda Web Adapter, else the caller's
``x-amzn-requestid``/``x-request-id``, else a fresh one; echoed as ``x-request-id``. Every log line of a request
(Powertools JSON on stdout) carries ``request_id`` and, behind LWA, ``apigw_request_id`` and
``lambda_request_id``. Streamed answers (``streaming.EventStreamResponse``) close the model stream as soon as the
client disconnects and log ``stream finished`` with ``error_code: client_disconnected`` (a warning, no trace).

Per-caller metering and limits (``usage``): each model route calls ``usage.start`` once the request is valid
(429 when the caller is over a limit), then ``ticket.finish`` with the engine's counts (non-stream) or wraps the
model's events in ``ticket.watch``; the middleware finishes whatever a request left open.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import time
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools import Logger
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatapi import assemble, engines, wake
from chatapi.backend import SageMakerBackend, TgiStream, make_client, tgi_error
from chatapi.caller import resolve_caller
from chatapi.errors import ApiError
from chatapi.grammar import check_grammars
from chatapi.media import check_media, defuse_tgi_payload
from chatapi.page import add_page_route
from chatapi.policy import check_model
from chatapi.request_ids import resolve
from chatapi.responses_api import add_responses_routes
from chatapi.responses_store import ResponseStore, load_store_settings
from chatapi.schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    ErrorBody,
    GeneratedText,
    GenerateRequest,
    Health,
    ModelCard,
    ModelList,
)
from chatapi.server_mode import (
    normalize_completion,
    normalize_text_completion,
    plan_server_chat,
    plan_server_completion,
    server_chat_stream,
    server_completion_stream,
)
from chatapi.service import (
    StreamOutcome,
    answer_usage,
    chat_completion,
    chat_stream,
    completion_stream,
    first_generation,
    generate_payload,
    generate_stream,
    plan_chat,
    plan_completion,
    text_completion,
)
from chatapi.settings import Settings
from chatapi.streaming import EventStreamResponse
from chatapi.unicode_check import lone_surrogate_error
from chatapi.usage import Cost, Ticket, Usage, all_generated_tokens, finish_pending, load_usage_settings

logger = Logger(service="chat-proxy")

# vLLM 0.29 CompletionRequest.max_tokens defaults to 16 (vllm/entrypoints/openai/completion/protocol.py).
VLLM_COMPLETIONS_DEFAULT_MAX_TOKENS = 16
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 413, 429, 500, 502, 503, 504)
}
STREAM_CONTENT = {"text/event-stream": {"schema": {"type": "string"}}}


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


class RequestContextMiddleware:
    """Request ids (and their log keys), body cap and UTF-8 check, one access log line, and a last-resort 500."""

    def __init__(self, app: ASGIApp, *, body_limit: int) -> None:
        self.app = app
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        ids = resolve(headers)
        request_id = ids.request_id
        # Context-local (each request is its own task; worker threads get a copy): on every log line of the request.
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(**ids.log_keys())
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if scope["method"] in ("POST", "PUT", "PATCH"):
                body_or_error = await self._read_body(headers, receive)
                if isinstance(body_or_error, ApiError):
                    await error_response(body_or_error)(scope, receive, send_with_id)
                    return
                receive = _replay(body_or_error, receive)
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error")
            if status == 0:
                error = ApiError(
                    500, f"Internal error; request id {request_id}.", type="internal_error", code="internal_error"
                )
                await error_response(error)(scope, receive, send_with_id)
                status = 500
        finally:
            await finish_pending(scope)
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )

    async def _read_body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes | ApiError:
        too_large = ApiError(
            413,
            f"Request body exceeds {self.body_limit} bytes.",
            code="request_too_large",
        )
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return ApiError(400, "Invalid Content-Length header.", code="invalid_header")
            if int(declared) > self.body_limit:
                return too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.body_limit:
                return too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return ApiError(400, f"Request body is not valid UTF-8 (byte {exc.start}).", code="invalid_encoding")
        return lone_surrogate_error(body) or body


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hand the buffered body to the app, then the real channel (streaming responses watch it for disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _param(loc: tuple[Any, ...]) -> str | None:
    """``("body", "messages", 0, "content", "list[TextPart]", 0, "text")`` -> ``messages[0].content[0].text``."""
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part) and part not in (
            "str",
            "int",
            "float",
            "bool",
            "list",
            "dict",
        ):
            out += f".{part}" if out else part
    return out or None


def _tag_error(first: dict[str, Any], param: str | None) -> ApiError:
    """A bad discriminator (``role``, a part's ``type``): name the field and the values it may take."""
    ctx = first.get("ctx") or {}
    field = str(ctx.get("discriminator", "")).strip("'()")
    param = f"{param}.{field}" if param and field else param or field or None
    expected = ", ".join(t.strip().strip("'").partition("=")[2] for t in str(ctx.get("expected_tags", "")).split(","))
    if first.get("type") == "union_tag_not_found":
        return ApiError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")
    return ApiError(
        400, f"Invalid value for '{param}': {ctx.get('tag')!r} is not one of: {expected}.", param=param,
        code="invalid_value",
    )  # fmt: skip


def validation_error(exc: RequestValidationError) -> ApiError:
    errors = exc.errors() or [{"type": "value_error", "loc": (), "msg": "invalid request"}]
    # A union (``content: str | list[part]``) reports one error per member: name the most specific one.
    root = _param(tuple(errors[0].get("loc", ()))) or ""
    same_field = [e for e in errors if (_param(tuple(e.get("loc", ()))) or "").startswith(root)]
    first = max(same_field, key=lambda e: len(_param(tuple(e.get("loc", ()))) or ""))
    kind = first.get("type", "")
    param = _param(tuple(first.get("loc", ())))
    if kind == "json_invalid":
        return ApiError(400, "We could not parse the JSON body of your request.", code="invalid_json")
    if kind == "extra_forbidden":
        return ApiError(400, f"Unrecognized request argument supplied: {param}", param=param, code="unknown_parameter")
    if kind == "missing":
        return ApiError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")
    if kind in ("union_tag_invalid", "union_tag_not_found") and param is not None:
        return _tag_error(first, param)
    if param is None:
        return ApiError(400, "The request body must be a JSON object.", code="invalid_body")
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return ApiError(400, f"Invalid value for '{param}': {message}", param=param, code="invalid_value")


def _open_stream(backend: SageMakerBackend, payload: dict[str, Any]) -> tuple[TgiStream, Iterator[Any]]:
    """Open a stream (or hold it while the model wakes: ``chatapi.wake``)."""
    return wake.open_or_hold(backend.waker, lambda: _open_now(backend, payload))


def _open_now(backend: SageMakerBackend, payload: dict[str, Any]) -> tuple[TgiStream, Iterator[Any]]:
    """Open a stream and read up to its first event, so a failure before any token is a proper HTTP error."""
    stream = backend.open_stream(payload)
    events = stream.raw_events()
    try:
        first = next(events)
    except StopIteration:
        stream.close()
        raise ApiError(
            502, "The model stream ended without an event.", type="upstream_error", code="empty_stream"
        ) from None
    except ApiError:
        stream.close()
        raise
    if first[1] is not None and "error" in first[1]:
        stream.close()
        raise tgi_error(first[1])
    return stream, itertools.chain([first], events)


def _as_asked(item: Any, asked: dict[str, Any]) -> Any:
    """A TGI answer without the details the proxy added for its own token count."""
    if not isinstance(item, dict) or "details" not in item:
        return item
    if not asked.get("details"):
        return {k: v for k, v in item.items() if k != "details"}
    if not asked.get("decoder_input_details") and isinstance(item["details"], dict):
        return {**item, "details": {**item["details"], "prefill": []}}
    return item


def _prompt_scoring(payload: dict[str, Any]) -> bool:
    """A completions request that scores its prompt (``prompt_logprobs``, or ``echo`` with ``logprobs``): vLLM 0.29
    reports prompt logprobs only in its answer without a stream (checked on the real engine, tests/engine)."""
    return payload.get("prompt_logprobs") is not None or (
        bool(payload.get("echo")) and payload.get("logprobs") is not None
    )


def create_app(settings: Settings, backend: SageMakerBackend | None = None, usage: Usage | None = None) -> FastAPI:
    """The chat API for ``settings``; ``backend`` defaults to boto3's sagemaker-runtime client, ``usage`` (callers,
    metering, limits) to what the environment configures (``chatapi.usage``)."""
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
    created = int(time.time())
    app = FastAPI(
        title="LLM chat API",
        version="1.0.0",
        description="OpenAI-compatible and TGI-native chat API in front of a SageMaker TGI or vLLM endpoint.",
        # No /docs, /redoc or /openapi.json: API Gateway routes only the API (constructs/chat_api.py), and the
        # schema is for tests and tools, which read app.openapi() in process.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(RequestContextMiddleware, body_limit=settings.request_body_limit_bytes)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        return error_response(validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        kind = "not_found" if exc.status_code == 404 else "invalid_request_error"
        message = "Unknown route." if exc.status_code == 404 else str(exc.detail)
        headers = dict(exc.headers or {})
        return error_response(ApiError(exc.status_code, message, type=kind, code=kind, headers=headers))

    def log_text(label: str, text: str) -> None:
        if settings.log_prompts:
            logger.info(label, extra={"text": text})

    def call_finished(
        route: str,
        outcome: StreamOutcome,
        *,
        streamed: bool,
        ticket: Ticket | None = None,
        client_disconnected: bool = False,
    ) -> None:
        """One log line per model call with its token counts, streamed or not: where usage is read from. A
        non-streamed call's ``ticket`` (metering and limits, ``chatapi.usage``) is settled here, before the answer
        is sent; a stream's by ``Ticket.watch`` as its last event passes (one cut short: by the middleware)."""
        if ticket is not None:
            # No prompt count from the engine (None): the ticket charges its admission estimate.
            ticket.finish(prompt_tokens=outcome.prompt_tokens, completion_tokens=outcome.generated_tokens or 0)
        if client_disconnected:
            outcome.error_code = "client_disconnected"
        log = logger.warning if client_disconnected else logger.info
        log(
            "stream finished" if streamed else "call finished",
            extra={
                "route": route,
                "finish_reason": outcome.finish_reason,
                "prompt_tokens": outcome.prompt_tokens,
                "generated_tokens": outcome.generated_tokens,
                "error_code": outcome.error_code,
            },
        )

    def streaming(body: Iterator[bytes], stream: TgiStream, outcome: StreamOutcome, route: str) -> Response:
        def finished(client_disconnected: bool) -> None:
            call_finished(route, outcome, streamed=True, client_disconnected=client_disconnected)

        if isinstance(stream, wake.HeldStream):  # the model is waking: SSE comments until it serves
            body = stream.keepalives(body)
        return EventStreamResponse(body, stream, finished, headers=SSE_HEADERS)

    def engine_stream(payload: dict[str, Any], *, param_prefix: str | None = None) -> tuple[TgiStream, Iterator[Any]]:
        """The engine's stream for TGI ``payload`` (``"stream": true``) as TGI events, on either engine."""
        if settings.engine == "vllm":
            request = engines.vllm_completion_request(payload, settings.model_id, param_prefix=param_prefix)
            stream, events = _open_stream(backend, request)
            return stream, engines.tgi_events(events, payload)
        return _open_stream(backend, defuse_tgi_payload(payload))

    def generate_text(payload: dict[str, Any], *, param_prefix: str | None = None) -> Any:
        """The engine's answer to TGI ``payload``, in TGI's shape on either engine (``engines``), assembled from
        its stream: SageMaker allows a stream 8 minutes, InvokeEndpoint 60 seconds (``assemble``)."""
        stream, events = engine_stream({**payload, "stream": True}, param_prefix=param_prefix)
        try:
            return assemble.tgi_generation(events)
        finally:
            stream.close()

    def stream_text(
        payload: dict[str, Any], ticket: Ticket, *, param_prefix: str | None = None
    ) -> tuple[TgiStream, Iterator[Any]]:
        """The engine's stream for TGI ``payload`` as TGI events, on either engine, metered by ``ticket`` (the
        final TGI event carries the token counts on both engines)."""
        stream, events = engine_stream(payload, param_prefix=param_prefix)
        return stream, ticket.watch(events)

    def model_card(name: str) -> dict[str, Any]:
        """What vLLM's /v1/models reports (``vllm/entrypoints/openai/models/``: ``owned_by``, ``root``, ``parent``,
        ``max_model_len``), for the served name and each alias; ``root`` is the served model."""
        return {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": "vllm" if settings.engine == "vllm" else "sagemaker",
            "root": settings.model_id,
            "parent": None,
            "max_model_len": settings.max_total_tokens,
        }

    served_names = (settings.model_id, *settings.model_aliases)

    add_page_route(app)

    @app.get("/health", response_model=Health, tags=["meta"])
    async def health() -> Health:
        """Process health; never calls the model endpoint."""
        return Health()

    @app.get("/v1/models", response_model=ModelList, tags=["openai"])
    async def models() -> dict[str, Any]:
        """The deployed model."""
        # Listed under its served name and each alias (MODEL_ALIASES).
        return {"object": "list", "data": [model_card(name) for name in served_names]}

    @app.get(
        "/v1/models/{model:path}", response_model=ModelCard, tags=["openai"], responses={404: {"model": ErrorBody}}
    )
    async def model(model: str) -> dict[str, Any]:
        """The deployed model, by its id (which may contain ``/``, as Hugging Face ids do)."""
        # ... or by an alias (MODEL_ALIASES); any other name is OpenAI's 404 model_not_found.
        check_model(model, settings.model_id, settings.model_aliases)
        return model_card(model)

    @app.post(
        "/v1/chat/completions",
        response_model=None,
        tags=["openai"],
        responses={200: {"model": ChatCompletion, "content": STREAM_CONTENT}, **ERROR_RESPONSES},
    )
    def chat_completions(request: ChatCompletionRequest, http_request: Request) -> Response:
        """OpenAI chat completions; ``stream: true`` answers ``chat.completion.chunk`` SSE ending in ``[DONE]``."""
        check_model(request.model, settings.model_id, settings.model_aliases)
        if settings.server_templates:
            return server_chat(request, http_request)
        plan = plan_chat(request, settings)
        log_text("prompt", plan.prompt)
        cost = Cost.of(plan.prompt, plan.payload["parameters"]["max_new_tokens"], settings)
        ticket = usage.start(http_request, stream=bool(request.stream), cost=cost)
        outcome = StreamOutcome()
        if not request.stream:
            answer = generate_text(plan.payload)
            body, _ = chat_completion(answer, plan, settings.model_id)
            outcome.finish_reason = body["choices"][0]["finish_reason"]
            outcome.record_usage(body.get("usage"))
            call_finished("chat", outcome, streamed=False, ticket=ticket)
            log_text("completion", body["choices"][0]["message"]["content"])
            return JSONResponse(body)
        stream, events = stream_text(plan.payload, ticket)
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        body_iter = chat_stream(events, plan, model=settings.model_id, include_usage=include_usage, outcome=outcome)
        return streaming(body_iter, stream, outcome, "chat")

    def server_chat(request: ChatCompletionRequest, http_request: Request) -> Response:
        check_grammars(request.model_dump(mode="json", exclude_unset=True, by_alias=True))
        plan = plan_server_chat(request, settings)
        # The engine fetches media URLs itself: only data: URLs and the allowed https hosts pass (chatapi.media).
        check_media(plan.payload, settings.image_url_domains)
        if settings.engine == "tgi":
            plan = dataclasses.replace(plan, payload=defuse_tgi_payload(plan.payload))
        if settings.log_prompts:
            log_text("prompt", json.dumps(plan.payload["messages"], ensure_ascii=False))
        # What the engine tokenizes: the messages and the tool/format schemas its template renders into the prompt.
        rendered = {k: plan.payload[k] for k in ("messages", "tools", "response_format") if k in plan.payload}
        cost = Cost.of(
            json.dumps(rendered, ensure_ascii=False),
            # vLLM takes either name as the client sent it; neither: the rest of the context.
            plan.payload.get("max_tokens", plan.payload.get("max_completion_tokens")),
            settings,
            sequences=int(plan.payload.get("n") or 1),
            messages=len(plan.payload["messages"]),
        )
        ticket = usage.start(http_request, stream=bool(request.stream), cost=cost)
        outcome = StreamOutcome()
        if not request.stream:
            if plan.payload.get("prompt_logprobs") is not None:
                # vLLM sends prompt logprobs only without a stream: InvokeEndpoint, within SageMaker's 60 seconds.
                answer = backend.invoke(plan.payload)
            else:
                # Streamed and assembled (``assemble``): SageMaker allows a stream 8 minutes, InvokeEndpoint 60 s.
                stream, events = _open_stream(
                    backend, {**plan.payload, "stream": True, "stream_options": {"include_usage": True}}
                )
                named = isinstance(plan.payload.get("tool_choice"), dict)
                try:
                    answer = assemble.openai_chat(events, named_tool=named and settings.engine == "vllm")
                finally:
                    stream.close()
            body = normalize_completion(
                answer,
                settings.model_id,
                legacy_functions=plan.legacy_functions,
                engine_finish=settings.engine == "vllm",
            )
            outcome.finish_reason = body["choices"][0]["finish_reason"]
            outcome.record_usage(body.get("usage"))
            call_finished("chat", outcome, streamed=False, ticket=ticket)
            log_text("completion", str(body["choices"][0]["message"].get("content")))
            return JSONResponse(body)
        stream, events = _open_stream(backend, plan.payload)
        # plan_server_chat always asks the engine for the usage chunk; server_chat_stream drops it unless the
        # client asked, so the ticket keeps it.
        events = ticket.watch_openai(events)
        body_iter = server_chat_stream(
            events,
            model=settings.model_id,
            include_usage=plan.include_usage,
            outcome=outcome,
            legacy_functions=plan.legacy_functions,
            engine_finish=settings.engine == "vllm",
        )
        return streaming(body_iter, stream, outcome, "chat")

    add_responses_routes(
        app,
        model_id=settings.model_id,
        chat=chat_completions,
        caller=lambda request: resolve_caller(dict(request.scope["headers"]), usage.settings.caller_identity),
        store=ResponseStore.from_settings(load_store_settings(), region=settings.aws_region),
        responses=ERROR_RESPONSES,
        stream_content=STREAM_CONTENT,
    )

    @app.post(
        "/v1/completions",
        response_model=None,
        tags=["openai"],
        responses={200: {"model": Completion, "content": STREAM_CONTENT}, **ERROR_RESPONSES},
    )
    def completions(request: CompletionRequest, http_request: Request) -> Response:
        """OpenAI text completions of a raw prompt; ``stream: true`` answers ``text_completion`` SSE chunks."""
        check_model(request.model, settings.model_id, settings.model_aliases)
        if settings.engine == "vllm":
            return server_completions(request, http_request)
        plan = plan_completion(request, settings)
        log_text("prompt", plan.payload["inputs"])
        cost = Cost.of(plan.payload["inputs"], plan.payload["parameters"]["max_new_tokens"], settings)
        ticket = usage.start(http_request, stream=bool(request.stream), cost=cost)
        outcome = StreamOutcome()
        if not request.stream:
            body = text_completion(generate_text(plan.payload), plan, settings.model_id)
            outcome.finish_reason = body["choices"][0]["finish_reason"]
            outcome.record_usage(body.get("usage"))
            call_finished("completions", outcome, streamed=False, ticket=ticket)
            return JSONResponse(body)
        stream, events = stream_text(plan.payload, ticket)
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        body_iter = completion_stream(
            events, plan, model=settings.model_id, include_usage=include_usage, outcome=outcome
        )
        return streaming(body_iter, stream, outcome, "completions")

    def server_completions(request: CompletionRequest, http_request: Request) -> Response:
        """vLLM serves OpenAI completions itself: the request passes through (``server_mode``)."""
        plan = plan_server_completion(request, settings)
        check_grammars(plan.payload)
        check_media(plan.payload, settings.image_url_domains)
        if settings.log_prompts:
            log_text("prompt", json.dumps(plan.payload["prompt"], ensure_ascii=False))
        prompts = plan.payload["prompt"]
        # A list of strings, or of token-id lists, is one prompt each; a string or one token-id list is one.
        count = len(prompts) if isinstance(prompts, list) and prompts and not isinstance(prompts[0], int) else 1
        cost = Cost.of(
            json.dumps(prompts, ensure_ascii=False),
            # vLLM's completions default is 16 tokens (CompletionRequest.max_tokens), not the rest of the context.
            plan.payload.get("max_tokens", VLLM_COMPLETIONS_DEFAULT_MAX_TOKENS),
            settings,
            sequences=count * int(plan.payload.get("n") or 1),
            messages=count,
        )
        ticket = usage.start(http_request, stream=bool(request.stream), cost=cost)
        outcome = StreamOutcome()
        if not request.stream:
            if _prompt_scoring(plan.payload):
                # vLLM sends prompt logprobs only without a stream: InvokeEndpoint, within SageMaker's 60 seconds.
                answer = backend.invoke(plan.payload)
            else:
                # Streamed and assembled (``assemble``): SageMaker allows a stream 8 minutes, InvokeEndpoint 60 s.
                stream, events = _open_stream(
                    backend, {**plan.payload, "stream": True, "stream_options": {"include_usage": True}}
                )
                try:
                    answer = assemble.openai_completion(events, token_ids=bool(plan.payload.get("return_token_ids")))
                finally:
                    stream.close()
            body = normalize_text_completion(answer, settings.model_id)
            outcome.finish_reason = body["choices"][0]["finish_reason"]
            outcome.record_usage(body.get("usage"))
            call_finished("completions", outcome, streamed=False, ticket=ticket)
            return JSONResponse(body)
        stream, events = _open_stream(backend, plan.payload)
        events = ticket.watch_openai(events)
        body_iter = server_completion_stream(
            events, model=settings.model_id, include_usage=plan.include_usage, outcome=outcome
        )
        return streaming(body_iter, stream, outcome, "completions")

    @app.post(
        "/generate",
        response_model=None,
        tags=["tgi"],
        responses={200: {"model": list[GeneratedText], "content": STREAM_CONTENT}, **ERROR_RESPONSES},
    )
    def generate(request: GenerateRequest, http_request: Request) -> Response:
        """TGI-native generation; answers ``[{"generated_text": ...}]`` like the SageMaker SDK's ``predict``."""
        payload = generate_payload(request, settings)
        log_text("prompt", request.inputs)
        # best_of > 1: TGI generates every candidate to max_new_tokens and answers the best; each is charged.
        best_of = int(payload["parameters"].get("best_of", 1))
        cost = Cost.of(request.inputs, payload["parameters"]["max_new_tokens"], settings, sequences=best_of)
        ticket = usage.start(http_request, stream=bool(request.stream), cost=cost)
        # The engine is always asked for details (token counts for usage); the caller gets what it asked for.
        asked = dict(payload["parameters"])
        engine_params = {**asked, "details": True}
        engine_payload = {**payload, "parameters": engine_params}
        if not request.stream:
            if settings.engine == "tgi" and (asked.get("best_of", 1) > 1 or asked.get("decoder_input_details")):
                # TGI refuses both on a stream: InvokeEndpoint, within SageMaker's 60 seconds.
                answer = backend.invoke(defuse_tgi_payload(engine_payload))
            else:
                answer = generate_text(engine_payload, param_prefix="parameters.")
            generation = first_generation(answer)
            details = generation.get("details") if isinstance(generation.get("details"), dict) else None
            outcome = StreamOutcome(finish_reason=(details or {}).get("finish_reason"))
            outcome.record_usage(answer_usage(details))
            outcome.generated_tokens = all_generated_tokens(details)
            call_finished("generate", outcome, streamed=False, ticket=ticket)
            items = answer if isinstance(answer, list) else [answer]
            return JSONResponse([_as_asked(item, asked) for item in items])
        stream, events = stream_text(engine_payload, ticket, param_prefix="parameters.")
        outcome = StreamOutcome()
        body_iter = generate_stream(events, outcome, details=bool(asked.get("details")))
        return streaming(body_iter, stream, outcome, "generate")

    return app
