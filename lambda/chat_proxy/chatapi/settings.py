"""Configuration of the chat proxy, read once from the environment at start-up.

The CDK ``ChatApi`` construct mirrors this table; ``make dev`` reads the same variables.

=============================== ======================================= ==========================================
Variable                        Default                                 Meaning
=============================== ======================================= ==========================================
``SAGEMAKER_ENDPOINT_NAME``     (required)                              SageMaker endpoint to invoke
``MODEL_ID``                    ``tgi``                                 name reported by /v1/models and responses,
                                                                        and the served model name sent to the engine
``PROMPT_FAMILY``               ``falcon``                              one of ``prompts.FAMILIES``, or ``server``
                                                                        (the engine renders the chat template)
``ENGINE``                      ``tgi``                                 the endpoint's engine: ``tgi`` or ``vllm``
``MAX_INPUT_TOKENS``            ``1024``                                the container's MAX_INPUT_LENGTH
``MAX_TOTAL_TOKENS``            ``2048``                                the container's MAX_TOTAL_TOKENS
``MODEL_ALIASES``               (none)                                  comma-separated other names of the model
                                                                        (accepted as ``model`` and listed)
``MAX_NEW_TOKENS_CAP``          MAX_TOTAL_TOKENS - MAX_INPUT_TOKENS     TGI: hard cap on max_tokens /
                                                                        max_new_tokens (vLLM checks the context)
``DEFAULT_MAX_NEW_TOKENS``      TGI: ``min(512, MAX_NEW_TOKENS_CAP)``;  used when the request gives none; on vLLM
                                vLLM: (none)                            unset leaves it to the engine
``SYSTEM_PROMPT``               (none)                                  system prompt when the chat has none
``LOG_PROMPTS``                 ``false``                               log prompt and completion text
``REQUEST_BODY_LIMIT_BYTES``    ``1048576``                             larger request bodies get 413
``BACKEND_READ_TIMEOUT_SECONDS`` ``500``                                boto3 read timeout towards the endpoint
``INFERENCE_COMPONENT_NAME``    (none)                                  inference component named on every call
``ACTIVE_HOURS``                (none)                                  ``"MON-FRI 08:00-19:00 Europe/Berlin"``: when
                                                                        the component is scheduled to run
``IMAGE_URL_DOMAINS``           (none: ``data:`` URLs only)             https hosts media URLs may name (vLLM
                                                                        only; ``chatapi.media``), comma-separated
``WAKE_WAIT_SECONDS``           ``360``                                 with INFERENCE_COMPONENT_NAME: hold a call
                                                                        that meets no capacity this long while a
                                                                        copy starts (``chatapi.wake``); 0: no wake
``WAKE_POLL_SECONDS``           ``5``                                   held requests: model probe and keep-alive
                                                                        interval
``MODEL_ROUTES``                (none: one model)                       JSON map of several models, each its own
                                                                        inference component (``chatapi.model_routes``)
=============================== ======================================= ==========================================

Also honoured, through the libraries: boto3's ``AWS_REGION``, credentials and
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` (point it at an emulator; ``AWS_REGION`` is passed to boto3 explicitly
because botocore itself only reads ``AWS_DEFAULT_REGION``), Powertools' ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_LOG_LEVEL``. Booleans accept true/false/1/0/yes/no. A bad value raises ``SettingsError`` naming the
variable, the value and what is accepted, so a misconfigured Lambda fails at init rather than per request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from chatapi.active_hours import ActiveHours, ActiveHoursError
from chatapi.media import IMAGE_URL_DOMAINS, parse_domains
from chatapi.model_routes import MODEL_ROUTES, ModelRoute, ModelRoutesError, parse_model_routes
from chatapi.prompts import FAMILIES

SAGEMAKER_ENDPOINT_NAME = "SAGEMAKER_ENDPOINT_NAME"
MODEL_ID = "MODEL_ID"
MODEL_ALIASES = "MODEL_ALIASES"
PROMPT_FAMILY = "PROMPT_FAMILY"
ENGINE = "ENGINE"
MAX_INPUT_TOKENS = "MAX_INPUT_TOKENS"
MAX_TOTAL_TOKENS = "MAX_TOTAL_TOKENS"
MAX_NEW_TOKENS_CAP = "MAX_NEW_TOKENS_CAP"
DEFAULT_MAX_NEW_TOKENS = "DEFAULT_MAX_NEW_TOKENS"
SYSTEM_PROMPT = "SYSTEM_PROMPT"
LOG_PROMPTS = "LOG_PROMPTS"
REQUEST_BODY_LIMIT_BYTES = "REQUEST_BODY_LIMIT_BYTES"
BACKEND_READ_TIMEOUT_SECONDS = "BACKEND_READ_TIMEOUT_SECONDS"
INFERENCE_COMPONENT_NAME = "INFERENCE_COMPONENT_NAME"
ACTIVE_HOURS = "ACTIVE_HOURS"
WAKE_WAIT_SECONDS = "WAKE_WAIT_SECONDS"
WAKE_POLL_SECONDS = "WAKE_POLL_SECONDS"
# constructs/api/time_limits.py WAKE_WAIT_DEFAULT_SECONDS (the stack sets the variable; a test checks they agree).
WAKE_WAIT_DEFAULT_SECONDS = 360
WAKE_WAIT_MAX_SECONDS = 360

DEFAULTS: dict[str, str] = {
    MODEL_ID: "tgi",
    PROMPT_FAMILY: "falcon",
    ENGINE: "tgi",
    MAX_INPUT_TOKENS: "1024",
    MAX_TOTAL_TOKENS: "2048",
    LOG_PROMPTS: "false",
    REQUEST_BODY_LIMIT_BYTES: "1048576",
    # SageMaker's 8-minute stream limit plus 20 s (constructs/api/time_limits.py, which the Lambda's value comes from).
    BACKEND_READ_TIMEOUT_SECONDS: "500",
}
DEFAULT_MAX_NEW_TOKENS_PREFERRED = 512
CONNECT_TIMEOUT_SECONDS = 5.0

# The engine renders the model's own chat template from OpenAI messages (no proxy-side prompt).
SERVER_FAMILY = "server"
ENGINES = ("tgi", "vllm")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


class SettingsError(ValueError):
    """A configuration value is missing or invalid."""


@dataclass(frozen=True, slots=True)
class Settings:
    endpoint_name: str
    model_id: str
    prompt_family: str
    max_input_tokens: int
    max_total_tokens: int
    max_new_tokens_cap: int
    default_max_new_tokens: int
    system_prompt: str | None
    log_prompts: bool
    request_body_limit_bytes: int
    backend_read_timeout_seconds: float
    backend_connect_timeout_seconds: float = CONNECT_TIMEOUT_SECONDS
    aws_region: str | None = None
    inference_component_name: str | None = None
    engine: str = "tgi"
    active_hours: ActiveHours | None = None
    image_url_domains: tuple[str, ...] = ()
    model_aliases: tuple[str, ...] = ()
    # Set by the operator (DEFAULT_MAX_NEW_TOKENS): vLLM paths then send it when a request gives no limit.
    default_max_tokens: int | None = None
    wake_wait_seconds: int = 0
    wake_poll_seconds: float = 5.0
    # MODEL_ROUTES, in its order (empty: the one model above).
    model_routes: tuple[tuple[str, ModelRoute], ...] = ()

    @property
    def engine_bounds_tokens(self) -> bool:
        """vLLM checks max_tokens against the context itself (max_model_len - prompt); TGI needs the proxy's cap."""
        return self.engine == "vllm"

    @property
    def server_templates(self) -> bool:
        """The engine renders the chat template (``PROMPT_FAMILY=server``)."""
        return self.prompt_family == SERVER_FAMILY


