"""Caps on the grammars a request makes the engine compile: tool count, schema size and depth, regex patterns.

Every tool's ``parameters`` and a ``response_format`` JSON schema become a grammar the engine compiles before it
generates a token (vLLM's structured outputs; TGI's grammar support). What the engines bound themselves:

* vLLM 0.29 compiles grammars in a thread pool of ``(cpu_count + 1) // 2`` workers with no time limit
  (``vllm/v1/structured_output/__init__.py``, ``StructuredOutputManager``): one costly grammar holds a worker, a
  few hold them all and every structured request of every caller waits.
* Its default backend (``auto``) is xgrammar (0.2.9 in the 0.29 image), which has no size or time limit of its
  own; llguidance, its fallback for schemas xgrammar cannot do (``has_xgrammar_unsupported_json_features``),
  stops a grammar at its ``ParserLimits`` (``llguidance/_lib.pyi``): 500,000 grammar symbols
  (``max_grammar_size``), 250,000 lexer states, 1,000,000 units of initial lexer fuel.
* Neither engine backtracks (they build automata), so ``(x+x+)+y`` is no ReDoS there; nested and large counted
  repeats (``(a{1,200}){1,200}``) make their automata explode instead, which is the same denial of service.

So the proxy refuses, with a 400 naming the field, before anything reaches the engine:

* more than ``MAX_TOOLS`` tools;
* tool and response-format schemas together larger than ``MAX_SCHEMA_BYTES`` of JSON or nested deeper than
  ``MAX_SCHEMA_DEPTH``;
* a regex (``pattern``, a ``patternProperties`` key, a guided regex) longer than ``MAX_PATTERN_CHARS``, with a
  repeat inside a repeat, a counted repeat above ``MAX_REPEAT``, or that Python's regex parser cannot read.

The numbers are this proxy's choice, set far below the engines' limits and well above what real tool
definitions use (OpenAI's own API allows 128 tools; a typical tool schema is a few hundred bytes).
"""

from __future__ import annotations

import json
import re
from typing import Any

from chatapi.errors import ApiError

MAX_TOOLS = 64
MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_DEPTH = 24  # JSON nesting of objects and arrays, each schema level is two (e.g. properties -> x)
MAX_PATTERN_CHARS = 1000
MAX_REPEAT = 1000
# Where a request carries a schema or a regex for the engine's grammar: the OpenAI fields, and vLLM's own
# structured-output parameters should a route forward them.
SCHEMA_FIELDS = ("guided_json",)
REGEX_FIELDS = ("guided_regex",)

try:  # Python 3.11+: the regex parser the re module itself uses
    import re._constants as _sre_constants  # type: ignore[import-not-found]
    import re._parser as _sre_parse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as _sre_constants  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_REPEATS = {_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT, getattr(_sre_constants, "POSSESSIVE_REPEAT", None)}


def _bad(param: str, message: str) -> ApiError:
    return ApiError(400, f"Invalid value for '{param}': {message}", param=param, code="grammar_too_complex")


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of ``value`` (iteratively: a deep document must not exhaust the stack)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _repeat_problem(items: Any, inside_repeat: bool) -> str | None:
    for op, arg in items:
        if op in _REPEATS:
            low, high, sub = arg
            counted = high if high != _sre_constants.MAXREPEAT else low
            if counted > MAX_REPEAT:
                return f"a counted repeat above {MAX_REPEAT}"
            if inside_repeat and high > 1:
                return "a repeat inside a repeat (like (a+)+), whose automaton can explode"
            problem = _repeat_problem(sub, inside_repeat or high > 1)
        elif op is _sre_constants.SUBPATTERN:
            problem = _repeat_problem(arg[-1], inside_repeat)
        elif op is _sre_constants.BRANCH:
            problem = next((p for b in arg[1] if (p := _repeat_problem(b, inside_repeat))), None)
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            problem = _repeat_problem(arg[1], inside_repeat)
        else:
            problem = None
        if problem:
            return problem
    return None


def check_pattern(pattern: Any, param: str) -> None:
    """Refuse a regex the engine's automaton could blow up on (see the module docstring)."""
    if not isinstance(pattern, str):
        raise _bad(param, "a regex pattern must be a string.")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise _bad(param, f"the regex is longer than {MAX_PATTERN_CHARS} characters.")
    try:
        parsed = _sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        raise _bad(param, "the regex cannot be parsed.") from None
    problem = _repeat_problem(parsed, False)
    if problem:
        raise _bad(param, f"the regex has {problem}; simplify it.")


def _check_schema_patterns(schema: Any, param: str) -> None:
    stack: list[tuple[Any, str]] = [(schema, param)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        for key, child in node.items():
            if key == "pattern" and isinstance(child, str):
                check_pattern(child, f"{where}.pattern")
            elif key == "patternProperties" and isinstance(child, dict):
                for regex in child:
                    check_pattern(regex, f"{where}.patternProperties")
            stack.append((child, f"{where}.{key}"))


def check_grammars(body: dict[str, Any]) -> None:
    """Check every schema and regex of an OpenAI-shaped request body bound for the engine."""
    schemas: list[tuple[Any, str]] = []
    tools = body.get("tools")
    if isinstance(tools, list):
        if len(tools) > MAX_TOOLS:
            raise _bad("tools", f"at most {MAX_TOOLS} tools are accepted (got {len(tools)}).")
        for i, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if isinstance(function, dict) and function.get("parameters") is not None:
                schemas.append((function["parameters"], f"tools[{i}].function.parameters"))
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        spec = response_format.get("json_schema")
        if isinstance(spec, dict) and spec.get("schema") is not None:
            schemas.append((spec["schema"], "response_format.json_schema.schema"))
        if response_format.get("value") is not None:  # TGI's GrammarType {"type", "value"}
            schemas.append((response_format["value"], "response_format.value"))
    schemas += [(body[k], k) for k in SCHEMA_FIELDS if body.get(k) is not None]
    total = 0
    for schema, param in schemas:
        if _depth(schema, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH:
            raise _bad(param, f"the schema is nested deeper than {MAX_SCHEMA_DEPTH} levels.")
        total += len(json.dumps(schema, ensure_ascii=False).encode())
        if total > MAX_SCHEMA_BYTES:
            raise _bad(param, f"tool and response schemas exceed {MAX_SCHEMA_BYTES} bytes of JSON together.")
        _check_schema_patterns(schema, param)
    for key in REGEX_FIELDS:
        if body.get(key) is not None:
            check_pattern(body[key], key)
