"""What the chat API is told: the model behind the endpoint (`ChatSettings`) and who may call how much (`ApiLimits`).

Plain frozen dataclasses, checked when built; `ChatApi` (chat_api.py) turns them into the Lambda's environment,
the stage's throttling, usage plans and the usage table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

AUTH_MODES = ("iam", "api_key")


@dataclass(frozen=True)
class ChatSettings:
    """What the chat proxy needs to know about the model behind the endpoint (mirrors chatapi/settings.py)."""

    model_id: str
    prompt_family: str = "falcon"
    # The engine behind the endpoint (`tgi` also for JumpStart's TGI image): the wire format in server mode.
    engine: str = "tgi"
    max_input_tokens: int = 1024
    max_total_tokens: int = 2048
    # Set when the model lives in an inference component (scale to zero): named on every SageMaker call.
    inference_component_name: str | None = None
    # CloudWatch namespace of the proxy's EMF token metrics (LlmChat/<stack name>); the dashboard reads it.
    metrics_namespace: str | None = None
    # The component's schedule ("MON-FRI 08:00-19:00 Europe/Berlin"): outside it the proxy says when it starts.
    active_hours: str | None = None
    # https hosts a media URL may name (chatapi/media.py); empty: data: URLs only.
    image_url_domains: tuple[str, ...] = ()
    # Other names the API accepts and lists for the model (MODEL_ALIASES): clients that read "org/name" as a
    # provider prefix need one without "/" (model_aliases()).
    model_aliases: tuple[str, ...] = ()
    # max_tokens for requests that give none (DEFAULT_MAX_NEW_TOKENS); None: the engine's (vLLM) or 512 (TGI).
    default_max_tokens: int | None = None
    # Issue 20: with an inference component, seconds a call that meets no capacity is held while the component wakes
    # (WAKE_WAIT_SECONDS; None: the default of time_limits.py; 0: no wake). constructs/api/wake_access.py.
    wake_wait_seconds: int | None = None
    # Several models on one endpoint (MODEL_ROUTES): served name or alias -> {"component", "kind", "engine", ...};
    # None: one model (today's MODEL_ID / INFERENCE_COMPONENT_NAME).
    model_routes: Mapping[str, Mapping[str, Any]] | None = None


def model_aliases(served: str, preset: str | None = None) -> tuple[str, ...]:
    """The names without ``/`` the API also answers to: the catalog preset's name (``qwen2.5-7b-instruct`` for
    ``Qwen/Qwen2.5-7B-Instruct``), else the part of the Hub id after its last ``/``."""
    alias = preset if preset and "/" not in preset else served.rsplit("/", 1)[-1]
    return (alias,) if alias and alias != served else ()


@dataclass(frozen=True)
class ApiLimits:
    """Who may call and how much: auth mode, stage throttling, API-key quota, Lambda concurrency."""

    auth: str = "iam"
    rate_limit: int = 10
    burst_limit: int = 20
    quota_per_day: int = 10_000
    # Reserved by default (None: unreserved): the function neither drains the account's shared pool nor waits
    # on it. Lambda keeps 100 of the Region's quota unreserved (PutFunctionConcurrency, AWS Lambda API Reference).
    reserved_concurrency: int | None = 20
    # api_key mode: one key and usage plan per named consumer; empty means one shared key.
    api_keys: tuple[str, ...] = ()
    # Each key's usage-plan throttle; None: the stage's rate/burst divided by max(2, number of keys).
    key_rate_limit: int | None = None
    key_burst_limit: int | None = None
    daily_token_budget: int | None = None  # tokens per caller per UTC day
    max_streams_per_caller: int | None = None
    max_requests_per_caller: int | None = None  # concurrent requests of every kind
    requests_per_minute: int | None = None  # per caller (IAM callers otherwise share the stage throttle)
    caller_key: str = "role"  # "session": budgets per assumed-role session (chatapi/caller.py)

    def __post_init__(self) -> None:
        if self.auth not in AUTH_MODES:
            raise ValueError(f"auth {self.auth!r} is not supported; allowed: {', '.join(AUTH_MODES)}")
        if self.api_keys and self.auth != "api_key":
            raise ValueError("api_keys (one key per consumer) need auth 'api_key'")
        if len(set(self.api_keys)) != len(self.api_keys):
            raise ValueError(f"api_keys {', '.join(self.api_keys)} repeat a name")
        if self.caller_key not in ("role", "session"):
            raise ValueError(f"caller_key {self.caller_key!r} is not supported; allowed: role, session")
        for name in ("daily_token_budget", "max_streams_per_caller", "max_requests_per_caller", "requests_per_minute"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} {value} must be at least 1 (None: no limit)")
        if self.burst_limit < self.rate_limit:
            raise ValueError(f"burst_limit {self.burst_limit} must be at least rate_limit {self.rate_limit}")
        rate, burst = self.key_throttle
        if not 1 <= rate <= self.rate_limit or not rate <= burst <= self.burst_limit:
            raise ValueError(
                f"per-key throttle {rate}/s burst {burst} must fit the stage's {self.rate_limit}/s burst "
                f"{self.burst_limit}, with burst at least rate"
            )

    @property
    def key_throttle(self) -> tuple[int, int]:
        """(rate, burst) of each API key's usage plan: below the stage's, so no single key can use the whole
        stage. API Gateway applies the usage plan's per-key throttle and the stage's throttle, the tighter one
        winning ("Throttle requests to your REST APIs", API Gateway Developer Guide)."""
        share = max(2, len(self.api_keys))
        rate = self.key_rate_limit if self.key_rate_limit is not None else max(1, self.rate_limit // share)
        burst = self.key_burst_limit if self.key_burst_limit is not None else max(rate, self.burst_limit // share)
        return rate, burst

    @property
    def per_caller(self) -> bool:
        """Whether any per-caller limit is on (they need the usage table)."""
        return any(
            v is not None
            for v in (
                self.daily_token_budget,
                self.max_streams_per_caller,
                self.max_requests_per_caller,
                self.requests_per_minute,
            )
        )
