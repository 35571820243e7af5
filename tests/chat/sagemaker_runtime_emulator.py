"""A scriptable emulator of the SageMaker runtime wire protocol with a TGI or vLLM model container behind it.

``Scenario.engine`` picks the container: ``tgi`` (default) answers TGI's generate JSON and, for OpenAI chat
bodies, TGI's Messages API; ``vllm`` behaves like the vLLM DLC (OpenAI chat and completions bodies only, a served
model name, OpenAI-shaped errors): see ``openai_engines.py`` for both OpenAI-protocol sides.

``InvokeEndpoint`` (``POST /endpoints/{name}/invocations``) answers TGI's JSON; errors use the rest-json
protocol (``X-Amzn-ErrorType`` header + JSON body) with the shapes of botocore's sagemaker-runtime model
(``ModelError`` with ``OriginalStatusCode``/``OriginalMessage``, ``ValidationError``, ``ThrottlingException``,
``ServiceUnavailable``, ``InternalFailure``; the ``ValidationError`` of an inference component with no copy).
The ``InferenceComponentName`` header of each call is recorded. ``InvokeEndpointWithResponseStream``
(``POST /endpoints/{name}/invocations-response-stream``) answers ``application/vnd.amazon.eventstream``
frames, encoded here from the spec, carrying TGI's SSE bytes in ``PayloadPart`` events, or
``ModelStreamError``/``InternalStreamFailure`` exception events.

What it does is set by a scenario (a dict, see ``Scenario``): from Python (``emulator.set_scenario(...)``) or over
HTTP (``POST /_emulator/scenario`` with the JSON scenario; ``GET /_emulator/requests`` lists what it received).
Every response stream is watched (``emulator.streams``, ``GET /_emulator/streams``): how many TGI events it wrote,
whether it ran to its end, and whether the caller went away mid-stream (a write failed with a broken pipe or reset,
or the caller's end of the connection closed while the emulator waited between tokens) and when.

With ``upstream`` (``Emulator(upstream="http://127.0.0.1:8000")``, ``--upstream``) it is a stand-in for the
runtime in front of a real model container instead: each call is forwarded to the container's ``/invocations``
(as SageMaker does), a 200 answer is passed through (a stream as it arrives, in ``PayloadPart`` events), any other
status becomes SageMaker's ``ModelError`` and a container that breaks off mid-stream a ``ModelStreamError``.

Several models (``MODEL_ROUTES``): each call's ``InferenceComponentName`` is recorded (``inference_component``) and
picks its container: ``Scenario.components`` maps a component name to its own scenario fields (``engine``,
``tokens``, ``pooling`` for an embedding model, ...); in upstream mode ``Emulator.component_upstreams`` maps a
component to its container's base URL, and ``Emulator.adapters`` an adapter component to the adapter id the
runtime passes its base container in ``X-Amzn-SageMaker-Adapter-Identifier`` (vLLM's ``/invocations`` puts it in
the body's ``model``: ``inject_adapter_id(adapter_path="model")``, vllm/entrypoints/serve/sagemaker/api_router.py).

Run standalone: ``python tests/chat/sagemaker_runtime_emulator.py --port 9000``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import http.client
import itertools
import json
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import openai_engines as oe

DEFAULT_TOKENS = ["Hello", "!", " How", " can", " I", " help", "?"]
EOS = "<|endoftext|>"
# AWS, "Scale an endpoint to zero instances" (docs/sources.md).
NO_CAPACITY_MESSAGE = (
    "Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress (if "
    "configured) or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig API."
)


# --- AWS event stream encoding (https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html) ---


def _header(name: str, value: str) -> bytes:
    raw_name = name.encode()
    raw_value = value.encode()
    return struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">BH", 7, len(raw_value)) + raw_value


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, CRC32), headers, payload, CRC32."""
    raw_headers = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + raw_headers + payload
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def payload_part(data: bytes) -> bytes:
    headers = {":event-type": "PayloadPart", ":content-type": "application/octet-stream", ":message-type": "event"}
    return encode_message(headers, data)


