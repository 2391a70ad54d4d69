"""One module's import run with stand-ins in `sys.modules` for some of what it imports, withdrawn afterwards.

How the kit defers a costly import that a library makes at its top for a path the kit never takes: the module is
found and loaded as the path finder does, and only while its body runs do the stand-ins answer its imports, so
any other import of those modules gets the real ones (`deferred_bls`: py_ecc's BLS tables under eth_keyfile;
`deferred_httpx_cli`: httpx's command line).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Callable, Mapping, Sequence

StandIns = Callable[[], Mapping[str, types.ModuleType]]


class StandInHook(importlib.abc.MetaPathFinder):
    """Finds `module` as the path finder does, and runs it with what `stand_ins()` gives in `sys.modules`."""

    def __init__(self, module: str, stand_ins: StandIns) -> None:
        self.module = module
        self._stand_ins = stand_ins

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.module:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        loader = spec.loader if spec is not None else None
        if spec is None or not isinstance(loader, importlib.abc.Loader):
            return spec
        exec_module, stand_ins = loader.exec_module, self._stand_ins

        def exec_with_stand_ins(module: types.ModuleType) -> None:
            served = dict(stand_ins())
            sys.modules.update(served)
            try:
                exec_module(module)
            finally:
                for name, stand_in in served.items():
                    if sys.modules.get(name) is stand_in:
                        del sys.modules[name]

        loader.exec_module = exec_with_stand_ins  # type: ignore[method-assign]
        return spec


def install(module: str, stand_ins: StandIns) -> None:
    """Hook `module`'s import, unless it happened already (or its hook is in place)."""
    hooked = any(isinstance(finder, StandInHook) and finder.module == module for finder in sys.meta_path)
    if module not in sys.modules and not hooked:
        sys.meta_path.insert(0, StandInHook(module, stand_ins))
