"""The OpenAI-protocol side of the emulated model containers: vLLM's DLC and TGI's Messages API.

What each engine accepts and answers at SageMaker's ``/invocations``, as read from their sources:

- vLLM 0.29 (``vllm/entrypoints/serve/sagemaker/api_router.py``): OpenAI chat or completions JSON only (TGI's
  ``{"inputs"}`` is a 400 "Cannot find suitable handler"); ``/invocations`` ignores ``model`` (only vLLM's own
  ``/v1`` routes answer 404 for a name it does not serve: the ``model404`` fault scripts that); errors are
  ``{"error": {"message", "type", "param", "code": <status>}}``, in a stream as a ``data:`` event; streams end with
  ``data: [DONE]``; usage only with ``stream_options.include_usage``, in a last chunk with no choices; tool calls
  stream as ``delta.tool_calls`` (id, type and name first, then argument pieces); ``reasoning`` (vLLM 0.29's
  name; older versions said ``reasoning_content``) in the message and deltas when a reasoning parser is on; message
  fields it does not use are ``null``. tests/engine/test_emulator_agrees.py pairs these shapes with a real vLLM.
- TGI 3.3.6 (``router/src/sagemaker.rs``, ``lib.rs``, ``chat.rs``, ``infer/mod.rs``): chat through the untagged
  ``SagemakerRequest`` enum (a body fitting no variant is a 422); ``stop`` a list only, ``response_format`` its
  ``{"type", "value"}`` grammar, a message body either ``content`` or ``tool_calls``; answers with ``"id": ""``,
  a tool-call message without ``content``, ``usage: null`` on every chunk, the usage in a last chunk without
  choices; a stream error is ``{"error": {"message", "http_status_code": 422}}``.

Each function returns ``(status, body)`` for a non-stream answer, or the SSE byte events for a stream; a status
other than 200 becomes a SageMaker ``ModelError`` in the emulator.
"""

from __future__ import annotations

import json
import time
from typing import Any

VLLM_FINGERPRINT = "vllm-0.29.0-emulated"  # vLLM 0.29 stamps `vllm-<version>-<hash>`
VLLM_ERROR_TYPES = {400: "BadRequestError", 404: "NotFoundError", 429: "TooManyRequests", 500: "InternalServerError"}


class EngineRefusal(Exception):
    """The engine refuses the request before generating: a status and the engine's error body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body))
        self.status = status
        self.body = body


def vllm_error(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    kind = VLLM_ERROR_TYPES.get(status, "InternalServerError")
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def tgi_error(message: str, kind: str = "validation") -> dict[str, Any]:
    return {"error": message, "error_type": kind}


def _words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(p.get("text") if isinstance(p, dict) else p) for p in value)
    return 0


def prompt_tokens(payload: dict[str, Any]) -> int:
    if "messages" in payload:
        return sum(_words(m.get("content")) for m in payload["messages"])
    return _words(payload.get("prompt"))


def check_vllm(payload: dict[str, Any]) -> None:
    if "messages" not in payload and "prompt" not in payload:
        raise EngineRefusal(
            400,
            vllm_error(
                400, "Cannot find suitable handler for request. Expected one of: ['ChatCompletionRequest', "
                "'CompletionRequest']"
            ),
        )  # fmt: skip
    fmt = payload.get("response_format")
    if fmt is not None and (fmt.get("type") not in ("text", "json_object", "json_schema") or "value" in fmt):
        raise EngineRefusal(400, vllm_error(400, "response_format: invalid", "response_format"))
    if fmt is not None and fmt["type"] == "json_schema" and "json_schema" not in fmt:
        raise EngineRefusal(400, vllm_error(400, "response_format.json_schema: missing", "response_format"))


def check_tgi_chat(payload: dict[str, Any]) -> None:
    """What TGI's serde deserialisation would refuse (422: the body fits no SagemakerRequest variant)."""

    def refuse(why: str) -> EngineRefusal:
        return EngineRefusal(
            422, tgi_error(f"Failed to deserialize the JSON body into the target type: data did not match any "
                           f"variant of untagged enum SagemakerRequest ({why})")
        )  # fmt: skip

    if "stop" in payload and not isinstance(payload["stop"], list):
        raise refuse("stop")
    fmt = payload.get("response_format")
    if fmt is not None and (
        fmt.get("type") not in ("json", "json_object", "regex", "json_schema") or "value" not in fmt
    ):
        raise refuse("response_format")
    if fmt is not None and fmt["type"] == "json_schema" and "schema" not in fmt["value"]:
        raise refuse("response_format.value.schema")
    if "logit_bias" in payload and not isinstance(payload["logit_bias"], list):
        raise refuse("logit_bias")
    for message in payload["messages"]:
        if ("content" in message) == ("tool_calls" in message):
            raise refuse("message body: content or tool_calls")
        content = message.get("content")
        if isinstance(content, list) and any(p.get("type") not in ("text", "image_url") for p in content):
            raise refuse("content part")
        if content is None and "tool_calls" not in message:
            raise refuse("content null")


