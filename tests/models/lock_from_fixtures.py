"""Regenerate the committed models.lock.json with tools/model_lock.py against the fake Hub's fixtures.

No Hugging Face account or network is available where this project is built, so the committed entries come from
fixtures of the published files (tests/models/fixtures/), read by the real tool and the real huggingface_hub
client over HTTP; lock_metadata.source says so. Run ``make model-lock MODEL=...`` against huggingface.co to
replace an entry with the Hub's current state.

    python -m tests.models.lock_from_fixtures [--lock PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.models.fake_hub import endpoint, fake_hub

ROOT = Path(__file__).resolve().parents[2]
# The presets' Hub ids (Qwen/Qwen2.5-7B-Instruct is also the qwen2.5-7b-instruct preset's).
LOCKED_MODELS = (
    "Qwen/Qwen2.5-7B-Instruct",
    "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Llama-3.3-70B-Instruct",
    "mistralai/Mistral-7B-Instruct-v0.3",
)
# The fake Hub only checks that a bearer token is sent for gated models, as huggingface.co does.
FIXTURE_TOKEN = "hf_fixture"
SOURCE = (
    "generated without Hub access from fixtures of the published model info, config.json and "
    "tokenizer_config.json (tests/models/fixtures/, served by tests/models/fake_hub.py) with the real "
    "huggingface_hub client; regenerate with make model-lock against huggingface.co before relying on it"
)


def run_tool(
    hub_endpoint: str, model: str, lock: Path, *, token: str | None = FIXTURE_TOKEN, source: str = SOURCE
) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "HF_ENDPOINT": hub_endpoint, "HF_HOME": home, "HF_HUB_DISABLE_TELEMETRY": "1"}
        env.pop("HF_TOKEN", None)
        if token is not None:
            env["HF_TOKEN"] = token
        return subprocess.run(
            [
                sys.executable,
                str(ROOT / "tools" / "model_lock.py"),
                "--model",
                model,
                "--lock",
                str(lock),
                "--source",
                source,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )


def regenerate(lock: Path) -> None:
    lock.unlink(missing_ok=True)
    with fake_hub() as hub:
        for model in LOCKED_MODELS:
            done = run_tool(endpoint(hub), model, lock)
            if done.returncode != 0:
                raise RuntimeError(done.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lock", type=Path, default=ROOT / "models.lock.json")
    regenerate(parser.parse_args().lock)
