"""``POST /v1/embeddings`` in OpenAI's shape: the request model and its limits.

The limits are OpenAI's (OpenAI OpenAPI spec 2.3.0, ``CreateEmbeddingRequest``; API reference "Create embeddings"):
``input`` is a string (not empty), or an array of 1-2048 strings, of 1-2048 token ids, or of 1-2048 non-empty
token-id arrays; ``encoding_format`` ``float`` (default) or ``base64``; ``dimensions`` an integer >= 1. vLLM takes
the same body (``vllm/entrypoints/pooling/embed/protocol.py``, ``EmbeddingCompletionRequest``) and answers
``dimensions`` with a 400 for a model that is not matryoshka; the proxy passes that on as a 400.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# OpenAI's maxItems for every array form of ``input`` (CreateEmbeddingRequest).
MAX_INPUTS = 2048
# Token ids are vocabulary indices: non-negative, and well inside a 32-bit integer for every tokenizer.
MAX_TOKEN_ID = 2**31 - 1
INPUT_SHAPES = "a non-empty string, or a list of 1-2048 strings, token ids, or token-id lists"


def _is_token_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKEN_ID


def check_input(value: Any) -> str | list[str] | list[int] | list[list[int]]:
    """``value`` if it is one of OpenAI's four ``input`` shapes; a ``ValueError`` saying what is wrong otherwise."""
    if isinstance(value, str):
        if not value:
            raise ValueError("input must not be an empty string")
        return value
    if not isinstance(value, list):
        raise ValueError(f"input must be {INPUT_SHAPES}; got {type(value).__name__}")
    if not value:
        raise ValueError("input must not be an empty list")
    if len(value) > MAX_INPUTS:
        raise ValueError(f"input has {len(value)} items; at most {MAX_INPUTS} are allowed per request")
    first = value[0]
    if isinstance(first, str):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ValueError(f"input[{i}] is {type(item).__name__}; a list of strings must hold only strings")
            if not item:
                raise ValueError(f"input[{i}] must not be an empty string")
        return value
    if isinstance(first, list):
        for i, item in enumerate(value):
            if not isinstance(item, list) or not item:
                raise ValueError(f"input[{i}] must be a non-empty list of token ids")
            if not all(_is_token_id(t) for t in item):
                raise ValueError(f"input[{i}] must hold only token ids (integers 0-{MAX_TOKEN_ID})")
        return value
    for i, item in enumerate(value):
        if not _is_token_id(item):
            raise ValueError(f"input[{i}] is not a token id; input must be {INPUT_SHAPES}")
    return value


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings request; unknown fields are a 400 naming them."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    input: Any
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None

    @field_validator("input", mode="before")
    @classmethod
    def _input(cls, value: Any) -> Any:
        return check_input(value)

    def input_count(self) -> int:
        return 1 if isinstance(self.input, str) else len(self.input)

    def prompt_estimate(self) -> int:
        """An upper bound of the tokens the inputs make: one per UTF-8 byte of text, or the ids given."""
        items = [self.input] if isinstance(self.input, str) else self.input
        total = 0
        for item in items:
            if isinstance(item, str):
                total += len(item.encode("utf-8")) + 2  # special tokens around each input ([CLS] ... [SEP], BOS/EOS)
            elif isinstance(item, list):
                total += len(item) + 2
            else:
                total += 1
        return total

    def engine_body(self, served_name: str) -> dict[str, Any]:
        """The body for vLLM's ``/invocations`` (an embeddings request: vLLM's SageMaker router tries it against
        ``EmbeddingRequest`` on a pooling model, ``vllm/entrypoints/serve/sagemaker/api_router.py``)."""
        body: dict[str, Any] = {
            "model": served_name,
            "input": self.input,
            "encoding_format": self.encoding_format,
        }
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        if self.user is not None:
            body["user"] = self.user
        return body

    def prompt_text(self) -> str:
        """What LOG_PROMPTS logs."""
        return self.input if isinstance(self.input, str) else json.dumps(self.input, ensure_ascii=False)
