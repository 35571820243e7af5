"""`constructs/` is a PEP 420 portion of the installed `constructs` namespace: both must keep resolving."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_constructs_folder_has_no_init_py() -> None:
    assert not (ROOT / "constructs" / "__init__.py").exists(), "an __init__.py here shadows the constructs library"


def test_construct_base_class_is_the_installed_library_and_our_modules_import() -> None:
    code = (
        "import aws_cdk, constructs, inspect\n"
        "from constructs import Construct\n"
        "from constructs.engines.tgi_endpoint import TgiEndpoint\n"
        "assert 'site-packages' in inspect.getfile(Construct), inspect.getfile(Construct)\n"
        "assert issubclass(TgiEndpoint, Construct)\n"
        # Every package of ours resolves to this folder through the library's extended __path__.
        "import importlib, pathlib\n"
        "for name in ('engines', 'hosting', 'private', 'api', 'facts', 'compliance'):\n"
        "    package = importlib.import_module('constructs.' + name)\n"
        "    assert pathlib.Path(package.__file__).parent == pathlib.Path('constructs', name).resolve(), package\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_lambda_folder_is_never_a_python_package() -> None:
    assert not (ROOT / "lambda" / "__init__.py").exists()
