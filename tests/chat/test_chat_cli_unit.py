"""The terminal client's decisions, against scripted HTTP answers (httpx.MockTransport) and a local moto."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import openai
import pytest
from moto.server import ThreadedMotoServer

from llmchat.cli import (
    Chat,
    ChatError,
    Conversation,
    connect,
    main,
    parse_args,
    read_api_key,
    retry_after_seconds,
    stack_url,
)

REPO = Path(__file__).resolve().parents[2]
SSE = (
    'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"content":"Ready."},"finish_reason":null}]}\n\ndata: [DONE]\n\n'
)


def _gateway_error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return httpx.Response(status, json=body, headers=headers)


def _chat(answers: list[httpx.Response]) -> tuple[Chat, io.StringIO, list[float], list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    client = openai.OpenAI(
        base_url="https://api.test/prod/v1",
        api_key="unused",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    out = io.StringIO()
    slept: list[float] = []
    return Chat(client, "m", out=out, sleep=slept.append), out, slept, seen


def _sse() -> httpx.Response:
    return httpx.Response(200, text=SSE, headers={"content-type": "text/event-stream"})


def test_503_with_retry_after_counts_down_then_retries() -> None:
    starting = _gateway_error(503, "The model endpoint is not ready; retry later.", "service_unavailable")
    starting.headers["Retry-After"] = "3"
    chat, out, slept, seen = _chat([starting, _sse()])
    assert chat.ask("hello?") == "Ready."
    text = out.getvalue()
    assert "error 503: The model endpoint is not ready; retry later. (retry after 3 s)" in text
    assert [line for line in text.split("\r") if line.startswith("retrying in")] == [
        "retrying in   3 s (Ctrl-C cancels)",
        "retrying in   2 s (Ctrl-C cancels)",
        "retrying in   1 s (Ctrl-C cancels)",
    ]
    assert slept == [1, 1, 1] and len(seen) == 2
    assert chat.conversation.turns == [
        {"role": "user", "content": "hello?"},
        {"role": "assistant", "content": "Ready."},
    ]


def test_waiting_gives_up_after_max_wait() -> None:
    answers = []
    for _ in range(3):
        answer = _gateway_error(503, "not ready", "service_unavailable")
        answer.headers["Retry-After"] = "2"
        answers.append(answer)
    chat, out, slept, seen = _chat(answers)
    chat.max_wait = 3
    assert chat.ask("hello?") is None
    assert len(seen) == 3 and sum(slept) == 4
    assert out.getvalue().rstrip().endswith("error 503: not ready (retry after 2 s)")
    assert chat.conversation.turns == []  # a failed turn does not join the conversation


def test_503_without_retry_after_is_reported_not_retried() -> None:
    chat, out, slept, seen = _chat([_gateway_error(503, "The model endpoint does not exist.", "service_unavailable")])
    assert chat.ask("x") is None
    assert "error 503: The model endpoint does not exist." in out.getvalue() and slept == [] and len(seen) == 1


def test_403_explains_both_auth_modes() -> None:
    chat, out, _, _ = _chat([_gateway_error(403, "Missing Authentication Token", "authentication_error")])
    assert chat.ask("x") is None
    text = out.getvalue()
    assert "error 403: Missing Authentication Token" in text
    assert "execute-api:Invoke" in text and "ApiKeyCommand" in text


def test_429_says_to_slow_down() -> None:
    chat, out, slept, _ = _chat([_gateway_error(429, "Too Many Requests", "rate_limit_error", {"Retry-After": "1"})])
    assert chat.ask("x") is None
    assert "error 429: Too Many Requests (retry after 1 s)" in out.getvalue()
    assert "rate limit" in out.getvalue() and slept == []


def test_error_event_inside_the_stream_is_shown() -> None:
    broken = 'data: {"error":{"message":"The model failed: CUDA out of memory","type":"upstream_error"}}\n\n'
    chat, out, _, _ = _chat([httpx.Response(200, text=broken, headers={"content-type": "text/event-stream"})])
    assert chat.ask("x") is None
    assert "error: The model failed: CUDA out of memory" in out.getvalue()


def test_requests_carry_system_prompt_params_and_history() -> None:
    chat, _, _, seen = _chat([_sse(), _sse()])
    chat.command("/system Be brief.")
    chat.command("/params temperature=0.2 max_tokens=64 stop=END")
    chat.ask("one")
    chat.ask("two")
    body = json.loads(seen[-1].content)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "Ready."},
        {"role": "user", "content": "two"},
    ]
    assert (body["temperature"], body["max_tokens"], body["stop"], body["stream"]) == (0.2, 64, "END", True)


def test_params_are_typed_and_all_or_nothing() -> None:
    conversation = Conversation()
    conversation.set_params(["temperature=0.7", "max_tokens=256"])
    with pytest.raises(ChatError, match=r"bad value for max_tokens: '1\.5' is not an int"):
        conversation.set_params(["temperature=1", "max_tokens=1.5"])
    with pytest.raises(ChatError, match="bad parameter 'top_k=5'"):
        conversation.set_params(["top_k=5"])
    assert conversation.params == {"temperature": 0.7, "max_tokens": 256}
    conversation.set_params(["temperature="])
    assert conversation.params == {"max_tokens": 256}


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 29, 4, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("30") == 30
    assert retry_after_seconds("Sun, 29 Nov 2026 04:00:45 GMT", now=now) == 45
    assert retry_after_seconds("Sun, 29 Nov 2026 03:00:00 GMT", now=now) == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def _no_aws_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    env.update(AWS_EC2_METADATA_DISABLED="true", **extra)
    return env


def test_missing_credentials_in_iam_mode_is_a_clear_error() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "llmchat", "--url", "https://abc.execute-api.us-east-1.amazonaws.com/prod/"],
        cwd=REPO,
        env=_no_aws_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert out.returncode == 2
    assert "error: no AWS credentials found" in out.stderr and "--api-key" in out.stderr
    assert "Traceback" not in out.stderr


def test_api_key_mode_without_a_key_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--auth", "api_key", "--url", "http://127.0.0.1:9"])
    assert exit_info.value.code == 2
    assert "api_key mode needs a key: set LLMCHAT_API_KEY or type it at the prompt" in capsys.readouterr().err


def test_a_key_on_the_command_line_is_refused_without_echoing_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--api-key", "k3y-in-argv-0123456789", "--url", "http://127.0.0.1:9"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--api-key takes no value" in err and "LLMCHAT_API_KEY" in err
    assert "k3y-in-argv" not in err


def test_the_key_comes_from_the_environment_or_a_hidden_prompt() -> None:
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return "typed-key\n"

    assert read_api_key({"LLMCHAT_API_KEY": "env-key"}, ask) == "env-key"
    assert asked == []
    assert read_api_key({}, ask) == "typed-key"
    assert asked == ["API key (input hidden): "]
    assert read_api_key({}, lambda _: (_ for _ in ()).throw(EOFError())) is None


def test_api_key_flag_sends_the_prompted_key_as_x_api_key() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-api-key"))
        return httpx.Response(
            200, json={"object": "list", "data": [{"id": "m", "object": "model", "created": 0, "owned_by": "x"}]}
        )

    args = parse_args(["--api-key", "--url", "http://api.example/prod"])
    transport = httpx.MockTransport(handler)
    original = httpx.Client.__init__

    def with_transport(self: httpx.Client, *a: Any, **kw: Any) -> None:
        kw["transport"] = transport
        original(self, *a, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(httpx.Client, "__init__", with_transport)
        _, model = connect(args, environ={}, ask=lambda _: "prompted-key")
    assert model == "m"
    assert seen == ["prompted-key"]


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    for key, value in _no_aws_env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    yield url
    server.stop()


def test_the_url_comes_from_the_stack_outputs(moto_url: str) -> None:
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"ApiUrl": {"Value": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/"}},
    }
    cfn = boto3.client("cloudformation", region_name="eu-west-1")
    cfn.create_stack(StackName="MyChat", TemplateBody=json.dumps(template))
    assert stack_url("MyChat", "eu-west-1") == "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/"
    with pytest.raises(ChatError, match=r"cannot read stack 'Missing': Stack with id Missing does not exist"):
        stack_url("Missing", "eu-west-1")


def test_outside_active_hours_is_reported_at_once_without_waiting() -> None:
    closed = httpx.Response(
        503,
        json={
            "error": {
                "message": "The model runs only inside its active hours (MON-FRI 08:00-19:00 Europe/Berlin) and is "
                "stopped now; next start at 2026-12-07T08:00:00+01:00 (ready some minutes after that, while it loads).",
                "type": "service_unavailable",
                "param": None,
                "code": "outside_active_hours",
            }
        },
        headers={"Retry-After": "86400"},
    )
    chat, out, slept, seen = _chat([closed])
    assert chat.ask("hello?") is None
    assert slept == [] and len(seen) == 1  # no countdown, no second request
    text = out.getvalue()
    assert "error 503: The model runs only inside its active hours" in text
    assert "next start at 2026-12-07T08:00:00+01:00" in text
    assert "retry after" not in text and "waiting" not in text
    assert chat.conversation.turns == []
