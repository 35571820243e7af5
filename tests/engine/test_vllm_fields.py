"""The vLLM request fields the proxy's policy was written against (chatapi.policy) are the installed engine's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from chatapi import policy

TOOL = Path(__file__).resolve().parents[2] / "tools" / "vllm_request_fields.py"


def test_vllm_fields_are_the_installed_engines(engine_py: Path) -> None:
    result = subprocess.run([str(engine_py), str(TOOL)], capture_output=True, text=True, check=True)
    fields = json.loads(result.stdout.strip().splitlines()[-1])
    assert fields["version"] == policy.VLLM_VERSION
    assert set(fields["chat"]) == set(policy.VLLM_CHAT_FIELDS)
    assert set(fields["completions"]) == set(policy.VLLM_COMPLETION_FIELDS)
