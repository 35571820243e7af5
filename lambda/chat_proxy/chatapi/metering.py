"""Token metering: one CloudWatch embedded-metric-format (EMF) record per model request, on stdout.

Metrics ``Requests``, ``PromptTokens`` and ``CompletionTokens`` (unit Count) in namespace ``METRICS_NAMESPACE``
(default ``LlmChat``), with exactly the dimensions ``Model`` and ``Caller``; CloudWatch Logs turns the Lambda's
stdout lines into metrics. Powertools' ``Metrics`` writes the record; there is no handler to decorate (the Lambda
Web Adapter runs one long-lived server), so each request flushes its own record. Each record gets its own
provider: Powertools' ``Metrics`` instances share one class-level metric set, which concurrent requests (``make
dev``, tests) would mix up. ``service=""`` keeps Powertools from adding a ``service`` dimension from
``POWERTOOLS_SERVICE_NAME``. Nothing of the prompt or the completion is written.
"""

from __future__ import annotations

import sys
import threading

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

METRICS_NAMESPACE = "METRICS_NAMESPACE"
DEFAULT_NAMESPACE = "LlmChat"
# CloudWatch's limit on a dimension value.
MAX_DIMENSION_CHARS = 1024


class Meter:
    """Writes one EMF record per ``record`` call for model ``model`` in ``namespace``."""

    def __init__(self, namespace: str, model: str) -> None:
        self.namespace = namespace
        self.model = model[:MAX_DIMENSION_CHARS]
        # print() of one record is one write in practice, but keep records whole when threads flush together.
        self._lock = threading.Lock()

    def record(self, caller: str, *, prompt_tokens: int, completion_tokens: int, model: str | None = None) -> None:
        """One record; ``model`` is the routed model (``MODEL_ROUTES``), else the deployment's."""
        provider = AmazonCloudWatchEMFProvider(namespace=self.namespace, service="")
        metrics = Metrics(namespace=self.namespace, provider=provider)
        metrics.add_dimension(name="Model", value=self.model if model is None else model[:MAX_DIMENSION_CHARS])
        metrics.add_dimension(name="Caller", value=caller[:MAX_DIMENSION_CHARS])
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="PromptTokens", unit=MetricUnit.Count, value=max(prompt_tokens, 0))
        metrics.add_metric(name="CompletionTokens", unit=MetricUnit.Count, value=max(completion_tokens, 0))
        with self._lock:
            metrics.flush_metrics()
            # Powertools print()s; stdout is a pipe (block-buffered) under Lambda and uvicorn: flush per record.
            sys.stdout.flush()

    def record_guardrail(self, caller: str, *, text_units: int, interventions: int) -> None:
        """One EMF record of a request's guardrail checks (chatapi.guardrails): the text units Bedrock billed
        (ApplyGuardrail ``usage``, summed over the guardrail's policies) and how many checks intervened."""
        provider = AmazonCloudWatchEMFProvider(namespace=self.namespace, service="")
        metrics = Metrics(namespace=self.namespace, provider=provider)
        metrics.add_dimension(name="Model", value=self.model)
        metrics.add_dimension(name="Caller", value=caller[:MAX_DIMENSION_CHARS])
        metrics.add_metric(name="GuardrailTextUnits", unit=MetricUnit.Count, value=max(text_units, 0))
        metrics.add_metric(name="GuardrailInterventions", unit=MetricUnit.Count, value=max(interventions, 0))
        with self._lock:
            metrics.flush_metrics()
            sys.stdout.flush()
