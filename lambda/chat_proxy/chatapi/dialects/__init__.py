"""The proxy's engine seam (``seam.Dialect``) and its three dialects, one chosen at start-up by ``make_dialect``.

Layers, top to bottom: a dialect (``tgi``, ``vllm``) builds its calls (``text_calls``, ``openai_calls``) from
request plans (``prompted``, ``openai_plan``), sends them through the backend (``transport``, ``chatapi.backend``)
and shapes the engine's answers (``tgi_shape``, ``openai_shape``, ``assemble``, ``tgi_to_vllm``).
"""

from __future__ import annotations

from chatapi.backend import SageMakerBackend
from chatapi.dialects.seam import Call, CallerText, Dialect, ModelStream, Shape, StreamOutcome, client_bytes
from chatapi.dialects.tgi import TgiMessages, TgiPrompt
from chatapi.dialects.vllm import VllmOpenAI
from chatapi.settings import Settings

__all__ = ["Call", "CallerText", "Dialect", "ModelStream", "Shape", "StreamOutcome", "client_bytes", "make_dialect"]


def make_dialect(settings: Settings, backend: SageMakerBackend) -> Dialect:
    """The dialect for ``ENGINE`` and ``PROMPT_FAMILY``: the only place the proxy asks which engine it serves."""
    if settings.engine == "vllm":
        return VllmOpenAI(settings, backend, rendered_prompt=not settings.server_templates)
    if settings.server_templates:
        return TgiMessages(settings, backend)
    return TgiPrompt(settings, backend)
