"""Media URLs the model container would fetch (issue 17, High 1): ``data:`` always, https only to the listed hosts,
every other scheme and every host trick refused with a 400 naming the field; on TGI, markdown images in prompt
text are defused so TGI's router fetches nothing. The routes run in-process against a backend that records what
would reach SageMaker."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chatapi.app import create_app
from chatapi.errors import ApiError
from chatapi.media import check_media, check_url, defuse_tgi_text, normalize_host, parse_domains
from chatapi.settings import SettingsError, load_settings
from fastapi.testclient import TestClient

ALLOWED = ("images.example.com",)
PNG = "data:image/png;base64,iVBORw0KGgo="

HOSTILE = [
    "http://images.example.com/cat.png",  # plain http
    "file:///etc/passwd",
    "FILE:///proc/self/environ",
    "ftp://images.example.com/cat.png",
    "gopher://127.0.0.1:6379/_INFO",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00:ec2::254]/latest/meta-data/",
    "https://[::ffff:169.254.169.254]/",
    "https://2852039166/",  # 169.254.169.254 as one decimal number
    "https://0xa9.0xfe.0xa9.0xfe/",
    "https://0251.0376.0251.0376/",
    "https://127.1/",
    "https://images.example.com@169.254.169.254/",  # userinfo: the real host is after the @
    "https://images.example.com%40evil.example/",
    "https://user:pw@images.example.com/",
    "https://images.example.com.evil.example/",
    "https://evil.example/images.example.com",
    "https://evil.example?images.example.com",
    "https://evil.example#@images.example.com",
    "https://images.example.com:8443/cat.png",  # another port of the allowed host
    "https://images.example.com\\@evil.example/",
    "https:\\\\evil.example/",
    "https:/evil.example/",
    "https:///images.example.com/",
    "https://images.example.com\t.evil.example/",
    "https://images%2eexample%2ecom%2f.evil.example/",
    "https://localhost/",
    "https://xn--mages-example-xyz.com/",
    "https://іmages.example.com/",  # Cyrillic і: IDNA gives xn--mages-... , not the allowed host
    " https://images.example.com/cat.png",
    "//images.example.com/cat.png",
    "images.example.com/cat.png",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_urls_are_refused_naming_the_field(url: str) -> None:
    with pytest.raises(ApiError) as info:
        check_url(url, "messages[0].content[1].image_url.url", ALLOWED)
    assert (info.value.status, info.value.param, info.value.code) == (
        400,
        "messages[0].content[1].image_url.url",
        "invalid_media_url",
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://images.example.com/cat.png",
        "HTTPS://IMAGES.EXAMPLE.COM/cat.png",
        "https://images.example.com./cat.png",
        "https://images.example.com:443/cat.png",
        "https://images%2Eexample.com/cat.png",  # percent-decoding gives the allowed host exactly
        "https://images.example.com?x=1",
    ],
)
def test_https_urls_to_an_allowed_host_pass(url: str) -> None:
    check_url(url, "p", ALLOWED)


def test_data_urls_pass_without_any_allowed_host() -> None:
    check_url(PNG, "p", ())
    check_url("DATA:image/png;base64,AAAA", "p", ())


def test_without_allowed_hosts_even_https_is_refused_and_says_why() -> None:
    with pytest.raises(ApiError, match="fetches no remote media"):
        check_url("https://images.example.com/cat.png", "p", ())


def test_idna_hosts_are_compared_in_their_ascii_form() -> None:
    assert normalize_host("Bücher.Example") == "xn--bcher-kva.example"
    check_url("https://bücher.example/a.png", "p", parse_domains("xn--bcher-kva.example"))
    check_url("https://xn--bcher-kva.example/a.png", "p", parse_domains("bücher.example"))


@pytest.mark.parametrize("field", ["image_url", "audio_url", "video_url"])
def test_every_media_field_vllm_fetches_is_checked(field: str) -> None:
    body = {"messages": [{"role": "user", "content": [{"type": field, field: {"url": "http://10.0.0.1/"}}]}]}
    with pytest.raises(ApiError) as info:
        check_media(body, ALLOWED)
    assert info.value.param == f"messages[0].content[0].{field}.url"


def test_responses_style_input_image_string_is_checked() -> None:
    body = {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "file:///etc/passwd"}]}]}
    with pytest.raises(ApiError) as info:
        check_media(body, ALLOWED)
    assert info.value.param == "input[0].content[0].image_url"


@pytest.mark.parametrize("field", ["image_embeds", "prompt_embeds", "multi_modal_data", "audio_embeds"])
def test_raw_embeddings_are_never_forwarded(field: str) -> None:
    with pytest.raises(ApiError) as info:
        check_media({"messages": [{"role": "user", "content": [{"type": field, field: "AAAA"}]}]}, ALLOWED)
    assert info.value.code == "unsupported_parameter"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("https://images.example.com", "not a plain DNS host name"),
        ("images.example.com/path", "not a plain DNS host name"),
        ("10.0.0.1", "not a plain DNS host name"),
        ("*.example.com", "not a plain DNS host name"),
        ("images.example.com:443", "not a plain DNS host name"),
    ],
)
def test_bad_allowed_hosts_fail_at_start_naming_the_variable(raw: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"IMAGE_URL_DOMAINS: .*{message}"):
        load_settings({"SAGEMAKER_ENDPOINT_NAME": "x", "ENGINE": "vllm", "IMAGE_URL_DOMAINS": raw})


def test_allowed_hosts_need_vllm() -> None:
    with pytest.raises(SettingsError, match="IMAGE_URL_DOMAINS needs ENGINE=vllm"):
        load_settings({"SAGEMAKER_ENDPOINT_NAME": "x", "IMAGE_URL_DOMAINS": "images.example.com"})


def test_markdown_images_in_tgi_prompts_are_defused_but_data_images_kept() -> None:
    text = f"see ![](http://169.254.169.254/latest) and ![](https://x.example/a.png) and ![]({PNG})"
    assert defuse_tgi_text(text) == (
        f"see ![ ](http://169.254.169.254/latest) and ![ ](https://x.example/a.png) and ![]({PNG})"
    )


class RecordedStream:
    """One streamed answer: a vLLM/TGI Messages chat chunk with usage, or TGI's final generate event."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self._payload = payload

    def raw_events(self) -> Any:
        if "messages" in self._payload:
            usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
            delta = {"role": "assistant", "content": "A cat."}
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
                     "choices": [{"index": 0, "delta": delta, "finish_reason": "stop"}], "usage": usage}  # fmt: skip
            yield json.dumps(chunk), chunk
            yield "[DONE]", None
            return
        details = {"finish_reason": "eos_token", "generated_tokens": 2, "prefill": [{}, {}]}
        event = {"token": {"id": 1, "text": "Hi", "logprob": None, "special": False}, "generated_text": "Hi",
                 "details": details}  # fmt: skip
        yield json.dumps(event), event

    def close(self) -> None:
        return


