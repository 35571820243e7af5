"""Check the import contracts of pyproject.toml's [tool.importlinter] (layers, no circles, forbidden imports).

    python tools/import_contracts.py [--verbose] [--debug]     # exit 0 when every contract is kept

`constructs` is two things: the installed library (a regular package whose `__init__` extends its `__path__` at
import time) and our folder, a PEP 420 portion of it without an `__init__.py`. grimp, import-linter's graph
builder, takes a subpackage such as `constructs.engines` as a root only when its parent is a namespace package,
and finds a package's files from its import spec, which for the library names only site-packages. So in this
process alone `constructs` is our folder as a namespace package: our subpackages are the roots the contracts
name, and `from constructs import Construct` counts as an import of an external package `constructs`. The
proxy's package `chatapi` is found through lambda/chat_proxy, as the Lambda finds it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


class _OurConstructs(importlib.abc.MetaPathFinder):
    """Resolves `constructs` to this repository's folder as a namespace package (no origin, one search path)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "constructs":
            return None
        spec = importlib.machinery.ModuleSpec("constructs", None, is_package=True)
        spec.submodule_search_locations = [str(ROOT / "constructs")]
        return spec


def main(argv: list[str]) -> int:
    assert "constructs" not in sys.modules, "run before anything imports the constructs library"
    sys.meta_path.insert(0, _OurConstructs())
    sys.path[:0] = [str(ROOT), str(ROOT / "lambda" / "chat_proxy")]
    # lint-imports puts the working directory first on sys.path: make it this repository's.
    os.chdir(ROOT)
    from importlinter.cli import lint_imports

    # No cache folder left behind.
    return lint_imports(
        config_filename=str(ROOT / "pyproject.toml"),
        no_cache=True,
        no_logo=True,
        is_debug_mode="--debug" in argv,
        verbose="--verbose" in argv,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
