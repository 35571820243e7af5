"""`make bench` ends with issue 21's targets, each against the figure its benchmark recorded in the same run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import targets  # noqa: E402


def test_the_issue_targets_are_the_ones_checked() -> None:
    assert {k: (t.limit, t.unit) for k, t in targets.TARGETS.items()} == {
        "synth_vs_bare": (1.2, "x"),
        "synth_vs_genai": (1.0, "x"),
        "lambda_import_ms": (300.0, "ms"),
    }


def test_recorded_figures_come_back_as_one_verdict_per_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv("BENCH_RESULTS", str(results))
    targets.record("synth_vs_bare", 1.31)
    targets.record("synth_vs_genai", None, "no venv")
    targets.record("lambda_import_ms", 240.4)

    rows = targets.verdicts(targets.load(results))

    assert rows == [
        ("synth: full app / bare one-stack CDK app", "1.31x", "<= 1.2x", "MISS"),
        ("synth: full app / generative-ai-cdk-constructs endpoint app", "no venv", "<= 1.0x", "NOT RUN"),
        ("chat Lambda: import main (median, fresh process)", "240 ms", "<= 300 ms", "PASS"),
    ]
    table = targets.render(rows).splitlines()
    assert len(table) == 1 + len(targets.TARGETS)
    assert table[0].split() == ["target", "measured", "goal", "verdict"]


def test_a_target_no_benchmark_recorded_is_not_run() -> None:
    assert [verdict for *_, verdict in targets.verdicts({})] == ["NOT RUN"] * len(targets.TARGETS)


def test_recording_an_unknown_target_fails() -> None:
    with pytest.raises(KeyError, match="known: synth_vs_bare"):
        targets.record("synth_speed", 1.0)


def test_every_ratio_is_recorded_by_a_benchmark_make_bench_runs() -> None:
    run = (BENCH / "run.py").read_text()
    recorded = "".join((BENCH / suite).read_text() for suite in ("bench_synth.py", "bench_runtime.py"))
    for key in targets.TARGETS:
        assert f'record("{key}"' in recorded
    assert '"bench_synth.py"' in run and '"bench_runtime.py"' in run