def _int(env: Mapping[str, str], name: str, default: str | None = None, *, minimum: int = 1) -> int:
    raw = env.get(name, default)
    if raw is None:
        raise SettingsError(f"{name} is required")
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer; expected an integer >= {minimum}") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} is too small; expected an integer >= {minimum}")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, DEFAULTS[name]).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean; expected one of true/false/1/0/yes/no")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from ``env`` (default ``os.environ``); raise ``SettingsError`` on a bad value."""
    env = os.environ if env is None else env
    endpoint = env.get(SAGEMAKER_ENDPOINT_NAME, "").strip()
    if not endpoint:
        raise SettingsError(f"{SAGEMAKER_ENDPOINT_NAME} is required (the SageMaker endpoint to invoke)")
    model_id = env.get(MODEL_ID, DEFAULTS[MODEL_ID]).strip()
    if not model_id:
        raise SettingsError(f"{MODEL_ID} must not be empty")
    family = env.get(PROMPT_FAMILY, DEFAULTS[PROMPT_FAMILY]).strip().lower()
    if family not in FAMILIES and family != SERVER_FAMILY:
        allowed = sorted([*FAMILIES, SERVER_FAMILY])
        raise SettingsError(f"{PROMPT_FAMILY}={family!r} is not supported; expected one of {allowed}")
    engine = env.get(ENGINE, DEFAULTS[ENGINE]).strip().lower()
    if engine not in ENGINES:
        raise SettingsError(f"{ENGINE}={engine!r} is not supported; expected one of {list(ENGINES)}")
    max_input = _int(env, MAX_INPUT_TOKENS, DEFAULTS[MAX_INPUT_TOKENS])
    max_total = _int(env, MAX_TOTAL_TOKENS, DEFAULTS[MAX_TOTAL_TOKENS])
    if max_total <= max_input:
        raise SettingsError(f"{MAX_TOTAL_TOKENS}={max_total} must be greater than {MAX_INPUT_TOKENS}={max_input}")
    cap = _int(env, MAX_NEW_TOKENS_CAP, str(max_total - max_input))
    if cap > max_total - max_input:
        raise SettingsError(
            f"{MAX_NEW_TOKENS_CAP}={cap} exceeds {MAX_TOTAL_TOKENS} - {MAX_INPUT_TOKENS} = {max_total - max_input}"
        )
    operator_default = _int(env, DEFAULT_MAX_NEW_TOKENS) if env.get(DEFAULT_MAX_NEW_TOKENS) else None
    default_new = min(DEFAULT_MAX_NEW_TOKENS_PREFERRED, cap) if operator_default is None else operator_default
    if engine == "tgi" and default_new > cap:
        raise SettingsError(f"{DEFAULT_MAX_NEW_TOKENS}={default_new} exceeds {MAX_NEW_TOKENS_CAP}={cap}")
    if default_new >= max_total:
        raise SettingsError(
            f"{DEFAULT_MAX_NEW_TOKENS}={default_new} leaves no room for a prompt in {MAX_TOTAL_TOKENS}={max_total}"
        )
    system_prompt = env.get(SYSTEM_PROMPT) or None
    timeout = _int(env, BACKEND_READ_TIMEOUT_SECONDS, DEFAULTS[BACKEND_READ_TIMEOUT_SECONDS])
    try:
        domains = parse_domains(env.get(IMAGE_URL_DOMAINS, ""))
    except ValueError as exc:
        raise SettingsError(f"{IMAGE_URL_DOMAINS}: {exc}") from None
    if domains and engine != "vllm":
        # TGI fetches with redirects and checks no host (router/src/validation.rs, fetch_image): data: URLs only.
        raise SettingsError(f"{IMAGE_URL_DOMAINS} needs {ENGINE}=vllm: TGI checks no host and follows redirects")
    return Settings(
        endpoint_name=endpoint,
        model_id=model_id,
        prompt_family=family,
        max_input_tokens=max_input,
        max_total_tokens=max_total,
        max_new_tokens_cap=cap,
        default_max_new_tokens=default_new,
        system_prompt=system_prompt,
        log_prompts=_bool(env, LOG_PROMPTS),
        request_body_limit_bytes=_int(env, REQUEST_BODY_LIMIT_BYTES, DEFAULTS[REQUEST_BODY_LIMIT_BYTES]),
        backend_read_timeout_seconds=float(timeout),
        aws_region=env.get("AWS_REGION") or None,
        inference_component_name=_component(env),
        engine=engine,
        active_hours=_active_hours(env),
        image_url_domains=domains,
        model_aliases=_aliases(env, model_id),
        default_max_tokens=operator_default,
        wake_wait_seconds=_wake_wait(env),
        wake_poll_seconds=_wake_poll(env),
        model_routes=_model_routes(env),
    )


