"""The proxy renders the prompt (``PROMPT_FAMILY`` falcon, chatml, llama2, mistral): OpenAI chat and completions
requests become TGI's ``{"inputs", "parameters", "stream"}`` payload, which the text transport (``transport``)
sends to TGI as it is or to vLLM as a completions request. Features only a model's own chat template can render
(tools, structured output, images, logprobs) are refused, naming the field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatapi.checks import check_chat_policy, check_completion_policy, resolve_max_tokens
from chatapi.errors import ApiError, bad_request
from chatapi.prompts import FAMILIES, Turn, render
from chatapi.schemas import MAX_STOP_SEQUENCES, ChatCompletionRequest, CompletionRequest, message_text
from chatapi.settings import Settings


@dataclass(frozen=True, slots=True)
class ChatPlan:
    payload: dict[str, Any]
    stops: tuple[str, ...]
    strip_leading_whitespace: bool
    prompt: str


def _server_only(what: str, param: str, settings: Settings) -> ApiError:
    return ApiError(
        400,
        f"{what} needs the engine to render the model's chat template; this deployment renders prompts itself "
        f"(PROMPT_FAMILY={settings.prompt_family}). Deploy with prompt_family=server, or omit {param}.",
        param=param,
        code="unsupported_parameter",
    )


def check_proxy_family_request(request: ChatCompletionRequest, settings: Settings) -> None:
    """Features only the engine's chat template can render are refused, naming the field, in proxy-family mode."""
    check_chat_policy(request, "proxy")
    if request.tools:
        raise _server_only("Tool calling", "tools", settings)
    if request.tool_choice not in (None, "none", "auto"):
        raise _server_only("tool_choice", "tool_choice", settings)
    if request.response_format is not None and request.response_format.type != "text":
        raise _server_only("Structured output (response_format)", "response_format.type", settings)
    if request.logprobs:
        raise _server_only("logprobs", "logprobs", settings)
    if request.top_logprobs:
        raise _server_only("top_logprobs", "top_logprobs", settings)
    for name in ("frequency_penalty", "presence_penalty"):
        if getattr(request, name) not in (None, 0):
            raise _server_only(name, name, settings)
    for i, message in enumerate(request.messages):
        if message.role == "tool":
            raise _server_only("A tool message", f"messages[{i}].role", settings)
        if message.role == "assistant" and message.tool_calls:
            raise _server_only("An assistant message with tool_calls", f"messages[{i}].tool_calls", settings)
        if message.role == "assistant" and message.content is None:
            raise bad_request("An assistant message needs content.", f"messages[{i}].content")
        if isinstance(message.content, list):
            for j, part in enumerate(message.content):
                if part.type != "text":
                    raise _server_only(f"A {part.type} content part", f"messages[{i}].content[{j}].type", settings)


def plan_chat(request: ChatCompletionRequest, settings: Settings) -> ChatPlan:
    check_proxy_family_request(request, settings)
    family = FAMILIES[settings.prompt_family]
    systems: list[str] = []
    turns: list[Turn] = []
    for i, message in enumerate(request.messages):
        role = "system" if message.role == "developer" else message.role
        if role == "system":
            if turns:
                raise bad_request("system messages must come before the conversation.", f"messages[{i}].role")
            systems.append(message_text(message))
            continue
        expected = "user" if not turns or turns[-1].role == "assistant" else "assistant"
        if role != expected:
            raise bad_request(
                f"messages must alternate user and assistant turns starting with user; expected {expected}.",
                f"messages[{i}].role",
            )
        turns.append(Turn(role, message_text(message)))
    if not turns or turns[-1].role != "user":
        raise bad_request("The last message must be a user message.", "messages")
    system = "\n\n".join(systems) if systems else settings.system_prompt
    prompt = render(family, system, turns)

    max_new = resolve_max_tokens(request.max_tokens, request.max_completion_tokens, settings)

    user_stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if any(not s for s in user_stops):
        raise bad_request("stop sequences must not be empty.", "stop")
    stops = tuple(dict.fromkeys([*family.stop, *user_stops]))
    if len(stops) > MAX_STOP_SEQUENCES:
        allowed = MAX_STOP_SEQUENCES - len(family.stop)
        raise bad_request(
            f"At most {allowed} stop sequences are allowed: the {settings.prompt_family!r} prompt format uses "
            f"{len(family.stop)} of TGI's {MAX_STOP_SEQUENCES}.",
            "stop",
        )
    if request.stream_options is not None and not request.stream:
        raise bad_request("stream_options is only allowed when stream is true.", "stream_options")

    params: dict[str, Any] = {"stop": list(stops), "return_full_text": False}
    payload = _tgi_payload(prompt, params, max_new, request.temperature, request.top_p, request.seed, request.stream)
    return ChatPlan(payload, stops, family.strip_leading_whitespace, prompt)


def _tgi_payload(
    prompt: str,
    params: dict[str, Any],
    max_new: int,
    temperature: float | None,
    top_p: float | None,
    seed: int | None,
    stream: bool | None,
) -> dict[str, Any]:
    """TGI's ``{"inputs", "parameters"}`` for an OpenAI request's sampling settings (temperature 0 is greedy),
    always asking for the token counts (``details``: the stream's last event has the prompt's as ``input_length``;
    every generation is streamed, see ``assemble``)."""
    params = {"max_new_tokens": max_new, **params, "details": True}
    if temperature == 0:
        params["do_sample"] = False
    else:
        # OpenAI samples by default: TGI then samples at temperature 1; vLLM (tgi_to_vllm.py) applies the model's
        # generation_config, since no temperature is named.
        params["do_sample"] = True
        if temperature is not None:
            params["temperature"] = temperature
        if top_p is not None and top_p < 1:
            params["top_p"] = top_p
    if seed is not None:
        params["seed"] = seed
    payload: dict[str, Any] = {"inputs": prompt, "parameters": params}
    if stream:
        payload["stream"] = True
    return payload


@dataclass(frozen=True, slots=True)
class CompletionPlan:
    payload: dict[str, Any]
    stops: tuple[str, ...]
    echo: str  # the prompt when ``echo`` is set: prepended to the answer


def plan_completion(request: CompletionRequest, settings: Settings) -> CompletionPlan:
    """TGI's payload for an OpenAI text completions request."""
    check_completion_policy(request, "tgi")
    if request.stream_options is not None and not request.stream:
        raise bad_request("stream_options is only allowed when stream is true.", "stream_options")
    for name in ("frequency_penalty", "presence_penalty"):
        if getattr(request, name) not in (None, 0):
            raise ApiError(
                400, f"{name} is not supported on /v1/completions; omit it or send 0.", param=name,
                code="unsupported_parameter",
            )  # fmt: skip
    max_new = resolve_max_tokens(request.max_tokens, None, settings)
    stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if any(not s for s in stops):
        raise bad_request("stop sequences must not be empty.", "stop")
    prompt = request.prompt_text()
    assert prompt is not None  # check_completion_policy
    params: dict[str, Any] = {"stop": stops} if stops else {}
    payload = _tgi_payload(prompt, params, max_new, request.temperature, request.top_p, request.seed, request.stream)
    return CompletionPlan(payload, tuple(stops), prompt if request.echo else "")