def _limit(payload: dict[str, Any]) -> int | None:
    value = payload.get("max_tokens", payload.get("max_completion_tokens"))
    return value if isinstance(value, int) else None


def plan_answer(scenario: Any, payload: dict[str, Any]) -> tuple[list[str], list[dict[str, str]], str]:
    """The text tokens, the tool calls and the OpenAI finish reason the model produces for ``payload``."""
    wants_tools = bool(payload.get("tools")) and payload.get("tool_choice") != "none"
    # A tool's result answered: the model writes its answer (as agent loops expect), unless a tool is forced.
    answered = (payload.get("messages") or [{}])[-1].get("role") == "tool" and payload.get("tool_choice") != "required"
    if "messages" in payload and wants_tools and scenario.tool_calls and not answered:
        # vLLM (chat_completion/serving.py): "tool_calls" for auto or required, "stop" for a named function.
        return [], list(scenario.tool_calls), "stop" if _named(payload) else "tool_calls"
    tokens = list(scenario.tokens)
    limit = _limit(payload)
    if limit is not None and len(tokens) > limit:
        return tokens[:limit], [], "length"
    stops = payload.get("stop") or []
    stops = [stops] if isinstance(stops, str) else stops
    if scenario.finish_reason == "stop_sequence" and tokens and tokens[-1] in stops:
        tokens = tokens[:-1]  # both engines leave the matched stop string out of OpenAI answers
    return tokens, [], "length" if scenario.finish_reason == "length" else "stop"


def _named(payload: dict[str, Any]) -> bool:
    return isinstance(payload.get("tool_choice"), dict)


def _usage(payload: dict[str, Any], completion: int) -> dict[str, Any]:
    prompt = prompt_tokens(payload)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _logprobs(tokens: list[str], payload: dict[str, Any], engine: str = "vllm") -> dict[str, Any] | None:
    """vLLM's logprobs carry ``bytes``; TGI's ChatCompletionLogprob (``router/src/lib.rs``) has only token and
    logprob, for the token and its top tokens."""
    if not payload.get("logprobs"):
        return None
    top = payload.get("top_logprobs") or 0
    content = []
    for t in tokens:
        entry: dict[str, Any] = {"token": t, "logprob": -0.1, "top_logprobs": [{"token": t, "logprob": -0.1}] * top}
        if engine == "vllm":
            entry["bytes"] = list(t.encode())
            entry["top_logprobs"] = [{**e, "bytes": list(t.encode())} for e in entry["top_logprobs"]]
        content.append(entry)
    return {"content": content}


def chat_answer(scenario: Any, payload: dict[str, Any], engine: str) -> dict[str, Any]:
    tokens, calls, finish = plan_answer(scenario, payload)
    completion = len(tokens) + sum(len(c["arguments"].split()) + 1 for c in calls)
    text = "".join(tokens)
    if engine == "vllm":
        # A named tool call leaves content "" (the forced output was all arguments); no tool_calls key without one.
        message: dict[str, Any] = {
            "role": "assistant",
            "content": ("" if _named(payload) else None) if calls else text,
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
        }
        if calls:
            message["tool_calls"] = [
                {
                    "id": f"chatcmpl-tool-{i}",
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for i, c in enumerate(calls)
            ]
        if scenario.reasoning is not None:
            message["reasoning"] = scenario.reasoning
        return {
            "id": "chatcmpl-emulated",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": payload.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": _logprobs(tokens, payload),
                    "finish_reason": finish,
                    "stop_reason": None,
                }
            ],
            "service_tier": None,
            "system_fingerprint": VLLM_FINGERPRINT,
            "usage": {**_usage(payload, completion), "prompt_tokens_details": None},
            "prompt_logprobs": None,
            "kv_transfer_params": None,
        }
    if calls:
        tgi_message: dict[str, Any] = {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "0",
                    "type": "function",
                    "function": {"description": None, "name": c["name"], "arguments": c["arguments"]},
                }
                for c in calls
            ],
        }
    else:
        tgi_message = {"role": "assistant", "content": text}
    return {
        "object": "chat.completion",
        "id": "",
        "created": int(time.time()),
        "model": payload.get("model") or "tgi",
        "system_fingerprint": "3.3.6-sha-emulated",
        "choices": [
            {
                "index": 0,
                "message": tgi_message,
                "logprobs": _logprobs(tokens, payload, "tgi"),
                "finish_reason": "length" if finish == "length" else "stop",
            }
        ],
        "usage": _usage(payload, completion),
    }


