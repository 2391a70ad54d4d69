"""httpx's command line (`httpx.main`), loaded when first called instead of whenever httpx is imported.

httpx's `__init__` ends with `from ._main import main`, and `httpx._main` imports click, rich and pygments: ~0.09 s
of CPU in every process that imports httpx (each client command of the CLI, each script and test worker), for a
command line the kit never runs. `install()` hooks the import of `httpx` alone: while its `__init__` runs, a
stand-in in `sys.modules` serves `main` (a function that loads the real `httpx._main` when called); then the
stand-in is withdrawn, so any other import of `httpx._main` gets the real module.
tests/toolchain/test_compat_shapes.py checks that httpx still imports only `main` from there.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any

PACKAGE = "httpx"
CLI_MODULE = "httpx._main"


def main(*args: Any, **kwargs: Any) -> Any:
    """`httpx.main`: the real one, loaded now."""
    if sys.modules.get(CLI_MODULE) is _STAND_IN:
        del sys.modules[CLI_MODULE]
    return importlib.import_module(CLI_MODULE).main(*args, **kwargs)


_STAND_IN = types.ModuleType(CLI_MODULE)
_STAND_IN.main = main  # type: ignore[attr-defined]


class _HttpxImportHook(importlib.abc.MetaPathFinder):
    """Finds `httpx` as the path finder does, and runs its `__init__` with the stand-in in place."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != PACKAGE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        loader = spec.loader if spec is not None else None
        if spec is None or not isinstance(loader, importlib.abc.Loader) or CLI_MODULE in sys.modules:
            return spec
        exec_module = loader.exec_module

        def exec_with_stand_in(module: types.ModuleType) -> None:
            sys.modules[CLI_MODULE] = _STAND_IN
            try:
                exec_module(module)
            finally:
                if sys.modules.get(CLI_MODULE) is _STAND_IN:
                    del sys.modules[CLI_MODULE]

        loader.exec_module = exec_with_stand_in  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Hook httpx's import, unless it happened already (or the hook is in place)."""
    if PACKAGE in sys.modules or any(isinstance(finder, _HttpxImportHook) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _HttpxImportHook())
