"""Synth cost of the full app (default options, and every option on) vs a bare one-stack CDK app, measured in one
run on this machine.

Both run as their own `python` process, as the CDK CLI runs them (CDK_OUTDIR, CDK_CONTEXT_JSON), so each pays
jsii start-up once. Runs alternate so machine drift hits both alike; the ratio of medians is the figure.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("BENCH_SYNTH_ROUNDS", "3"))
TARGET_RATIO = 1.3

# Every optional feature at once: per-consumer API keys, the alarm topic, several instances with linear traffic
# shifting, reserved concurrency. What synth builds grows with these (more alarms, plans, keys, a topic + key).
EVERY_OPTION = {
    "region": "us-east-1",
    "api_auth": "api_key",
    "api_keys": "alice,bob,carol",
    "alarm_email": "ops@example.com",
    "instance_count": "3",
    "deployment_strategy": "linear",
    "reserved_concurrency": "20",
    "max_instances": "6",
    "daily_token_budget": "1000000",
    "max_streams_per_caller": "4",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "kms_key": "create",
    "data_capture": "true",
}

BARE_APP = """
import aws_cdk as cdk
from aws_cdk import aws_sns as sns
app = cdk.App()
stack = cdk.Stack(app, "Bare")
sns.Topic(stack, "Topic")
app.synth()
"""


def _run(args: list[str], context: dict[str, object], *, builtin_validation: bool = True) -> float:
    with tempfile.TemporaryDirectory() as out:
        env = {
            **os.environ,
            "CDK_OUTDIR": out,
            "CDK_CONTEXT_JSON": json.dumps(context),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        }
        if not builtin_validation:
            env["CDK_VALIDATION"] = "false"  # CDK's own CloudFormation validator (WASM), costs both apps alike
        start = time.perf_counter()
        subprocess.run(args, cwd=REPO, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def measure() -> dict[str, float]:
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    full_args = [sys.executable, "app.py"]
    bare_args = [sys.executable, "-c", BARE_APP]
    _run(full_args, context)  # warm-up: builds the Lambda asset cache once, as a second `make synth` would find it
    every = {**context, **EVERY_OPTION}
    _run(full_args, every)
    runs: dict[str, list[float]] = {
        "full_s": [],
        "every_s": [],
        "bare_s": [],
        "full_noval_s": [],
        "bare_noval_s": [],
    }
    for _ in range(ROUNDS):
        runs["bare_s"].append(_run(bare_args, {}))
        runs["full_s"].append(_run(full_args, context))
        runs["every_s"].append(_run(full_args, every))
        runs["bare_noval_s"].append(_run(bare_args, {}, builtin_validation=False))
        runs["full_noval_s"].append(_run(full_args, context, builtin_validation=False))
    return {k: statistics.median(v) for k, v in runs.items()}


def main() -> None:
    r = measure()
    ratio = r["full_s"] / r["bare_s"]
    print(f"{'synth (median of ' + str(ROUNDS) + ')':<32}{'seconds':>10}")
    print(f"{'bare one-stack CDK app':<32}{r['bare_s']:>10.2f}")
    print(f"{'full app (endpoint + chat API)':<32}{r['full_s']:>10.2f}")
    print(f"{'full app, every option on':<32}{r['every_s']:>10.2f}")
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(f"{'ratio full / bare':<32}{ratio:>10.2f}  ({verdict} target <= {TARGET_RATIO})")
    every_ratio = r["every_s"] / r["bare_s"]
    verdict = "meets" if every_ratio <= TARGET_RATIO else "misses"
    print(f"{'ratio every option / bare':<32}{every_ratio:>10.2f}  ({verdict} target <= {TARGET_RATIO})")
    print("both with CDK_VALIDATION=false (CDK's built-in template validator off; cfn-lint runs in make test):")
    print(f"{'  bare':<32}{r['bare_noval_s']:>10.2f}")
    print(f"{'  full':<32}{r['full_noval_s']:>10.2f}")
    print(f"{'  ratio full / bare':<32}{r['full_noval_s'] / r['bare_noval_s']:>10.2f}")


if __name__ == "__main__":
    main()
