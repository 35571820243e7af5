"""The several-models components' container settings, turned into vLLM's command line the way the DLC does, are
what the real vLLM parses into a pooling runner (the embedding model) and LoRA serving (the adapters' base)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from engine_harness import dlc_args, literal_env

from tests.synth.test_validators import CONTEXTS

# vLLM's own parser and EngineArgs (vllm 0.29 entrypoints/launchers/cli_args.py make_arg_parser).
PARSE = """
import json, sys
from vllm.engine.arg_utils import EngineArgs
from vllm.entrypoints.launchers.cli_args import make_arg_parser
from vllm.utils.argparse_utils import FlexibleArgumentParser
args = make_arg_parser(FlexibleArgumentParser()).parse_args(json.loads(sys.argv[1]))
e = EngineArgs.from_cli_args(args)
print(json.dumps({"runner": e.runner, "enable_lora": e.enable_lora, "max_loras": e.max_loras}))
"""


def _parsed(python: Path, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [str(python), "-c", PARSE, json.dumps(dlc_args(env))], check=True, capture_output=True, text=True, timeout=300
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_embedding_component_runs_the_pooling_runner_and_the_base_serves_lora(synth: Any, engine_py: Path) -> None:
    s = synth(**CONTEXTS["several-models"])
    envs = {}
    for component in s.of_type("AWS::SageMaker::InferenceComponent").values():
        spec = component["Properties"]["Specification"]
        if "ModelName" in spec:
            model = s.resources[spec["ModelName"]["Fn::GetAtt"][0]]["Properties"]["PrimaryContainer"]
            env = literal_env(model["Environment"])
            envs[env["SM_VLLM_MODEL"]] = env
    embedding = _parsed(engine_py, envs["Qwen/Qwen3-Embedding-0.6B"])
    assert embedding["runner"] == "pooling" and not embedding["enable_lora"]
    base = _parsed(engine_py, envs["Qwen/Qwen2.5-7B-Instruct"])
    assert base == {"runner": "auto", "enable_lora": True, "max_loras": 2}
    assert envs["Qwen/Qwen2.5-7B-Instruct"]["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "true"