class Recorder:
    """A backend that records each payload and answers like vLLM's OpenAI server (or TGI's /generate): streamed,
    as the proxy calls every generation (InvokeEndpointWithResponseStream), or once (TGI's best_of)."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    def open_stream(self, payload: dict[str, Any]) -> RecordedStream:
        self.payloads.append(payload)
        return RecordedStream(payload)

    def invoke(self, payload: dict[str, Any]) -> Any:
        self.payloads.append(payload)
        details = {"finish_reason": "eos_token", "generated_tokens": 2, "prefill": [{}, {}]}
        return [{"generated_text": "Hi", "details": details}]


def client_for(recorder: Recorder, **env: str) -> TestClient:
    settings = load_settings({"SAGEMAKER_ENDPOINT_NAME": "x", **env})
    return TestClient(create_app(settings, recorder))  # type: ignore[arg-type]


def image_chat(url: str) -> dict[str, Any]:
    parts = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}]
    return {"messages": [{"role": "user", "content": parts}]}


@pytest.mark.parametrize("engine", ["vllm", "tgi"])
def test_server_mode_refuses_a_metadata_url_before_calling_the_model(engine: str) -> None:
    recorder = Recorder()
    with client_for(recorder, ENGINE=engine, PROMPT_FAMILY="server") as client:
        response = client.post("/v1/chat/completions", json=image_chat("http://169.254.169.254/latest/meta-data/"))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].content[1].image_url.url"
    assert response.json()["error"]["code"] == "invalid_media_url"
    assert recorder.payloads == []


def test_server_mode_passes_data_urls_and_allowed_hosts_on_vllm() -> None:
    recorder = Recorder()
    with client_for(recorder, ENGINE="vllm", PROMPT_FAMILY="server", IMAGE_URL_DOMAINS="images.example.com") as client:
        assert client.post("/v1/chat/completions", json=image_chat(PNG)).status_code == 200
        allowed = client.post("/v1/chat/completions", json=image_chat("https://images.example.com/cat.png"))
        refused = client.post("/v1/chat/completions", json=image_chat("https://images.example.com@10.0.0.1/"))
    assert allowed.status_code == 200
    assert refused.status_code == 400
    assert [p["messages"][0]["content"][1]["image_url"]["url"] for p in recorder.payloads] == [
        PNG,
        "https://images.example.com/cat.png",
    ]


def test_tgi_server_mode_defuses_markdown_images_in_text_parts() -> None:
    recorder = Recorder()
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "![](http://10.0.0.1/x)"}]}]}
    with client_for(recorder, ENGINE="tgi", PROMPT_FAMILY="server") as client:
        assert client.post("/v1/chat/completions", json=body).status_code == 200
    assert recorder.payloads[0]["messages"][0]["content"][0]["text"] == "![ ](http://10.0.0.1/x)"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "![](http://10.0.0.1/x)"}]}),
        ("/v1/completions", {"prompt": "![](http://10.0.0.1/x)"}),
        ("/generate", {"inputs": "![](http://10.0.0.1/x)"}),
    ],
)
def test_tgi_text_routes_send_no_fetchable_markdown_image(path: str, body: dict[str, Any]) -> None:
    recorder = Recorder()
    with client_for(recorder) as client:  # the default deployment: TGI, falcon prompt
        assert client.post(path, json=body).status_code == 200
    (sent,) = recorder.payloads
    assert "![](http" not in sent["inputs"]
    assert "![ ](http://10.0.0.1/x)" in sent["inputs"]