def _wake_wait(env: Mapping[str, str]) -> int:
    value = _int(env, WAKE_WAIT_SECONDS, str(WAKE_WAIT_DEFAULT_SECONDS), minimum=0)
    if value > WAKE_WAIT_MAX_SECONDS:
        raise SettingsError(
            f"{WAKE_WAIT_SECONDS}={value} is too large; expected 0 to {WAKE_WAIT_MAX_SECONDS} (a held stream and "
            "then SageMaker's 8-minute stream must fit Lambda's and API Gateway's 15 minutes)"
        )
    return value


def _wake_poll(env: Mapping[str, str]) -> float:
    raw = env.get(WAKE_POLL_SECONDS, "5").strip()
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{WAKE_POLL_SECONDS}={raw!r} is not a number; expected seconds > 0") from None
    if not 0 < value <= 60:
        raise SettingsError(f"{WAKE_POLL_SECONDS}={value} is out of range; expected more than 0, at most 60")
    return value


def _model_routes(env: Mapping[str, str]) -> tuple[tuple[str, ModelRoute], ...]:
    raw = env.get(MODEL_ROUTES, "").strip()
    if not raw:
        return ()
    try:
        return tuple(parse_model_routes(raw).items())
    except ModelRoutesError as err:
        raise SettingsError(str(err)) from None


def _active_hours(env: Mapping[str, str]) -> ActiveHours | None:
    raw = env.get(ACTIVE_HOURS, "").strip()
    if not raw:
        return None
    try:
        return ActiveHours.parse(raw)
    except ActiveHoursError as err:
        raise SettingsError(f"{ACTIVE_HOURS}: {err}") from None


def _aliases(env: Mapping[str, str], model_id: str) -> tuple[str, ...]:
    names = [n.strip() for n in env.get(MODEL_ALIASES, "").split(",") if n.strip()]
    return tuple(dict.fromkeys(n for n in names if n != model_id))


def _component(env: Mapping[str, str]) -> str | None:
    # The API's pattern for inference component names (SageMaker API reference, CreateInferenceComponent).
    name = env.get(INFERENCE_COMPONENT_NAME, "").strip()
    if name and (len(name) > 63 or not re.fullmatch(r"[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?", name)):
        raise SettingsError(
            f"{INFERENCE_COMPONENT_NAME}={name!r} is not an inference component name "
            "(letters, digits and hyphens, at most 63 characters)"
        )
    return name or None
