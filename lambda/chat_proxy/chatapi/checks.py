"""Request rules every dialect applies: the deployment's token caps, TGI's cross-field rules for ``/generate``, and
``chatapi.policy``'s table of OpenAI fields per path. Pure checks (no I/O): a bad request is a 400 naming the field
before anything is charged or sent."""

from __future__ import annotations

from typing import Any

from chatapi import policy
from chatapi.errors import ApiError, bad_request
from chatapi.schemas import ChatCompletionRequest, CompletionRequest, GenerateRequest
from chatapi.settings import Settings


def check_max_new_tokens(value: int, param: str, settings: Settings) -> None:
    """TGI refuses more than MAX_TOTAL_TOKENS - MAX_INPUT_TOKENS; vLLM checks max_model_len - prompt itself."""
    if not settings.engine_bounds_tokens and value > settings.max_new_tokens_cap:
        raise bad_request(
            f"{param}={value} exceeds this deployment's limit of {settings.max_new_tokens_cap} new tokens.", param
        )


def generate_payload(request: GenerateRequest, settings: Settings) -> dict[str, Any]:
    """The TGI payload for ``/generate``: the caller's parameters, checked against TGI's cross-field rules."""
    params = request.parameters.model_dump(exclude_none=True)
    best_of = params.get("best_of", 1)
    if best_of > 1:
        if not params.get("do_sample"):
            raise bad_request("best_of > 1 requires do_sample=true.", "parameters.best_of")
        if request.stream:
            raise bad_request("best_of > 1 is not supported when streaming.", "parameters.best_of")
        if "seed" in params:
            raise bad_request("seed cannot be set when best_of > 1.", "parameters.seed")
    if "max_new_tokens" in params:
        check_max_new_tokens(params["max_new_tokens"], "parameters.max_new_tokens", settings)
    else:
        params["max_new_tokens"] = settings.default_max_new_tokens
    if params.get("truncate", 0) > settings.max_input_tokens:
        raise bad_request(
            f"truncate must be at most the deployment's MAX_INPUT_TOKENS ({settings.max_input_tokens}).",
            "parameters.truncate",
        )
    if request.stream and params.get("decoder_input_details"):
        raise bad_request("decoder_input_details is not supported when streaming.", "parameters.decoder_input_details")
    payload: dict[str, Any] = {"inputs": request.inputs, "parameters": params}
    if request.stream:
        payload["stream"] = True
    return payload


def _policy_refusal(param: str, text: str) -> ApiError:
    reason = text.partition(": ")[2] or text
    return ApiError(400, f"{param} is not supported here: {reason}.", param=param, code="unsupported_parameter")


def check_chat_policy(request: ChatCompletionRequest, path: str) -> dict[str, Any]:
    """What ``chatapi.policy`` refuses on the dialect's ``path`` (its column of the table: ``proxy``, ``tgi`` or
    ``vllm``), as a 400 naming the field and the reason; returns the request's vLLM fields as the engine takes
    them."""
    refused = request.refused_openai_field()
    if refused is not None:
        name, reason = refused
        message = f"{name}: {reason}." if reason.startswith("send ") else f"{name} is not supported: {reason}."
        raise ApiError(400, message, param=name, code="unsupported_parameter")
    if path != "vllm":
        rules = policy.CHAT_FIELDS
        if request.n is not None and request.n > 1:
            raise _policy_refusal("n", getattr(rules["n"], path))
        if request.logit_bias:
            raise _policy_refusal("logit_bias", getattr(rules["logit_bias"], path))
        if request.reasoning_effort is not None:
            raise _policy_refusal("reasoning_effort", getattr(rules["reasoning_effort"], path))
    return policy.engine_extras(request.extras, policy.CHAT_FIELDS, path)


def resolve_max_tokens(max_tokens: int | None, max_completion_tokens: int | None, settings: Settings) -> int:
    """The new-token limit of an OpenAI request: checked against the deployment's cap, else its default."""
    if max_tokens is not None and max_completion_tokens is not None and max_tokens != max_completion_tokens:
        raise bad_request("max_tokens and max_completion_tokens disagree; send one.", "max_tokens")
    if max_completion_tokens is not None:
        check_max_new_tokens(max_completion_tokens, "max_completion_tokens", settings)
        return max_completion_tokens
    if max_tokens is not None:
        check_max_new_tokens(max_tokens, "max_tokens", settings)
        return max_tokens
    return settings.default_max_new_tokens


def check_completion_policy(request: CompletionRequest, path: str) -> dict[str, Any]:
    """``chatapi.policy`` for ``/v1/completions`` on ``path`` (``tgi`` or ``vllm``): the vLLM fields as the engine
    takes them; on TGI a 400 naming what its ``/generate`` dialect cannot do."""
    rules = policy.COMPLETION_FIELDS
    if path == "tgi":
        if request.prompt_text() is None:
            raise _policy_refusal("prompt", rules["prompt"].tgi)
        if request.n is not None and request.n > 1:
            raise _policy_refusal("n", rules["n"].tgi)
        if request.logprobs is not None:
            raise _policy_refusal("logprobs", rules["logprobs"].tgi)
        if request.logit_bias:
            raise _policy_refusal("logit_bias", rules["logit_bias"].tgi)
        if request.suffix:
            raise _policy_refusal("suffix", rules["suffix"].tgi)
    return policy.engine_extras(request.extras, rules, path)
