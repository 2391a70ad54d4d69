"""httpx's command line (`httpx.main`), loaded when first called instead of whenever httpx is imported.

httpx's `__init__` ends with `from ._main import main`, and `httpx._main` imports click, rich and pygments: ~0.09 s
of CPU in every process that imports httpx (each client command of the CLI, each script and test worker), for a
command line the kit never runs. `install()` hooks the import of `httpx` alone (`stand_ins`): while its `__init__`
runs, a stand-in in `sys.modules` serves `main` (a function that loads the real `httpx._main` when called); then the
stand-in is withdrawn, so any other import of `httpx._main` gets the real module.
tests/toolchain/test_compat_shapes.py checks that httpx still imports only `main` from there.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from infernet_kit.compat import stand_ins

PACKAGE = "httpx"
CLI_MODULE = "httpx._main"


def main(*args: Any, **kwargs: Any) -> Any:
    """`httpx.main`: the real one, loaded now."""
    if sys.modules.get(CLI_MODULE) is _STAND_IN:
        del sys.modules[CLI_MODULE]
    return importlib.import_module(CLI_MODULE).main(*args, **kwargs)


_STAND_IN = types.ModuleType(CLI_MODULE)
_STAND_IN.main = main  # type: ignore[attr-defined]


def _stand_ins() -> dict[str, types.ModuleType]:
    """The stand-in, unless the real command line was imported already."""
    return {} if CLI_MODULE in sys.modules else {CLI_MODULE: _STAND_IN}


def install() -> None:
    """Hook httpx's import, unless it happened already (or the hook is in place)."""
    stand_ins.install(PACKAGE, _stand_ins)
