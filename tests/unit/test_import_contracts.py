"""The import contracts (pyproject.toml [tool.importlinter]) hold, and they check our code, not the library's."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engines", "hosting", "private", "api", "facts", "compliance")
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _lint(root: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "tools" / "import_contracts.py")],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_every_import_contract_is_kept() -> None:
    out = _lint()
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(CONFIG['contracts'])} kept, 0 broken" in out.stdout, out.stdout


# Imports that break each contract (file, line appended), so no contract passes vacuously. The key starts with
# the contract's name as lint-imports prints it.
VIOLATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    # The old circle: a private module reaching up into hosting.
    "Layers (upward)": (("constructs/private/keys.py", "from constructs.hosting.endpoint import HostedEndpoint"),),
    "Layers (independent siblings)": (
        ("constructs/engines/quantization.py", "from constructs.api import time_limits"),
    ),
    "No import circles": (
        ("constructs/facts/regions.py", "from constructs.facts import catalog"),
        ("constructs/facts/catalog.py", "from constructs.facts import regions"),
    ),
    "Facts are plain Python": (("constructs/facts/gpu_facts.py", "import aws_cdk"),),
    "The chat proxy (stacks)": (("lambda/chat_proxy/chatapi/limits.py", "from stacks import config"),),
    "The chat proxy (constructs)": (("lambda/chat_proxy/chatapi/limits.py", "from constructs.api import time_limits"),),
    # The wake-up holds backend calls for the dialects: it never reaches up into them.
    "chat proxy: app > routes > dialects > wake > backend (upward)": (
        ("lambda/chat_proxy/chatapi/wake.py", "from chatapi.dialects import seam"),
    ),
}


@pytest.mark.parametrize("case", sorted(VIOLATIONS))
def test_each_contract_fails_on_a_violating_import(case: str, tmp_path: Path) -> None:
    for part in ("constructs", "stacks", "lambda/chat_proxy/chatapi", "tools/import_contracts.py", "pyproject.toml"):
        source, target = ROOT / part, tmp_path / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "static"))
        else:
            shutil.copy2(source, target)
    for path, line in VIOLATIONS[case]:
        with (tmp_path / path).open("a") as f:
            f.write(f"\n{line}\n")
    out = _lint(tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    broken = [line for line in out.stdout.splitlines() if " BROKEN" in line]
    assert len(broken) == 1 and broken[0].startswith(case.split(" (")[0]), out.stdout


def _library_imports(path: Path) -> list[str]:
    """Imports of the installed `constructs` library's own names (`from constructs import Construct`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "constructs" and node.level == 0:
            found += [
                f"{path.relative_to(ROOT)}: from constructs import {a.name}"
                for a in node.names
                if a.name not in PACKAGES
            ]
        elif isinstance(node, ast.Import):
            found += [f"{path.relative_to(ROOT)}: import constructs" for a in node.names if a.name == "constructs"]
    return found


def test_facts_and_the_proxy_never_import_the_constructs_library() -> None:
    """What the contracts cannot name: the installed library's `Construct`/`IConstruct` (it starts jsii too)."""
    files = [*(ROOT / "constructs" / "facts").rglob("*.py"), *(ROOT / "lambda" / "chat_proxy").rglob("*.py")]
    assert len(files) > 10
    assert [hit for path in files for hit in _library_imports(path)] == []
    assert _library_imports(ROOT / "constructs" / "hosting" / "endpoint.py"), "the check finds a real one"


def test_every_package_of_ours_is_a_root_the_contracts_see() -> None:
    roots = set(CONFIG["root_packages"])
    on_disk = {f"constructs.{p.name}" for p in (ROOT / "constructs").iterdir() if (p / "__init__.py").exists()}
    assert on_disk == {f"constructs.{name}" for name in PACKAGES}
    assert on_disk | {"stacks", "chatapi"} <= roots
    # No module of ours sits directly in constructs/: it would be outside every contract.
    assert not list((ROOT / "constructs").glob("*.py"))


def test_package_inits_hold_only_their_docstring() -> None:
    """Importing `constructs.hosting` for one fact must not pull in aws_cdk: the `__init__` is the docstring alone."""
    for name in PACKAGES:
        body = ast.parse((ROOT / "constructs" / name / "__init__.py").read_text()).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr), name
        docstring = ast.get_docstring(ast.Module(body=body, type_ignores=[]))
        assert docstring and "\n\n" in docstring, f"{name}: a one-line summary and a paragraph saying what it owns"
