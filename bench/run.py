"""`make bench`: every benchmark in bench/, one after the other, each printing its own table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SUITES = ["bench_synth.py", "profile_synth.py", "bench_proxy.py", "bench_runtime.py"]


def main() -> int:
    failed = 0
    for suite in SUITES:
        print(f"\n== {suite} ==", flush=True)
        failed += subprocess.run([sys.executable, str(BENCH / suite)], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
