"""Run a CDK CLI command with the context keys of a JSON file, before any explicit -c (which still win).

    python tools/context_file.py deploy/prod.json node_modules/.bin/cdk deploy -c instance_count=2

is `cdk deploy -c k1=v1 -c k2=v2 ... -c instance_count=2`, one `-c` per key of the file (a JSON object; nested
values such as extra_env are passed as JSON). `make deploy CONTEXT_FILE=deploy/prod.json` uses it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def context_args(path: Path) -> list[str]:
    try:
        data: Any = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f"error: context file {path}: {err}") from None
    if not isinstance(data, dict):
        raise SystemExit(f"error: context file {path} must hold a JSON object of context keys")
    args: list[str] = []
    for key, value in data.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        args += ["-c", f"{key}={text}"]
    return args


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        raise SystemExit("usage: context_file.py FILE CDK COMMAND [ARGS...]")
    path, cdk, command, rest = Path(argv[0]), argv[1], argv[2], argv[3:]
    # The CLI applies -c in order, the last one wins: the file's keys go first.
    os.execv(cdk, [cdk, command, *context_args(path), *rest])  # noqa: S606 - argv list, no shell: replaces us


if __name__ == "__main__":
    main(sys.argv[1:])