def exception_event(kind: str, message: str, error_code: str | None = None) -> bytes:
    body: dict[str, Any] = {"Message": message}
    if error_code:
        body["ErrorCode"] = error_code
    headers = {":exception-type": kind, ":content-type": "application/json", ":message-type": "exception"}
    return encode_message(headers, json.dumps(body).encode())


# --- scenarios ---


@dataclass
class Scenario:
    tokens: list[str] = field(default_factory=lambda: list(DEFAULT_TOKENS))
    finish_reason: str = "eos_token"  # eos_token | stop_sequence | length (length also when max_new_tokens hits)
    eos_special: bool = True  # stream a final special EOS token (its text must not reach clients)
    split: int | list[int] | None = None  # PayloadPart sizes: every N bytes, or the listed cut offsets
    tcp_split: int | None = None  # also write the event-stream bytes to the socket N bytes at a time
    keepalive: bool = False  # ":" comment lines between events
    crlf: bool = False
    space: bool = False  # "data: " instead of TGI's "data:"
    token_delay: float = 0.0
    delay: float = 0.0  # before answering at all
    gate: threading.Event | None = None  # hold every answer until the test sets it (requests are recorded first)
    error_after: int | None = None  # TGI error event after N tokens (0 = before any token)
    error_type: str = "generation"
    error_message: str = "CUDA out of memory"
    cut_after: int | None = None  # close the connection after N tokens
    stream_exception_after: int | None = None  # ModelStreamError event after N tokens
    # model404 | model422 | model424 | model429 | throttle | not_found | unavailable | internal | badjson | no_capacity
    fault: str | None = None
    fault_times: int | None = None  # fail this many calls then behave (None = always)
    model_message: str = "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048"
    error_param: str | None = None  # vllm model4xx faults: the `param` vLLM's error names (e.g. temperature)
    prompt_tokens: bool = True  # report input_length/prefill so the proxy can count usage
    engine: str = "tgi"  # tgi | vllm: which container answers
    # vllm: the served name; /invocations ignores a request's `model` as real vLLM does (fault model404 scripts
    # the 404 vLLM's own /v1 routes give another name)
    served_model_name: str | None = None
    tool_calls: list[dict[str, str]] | None = None  # [{"name", "arguments"}]: called when the request has tools
    reasoning: str | None = None  # vllm: reasoning in the message / deltas (vLLM 0.29)
    # SageMaker's limits on one invocation (docs/limits.md), scaled down by tests: a non-streamed answer that takes
    # longer (delay + token_delay per token) is SageMaker's ModelError "invocation timed out"; a stream still
    # running at stream_limit ends with ModelStreamError ModelInvocationTimeExceeded.
    invoke_limit: float = 60.0
    stream_limit: float = 480.0
    # After this many events the stream holds (writes nothing more) until ``emulator.release()`` or the caller goes
    # away: tests wait on that event instead of on a slow stream's clock.
    hold_after: int | None = None
    # Scale to zero (chatapi/wake.py): every invocation answers "no capacity" until the test sets this event
    # (typically after ``emulator.scaled`` shows the proxy's scaling call), or for the first N seconds of the
    # scenario (``no_capacity_seconds``, for a standalone emulator driven over HTTP).
    no_capacity_until: threading.Event | None = None
    no_capacity_seconds: float | None = None
    set_at: float = field(default_factory=time.monotonic)

    def without_capacity(self) -> bool:
        if self.no_capacity_until is not None and not self.no_capacity_until.is_set():
            return True
        return self.no_capacity_seconds is not None and time.monotonic() - self.set_at < self.no_capacity_seconds

    # Per inference component: that component's scenario fields (unnamed components use the fields above).
    components: dict[str, dict[str, Any]] | None = None
    # vllm with --runner pooling: an embedding model (embeddings bodies only; chat/completions bodies are refused).
    pooling: bool = False
    embedding_size: int = 8
    matryoshka: bool = False  # accepts ``dimensions`` (else vLLM's 400, vllm/pooling_params.py)

    def for_component(self, component: str | None) -> Scenario:
        overrides = (self.components or {}).get(component or "")
        return dataclasses.replace(self, components=None, **overrides) if overrides else self


