"""Validate answers against OpenAI's published OpenAPI schema (openai/openai-openapi f85dbe22, version 2.3.0).

``openai-openapi-2.3.0.json.gz`` beside this file is that document, gzipped (docs/sources.md). The
document is OpenAPI 3.1 (JSON Schema 2020-12) but still carries OpenAPI 3.0's ``nullable: true`` in places, which
2020-12 ignores; those are rewritten to ``anyOf: [schema, null]`` so they mean what the spec's authors meant.
Component references (``#/components/schemas/X``) resolve through a ``referencing`` registry holding the document.
"""

from __future__ import annotations

import copy
import functools
import gzip
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).with_name("openai-openapi-2.3.0.json.gz")
SPEC_URI = "urn:openai-openapi-2.3.0"


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    if node.pop("nullable", False) is True:
        return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def _registry() -> tuple[Registry, dict[str, Any]]:
    spec = _nullable(json.loads(gzip.decompress(SPEC_PATH.read_bytes())))
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource), spec


@functools.cache
def validator(component: str) -> Draft202012Validator:
    """A validator for ``#/components/schemas/<component>``."""
    registry, spec = _registry()
    if component not in spec["components"]["schemas"]:
        raise KeyError(component)
    return Draft202012Validator({"$ref": f"{SPEC_URI}#/components/schemas/{component}"}, registry=registry)


def errors(component: str, instance: Any) -> list[str]:
    """Every violation of ``component`` by ``instance``, as ``path: message`` lines (empty when it conforms)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator(component).iter_errors(copy.deepcopy(instance))
    ]


def assert_conforms(component: str, instance: Any) -> None:
    found = errors(component, instance)
    assert not found, f"{component} violations: {found}\n{json.dumps(instance)[:2000]}"


def chunks_of(sse_text: str) -> list[Any]:
    """The JSON data of an SSE body's events, without the final ``[DONE]``."""
    data = [line[len("data:") :].strip() for line in sse_text.splitlines() if line.startswith("data:")]
    assert data and data[-1] == "[DONE]", data[-3:]
    return [json.loads(d) for d in data[:-1]]


# Each Responses stream event type and its schema in the spec (``ResponseStreamEvent`` is their union).
RESPONSE_EVENTS = {
    "response.created": "ResponseCreatedEvent",
    "response.in_progress": "ResponseInProgressEvent",
    "response.output_item.added": "ResponseOutputItemAddedEvent",
    "response.output_item.done": "ResponseOutputItemDoneEvent",
    "response.content_part.added": "ResponseContentPartAddedEvent",
    "response.content_part.done": "ResponseContentPartDoneEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
    "response.output_text.done": "ResponseTextDoneEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
    "response.reasoning_text.delta": "ResponseReasoningTextDeltaEvent",
    "response.reasoning_text.done": "ResponseReasoningTextDoneEvent",
    "response.completed": "ResponseCompletedEvent",
    "response.incomplete": "ResponseIncompleteEvent",
    "response.failed": "ResponseFailedEvent",
    "error": "ResponseErrorEvent",
}


def response_events(sse_text: str) -> list[dict[str, Any]]:
    """The events of a Responses SSE body, each checked against its schema and against the ``ResponseStreamEvent``
    union, its ``event:`` line equal to its ``type`` and the sequence numbers 0, 1, 2, ..."""
    events: list[dict[str, Any]] = []
    for block in sse_text.split("\n\n"):
        lines = [line for line in block.splitlines() if line]
        if not lines:
            continue
        names = [line[len("event:") :].strip() for line in lines if line.startswith("event:")]
        data = [line[len("data:") :].strip() for line in lines if line.startswith("data:")]
        assert len(data) == 1, block
        event = json.loads(data[0])
        assert names == [event["type"]], block
        assert_conforms(RESPONSE_EVENTS[event["type"]], event)
        assert_conforms("ResponseStreamEvent", event)
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events
