"""Issue 21's targets and the verdict table `make bench` ends with.

Each benchmark measures its figures in one run (ratios: both sides alternated in the same process tree) and, when
``BENCH_RESULTS`` names a file, appends one JSON line per figure to it; ``bench/run.py`` reads them back and prints
each figure against its target. A figure a benchmark could not measure is recorded with ``value: null`` and the
reason, and shows as NOT RUN.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Target:
    label: str
    limit: float
    unit: str  # "x" for a ratio, "ms" for a duration


TARGETS: dict[str, Target] = {
    "synth_vs_bare": Target("synth: full app / bare one-stack CDK app", 1.2, "x"),
    "synth_vs_genai": Target("synth: full app / generative-ai-cdk-constructs endpoint app", 1.0, "x"),
    "lambda_import_ms": Target("chat Lambda: import main (median, fresh process)", 300.0, "ms"),
}


def record(key: str, value: float | None, note: str = "") -> None:
    """Append one measured figure for ``run.py``'s verdict table (no-op when the benchmark runs on its own)."""
    if key not in TARGETS:
        raise KeyError(f"unknown bench target {key!r}; known: {', '.join(TARGETS)}")
    path = os.environ.get("BENCH_RESULTS")
    if path:
        with Path(path).open("a") as out:
            out.write(json.dumps({"key": key, "value": value, "note": note}) + "\n")


def load(path: Path) -> dict[str, dict[str, object]]:
    """The figures recorded in ``path``; the last one wins when a key was recorded twice."""
    if not path.exists():
        return {}
    return {row["key"]: row for row in map(json.loads, path.read_text().splitlines()) if row}


def verdicts(results: dict[str, dict[str, object]]) -> list[tuple[str, str, str, str]]:
    """One (target, measured, limit, verdict) row per target, in TARGETS order; verdict is PASS, MISS or NOT RUN."""
    rows = []
    for key, target in TARGETS.items():
        row = results.get(key)
        limit = f"<= {target.limit:.0f} ms" if target.unit == "ms" else f"<= {target.limit:.1f}x"
        value = None if row is None else row.get("value")
        if not isinstance(value, int | float):
            note = "" if row is None else str(row.get("note") or "")
            rows.append((target.label, note or "not measured", limit, "NOT RUN"))
            continue
        measured = f"{value:.0f} ms" if target.unit == "ms" else f"{value:.2f}x"
        rows.append((target.label, measured, limit, "PASS" if value <= target.limit else "MISS"))
    return rows


def render(rows: list[tuple[str, str, str, str]]) -> str:
    width = max(len(r[0]) for r in rows)
    lines = [f"{'target':<{width}}  {'measured':>10}  {'goal':>10}  verdict"]
    lines += [f"{label:<{width}}  {measured:>10}  {limit:>10}  {verdict}" for label, measured, limit, verdict in rows]
    return "\n".join(lines)
