"""Which context keys are this app's business, and in which shapes each of ours has an effect.

Two rules keep `-c key=value` honest:

* The CDK CLI writes keys of its own into the same context (`cdk acknowledge 32775` →
  `acknowledged-issue-numbers`, `cdk cli-telemetry --disable` → `cli-telemetry`, context-provider caches like
  `availability-zones:account=…`, feature flags `@aws-cdk/…`, settings `aws:cdk:…`). Ours are snake_case; the
  CLI's are kebab-case or namespaced. So a key with a hyphen, a colon, or a leading `@`/`$` is the CLI's, unless
  it is one of ours misspelt (`max-input-tokens`), which is still an error that suggests the right key.
* A key of ours that has no effect in the chosen shape is an error that says why (each key's `applies` in
  stacks/options.py), never silently dropped.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Keys the CDK CLI (aws-cdk 2.1148) writes into cdk.context.json itself; see `context.set(...)` in
# node_modules/aws-cdk/lib/index.js. Future ones are recognised by their shape (is_cdk_key).
CDK_CLI_KEYS = frozenset({"acknowledged-issue-numbers", "cli-telemetry"})


def _normalized(key: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key)  # camelCase → camel_case
    return re.sub(r"[-\s.]+", "_", snake).lower()


def suggest(key: str, known: Iterable[str]) -> str | None:
    """The known key `key` most likely meant (a typo, another case or separator), if any is close."""
    known = list(known)
    normalized = _normalized(key)
    if normalized in known:
        return normalized
    # A cut-short key (`instance`) means the key it begins (`instance_type`), not one that merely resembles it
    # (`min_instances`); the first declared wins.
    starting = [k for k in known if k.startswith(normalized)]
    if starting and len(normalized) >= 4:
        return starting[0]
    close = difflib.get_close_matches(normalized, known, n=1, cutoff=0.75)
    return close[0] if close else None


def is_cdk_key(key: str, known: Iterable[str]) -> bool:
    """True for keys the CDK CLI or library own; False for ours and for misspellings of ours."""
    if key in CDK_CLI_KEYS or key.startswith(("@", "$")) or ":" in key:
        return True
    if "-" in key:
        # kebab-case is the CLI's convention (ours never has a hyphen), but `max-input-tokens` is a typo of ours.
        return suggest(key, known) is None
    return False


def unknown_keys_message(unknown: Iterable[str], known: Iterable[str]) -> str:
    known = list(known)
    parts = []
    for key in unknown:
        hint = suggest(key, known)
        parts.append(f"{key!r} (did you mean {hint!r}?)" if hint else repr(key))
    return f"unknown context key(s) {', '.join(parts)}; known keys: {', '.join(known)}"


@dataclass(frozen=True)
class AppliesWhen:
    """A key has an effect only when the shape key `shape_key` has one of `values`; `why` says what else happens.

    Keys without an entry apply in every shape (the safe default for new keys). A key may list several
    conditions; all must hold.
    """

    shape_key: str
    values: tuple[Any, ...]
    why: str


def check_applicability(
    given: Iterable[str],
    shape: Mapping[str, Any],
    rules: Mapping[str, AppliesWhen | tuple[AppliesWhen, ...]],
) -> str | None:
    """The first key in `given` that has no effect in `shape`, as an error message; None when all apply."""
    for key in given:
        conditions = rules.get(key, ())
        for rule in conditions if isinstance(conditions, tuple) else (conditions,):
            actual = shape.get(rule.shape_key)
            if actual not in rule.values:
                wanted = " or ".join(f"{rule.shape_key}={v}" for v in rule.values)
                return (
                    f"context key {key!r} has no effect with {rule.shape_key}={actual}: {rule.why}. "
                    f"Remove it, or use it with {wanted}"
                )
    return None
