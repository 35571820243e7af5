"""Synth cost of the full app (default options, and every option on) vs a bare one-stack CDK app and vs the same
endpoint built with cdklabs' generative-ai-cdk-constructs (``HuggingFaceSageMakerEndpoint``: Model, EndpointConfig,
Endpoint and a role for Falcon-40B on TGI, ml.g5.12xlarge), measured in one run on this machine.

The comparison app runs in its own venv (``make bench`` builds ``.venv-bench-genai`` from
bench/requirements-genai.txt: the library needs cdk-nag < 3), named by ``BENCH_GENAI_PYTHON``; without it that
ratio is reported as not run.

Both run as their own `python` process, as the CDK CLI runs them (CDK_OUTDIR, CDK_CONTEXT_JSON), so each pays
jsii start-up once. Runs alternate so machine drift hits both alike; the ratio of medians is the figure.

The targets compare what `cdk synth` costs each app by default. CDK runs its built-in CloudFormation validator by
default (a WebAssembly rule engine built on every synth: about 3 s here, most of a bare synth); this app turns it
off (app.new_app) because `make test` runs it strictly on every shape the app can produce. The like-for-like rows
(both validated, neither validated) are printed too, without a target.
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
GENAI_PYTHON = os.environ.get("BENCH_GENAI_PYTHON", str(REPO / ".venv-bench-genai" / "bin" / "python"))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from targets import TARGETS, record  # noqa: E402

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

# The endpoint alone, as the generative-ai-cdk-constructs README deploys a Hugging Face model (same model, image
# family, instance and GPU count as this app's default).
GENAI_APP = """
import aws_cdk as cdk
from cdklabs.generative_ai_cdk_constructs import sagemaker_deployment as sm
app = cdk.App()
stack = cdk.Stack(app, "GenAi", env=cdk.Environment(account="111111111111", region="us-east-1"))
sm.HuggingFaceSageMakerEndpoint(
    stack,
    "Falcon",
    model_id="tiiuae/falcon-40b-instruct",
    instance_type=sm.SageMakerInstanceType.ML_G5_12_XLARGE,
    container=sm.DeepLearningContainerImage.from_deep_learning_container_image(
        "huggingface-pytorch-tgi-inference", "2.4.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
    ),
    environment={"SM_NUM_GPUS": "4", "MAX_INPUT_LENGTH": "2048", "MAX_TOTAL_TOKENS": "4096"},
)
app.synth()
"""


def genai_python() -> str | None:
    """The comparison venv's interpreter, when it exists and imports the library."""
    if not Path(GENAI_PYTHON).exists():
        return None
    probe = [GENAI_PYTHON, "-c", "import cdklabs.generative_ai_cdk_constructs"]
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    return GENAI_PYTHON if subprocess.run(probe, env=env, capture_output=True, check=False).returncode == 0 else None


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
    validated = {**context, "cfn_validation": "true"}
    _run(full_args, every)
    genai = genai_python()
    runs: dict[str, list[float]] = {
        "full_s": [],
        "every_s": [],
        "bare_s": [],
        "full_val_s": [],
        "bare_noval_s": [],
    }
    if genai:
        runs["genai_s"] = []
    for _ in range(ROUNDS):
        runs["bare_s"].append(_run(bare_args, {}))
        if genai:
            runs["genai_s"].append(_run([genai, "-c", GENAI_APP], {}))
        runs["full_s"].append(_run(full_args, context))
        runs["every_s"].append(_run(full_args, every))
        runs["full_val_s"].append(_run(full_args, validated))
        runs["bare_noval_s"].append(_run(bare_args, {}, builtin_validation=False))
    return {k: statistics.median(v) for k, v in runs.items()}


def main() -> None:
    r = measure()
    bare_target, genai_target = TARGETS["synth_vs_bare"].limit, TARGETS["synth_vs_genai"].limit
    ratio = r["full_s"] / r["bare_s"]
    print("each app as `cdk synth` runs it by default: the comparison apps with CDK's built-in CloudFormation")
    print("validator (CDK's default), this app without it (-c cfn_validation=true turns it on; make test runs it")
    print("strictly on every shipped shape)")
    print(f"{'synth (median of ' + str(ROUNDS) + ')':<44}{'seconds':>10}")
    print(f"{'bare one-stack CDK app':<44}{r['bare_s']:>10.2f}")
    if "genai_s" in r:
        print(f"{'generative-ai-cdk-constructs endpoint':<44}{r['genai_s']:>10.2f}")
    print(f"{'full app (endpoint + chat API + cdk-nag)':<44}{r['full_s']:>10.2f}")
    print(f"{'full app, every option on':<44}{r['every_s']:>10.2f}")
    print(f"{'ratio full / bare':<44}{ratio:>10.2f}  (target <= {bare_target})")
    record("synth_vs_bare", ratio)
    if "genai_s" in r:
        genai_ratio = r["full_s"] / r["genai_s"]
        print(f"{'ratio full / generative-ai-cdk-constructs':<44}{genai_ratio:>10.2f}  (target <= {genai_target})")
        record("synth_vs_genai", genai_ratio)
    else:
        why = f"no comparison venv at {GENAI_PYTHON} (make bench builds it)"
        print(f"{'ratio full / generative-ai-cdk-constructs':<44}{'-':>10}  ({why})")
        record("synth_vs_genai", None, "comparison venv missing")
    every_ratio = r["every_s"] / r["bare_s"]
    print(f"{'ratio every option / bare':<44}{every_ratio:>10.2f}  (no target: every optional feature at once)")
    print("like for like (no target): both with the validator, then both without it")
    print(f"{'  full, -c cfn_validation=true':<44}{r['full_val_s']:>10.2f}")
    print(f"{'  ratio full / bare, both validated':<44}{r['full_val_s'] / r['bare_s']:>10.2f}")
    print(f"{'  bare, CDK_VALIDATION=false':<44}{r['bare_noval_s']:>10.2f}")
    print(f"{'  ratio full / bare, neither validated':<44}{r['full_s'] / r['bare_noval_s']:>10.2f}")


if __name__ == "__main__":
    main()
