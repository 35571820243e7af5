"""A local stand-in for Amazon Bedrock's ApplyGuardrail (bedrock-runtime), for the chat API's guardrail tests.

It speaks the REST-JSON protocol of botocore's ``bedrock-runtime`` model: ``POST
/guardrail/{guardrailIdentifier}/version/{guardrailVersion}/apply`` with ``{"source", "content"}``, answering an
``ApplyGuardrailResponse``, which it validates against botocore's output shape before sending; errors carry
``x-amzn-ErrorType`` as Bedrock's do, so botocore's real parser raises the real ``ClientError``. A content filter
is played by a trigger word: a check whose text contains it intervenes with the guardrail's message. Usage counts
one text unit per started 1,000 characters of each block (Amazon Bedrock pricing: a text unit holds up to 1,000
characters).
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session
from botocore.validate import ParamValidator

PATH = re.compile(r"^/guardrail/(?P<id>[^/]+)/version/(?P<version>[^/]+)/apply$")
BLOCKED_INPUT = "Sorry, this request is not allowed here."
BLOCKED_OUTPUT = "Sorry, the model cannot answer that."
# Bedrock's HTTP status of each ApplyGuardrail error (Amazon Bedrock API Reference, ApplyGuardrail "Errors").
FAULTS = {
    "ThrottlingException": 429,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ServiceUnavailableException": 503,
    "InternalServerException": 500,
}


def _output_shape() -> Any:
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return model.operation_model("ApplyGuardrail").output_shape


@dataclass
class GuardrailScenario:
    trigger: str = "forbidden"
    sources: tuple[str, ...] = ("INPUT", "OUTPUT")
    fault: str | None = None  # one of FAULTS: every call of these sources fails with it
    fault_sources: tuple[str, ...] = ("INPUT", "OUTPUT")


@dataclass
class GuardrailStandIn:
    scenario: GuardrailScenario = field(default_factory=GuardrailScenario)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._shape = _output_shape()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="guardrail-standin", daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reset(self, **kwargs: Any) -> None:
        with self._lock:
            self.scenario = GuardrailScenario(**kwargs)
            self.calls = []

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, source: str, texts: list[str]) -> dict[str, Any]:
        units = sum(math.ceil(len(t) / 1000) for t in texts)
        hit = source in self.scenario.sources and any(self.scenario.trigger in t for t in texts)
        message = BLOCKED_INPUT if source == "INPUT" else BLOCKED_OUTPUT
        answer = {
            "usage": {
                "topicPolicyUnits": 0,
                "contentPolicyUnits": units,
                "wordPolicyUnits": 0,
                "sensitiveInformationPolicyUnits": 0,
                "sensitiveInformationPolicyFreeUnits": 0,
                "contextualGroundingPolicyUnits": 0,
            },
            "action": "GUARDRAIL_INTERVENED" if hit else "NONE",
            "outputs": [{"text": message}] if hit else [],
            "assessments": [
                {
                    "contentPolicy": {
                        "filters": [
                            {"type": "VIOLENCE", "confidence": "HIGH", "filterStrength": "HIGH", "action": "BLOCKED"}
                        ]
                    }
                }
            ]
            if hit
            else [],
        }
        report = ParamValidator().validate(answer, self._shape)
        if report.has_errors():
            raise AssertionError(report.generate_report())
        return answer


def _handler(standin: GuardrailStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            match = PATH.match(self.path)
            if match is None:
                self._send(404, {"message": "unknown path"}, {"x-amzn-ErrorType": "UnknownOperationException"})
                return
            texts = [block["text"]["text"] for block in body.get("content", [])]
            with standin._lock:
                standin.calls.append(
                    {"id": match["id"], "version": match["version"], "source": body.get("source"), "texts": texts}
                )
                fault = standin.scenario.fault if body.get("source") in standin.scenario.fault_sources else None
            if fault is not None:
                self._send(FAULTS[fault], {"message": f"{fault} from the stand-in"}, {"x-amzn-ErrorType": fault})
                return
            self._send(200, standin.answer(str(body.get("source")), texts))

    return Handler
