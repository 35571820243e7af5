"""The request policy: the API answers what the engine answers, unless a documented reason refuses a field.

One table (``CHAT_FIELDS``, ``COMPLETION_FIELDS``) says, for every OpenAI request field and every vLLM request
field, what happens to it on each path: ``passed`` to the engine, ``mapped`` to what the engine takes, accepted
with ``no effect``, or ``refused`` with the reason (a 400 naming the field). ``docs/api-fields.md`` is generated
from it (``python lambda/chat_proxy/chatapi/policy.py``) and a test keeps both equal, and keeps the table equal
to the request schemas, OpenAI's OpenAPI document and vLLM's request models.

The paths (columns):

- ``vllm``: vLLM's OpenAI server renders the chat template (``PROMPT_FAMILY=server``, ``ENGINE=vllm``); for
  ``/v1/completions`` every vLLM deployment (completions use no chat template);
- ``tgi``: TGI's Messages API renders the template (``PROMPT_FAMILY=server``, ``ENGINE=tgi``); for
  ``/v1/completions`` TGI's ``/generate`` dialect;
- ``proxy``: the proxy renders the prompt itself (``PROMPT_FAMILY`` falcon, chatml, llama2, mistral) and speaks
  TGI's ``/generate`` dialect to either engine (chat only).

vLLM's own request fields (``VLLM_CHAT_FIELDS``, ``VLLM_COMPLETION_FIELDS``: the fields of vLLM 0.29.0's
``ChatCompletionRequest`` and ``CompletionRequest``, printed by ``tools/vllm_request_fields.py``) that OpenAI's
schema lacks reach the engine only on the ``vllm`` path; what clients send them as (the openai client's
``extra_body``) arrives as top-level JSON fields. Refused there are the fields that would let a caller make the
server run or load caller-supplied code or data, fetch or read media on the caller's terms, reach other requests'
state, or take scheduling or ids out of the operator's hands (see each reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatapi.errors import ApiError

VLLM_VERSION = "0.29.0"
# tools/vllm_request_fields.py, run with vLLM 0.29.0 (the version of the Hugging Face vLLM DLC the stack deploys).
VLLM_CHAT_FIELDS = frozenset(
    {
        "add_generation_prompt", "add_special_tokens", "allowed_token_ids", "bad_words", "cache_salt",
        "chat_template", "chat_template_kwargs", "continue_final_message", "documents", "ec_transfer_params",
        "echo", "frequency_penalty", "ignore_eos", "include_reasoning", "include_stop_str_in_output",
        "kv_transfer_params", "length_penalty", "logit_bias", "logprob_token_ids", "logprobs",
        "max_completion_tokens", "max_tokens", "media_io_kwargs", "messages", "min_p", "min_tokens",
        "mm_processor_kwargs", "model", "n", "parallel_tool_calls", "presence_penalty", "priority",
        "prompt_logprobs", "reasoning_effort", "repetition_detection", "repetition_penalty", "request_id",
        "response_format", "return_assistant_tokens_mask", "return_prompt_text", "return_token_ids",
        "return_token_offsets", "return_tokens_as_token_ids", "routed_experts_prompt_start", "seed", "session_id",
        "skip_special_tokens", "spaces_between_special_tokens", "stop", "stop_token_ids", "stream",
        "stream_interval", "stream_options", "structured_outputs", "temperature", "thinking_token_budget",
        "tool_choice", "tools", "top_k", "top_logprobs", "top_p", "truncate_prompt_tokens", "truncation_side",
        "use_beam_search", "user", "vllm_xargs",
    }
)  # fmt: skip
VLLM_COMPLETION_FIELDS = frozenset(
    {
        "add_special_tokens", "allowed_token_ids", "bad_words", "cache_salt", "ec_transfer_params", "echo",
        "frequency_penalty", "ignore_eos", "include_stop_str_in_output", "kv_transfer_params", "length_penalty",
        "logit_bias", "logprob_token_ids", "logprobs", "max_tokens", "min_p", "min_tokens", "model", "n",
        "presence_penalty", "priority", "prompt", "prompt_embeds", "prompt_logprobs", "repetition_detection",
        "repetition_penalty", "request_id", "response_format", "return_token_ids", "return_token_offsets",
        "return_tokens_as_token_ids", "routed_experts_prompt_start", "seed", "session_id", "skip_special_tokens",
        "spaces_between_special_tokens", "stop", "stop_token_ids", "stream", "stream_interval", "stream_options",
        "structured_outputs", "suffix", "temperature", "thinking_token_budget", "top_k", "top_p",
        "truncate_prompt_tokens", "truncation_side", "use_beam_search", "user", "vllm_xargs",
    }
)  # fmt: skip

PASSED = "passed"
NO_EFFECT = "accepted, no effect"


@dataclass(frozen=True, slots=True)
class Rule:
    """What one request field does on each path; a text starting with ``refused`` is a 400 with that reason."""

    vllm: str
    tgi: str
    proxy: str = ""  # chat only
    source: str = "OpenAI"  # OpenAI, vLLM, or "vLLM < 0.12" for the renamed guided_* fields


def refused(rule_text: str) -> bool:
    return rule_text.startswith("refused")


_TGI_NONE = "refused: a vLLM parameter; TGI has no equivalent"
_PROXY_NONE = "refused: a vLLM parameter; needs prompt_family=server on engine vllm"
_PROXY_TEMPLATE = "refused: needs the engine's chat template (prompt_family=server)"
_TGI_ONE = "refused above 1: TGI generates one choice per request"


def _vllm(text: str = PASSED) -> Rule:
    return Rule(vllm=text, tgi=_TGI_NONE, proxy=_PROXY_NONE, source="vLLM")


def _legacy(target: str) -> Rule:
    text = f"mapped to structured_outputs.{target} (vLLM 0.29 ignores the old name silently)"
    return Rule(vllm=text, tgi=_TGI_NONE, proxy=_PROXY_NONE, source="vLLM < 0.12")


_INFO = Rule(NO_EFFECT, NO_EFFECT, NO_EFFECT)

# Reasons for the vLLM fields refused on every path (docs/api-fields.md lists them).
VLLM_REFUSED: dict[str, str] = {
    "chat_template": "refused: a caller-supplied Jinja template runs on the server; vLLM itself refuses it unless "
    "started with --trust-request-chat-template, which this app never sets",
    "media_io_kwargs": "refused: sets how the server fetches and decodes media (the operator's fetch rules apply)",
    "mm_processor_kwargs": "refused: overrides the image processor (sizes, tiles), bypassing the operator's "
    "limits on image tokens and memory",
    "kv_transfer_params": "refused: disaggregated-serving internals that address other requests' KV cache",
    "ec_transfer_params": "refused: disaggregated-serving internals that address other requests' encoder cache",
    "vllm_xargs": "refused: free-form arguments for custom server extensions",
    "priority": "refused: scheduling order is the operator's (vLLM refuses it unless started with priority "
    "scheduling, and with it one caller could jump the queue)",
    "request_id": "refused: the API assigns request ids (x-request-id); a caller-chosen engine id could collide "
    "with another caller's",
    "prompt_embeds": "refused: the server would deserialize caller-supplied tensors (torch.load; CVE-2025-62164) "
    "and needs --enable-prompt-embeds",
}

# vLLM's own fields that OpenAI's schema lacks and that pass to the engine unchanged.
_VLLM_CHAT_PASSED = (
            "add_generation_prompt", "add_special_tokens", "allowed_token_ids", "bad_words", "cache_salt",
            "chat_template_kwargs", "continue_final_message", "documents", "echo", "ignore_eos",
            "include_reasoning", "include_stop_str_in_output", "length_penalty", "logprob_token_ids", "min_p",
            "min_tokens", "prompt_logprobs", "repetition_detection", "repetition_penalty", "return_prompt_text",
            "return_token_ids", "return_tokens_as_token_ids", "routed_experts_prompt_start", "session_id",
            "skip_special_tokens", "spaces_between_special_tokens", "stop_token_ids", "stream_interval",
            "structured_outputs", "thinking_token_budget", "top_k", "truncate_prompt_tokens", "truncation_side",
            "use_beam_search",
)  # fmt: skip
_VLLM_COMPLETION_PASSED = (
            "add_special_tokens", "allowed_token_ids", "bad_words", "cache_salt", "ignore_eos",
            "include_stop_str_in_output", "length_penalty", "logprob_token_ids", "min_p", "min_tokens",
            "prompt_logprobs", "repetition_detection", "repetition_penalty", "response_format",
            "return_token_ids", "return_tokens_as_token_ids", "routed_experts_prompt_start", "session_id",
            "skip_special_tokens", "spaces_between_special_tokens", "stop_token_ids", "stream_interval",
            "structured_outputs", "thinking_token_budget", "top_k", "truncate_prompt_tokens", "truncation_side",
            "use_beam_search",
)  # fmt: skip

CHAT_FIELDS: dict[str, Rule] = {
    "messages": Rule(PASSED, "mapped to TGI's message shapes", "rendered by the proxy's prompt format"),
    "model": Rule(
        "must name the served model or an alias (else 404 model_not_found); the engine gets the served name",
        "must name the served model or an alias (else 404 model_not_found); the engine gets the served name",
        "must name the served model or an alias (else 404 model_not_found)",
    ),
    "frequency_penalty": Rule(PASSED, PASSED, _PROXY_TEMPLATE),
    "presence_penalty": Rule(PASSED, PASSED, _PROXY_TEMPLATE),
    "logit_bias": Rule(
        PASSED,
        "refused unless empty: TGI's ChatRequest documents it as unused",
        "refused unless empty: TGI's /generate has no logit bias",
    ),
    "logprobs": Rule(PASSED, PASSED, _PROXY_TEMPLATE),
    "top_logprobs": Rule(PASSED, PASSED, _PROXY_TEMPLATE),
    "max_tokens": Rule(
        "passed; omitted stays omitted (vLLM: the rest of the context) unless the operator sets default_max_tokens",
        "passed; omitted: default_max_tokens, else min(512, max_total_tokens - max_input_tokens)",
        "mapped to max_new_tokens; omitted: default_max_tokens, else min(512, max_total - max_input)",
    ),
    "max_completion_tokens": Rule(
        "passed; as max_tokens",
        "mapped to max_tokens",
        "mapped to max_new_tokens",
    ),
    "n": Rule(PASSED, _TGI_ONE, "refused above 1: TGI's /generate dialect, which this path speaks, has one choice"),
    "parallel_tool_calls": Rule(PASSED, "accepted, no effect (TGI decides)", NO_EFFECT),
    "response_format": Rule(
        PASSED, "mapped to TGI's grammar (json, json_schema)", _PROXY_TEMPLATE + " unless type is text"
    ),
    "seed": Rule(PASSED, PASSED, "mapped to parameters.seed"),
    "stop": Rule(PASSED, "mapped to a list", "mapped to parameters.stop, after the prompt format's own stops"),
    "stream": Rule(PASSED, PASSED, "mapped to TGI's stream, answered as OpenAI chunks"),
    "stream_options": Rule(
        "passed; the engine is always asked for usage (metering), the client gets it only if asked",
        "passed; the engine is always asked for usage (metering), the client gets it only if asked",
        "mapped: usage from TGI's details",
    ),
    "temperature": Rule(
        "passed; omitted stays omitted (vLLM applies the model's generation_config)",
        PASSED,
        "mapped to do_sample/temperature (omitted: 1, OpenAI's default; TGI reads no generation_config)",
    ),
    "top_p": Rule(PASSED, PASSED, "mapped to parameters.top_p"),
    "tools": Rule(PASSED, PASSED, _PROXY_TEMPLATE),
    "tool_choice": Rule(PASSED, PASSED, _PROXY_TEMPLATE + " unless none or auto"),
    "reasoning_effort": Rule(
        "passed (vLLM sets chat_template_kwargs.enable_thinking from it unless the request sets that)",
        "refused: TGI has no reasoning switch",
        "refused: the proxy's prompt formats have no reasoning switch",
    ),
    "functions": Rule(
        "mapped to tools; the answer's tool call comes back as message.function_call (OpenAI's legacy shape)",
        "mapped to tools; the answer's tool call comes back as message.function_call (OpenAI's legacy shape)",
        _PROXY_TEMPLATE,
    ),
    "function_call": Rule("mapped to tool_choice", "mapped to tool_choice", _PROXY_TEMPLATE + " unless none or auto"),
    "user": _INFO,
    "metadata": _INFO,
    "store": Rule(
        "accepted, no effect (nothing is stored)", "accepted, no effect (nothing is stored)", "accepted, no effect"
    ),
    "service_tier": _INFO,
    "prompt_cache_key": Rule("accepted, no effect (vLLM's prefix cache needs no key)", NO_EFFECT, NO_EFFECT),
    "prompt_cache_retention": _INFO,
    "prompt_cache_options": _INFO,
    "safety_identifier": _INFO,
    "verbosity": _INFO,
    "prediction": Rule(
        "accepted, no effect (a latency hint: the answer is the same without it)",
        "accepted, no effect (a latency hint: the answer is the same without it)",
        "accepted, no effect (a latency hint: the answer is the same without it)",
    ),
    "modalities": Rule(
        '["text"] accepted (no effect); audio refused: these models answer in text only',
        '["text"] accepted (no effect); audio refused: these models answer in text only',
        '["text"] accepted (no effect); audio refused: these models answer in text only',
    ),
    "audio": Rule(
        "null accepted (no effect); an object refused: no audio output",
        "null accepted (no effect); an object refused: no audio output",
        "null accepted (no effect); an object refused: no audio output",
    ),
    "web_search_options": Rule(
        "refused: this API has no web search; the model would answer without the search asked for",
        "refused: this API has no web search; the model would answer without the search asked for",
        "refused: this API has no web search; the model would answer without the search asked for",
    ),
    "moderation": Rule(
        "refused: this API runs no moderation; accepting it would skip a check the caller asked for",
        "refused: this API runs no moderation; accepting it would skip a check the caller asked for",
        "refused: this API runs no moderation; accepting it would skip a check the caller asked for",
    ),
    # vLLM's own fields (ChatCompletionRequest, vLLM 0.29.0) that OpenAI's schema lacks.
    **{name: _vllm() for name in _VLLM_CHAT_PASSED},
    "return_token_offsets": _vllm("passed (vLLM uses it only on its /render routes)"),
    "return_assistant_tokens_mask": _vllm("passed (vLLM uses it only on its /render routes)"),
    **{name: _vllm(VLLM_REFUSED[name]) for name in VLLM_REFUSED if name in VLLM_CHAT_FIELDS},
    # Renamed in vLLM 0.12 (structured_outputs); clients written for older vLLM still send them.
    "guided_json": _legacy("json"),
    "guided_regex": _legacy("regex"),
    "guided_choice": _legacy("choice"),
    "guided_grammar": _legacy("grammar"),
    "guided_whitespace_pattern": _legacy("whitespace_pattern"),
    "guided_decoding_backend": Rule(
        "accepted, no effect (the server's structured-outputs backend is used)", _TGI_NONE, _PROXY_NONE, "vLLM < 0.12"
    ),
}

_C_TGI_ONE = "refused above 1: TGI generates one completion per request"
COMPLETION_FIELDS: dict[str, Rule] = {
    "prompt": Rule(
        "passed: a string, a list of strings, token ids, or a list of token-id lists (one choice set each)",
        "refused unless one string: TGI takes one text prompt",
    ),
    "model": Rule(
        "must name the served model or an alias (else 404 model_not_found); the engine gets the served name",
        "must name the served model or an alias (else 404 model_not_found)",
    ),
    "best_of": Rule("refused above 1: vLLM 0.29 has no best_of (it would ignore it)", "refused above 1: not supported"),
    "echo": Rule(PASSED, "mapped: the proxy prepends the prompt"),
    "frequency_penalty": Rule(PASSED, "refused unless 0: TGI's /generate has no frequency penalty"),
    "presence_penalty": Rule(PASSED, "refused unless 0: TGI's /generate has no presence penalty"),
    "logit_bias": Rule(PASSED, "refused unless empty: TGI's /generate has no logit bias"),
    "logprobs": Rule("passed (0 included: the sampled token's logprob)", "refused: not returned on this path"),
    "max_tokens": Rule(
        "passed; omitted stays omitted (vLLM: 16) unless the operator sets default_max_tokens",
        "mapped to max_new_tokens; omitted: default_max_tokens, else min(512, max_total - max_input)",
    ),
    "n": Rule(PASSED, _C_TGI_ONE),
    "seed": Rule(PASSED, "mapped to parameters.seed"),
    "stop": Rule(PASSED, "mapped to parameters.stop"),
    "stream": Rule(PASSED, "mapped to TGI's stream, answered as OpenAI chunks"),
    "stream_options": Rule(
        "passed; the engine is always asked for usage (metering), the client gets it only if asked",
        "mapped: usage from TGI's details",
    ),
    "suffix": Rule(
        "passed (vLLM 0.29 answers 400 'suffix is not currently supported' for any suffix)",
        "refused unless empty: not supported",
    ),
    "temperature": Rule(
        "passed; omitted stays omitted (vLLM applies the model's generation_config)",
        "mapped to do_sample/temperature (omitted: 1, OpenAI's default)",
    ),
    "top_p": Rule(PASSED, "mapped to parameters.top_p"),
    "user": Rule(NO_EFFECT, NO_EFFECT),
    **{name: Rule(PASSED, _TGI_NONE, source="vLLM") for name in _VLLM_COMPLETION_PASSED},
    "return_token_offsets": Rule(
        "passed (vLLM uses it only on its /render routes)", "refused: a vLLM parameter", source="vLLM"
    ),
    **{
        name: Rule(VLLM_REFUSED[name], VLLM_REFUSED[name], source="vLLM")
        for name in VLLM_REFUSED
        if name in VLLM_COMPLETION_FIELDS
    },
    "guided_json": Rule(CHAT_FIELDS["guided_json"].vllm, _TGI_NONE, source="vLLM < 0.12"),
    "guided_regex": Rule(CHAT_FIELDS["guided_regex"].vllm, _TGI_NONE, source="vLLM < 0.12"),
    "guided_choice": Rule(CHAT_FIELDS["guided_choice"].vllm, _TGI_NONE, source="vLLM < 0.12"),
    "guided_grammar": Rule(CHAT_FIELDS["guided_grammar"].vllm, _TGI_NONE, source="vLLM < 0.12"),
    "guided_whitespace_pattern": Rule(CHAT_FIELDS["guided_whitespace_pattern"].vllm, _TGI_NONE, source="vLLM < 0.12"),
    "guided_decoding_backend": Rule(CHAT_FIELDS["guided_decoding_backend"].vllm, _TGI_NONE, source="vLLM < 0.12"),
}

LEGACY_GUIDED = {
    "guided_json": "json",
    "guided_regex": "regex",
    "guided_choice": "choice",
    "guided_grammar": "grammar",
    "guided_whitespace_pattern": "whitespace_pattern",
}


def engine_fields(table: dict[str, Rule], declared: set[str] | frozenset[str]) -> frozenset[str]:
    """The table's fields the request schema does not declare: they travel as a request's engine extras."""
    return frozenset(name for name in table if name not in declared)


def _refuse(param: str, reason: str) -> ApiError:
    return ApiError(
        400, f"{param} is not supported: {reason.removeprefix('refused: ')}.", param=param, code="unsupported_parameter"
    )


def engine_extras(extras: dict[str, Any], table: dict[str, Rule], path: str) -> dict[str, Any]:
    """The vLLM fields of a request as the engine gets them on ``path`` (``vllm``, ``tgi`` or ``proxy``); a field
    the table refuses on that path is a 400 naming it and the reason."""
    out: dict[str, Any] = {}
    guided: dict[str, Any] = {}
    for name, value in extras.items():
        rule = table[name]
        text = getattr(rule, path) or rule.tgi
        if refused(text):
            raise _refuse(name, text)
        if name in LEGACY_GUIDED:
            guided[LEGACY_GUIDED[name]] = value
        elif name == "guided_decoding_backend":
            continue
        else:
            out[name] = value
    if guided:
        if "structured_outputs" in out:
            raise ApiError(
                400,
                "guided_* (vLLM's old names) and structured_outputs disagree; send structured_outputs only.",
                param=next(iter(k for k in extras if k in LEGACY_GUIDED)),
                code="invalid_value",
            )
        out["structured_outputs"] = guided
    return out


COLUMNS = {
    "chat": (("vllm", "vLLM (prompt_family=server)"), ("tgi", "TGI (prompt_family=server)"),
             ("proxy", "proxy-rendered prompt (either engine)")),
    "completions": (("vllm", "vLLM"), ("tgi", "TGI")),
}  # fmt: skip


def markdown_table(route: str) -> str:
    """The table of ``docs/api-fields.md`` for ``route`` (``chat`` or ``completions``)."""
    table = CHAT_FIELDS if route == "chat" else COMPLETION_FIELDS
    columns = COLUMNS[route]
    lines = [
        "| field | from | " + " | ".join(title for _, title in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    order = sorted(table, key=lambda n: ({"OpenAI": 0, "vLLM": 1}.get(table[n].source, 2), n))
    for name in order:
        rule = table[name]
        cells = [getattr(rule, key) for key, _ in columns]
        lines.append(f"| `{name}` | {rule.source} | " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print("## POST /v1/chat/completions\n")
    print(markdown_table("chat"))
    print("\n## POST /v1/completions\n")
    print(markdown_table("completions"))