def _pieces(text: str) -> list[str]:
    """A tool call's arguments streamed in small pieces."""
    return [text[i : i + 4] for i in range(0, len(text), 4)] or [""]


def chat_chunks(scenario: Any, payload: dict[str, Any], engine: str) -> list[dict[str, Any]]:
    """The stream's JSON chunks (without [DONE] and without an error: the emulator adds those)."""
    tokens, calls, finish = plan_answer(scenario, payload)
    created = int(time.time())
    include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
    if engine == "vllm":
        base: dict[str, Any] = {"id": "chatcmpl-emulated", "object": "chat.completion.chunk", "created": created,
                                "model": payload.get("model")}  # fmt: skip
    else:
        base = {"object": "chat.completion.chunk", "id": "", "created": created, "model": payload.get("model") or "tgi",
                "system_fingerprint": "3.3.6-sha-emulated"}  # fmt: skip

    def chunk(delta: dict[str, Any], reason: str | None = None, logprobs: Any = None) -> dict[str, Any]:
        out = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": reason}]}
        if engine == "tgi":
            out["usage"] = None
        return out

    chunks: list[dict[str, Any]] = []
    if engine == "vllm":
        chunks.append(chunk({"role": "assistant", "content": ""}))
        words = (scenario.reasoning or "").split(" ") if scenario.reasoning else []
        for i, word in enumerate(words):
            chunks.append(chunk({"reasoning": word + (" " if i < len(words) - 1 else "")}))
    for i, token in enumerate(tokens):
        last = i == len(tokens) - 1 and not calls
        delta = {"content": token} if engine == "vllm" else {"role": "assistant", "content": token}
        reason = None
        if last and engine == "tgi":
            reason = "length" if finish == "length" else "stop"
        chunks.append(chunk(delta, reason, _logprobs([token], payload, engine)))
    for index, call in enumerate(calls):
        pieces = _pieces(call["arguments"])
        for j, piece in enumerate(pieces):
            if engine == "vllm":
                if j == 0:  # vLLM 0.29 opens a call with its id, type and name alone, then streams the arguments
                    header = {"index": index, "id": f"chatcmpl-tool-{index}", "type": "function",
                              "function": {"name": call["name"]}}  # fmt: skip
                    chunks.append(chunk({"tool_calls": [header]}))
                tool: dict[str, Any] = {"index": index, "function": {"arguments": piece}}
                chunks.append(chunk({"tool_calls": [tool]}))
            else:
                tool = {"index": index, "id": "0", "type": "function",
                        "function": {"name": call["name"] if j == 0 else None, "arguments": piece}}  # fmt: skip
                last = index == len(calls) - 1 and j == len(pieces) - 1
                chunks.append(chunk({"role": "assistant", "tool_calls": [tool]}, "stop" if last else None))
    if engine == "vllm":
        # vLLM (chat_completion/serving.py) puts the finish reason on the delta of the last step: the last text
        # token when max_tokens cut it, else the end-of-sequence step, whose text is "" ({} through a tool parser).
        if finish == "length" and tokens and not calls:
            chunks[-1]["choices"][0]["finish_reason"] = finish
        else:
            chunks.append(chunk({} if calls else {"content": ""}, finish))
        if not include_usage:  # the fingerprint goes on the last chunk: the finish, or else the usage chunk
            chunks[-1]["system_fingerprint"] = VLLM_FINGERPRINT
    elif not tokens and not calls:
        chunks.append(chunk({"role": "assistant", "content": ""}, finish))
    if include_usage:
        completion = len(tokens) + sum(len(c["arguments"].split()) + 1 for c in calls)
        usage_chunk = {**base, "choices": [], "usage": _usage(payload, completion)}
        if engine == "vllm":
            usage_chunk["system_fingerprint"] = VLLM_FINGERPRINT
        chunks.append(usage_chunk)
    return chunks


