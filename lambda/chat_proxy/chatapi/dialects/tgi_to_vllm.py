"""Plain text generation on either engine, in one dialect: TGI's.

The proxy's text routes (chat with a proxy-rendered prompt, ``/v1/completions``, ``/generate``) build TGI's
``{"inputs", "parameters", "stream"}`` payload. On TGI it goes out as it is. vLLM's SageMaker ``/invocations``
takes only OpenAI bodies (it tries each OpenAI request type and answers 400 "Cannot find suitable handler"
otherwise: ``vllm/entrypoints/sagemaker/api_router.py``), so on vLLM the payload becomes an OpenAI completions
request, and vLLM's answer and stream chunks are turned back into TGI's shapes (``generated_text``, ``details``,
token events). Everything downstream then reads one dialect, and ``/generate`` answers in TGI's shape on both.

TGI parameters vLLM has no equivalent for are refused with 400 naming the parameter and the engine; the mapping
follows TGI's sampling rule (``server/text_generation_server/utils/tokens.py``: it samples when ``do_sample`` is
set or any warper is, i.e. ``temperature``, ``top_k``, ``top_p``), else it decodes greedily (vLLM: temperature 0).
vLLM reports no token ids in completions: the token events carry ``"id": 0`` and ``"logprob": null``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from chatapi.backend import engine_error
from chatapi.errors import ApiError

Event = tuple[str, dict[str, Any] | None]

# TGI parameter -> the value that means "not used"; any other value has no vLLM equivalent.
VLLM_UNSUPPORTED: dict[str, Any] = {
    "typical_p": None,
    "watermark": False,
    "decoder_input_details": False,
    "best_of": 1,
}


def vllm_completion_request(payload: dict[str, Any], model: str, *, param_prefix: str | None) -> dict[str, Any]:
    """The OpenAI completions request for TGI ``payload``.

    ``param_prefix`` names the client's fields in errors (``"parameters."`` for ``/generate``); None means the
    payload was built by the proxy itself, whose extras for TGI (``decoder_input_details`` for usage) are dropped.
    """
    params: dict[str, Any] = payload.get("parameters") or {}
    for name, neutral in VLLM_UNSUPPORTED.items():
        if param_prefix is not None and params.get(name, neutral) not in (None, neutral):
            raise ApiError(
                400,
                f"{param_prefix}{name} is not supported on the vLLM engine (vLLM has no equivalent); omit it.",
                param=f"{param_prefix}{name}",
                code="unsupported_parameter",
            )
    request: dict[str, Any] = {"model": model, "prompt": payload["inputs"], "max_tokens": params["max_new_tokens"]}
    if params.get("do_sample") or any(k in params for k in ("temperature", "top_k", "top_p")):
        # Sampling at the temperature named; else /generate keeps TGI's meaning (1.0) and an OpenAI route names
        # none, so vLLM applies the model's generation_config as it would for that request sent to it directly.
        if "temperature" not in params and param_prefix is not None:
            request["temperature"] = 1.0
        for name in ("temperature", "top_p", "top_k"):
            if name in params:
                request[name] = params[name]
    else:
        request["temperature"] = 0.0
    for name in ("repetition_penalty", "seed", "stop"):
        if name in params:
            request[name] = params[name]
    if "truncate" in params:
        request["truncate_prompt_tokens"] = params["truncate"]
    if params.get("return_full_text"):
        request["echo"] = True
    if payload.get("stream"):
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}  # the token counts arrive in a last chunk
    return request


def _finish_reason(choice: dict[str, Any]) -> str:
    """TGI's finish reason for a vLLM choice (vLLM's ``stop_reason`` is the matched stop string, if any)."""
    if choice.get("finish_reason") == "length":
        return "length"
    return "stop_sequence" if isinstance(choice.get("stop_reason"), str) else "eos_token"


def _details(finish_reason: str, usage: Any, seed: Any) -> dict[str, Any]:
    usage = usage if isinstance(usage, dict) else {}
    details: dict[str, Any] = {"finish_reason": finish_reason, "generated_tokens": usage.get("completion_tokens")}
    details["seed"] = seed
    if isinstance(usage.get("prompt_tokens"), int):
        details["input_length"] = usage["prompt_tokens"]
    return details


def _bad_answer() -> ApiError:
    return ApiError(502, "The model answered in an unexpected shape.", type="upstream_error", code="bad_response")


def tgi_answer(answer: Any, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """TGI's ``[{"generated_text", "details"?}]`` for vLLM's completions ``answer`` to TGI ``payload``."""
    if not isinstance(answer, dict):
        raise _bad_answer()
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _bad_answer()
    choice = choices[0]
    if not isinstance(choice.get("text"), str):
        raise _bad_answer()
    item: dict[str, Any] = {"generated_text": choice["text"]}
    params = payload.get("parameters") or {}
    if params.get("details"):
        item["details"] = _details(_finish_reason(choice), answer.get("usage"), params.get("seed"))
    return [item]


def tgi_events(events: Iterable[Event], payload: dict[str, Any]) -> Iterator[Event]:
    """TGI stream events for vLLM's completions chunks: one token event per chunk, the last carrying
    ``generated_text`` and (when asked for) ``details``; an error becomes TGI's ``{"error", "error_type"}``."""
    params = payload.get("parameters") or {}
    held: dict[str, Any] | None = None
    texts: list[str] = []
    finish: str | None = None
    usage: Any = None
    index = 0

    def out(event: dict[str, Any]) -> Event:
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")), event

    for _, chunk in events:
        if chunk is None:  # [DONE]
            break
        if "error" in chunk or chunk.get("object") == "error":
            error = engine_error(chunk)
            if held is not None:
                yield out(held)
            yield out({"error": error.message, "error_type": error.code})
            return
        if chunk.get("usage") is not None:
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            text = choice.get("text")
            if isinstance(text, str) and text:
                if held is not None:
                    yield out(held)
                index += 1
                texts.append(text)
                token = {"id": 0, "text": text, "logprob": None, "special": False}
                held = {"index": index, "token": token, "generated_text": None, "details": None}
            if choice.get("finish_reason") is not None:
                finish = _finish_reason(choice)
    if finish is None:
        if held is not None:
            yield out(held)
        return  # no finish: the caller reports an incomplete stream
    if held is None:
        token = {"id": 0, "text": "", "logprob": None, "special": True}
        held = {"index": index + 1, "token": token, "generated_text": None, "details": None}
    held["generated_text"] = "".join(texts)
    if params.get("details"):
        held["details"] = _details(finish, usage, params.get("seed"))
    yield out(held)