@dataclass
class StreamRecord:
    """What one InvokeEndpointWithResponseStream answer did (updated while it runs); ``Emulator.wait_for`` waits
    for a change."""

    events_written: int = 0  # TGI SSE events whose frames reached the socket
    completed: bool = False  # wrote its last event and the end of the chunked body
    caller_gone: bool = False  # the caller closed or reset the connection before the end
    caller_gone_at: float | None = None  # time.monotonic() when that was noticed
    held: bool = False  # reached the scenario's hold_after and is waiting for release() or the caller to leave
    started_at: float = field(default_factory=time.monotonic)

    def snapshot(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Emulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, upstream: str | None = None) -> None:
        self.upstream = upstream  # a real model container's base URL: forward to its /invocations
        self.component_upstreams: dict[str, str] = {}  # inference component -> its container's base URL
        self.adapters: dict[str, str] = {}  # adapter inference component -> the adapter id its base container gets
        self._lock = threading.Lock()
        self._scenario = Scenario()
        self._faults_left: int | None = None
        self.requests: list[dict[str, Any]] = []
        self.streams: list[StreamRecord] = []
        self.changed = threading.Condition(self._lock)  # notified whenever a stream record changes
        self.released = threading.Event()  # lets held streams go on (Scenario.hold_after)
        # The SageMaker control plane's two calls of a wake-up (JSON protocol, POST / with X-Amz-Target), as a
        # stand-in for AWS_ENDPOINT_URL_SAGEMAKER: DescribeInferenceComponent reports desired_copies,
        # UpdateInferenceComponentRuntimeConfig records the call, sets desired_copies and ``scaled``.
        self.scaling_calls: list[dict[str, Any]] = []
        self.desired_copies = 0
        self.scaled = threading.Event()
        self.server = ThreadingHTTPServer((host, port), _handler_for(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    def set_scenario(self, **kwargs: Any) -> Scenario:
        with self._lock:
            self._scenario = Scenario(**kwargs)
            self._faults_left = self._scenario.fault_times
            self.requests = []
            self.streams = []
            self.released.clear()
            self.scaling_calls = []
            self.desired_copies = 0
            self.scaled.clear()
        return self._scenario

    def release(self) -> None:
        """Let every held stream go on to its end."""
        self.released.set()

    def new_stream(self) -> StreamRecord:
        record = StreamRecord()
        with self._lock:
            self.streams.append(record)
        return record

    def update(self, record: StreamRecord, **fields: Any) -> None:
        """Change ``record`` and wake whoever waits in ``wait_for``."""
        with self.changed:
            for name, value in fields.items():
                setattr(record, name, value)
            self.changed.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> bool:
        """Block until ``predicate(self.streams)`` holds (re-checked on every stream change); False after
        ``timeout`` seconds, a bound for a hung test, not a wait for something to happen."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.streams), timeout)

    def take_fault(self) -> str | None:
        with self._lock:
            fault = self._scenario.fault
            if fault is None:
                return None
            if self._faults_left is None:
                return fault
            if self._faults_left <= 0:
                return None
            self._faults_left -= 1
            return fault

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def start(self) -> Emulator:
        self._thread = threading.Thread(target=self.server.serve_forever, name="sagemaker-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def generation(scenario: Scenario, payload: dict[str, Any]) -> tuple[list[str], str]:
    """The tokens produced for ``payload`` and the finish reason, honouring max_new_tokens."""
    params = payload.get("parameters") or {}
    limit = params.get("max_new_tokens")
    tokens = list(scenario.tokens)
    if isinstance(limit, int) and len(tokens) > limit:
        return tokens[:limit], "length"
    return tokens, scenario.finish_reason


def prompt_token_count(payload: dict[str, Any]) -> int:
    return len(str(payload.get("inputs", "")).split())


def tgi_answer(scenario: Scenario, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """What TGI behind SageMaker answers to a non-stream request (a one-element list)."""
    params = payload.get("parameters") or {}
    tokens, reason = generation(scenario, payload)
    text = "".join(tokens)
    if params.get("return_full_text"):
        text = str(payload.get("inputs", "")) + text
    item: dict[str, Any] = {"generated_text": text}
    if params.get("details"):
        prefill = []
        if params.get("decoder_input_details") and scenario.prompt_tokens:
            prefill = [{"id": i, "text": w, "logprob": None} for i, w in enumerate(str(payload["inputs"]).split())]
        item["details"] = {
            "finish_reason": reason,
            "generated_tokens": len(tokens) + (1 if reason == "eos_token" and scenario.eos_special else 0),
            "seed": params.get("seed"),
            "prefill": prefill,
            "tokens": [{"id": 100 + i, "text": t, "logprob": -0.1, "special": False} for i, t in enumerate(tokens)],
        }
        if params.get("best_of", 1) > 1:
            # TGI answers the best candidate and lists the others (router/src/lib.rs, Details.best_of_sequences).
            other = {k: item["details"][k] for k in ("finish_reason", "generated_tokens", "seed", "prefill", "tokens")}
            item["details"]["best_of_sequences"] = [{"generated_text": text, **other}] * (params["best_of"] - 1)
    return [item]


def sse_events(scenario: Scenario, payload: dict[str, Any]) -> list[tuple[bytes, int]]:
    """TGI's stream as ``(sse bytes, tokens so far)`` pairs."""
    params = payload.get("parameters") or {}
    tokens, reason = generation(scenario, payload)
    eol = "\r\n" if scenario.crlf else "\n"
    prefix = "data: " if scenario.space else "data:"
    stream_tokens = [(t, False) for t in tokens]
    if reason == "eos_token" and scenario.eos_special:
        stream_tokens.append((EOS, True))
    out: list[tuple[bytes, int]] = []
    for i, (text, special) in enumerate(stream_tokens):
        if scenario.error_after is not None and i == scenario.error_after:
            error = {"error": scenario.error_message, "error_type": scenario.error_type}
            out.append(((prefix + json.dumps(error) + eol + eol).encode(), i))
            return out
        last = i == len(stream_tokens) - 1
        event: dict[str, Any] = {
            "index": i + 1,
            "token": {"id": 100 + i, "text": text, "logprob": -0.1, "special": special},
            "generated_text": None,
            "details": None,
        }
        if last:
            # TGI puts the prompt before the text when return_full_text is set, streamed or not (router/src/server.rs,
            # generate_stream_internal: `output_text = prompt + &output_text`).
            full = str(payload.get("inputs", "")) if params.get("return_full_text") else ""
            event["generated_text"] = full + "".join(tokens)
            if params.get("details"):
                details: dict[str, Any] = {
                    "finish_reason": reason,
                    "generated_tokens": len(stream_tokens),
                    "seed": None,
                }
                if scenario.prompt_tokens:
                    details["input_length"] = prompt_token_count(payload)
                event["details"] = details
        chunk = ""
        if scenario.keepalive:
            chunk += ":" + eol + ": keep-alive" + eol
        chunk += prefix + json.dumps(event, ensure_ascii=False) + eol + eol
        out.append((chunk.encode(), i + 1))
    return out


def openai_sse_events(scenario: Scenario, payload: dict[str, Any]) -> list[tuple[bytes, int]]:
    """An OpenAI-protocol stream (vLLM, or TGI's Messages API) as ``(sse bytes, chunks so far)`` pairs;
    ``error_after`` counts chunks here."""
    if "messages" in payload:
        chunks = oe.chat_chunks(scenario, payload, scenario.engine)
    else:
        chunks = oe.completion_chunks(scenario, payload)
    if scenario.engine == "vllm":
        chunks = oe.chunks_per_choice(chunks, oe.choice_count(payload))
    eol = "\r\n" if scenario.crlf else "\n"
    prefix = "data:" if scenario.engine == "tgi" and not scenario.space else "data: "
    out: list[tuple[bytes, int]] = []
    for i, chunk in enumerate(chunks):
        if scenario.error_after is not None and i == scenario.error_after:
            error = oe.stream_error(scenario.engine, scenario.error_message)
            out.append(((prefix + json.dumps(error) + eol + eol).encode(), i))
            break
        text = (":" + eol + ": keep-alive" + eol) if scenario.keepalive else ""
        out.append(((text + prefix + json.dumps(chunk, ensure_ascii=False) + eol + eol).encode(), i + 1))
    out.append(((prefix + "[DONE]" + eol + eol).encode(), len(out)))
    return out


def openai_refusal(scenario: Scenario, payload: dict[str, Any]) -> oe.EngineRefusal | None:
    """What the container refuses before generating (as the engine's own status and body)."""
    try:
        if scenario.engine == "vllm":
            oe.check_vllm(payload)
        elif "messages" in payload:
            oe.check_tgi_chat(payload)
    except oe.EngineRefusal as refusal:
        return refusal
    return None


def split_bytes(data: bytes, split: int | list[int] | None) -> list[bytes]:
    if split is None:
        return [data]
    if isinstance(split, int):
        return [data[i : i + split] for i in range(0, len(data), split)] or [b""]
    cuts = sorted({c for c in split if 0 < c < len(data)})
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# --- HTTP ---

MODEL_ERROR_STATUS = {"model422": 422, "model424": 424, "model429": 429}


def _handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Without this, Nagle + the client's delayed ACK add ~40 ms to every second write on a connection.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("x-amzn-RequestId", "emulator-request")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        def _aws_error(self, status: int, code: str, body: dict[str, Any]) -> None:
            self._send_json(
                status, body, {"X-Amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazonaws.sagemaker/"}
            )

        def do_GET(self) -> None:
            if self.path == "/_emulator/requests":
                self._send_json(200, emulator.requests)
            elif self.path == "/_emulator/streams":
                self._send_json(200, [record.snapshot() for record in emulator.streams])
            else:
                self._send_json(404, {"message": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if self.path == "/_emulator/scenario":
                emulator.set_scenario(**json.loads(raw or b"{}"))
                self._send_json(200, {"ok": True})
                return
            target = self.headers.get("X-Amz-Target", "")
            if self.path == "/" and target.startswith("SageMaker."):
                self._control_plane(target.removeprefix("SageMaker."), json.loads(raw or b"{}"))
                return
            parts = self.path.split("/")
            if (
                len(parts) != 4
                or parts[1] != "endpoints"
                or parts[3] not in ("invocations", "invocations-response-stream")
            ):
                self._send_json(404, {"message": "unknown path"})
                return
            stream = parts[3] == "invocations-response-stream"
            payload = json.loads(raw)
            emulator.record(
                {
                    "endpoint": parts[2],
                    "stream": stream,
                    "payload": payload,
                    "body": raw.decode(),  # as sent: prefix-aware routing reads its first bytes
                    "headers": dict(self.headers),
                    # InferenceComponentName travels as this header (botocore's sagemaker-runtime model).
                    "inference_component": self.headers.get("X-Amzn-SageMaker-Inference-Component"),
                }
            )
            component = self.headers.get("X-Amzn-SageMaker-Inference-Component")
            upstream = emulator.component_upstreams.get(component or "", emulator.upstream)
            if upstream is not None:
                adapter = emulator.adapters.get(component or "")
                self._forward(upstream, raw, stream, adapter)
                return
            scenario = emulator.scenario.for_component(component)
            if scenario.delay:
                time.sleep(scenario.delay)
            if scenario.gate is not None:
                scenario.gate.wait(30)
            if scenario.without_capacity():
                self._fault("no_capacity", scenario, parts[2])
                return
            fault = emulator.take_fault()
            if fault is not None and self._fault(fault, scenario, parts[2]):
                return
            if scenario.pooling or ("input" in payload and "messages" not in payload and "prompt" not in payload):
                self._embeddings(scenario, payload)
                return
            openai = scenario.engine == "vllm" or "messages" in payload
            if openai:
                refusal = openai_refusal(scenario, payload)
                if refusal is not None:
                    self._model_error(refusal.status, json.dumps(refusal.body))
                    return
            if stream:
                self._stream(scenario, payload)
            elif self._outlasts_invoke_limit(scenario):
                return
            elif not openai:
                self._send_json(200, tgi_answer(scenario, payload))
            elif "messages" in payload:
                answer = oe.chat_answer(scenario, payload, scenario.engine)
                if scenario.engine == "vllm":
                    answer = oe.answer_per_choice(answer, oe.choice_count(payload))
                self._send_json(200, answer)
            else:
                self._send_json(
                    200, oe.answer_per_choice(oe.completion_answer(scenario, payload), oe.choice_count(payload))
                )

        def _control_plane(self, operation: str, body: dict[str, Any]) -> None:
            name = body.get("InferenceComponentName", "")
            arn = f"arn:aws:sagemaker:us-east-1:123456789012:inference-component/{name}"
            headers = {"Content-Type": "application/x-amz-json-1.1"}
            if operation == "DescribeInferenceComponent":
                copies = emulator.desired_copies
                config = {"DesiredCopyCount": copies, "CurrentCopyCount": 0}
                self._send_json(
                    200,
                    {
                        "InferenceComponentName": name,
                        "InferenceComponentArn": arn,
                        "EndpointName": "e",
                        "InferenceComponentStatus": "InService",
                        "RuntimeConfig": config,
                        "CreationTime": 0,
                        "LastModifiedTime": 0,
                    },
                    headers,
                )
            elif operation == "UpdateInferenceComponentRuntimeConfig":
                with emulator.changed:
                    emulator.scaling_calls.append(body)
                    emulator.desired_copies = body["DesiredRuntimeConfig"]["CopyCount"]
                    emulator.changed.notify_all()
                emulator.scaled.set()
                self._send_json(200, {"InferenceComponentArn": arn}, headers)
            else:
                self._aws_error(400, "UnknownOperationException", {"message": operation})

        def _embeddings(self, scenario: Scenario, payload: dict[str, Any]) -> None:
            """vLLM's answer to an embeddings body: a pooling model embeds it, a generating model finds no handler
            for it (and a pooling model none for a chat body): vllm/entrypoints/serve/sagemaker/api_router.py."""
            handlers = ["EmbeddingRequest"] if scenario.pooling else ["ChatCompletionRequest", "CompletionRequest"]
            if not scenario.pooling or "input" not in payload:
                message = f"Cannot find suitable handler for request. Expected one of: {handlers}"
                self._model_error(400, json.dumps(oe.vllm_error(400, message)))
                return
            size = scenario.embedding_size
            dimensions = payload.get("dimensions")
            if dimensions is not None:
                name = scenario.served_model_name or "model"
                if not scenario.matryoshka:
                    message = (
                        f"Model {name!r} does not support Matryoshka embeddings; dimensions must be unset "
                        f"(received dimensions={dimensions})."
                    )
                    self._model_error(400, json.dumps(oe.vllm_error(400, message)))
                    return
                size = dimensions
            items = payload["input"]
            items = [items] if isinstance(items, str) or (items and isinstance(items[0], int)) else items
            data = []
            tokens = 0
            for index, item in enumerate(items):
                count = len(item) if isinstance(item, list) else len(str(item).split())
                tokens += count + 2
                vector = [round(((count + 3 * k + index) % 11) / 11 - 0.5, 4) for k in range(size)]
                encoded: Any = vector
                if payload.get("encoding_format") == "base64":
                    encoded = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
                data.append({"object": "embedding", "index": index, "embedding": encoded})
            self._send_json(
                200,
                {
                    "id": "embd-emulated",
                    "object": "list",
                    "created": 0,
                    "model": scenario.served_model_name or payload.get("model"),
                    "data": data,
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0},
                },
            )

        def _forward(self, upstream: str, raw: bytes, stream: bool, adapter: str | None = None) -> None:
            """What the runtime does with a real container: POST the body to its /invocations, relay the answer."""
            target = urlsplit(upstream)
            conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=600)
            content_type = self.headers.get("Content-Type", "application/json")
            headers = {"Content-Type": content_type}
            if adapter is not None:
                headers["X-Amzn-SageMaker-Adapter-Identifier"] = adapter
            try:
                conn.request("POST", "/invocations", body=raw, headers=headers)
                answer = conn.getresponse()
                if answer.status != 200:
                    self._model_error(answer.status, answer.read().decode("utf-8", "replace"))
                elif not stream:
                    body = answer.read()
                    self.send_response(200)
                    self.send_header("Content-Type", answer.getheader("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("x-amzn-RequestId", "stand-in-request")
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self._relay_stream(answer)
            finally:
                conn.close()

        def _relay_stream(self, answer: http.client.HTTPResponse) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.amazon.eventstream")
            self.send_header("X-Amzn-SageMaker-Content-Type", answer.getheader("Content-Type", "text/event-stream"))
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("x-amzn-RequestId", "stand-in-request")
            self.end_headers()
            record = emulator.new_stream()
            try:
                while True:
                    try:
                        data = answer.read1(65536)
                    except (OSError, http.client.HTTPException):
                        # The container broke off: the runtime ends the stream with a ModelStreamError event.
                        self._chunk(exception_event("ModelStreamError", "Model stream broken", "StreamBroken"))
                        break
                    if not data:
                        break
                    self._chunk(payload_part(data))
                    record.events_written += 1
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                record.completed = True
            except (BrokenPipeError, ConnectionResetError):
                self._caller_gone(record)

        def _model_error(self, original: int, original_message: str) -> None:
            """SageMaker's ModelError for a container answer with status ``original`` and body ``original_message``."""
            side = "client" if original < 500 else "server"
            self._aws_error(
                424,
                "ModelError",
                {
                    "ErrorCode": "CLIENT_ERROR_FROM_MODEL" if original < 500 else "SERVER_ERROR_FROM_MODEL",
                    "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/x",
                    "Message": f'Received {side} error ({original}) from primary with message "{original_message}".',
                    "OriginalMessage": original_message,
                    "OriginalStatusCode": original,
                },
            )

        def _fault(self, fault: str, scenario: Scenario, endpoint: str) -> bool:
            if fault == "model404":
                name = scenario.served_model_name or "model"
                body = oe.vllm_error(404, f"The model `{name}-other` does not exist.", "model")
                self._model_error(404, json.dumps(body))
            elif fault in MODEL_ERROR_STATUS:
                original = MODEL_ERROR_STATUS[fault]
                if scenario.engine == "vllm":  # vLLM answers 400 where TGI says 422, and 500 for a failed generation
                    original = {422: 400, 424: 500}.get(original, original)
                    body = oe.vllm_error(original, scenario.model_message, scenario.error_param)
                else:
                    body = {"error": scenario.model_message, "error_type": "validation"}
                self._model_error(original, json.dumps(body))
            elif fault == "throttle":
                self._aws_error(400, "ThrottlingException", {"message": "Rate exceeded"})
            elif fault == "not_found":
                self._aws_error(
                    400, "ValidationError", {"Message": f"Endpoint {endpoint} of account 123456789012 not found."}
                )
            elif fault == "no_capacity":
                # What the runtime answers an inference component with zero copies, both operations alike.
                self._aws_error(400, "ValidationError", {"Message": NO_CAPACITY_MESSAGE})
            elif fault == "unavailable":
                self._aws_error(503, "ServiceUnavailable", {"Message": "Service unavailable"})
            elif fault == "internal":
                self._aws_error(500, "InternalFailure", {"Message": "Internal failure"})
            elif fault == "badjson":
                raw = b"<html>not json"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            else:
                return False
            return True

        def _outlasts_invoke_limit(self, scenario: Scenario) -> bool:
            """Generate for token_delay per token; past invoke_limit answer SageMaker's timeout ModelError (its
            text as botocore users report it, e.g. aws/sagemaker-python-sdk issue 1119)."""
            generating = scenario.token_delay * len(scenario.tokens)
            if scenario.delay + generating <= scenario.invoke_limit:
                time.sleep(generating)
                return False
            time.sleep(max(0.0, scenario.invoke_limit - scenario.delay))
            self._aws_error(
                424,
                "ModelError",
                {
                    "ErrorCode": "SERVER_ERROR_FROM_MODEL",
                    "Message": 'Received server error (0) from primary with message "Your invocation timed out while '
                    "waiting for a response from container primary. Review the latency metrics for each container in "
                    'Amazon CloudWatch, resolve the issue, and try again.".',
                    "OriginalMessage": "Your invocation timed out while waiting for a response from container primary.",
                    "OriginalStatusCode": 0,
                },
            )
            return True

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _write_frames(self, frames: bytes, scenario: Scenario) -> None:
            if scenario.tcp_split:
                for piece in split_bytes(frames, scenario.tcp_split):
                    self._chunk(piece)
            elif frames:
                self._chunk(frames)

        def _caller_closed_within(self, seconds: float) -> bool:
            """Wait up to ``seconds``; True as soon as the caller's end of the connection closes or resets."""
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                readable, _, _ = select.select([self.connection], [], [], left)
                if not readable:
                    return False
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return True
                except (ConnectionResetError, BrokenPipeError):
                    return True
                time.sleep(min(left, 0.01))  # unexpected bytes from the caller: nothing to do but wait
            return False

        def _stream(self, scenario: Scenario, payload: dict[str, Any]) -> None:
            record = emulator.new_stream()
            try:
                self._stream_events(scenario, payload, record)
            except (BrokenPipeError, ConnectionResetError):
                self._caller_gone(record)

        def _caller_gone(self, record: StreamRecord) -> None:
            emulator.update(record, caller_gone_at=time.monotonic(), caller_gone=True)
            self.close_connection = True

        def _stream_events(self, scenario: Scenario, payload: dict[str, Any], record: StreamRecord) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.amazon.eventstream")
            self.send_header("X-Amzn-SageMaker-Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("x-amzn-RequestId", "emulator-request")
            self.end_headers()
            openai = scenario.engine == "vllm" or "messages" in payload
            events = openai_sse_events(scenario, payload) if openai else sse_events(scenario, payload)
            if isinstance(scenario.split, list):
                # Cut offsets apply to the whole SSE byte stream, so a cut may fall anywhere, across events.
                events = [(piece, len(events)) for piece in split_bytes(b"".join(e for e, _ in events), scenario.split)]
            sent_tokens = 0
            opened = time.monotonic()
            for data, tokens in events:
                if time.monotonic() - opened >= scenario.stream_limit:
                    # SageMaker's cut (botocore shape ModelStreamError; the Message as SageMaker sends it).
                    message = "Your model primary did not complete sending the inference response in the allotted time."
                    self._write_frames(
                        exception_event("ModelStreamError", message, "ModelInvocationTimeExceeded"), scenario
                    )
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if scenario.cut_after is not None and sent_tokens >= scenario.cut_after:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if scenario.stream_exception_after is not None and sent_tokens >= scenario.stream_exception_after:
                    self._write_frames(
                        exception_event("ModelStreamError", "Model stream broken", "StreamBroken"), scenario
                    )
                    self.wfile.write(b"0\r\n\r\n")
                    return
                parts = split_bytes(data, scenario.split) if isinstance(scenario.split, int) else [data]
                self._write_frames(b"".join(payload_part(p) for p in parts), scenario)
                emulator.update(record, events_written=record.events_written + 1)
                if scenario.hold_after is not None and record.events_written == scenario.hold_after:
                    emulator.update(record, held=True)
                    while not emulator.released.is_set():
                        if self._caller_closed_within(0.05):
                            self._caller_gone(record)
                            return
                    emulator.update(record, held=False)
                sent_tokens = tokens
                if scenario.token_delay and self._caller_closed_within(scenario.token_delay):
                    self._caller_gone(record)
                    return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            emulator.update(record, completed=True)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--engine", choices=["tgi", "vllm"], default="tgi", help="the model container to emulate")
    parser.add_argument("--served-model-name", help="vllm: the served model name")
    parser.add_argument("--upstream", help="a real model container's base URL: forward every call to it")
    args = parser.parse_args()
    emulator = Emulator(args.host, args.port, upstream=args.upstream)
    emulator.set_scenario(engine=args.engine, served_model_name=args.served_model_name)
    print(f"SageMaker runtime emulator on {emulator.url}", flush=True)
    try:
        emulator.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
