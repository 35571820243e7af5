"""Where one full-app synth spends its Node time: runs app.py with jsii's Node under --cpu-prof and sums the
profile's inclusive time for the phases that matter (CDK's built-in validator, cdk-nag, module loading), once as
`make synth` runs it (validator off) and once with `-c cfn_validation=true`.

    python bench/profile_synth.py
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# (label, function name, file suffix) of the frames whose inclusive time is reported.
PHASES = [
    ("whole synth (app.synth)", "synth", "core/lib/app.js"),
    ("CDK built-in CloudFormation validator", "CloudFormationValidatePlugin", "cloudformation-validate-plugin.js"),
    ("validation plugins (cdk-nag)", "doInvokeValidationPlugins", "synthesis-validation.js"),
    ("loading JS modules (require)", "Module._load", "cjs/loader"),
]


def _inclusive_ms(profile: dict) -> dict[str, float]:
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {c: n["id"] for n in profile["nodes"] for c in n.get("children", [])}
    self_us: collections.Counter[int] = collections.Counter()
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=False):
        self_us[sample] += delta
    totals: collections.Counter[str] = collections.Counter()
    for node_id, us in self_us.items():
        seen: set[str] = set()
        current: int | None = node_id
        while current is not None:
            frame = nodes[current]["callFrame"]
            for label, name, suffix in PHASES:
                if label not in seen and frame["functionName"] == name and frame["url"].endswith(suffix):
                    totals[label] += us
                    seen.add(label)
            current = parent.get(current)
    return {label: totals[label] / 1000 for label, _, _ in PHASES}


def profile(context: dict[str, object]) -> dict[str, float]:
    node = shutil.which("node")
    if node is None:
        sys.exit("node not found")
    with tempfile.TemporaryDirectory() as tmp:
        prof_dir = Path(tmp) / "prof"
        wrapper = Path(tmp) / "node"
        wrapper.write_text(f'#!/bin/sh\nexec "{node}" --cpu-prof --cpu-prof-dir="{prof_dir}" "$@"\n')
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
        env = {
            **os.environ,
            "JSII_NODE": str(wrapper),
            "CDK_OUTDIR": str(Path(tmp) / "out"),
            "CDK_CONTEXT_JSON": json.dumps(context),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        }
        subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, check=True, capture_output=True)
        profiles = sorted(prof_dir.glob("*.cpuprofile"), key=lambda p: p.stat().st_size)
        return _inclusive_ms(json.loads(profiles[-1].read_text()))


def main() -> None:
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    default = profile(context)
    validated = profile({**context, "cfn_validation": "true"})
    print(f"{'phase of one full-app synth (Node CPU profile, ms)':<52}{'default':>9}{'validated':>11}")
    for label in default:
        print(f"{label:<52}{default[label]:>9.0f}{validated[label]:>11.0f}")


if __name__ == "__main__":
    main()