def completion_answer(scenario: Any, payload: dict[str, Any]) -> dict[str, Any]:
    tokens, _, finish = plan_answer(scenario, payload)
    stop_reason = _stop_reason(scenario, payload, finish)
    text = ("" if not payload.get("echo") else str(payload["prompt"])) + "".join(tokens)
    return {
        "id": "cmpl-emulated",
        "object": "text_completion",
        "created": int(time.time()),
        "model": payload.get("model"),
        "system_fingerprint": VLLM_FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "text": text,
                "logprobs": None,
                "finish_reason": finish,
                "stop_reason": stop_reason,
                "prompt_logprobs": None,
            }
        ],
        "usage": {**_usage(payload, len(tokens)), "prompt_tokens_details": None},
        "kv_transfer_params": None,
    }


def _stop_reason(scenario: Any, payload: dict[str, Any], finish: str) -> str | None:
    if finish != "stop" or scenario.finish_reason != "stop_sequence":
        return None
    stops = payload.get("stop") or []
    return stops[0] if isinstance(stops, list) and stops else stops or None


def completion_chunks(scenario: Any, payload: dict[str, Any]) -> list[dict[str, Any]]:
    tokens, _, finish = plan_answer(scenario, payload)
    base = {"id": "cmpl-emulated", "object": "text_completion", "created": int(time.time()), "model": payload["model"]}
    chunks = []
    # vLLM puts the prompt before the first piece of text when echo is set (vllm 0.29,
    # vllm/entrypoints/openai/completion/serving.py: "echo the prompt and first token").
    echo = str(payload["prompt"]) if payload.get("echo") else ""
    for i, token in enumerate(tokens):
        last = i == len(tokens) - 1
        choice = {
            "index": 0,
            "text": (echo if i == 0 else "") + token,
            "logprobs": None,
            "finish_reason": finish if last else None,
            "stop_reason": _stop_reason(scenario, payload, finish) if last else None,
        }
        chunks.append({**base, "choices": [choice], "usage": None})
    if not tokens:
        chunks.append({**base, "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": finish}]})
    if (payload.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": _usage(payload, len(tokens))})
    chunks[-1]["system_fingerprint"] = VLLM_FINGERPRINT  # vLLM stamps the last chunk only
    return chunks


def choice_count(payload: dict[str, Any]) -> int:
    """vLLM's choices for ``payload``: ``n`` per prompt (a completions prompt may be a list of prompts: strings or
    token-id lists), indexed prompt by prompt (``vllm/entrypoints/openai/completion/serving.py``)."""
    n = payload.get("n") or 1
    prompt = payload.get("prompt")
    several = isinstance(prompt, list) and bool(prompt) and isinstance(prompt[0], str | list)
    return n * (len(prompt) if several and isinstance(prompt, list) else 1)


def _scaled(usage: Any, copies: int) -> Any:
    if not isinstance(usage, dict):
        return usage
    completion = usage["completion_tokens"] * copies
    return {**usage, "completion_tokens": completion, "total_tokens": usage["prompt_tokens"] + completion}


def answer_per_choice(answer: dict[str, Any], copies: int) -> dict[str, Any]:
    """The one-choice answer as vLLM's answer with ``copies`` choices (usage counts every choice's tokens)."""
    if copies == 1:
        return answer
    choice = answer["choices"][0]
    return {
        **answer,
        "choices": [{**choice, "index": i} for i in range(copies)],
        "usage": _scaled(answer.get("usage"), copies),
    }


def chunks_per_choice(chunks: list[dict[str, Any]], copies: int) -> list[dict[str, Any]]:
    """A one-choice stream as vLLM streams ``copies`` choices: each chunk once per choice index, in turn."""
    if copies == 1:
        return chunks
    out: list[dict[str, Any]] = []
    for chunk in chunks:
        if not chunk.get("choices"):
            out.append({**chunk, "usage": _scaled(chunk.get("usage"), copies)})
            continue
        out.extend({**chunk, "choices": [{**chunk["choices"][0], "index": i}]} for i in range(copies))
    return out


def stream_error(engine: str, message: str) -> dict[str, Any]:
    if engine == "vllm":
        return vllm_error(500, message)
    return {"error": {"message": message, "http_status_code": 422}}
