"""Runtime weight of the chat proxy Lambda: the deployment package's size and the app's import time.

The package is built exactly as synth builds it (``constructs/api/lambda_asset.py``: the locked linux/arm64 wheels plus
the source, zipped deterministically) and its zipped size is broken down by top-level package. Import time is what
a cold start pays before the first request: ``import main`` (which also creates the app and its SageMaker runtime
client) in a fresh interpreter, the interpreter's own start-up subtracted. Each is the median of several runs, as
wall time and as CPU time (user + sys of the child: steadier than wall time on a shared machine). The per-dependency
rows import one dependency alone. Numbers come from this machine's Python (the Lambda runs CPython 3.13 on arm64).
Prints a table; nothing is asserted.
"""

from __future__ import annotations

import collections
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP_DIR = REPO / "lambda" / "chat_proxy"
RUNS = int(os.environ.get("BENCH_RUNTIME_RUNS", "9"))
SIZE_TARGET_MB = 5.0

sys.path.insert(0, str(Path(__file__).resolve().parent))
from targets import TARGETS, record  # noqa: E402

IMPORT_TARGET_MS = TARGETS["lambda_import_ms"].limit
DEPENDENCIES = {
    "fastapi (+ starlette, pydantic)": "import fastapi",
    "botocore session + sagemaker-runtime client": "import botocore.session; "
    "botocore.session.get_session().create_client('sagemaker-runtime', region_name='us-east-1')",
    "aws_lambda_powertools.logging": "import aws_lambda_powertools.logging",
    "chatapi.schemas (request models)": "import chatapi.schemas",
}


def package() -> Path:
    sys.path.insert(0, str(REPO))
    from constructs.api.lambda_asset import PythonTarget, build_python_asset

    cache = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    archive, _ = build_python_asset(
        APP_DIR, lock=APP_DIR / "requirements.lock", cache_root=cache, target=PythonTarget()
    )
    return archive


def breakdown(archive: Path) -> list[tuple[str, int]]:
    sizes: collections.Counter[str] = collections.Counter()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            top = info.filename.split("/")[0]
            sizes["(dist-info)" if top.endswith(".dist-info") else top] += info.compress_size
    return sizes.most_common()


def timed(code: str, **extra_env: str) -> tuple[float, float]:
    """Median (wall, cpu) seconds of ``python -c code`` in the app folder, in fresh processes."""
    env = {
        **os.environ,
        "SAGEMAKER_ENDPOINT_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "",
        **extra_env,
    }
    walls, cpus = [], []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=APP_DIR, env=env)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    archive = package()
    total_mb = archive.stat().st_size / 1e6
    print(f"chat proxy Lambda package: {archive.name}")
    print(f"{'part':<32} {'zipped MB':>10}")
    for name, size in breakdown(archive)[:10]:
        print(f"{name:<32} {size / 1e6:>10.2f}")
    verdict = "ok" if total_mb <= SIZE_TARGET_MB else "MISSED"
    print(f"{'total (zip file)':<32} {total_mb:>10.2f}  target <= {SIZE_TARGET_MB} MB  {verdict}")

    timed("pass")  # warm the file cache and the bytecode of both sides
    timed("import main")
    base_wall, base_cpu = timed("pass")
    print(f"\nimport time (median of {RUNS} fresh interpreters, start-up of {base_wall * 1000:.0f} ms subtracted)")
    print(f"{'what':<46} {'wall ms':>8} {'cpu ms':>8}")
    for name, code in DEPENDENCIES.items():
        wall, cpu = timed(code)
        print(f"{name:<46} {(wall - base_wall) * 1000:>8.0f} {(cpu - base_cpu) * 1000:>8.0f}")
    wall, cpu = timed("import main")
    wall_ms, cpu_ms = (wall - base_wall) * 1000, (cpu - base_cpu) * 1000
    verdict = "ok" if wall_ms <= IMPORT_TARGET_MS else "MISSED"
    print(f"{'import main (the app, ready to serve)':<46} {wall_ms:>8.0f} {cpu_ms:>8.0f}  target <= 300 ms  {verdict}")
    record("lambda_import_ms", wall_ms)
    # A zip without bytecode on a read-only /var/task: every import compiles its module. Simulated with an empty
    # bytecode cache folder nothing may be written to; it compiles this machine's standard library too (which the
    # Lambda runtime ships compiled), so it is an upper bound.
    with tempfile.TemporaryDirectory() as empty:
        wall, cpu = timed("import main", PYTHONPYCACHEPREFIX=empty, PYTHONDONTWRITEBYTECODE="1")
    cold_wall, cold_cpu = (wall - base_wall) * 1000, (cpu - base_cpu) * 1000
    ratio = cold_cpu / cpu_ms
    print(f"{'  ... without bytecode (upper bound)':<46} {cold_wall:>8.0f} {cold_cpu:>8.0f}  x{ratio:.1f} cpu")
    # -c responses_store=true adds RESPONSES_TABLE_NAME: its DynamoDB client is made on the first /v1/responses call.
    wall, cpu = timed("import main", RESPONSES_TABLE_NAME="bench-responses")
    store_wall, store_cpu = (wall - base_wall) * 1000, (cpu - base_cpu) * 1000
    print(f"{'  ... with the responses store on':<46} {store_wall:>8.0f} {store_cpu:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
