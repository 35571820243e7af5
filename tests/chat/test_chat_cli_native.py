"""`make chat CHAT_ARGS=--direct`: the terminal client on SageMaker's own OpenAI route, against a local stand-in.

The stand-in checks every request's signature by signing it again with botocore's own signer (the bearer token's
pre-signed URL with SigV4QueryAuth, a SigV4-signed request with SigV4Auth) and comparing, and answers in the
shapes the SageMaker docs show for this route: the container's Chat Completions answer as is, and, with
`stream: true`, its server-sent events (SageMaker developer guide, "Invoke endpoints with OpenAI-compatible APIs";
sample notebook aws-samples/sagemaker-genai-hosting-examples 03-features/openai/sagemaker-inference-openai-api.ipynb,
which reads `chunk.choices[0].delta.content` from the stream and `choices[0].message`, `finish_reason`, `usage`
from a whole answer). The bodies are vLLM's (the notebook's container is the SageMaker vLLM DLC).
What a real endpoint answers to a bad signature is not documented: the stand-in's 403 is its own.
"""

from __future__ import annotations

import base64
import hmac
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer

from llmchat import native
from llmchat.cli import Chat, ChatError, connect, parse_args

KEY_ID, SECRET, TOKEN = "AKIDNATIVETEST", "native-secret", "session-token"
REGION = "us-west-2"
ENDPOINT, COMPONENT = "my-endpoint", "my-endpoint-ic"
CHUNKS = ["Hello", " from", " the native route."]


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "Qwen/Qwen3-4B",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
    }


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "Qwen/Qwen3-4B",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


