"""`make bench`: every benchmark in bench/, one after the other, each printing its own table, then issue 21's
targets with the figures this run measured (PASS / MISS / NOT RUN) and the machine's load average."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SUITES = ["bench_synth.py", "profile_synth.py", "validator_cost.py", "bench_proxy.py", "bench_runtime.py"]

sys.path.insert(0, str(BENCH))
from targets import load, render, verdicts  # noqa: E402


def main() -> int:
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.jsonl"
        env = {**os.environ, "BENCH_RESULTS": str(results)}
        load_before = os.getloadavg()
        for suite in SUITES:
            print(f"\n== {suite} ==", flush=True)
            failed += subprocess.run([sys.executable, str(BENCH / suite)], check=False, env=env).returncode != 0
        rows = verdicts(load(results))
    load_after = os.getloadavg()
    print("\n== targets (issue 21), measured in this run ==")
    print(render(rows))
    print(f"load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}")
    return 1 if failed else 0


def _load(avg: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in avg)


if __name__ == "__main__":
    sys.exit(main())
