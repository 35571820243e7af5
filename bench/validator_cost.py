"""What CDK's built-in CloudFormation validator costs, step by step, and what it finds in this app's default template.

aws-cdk-lib runs `@aws/cloudformation-validate` (a WebAssembly engine shipped inside its jsii tarball) on every synth
unless it is turned off (app.new_app turns it off; `-c cfn_validation=true` turns it on). This unpacks that engine
and CDK's default rules from the installed aws-cdk-lib, synthesizes the default app once (validator off), and times
in one Node process: loading the module, building the engine without rules and with CDK's default rules, and
validating the template twice. Then it counts the findings by severity and rule. Prints a table; nothing asserted.

    python bench/validator_cost.py
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENGINE = "package/node_modules/@aws/cloudformation-validate/"
RULES = "package/core/lib/validation/rules/"

SCRIPT = r"""
const [engineDir, rulesDir, template] = process.argv.slice(2);
const fs = require("fs"), path = require("path");
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;
let t = process.hrtime.bigint();
const cv = require(engineDir);
const out = { "load the module (compile the WASM)": ms(t) };
const rules = fs.readdirSync(rulesDir).filter((f) => f.endsWith(".rego")).sort()
  .map((f) => ({ name: f, content: fs.readFileSync(path.join(rulesDir, f), "utf8") }));
t = process.hrtime.bigint(); new cv.CompositeEngine({}).free(); out["build the engine without rules"] = ms(t);
t = process.hrtime.bigint(); const engine = new cv.CompositeEngine({ regoRules: rules });
out[`then build one with CDK's ${rules.length} default rule(s)`] = ms(t);
t = process.hrtime.bigint(); const report = engine.validateTemplate(new cv.TemplateFile(template));
out["validate the default template, first time"] = ms(t);
t = process.hrtime.bigint(); engine.validateTemplate(new cv.TemplateFile(template));
out["validate it again"] = ms(t);
const findings = {};
for (const d of report.diagnostics) { const k = `${d.severity} ${d.ruleId}`; findings[k] = (findings[k] || 0) + 1; }
console.log(JSON.stringify({ steps: out, findings }));
"""


def main() -> int:
    node = shutil.which("node")
    if node is None:
        sys.exit("node not found")
    spec = importlib.util.find_spec("aws_cdk")  # located, not imported: no jsii kernel in this process
    assert spec is not None and spec.origin is not None, "aws-cdk-lib is not installed"
    (tarball,) = (Path(spec.origin).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with tarfile.open(tarball) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith((ENGINE, RULES))]
            tar.extractall(root, members=members, filter="data")
        context = json.loads((REPO / "cdk.json").read_text())["context"]
        env = {
            **os.environ,
            "CDK_OUTDIR": str(root / "out"),
            "CDK_CONTEXT_JSON": json.dumps(context),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        }
        subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, check=True, capture_output=True)
        (template,) = (root / "out").glob("*.template.json")
        (root / "steps.js").write_text(SCRIPT)
        args = [node, str(root / "steps.js"), str(root / ENGINE), str(root / RULES), str(template)]
        result = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    print(f"CDK's built-in CloudFormation validator ({tarball.name}), one Node process")
    print(f"{'step':<52}{'ms':>8}")
    for step, ms in result["steps"].items():
        print(f"{step:<52}{ms:>8.0f}")
    print("findings in the default template (CDK reports none below WARNING and ignores W3005):")
    for finding, count in sorted(result["findings"].items()):
        print(f"  {count:>4} x {finding}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