class StandIn(ThreadingHTTPServer):
    """SageMaker's OpenAI route for one endpoint and one component, checking signatures as AWS would."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.secret = SECRET
        self.seen: list[dict[str, Any]] = []
        self.now = datetime.now(UTC).replace(tzinfo=None)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        routes = {
            f"/endpoints/{ENDPOINT}/openai/v1/chat/completions": None,
            f"/endpoints/{ENDPOINT}/inference-components/{COMPONENT}/openai/v1/chat/completions": COMPONENT,
        }
        if self.path not in routes:
            return self._json(404, {"message": f"no route {self.path}"})
        try:
            how = self._verify(body)
        except AssertionError as exc:
            return self._json(403, {"message": f"signature rejected: {exc}"})
        request = json.loads(body)
        self.server.seen.append({"auth": how, "component": routes[self.path], "body": request})
        if not request.get("stream"):
            return self._json(200, _completion("".join(CHUNKS)))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        self.wfile.write(_chunk({"role": "assistant", "content": ""}))
        for part in CHUNKS:
            self.wfile.write(_chunk({"content": part}))
            self.wfile.flush()
        self.wfile.write(_chunk({}, "stop"))
        self.wfile.write(b"data: [DONE]\n\n")

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _credentials(self, key_id: str, token: str | None) -> Credentials:
        assert key_id == KEY_ID, f"unknown access key {key_id}"
        assert token == TOKEN, "session token missing or wrong"
        return Credentials(KEY_ID, self.server.secret, TOKEN)

    def _verify(self, body: bytes) -> str:
        authorization = self.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            self._verify_bearer(authorization.removeprefix("Bearer "))
            return "bearer"
        self._verify_sigv4(authorization, body)
        return "sigv4"

    def _verify_bearer(self, token: str) -> None:
        assert token.startswith("sagemaker-api-key-"), "not a SageMaker bearer token"
        presigned = base64.b64decode(token.removeprefix("sagemaker-api-key-")).decode()
        assert presigned.startswith("sagemaker.amazonaws.com/?") and presigned.endswith("&Version=1")
        query = dict(parse_qsl(urlsplit("https://" + presigned.removesuffix("&Version=1")).query))
        key_id, _day, region, service, terminal = query["X-Amz-Credential"].split("/")
        assert (region, service, terminal) == (REGION, "sagemaker", "aws4_request"), query["X-Amz-Credential"]
        assert query["Action"] == "CallWithBearerToken"
        signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
        assert signed_at + timedelta(seconds=int(query["X-Amz-Expires"])) > self.server.now, "token expired"
        # Sign the same pre-signed request again (botocore's SigV4QueryAuth, the timestamp the token carries).
        auth = SigV4QueryAuth(
            self._credentials(key_id, query.get("X-Amz-Security-Token")),
            "sagemaker",
            region,
            expires=int(query["X-Amz-Expires"]),
        )
        unsigned = "&".join(
            p
            for p in presigned.removesuffix("&Version=1").split("?", 1)[1].split("&")
            if not p.startswith("X-Amz-Signature=")
        )
        request = AWSRequest(
            method="POST",
            url=f"https://sagemaker.amazonaws.com/?{unsigned}",
            headers={"host": "sagemaker.amazonaws.com"},
        )
        request.context["timestamp"] = query["X-Amz-Date"]
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        assert hmac.compare_digest(expected, query["X-Amz-Signature"]), "signature does not match"

    def _verify_sigv4(self, authorization: str, body: bytes) -> None:
        assert authorization.startswith("AWS4-HMAC-SHA256 "), "neither a bearer token nor SigV4"
        fields = dict(part.strip().split("=", 1) for part in authorization.removeprefix("AWS4-HMAC-SHA256 ").split(","))
        key_id, _day, region, service, _ = fields["Credential"].split("/")
        assert (region, service) == (REGION, "sagemaker"), fields["Credential"]
        signed = fields["SignedHeaders"].split(";")
        assert "host" in signed and "x-amz-date" in signed
        auth = SigV4Auth(self._credentials(key_id, self.headers.get("x-amz-security-token")), service, region)
        request = AWSRequest(
            method="POST",
            url=self.server.root + self.path,
            data=body,
            headers={name: self.headers[name] for name in signed},
        )
        request.context["timestamp"] = self.headers["x-amz-date"]
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        assert hmac.compare_digest(expected, fields["Signature"]), "signature does not match"


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    server = StandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _chat(stand_in: StandIn, *extra: str, component: bool = False) -> tuple[Chat, io.StringIO, str]:
    path = f"/endpoints/{ENDPOINT}" + (f"/inference-components/{COMPONENT}" if component else "") + "/openai/v1"
    args = parse_args(["--direct", "--url", stand_in.root + path, "--region", REGION, *extra])
    client, model = connect(args)
    out = io.StringIO()
    return Chat(client, model, out=out, sleep=lambda _: None), out, model


def test_bearer_token_is_the_one_the_sagemaker_sdk_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    from sagemaker.core.token_generator.token_generator import _generate_token

    frozen = datetime(2026, 12, 5, 20, 0, 0)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: frozen)
    credentials = Credentials(KEY_ID, SECRET, TOKEN)
    assert native.bearer_token(credentials, REGION, 300) == _generate_token(credentials, REGION, 300)
    with pytest.raises(ValueError, match="1 to 43200 seconds"):
        native.bearer_token(credentials, REGION, 43201)


def test_direct_streams_from_the_endpoint_route_with_a_bearer_token(stand_in: StandIn) -> None:
    chat, out, model = _chat(stand_in)
    assert chat.ask("hello?") == "Hello from the native route."
    assert "llm> Hello from the native route." in out.getvalue()
    [seen] = stand_in.seen
    assert seen["auth"] == "bearer" and seen["component"] is None
    # The docs' request: the model is passed to the container as is; routing is by the URL, so empty is fine.
    assert seen["body"]["model"] == model == ""
    assert seen["body"]["stream"] is True
    assert seen["body"]["messages"] == [{"role": "user", "content": "hello?"}]


def test_direct_sigv4_reaches_the_inference_component_route(stand_in: StandIn) -> None:
    chat, _, _ = _chat(stand_in, "--direct-auth", "sigv4", "--model", "Qwen/Qwen3-4B", component=True)
    chat.conversation.system = "Be brief."
    assert chat.ask("hi") == "Hello from the native route."
    assert chat.ask("again") == "Hello from the native route."
    assert [s["auth"] for s in stand_in.seen] == ["sigv4", "sigv4"]
    assert {s["component"] for s in stand_in.seen} == {COMPONENT}
    assert stand_in.seen[1]["body"]["model"] == "Qwen/Qwen3-4B"
    assert [m["role"] for m in stand_in.seen[1]["body"]["messages"]] == ["system", "user", "assistant", "user"]


def test_a_whole_answer_reads_as_the_docs_show_it(stand_in: StandIn) -> None:
    client, model = connect(
        parse_args(["--direct", "--url", f"{stand_in.root}/endpoints/{ENDPOINT}/openai/v1", "--region", REGION])
    )
    answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Capital?"}])
    assert answer.choices[0].message.content == "Hello from the native route."
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.total_tokens == 9


@pytest.mark.parametrize("how", ["bearer", "sigv4"])
def test_a_signature_from_the_wrong_secret_is_refused_and_reported(stand_in: StandIn, how: str) -> None:
    stand_in.secret = "another-secret"
    chat, out, _ = _chat(stand_in, "--direct-auth", how)
    assert chat.ask("hello?") is None
    assert "error 403: signature rejected: signature does not match" in out.getvalue()
    assert chat.conversation.turns == []


def test_no_credentials_is_a_chat_error(stand_in: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ChatError, match="no AWS credentials found"):
        _chat(stand_in)


def test_region_comes_from_the_native_host() -> None:
    assert native.region_of(native.base_url("eu-central-1", "ep", "ic")) == "eu-central-1"
    assert native.base_url("us-east-1", "a/b", "c?d") == (
        "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/a%2Fb/inference-components/c%3Fd/openai/v1"
    )


def test_the_url_and_model_come_from_the_stack_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        # moto's backends are per process, not per server (other tests create stacks too): start from nothing.
        httpx.post(f"http://{host}:{port}/moto-api/reset", timeout=60)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        url = native.base_url("eu-west-1", ENDPOINT, COMPONENT)
        template = {
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {"NativeOpenAiBaseUrl": {"Value": url}, "ModelId": {"Value": "Qwen/Qwen3-4B"}},
        }
        boto3.client("cloudformation", region_name="eu-west-1").create_stack(
            StackName="NativeChat", TemplateBody=json.dumps(template)
        )
        client, model = connect(parse_args(["--direct", "--stack", "NativeChat", "--region", "eu-west-1"]))
        assert str(client.base_url) == url + "/"
        assert model == "Qwen/Qwen3-4B"
        boto3.client("cloudformation", region_name="eu-west-1").create_stack(
            StackName="Old", TemplateBody=json.dumps({**template, "Outputs": {}})
        )
        with pytest.raises(ChatError, match="has no NativeOpenAiBaseUrl output"):
            connect(parse_args(["--direct", "--stack", "Old", "--region", "eu-west-1"]))
    finally:
        server.stop()
