"""py_ecc's BLS12-381 modules, loaded when first used instead of whenever eth_account is imported.

eth_account imports eth_keyfile, which imports `py_ecc.bls` (for EIP-2335 BLS keystores, which the kit never makes)
and `py_ecc.bls12_381.curve_order` at module level; importing those computes pairing tables: about 0.35 s of CPU,
most of eth_account's import, in every process that signs or encodes (each node, CLI command and script, each test
worker). `install()` hooks the import of `eth_keyfile.keyfile` alone (`stand_ins`): while it runs, stand-ins in
`sys.modules` serve the two names it imports (the curve order, a constant; the ciphersuite class, behind a proxy
that loads py_ecc.bls when eth_keyfile first uses it); then they are withdrawn, so any other import of the two
modules gets the real ones.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import types
from typing import Any

from infernet_kit.compat import stand_ins

# The order r of BLS12-381's groups (py_ecc.bls12_381.curve_order; tests/toolchain/test_compat_shapes.py checks it).
CURVE_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
KEYFILE_MODULE = "eth_keyfile.keyfile"


def _load(name: str) -> types.ModuleType:
    """The real module `name`, imported now if only its stand-in was."""
    if isinstance(sys.modules.get(name), _DeferredModule):
        del sys.modules[name]
    return importlib.import_module(name)


class _DeferredAttribute:
    """Stands for `module.name` (a class whose attributes are read, never an instance check) until first used."""

    def __init__(self, module: str, name: str) -> None:
        self._target = (module, name)

    def __getattr__(self, attribute: str) -> Any:
        module, name = self._target
        return getattr(getattr(_load(module), name), attribute)


class _DeferredModule(types.ModuleType):
    """Stands for a package in `sys.modules`: the names given are served as they are, any other loads it. Its
    `__path__` is the package's, so `from ... import` reads the names and submodules import as usual."""

    def __init__(self, name: str, path: list[str], values: dict[str, Any]) -> None:
        super().__init__(name)
        self.__path__ = path
        self.__dict__.update(values)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(_load(self.__name__), attribute)


# What eth_keyfile.keyfile imports from each module, as the stand-ins serve it without loading the module.
SERVED: dict[str, dict[str, Any]] = {
    "py_ecc.bls": {"G2ProofOfPossession": _DeferredAttribute("py_ecc.bls", "G2ProofOfPossession")},
    "py_ecc.bls12_381": {"curve_order": CURVE_ORDER},
}


def _stand_ins() -> dict[str, _DeferredModule]:
    """Stand-ins for the deferred modules not imported yet (none if py_ecc is missing)."""
    package = importlib.machinery.PathFinder.find_spec("py_ecc")  # found, not imported
    if package is None or not package.submodule_search_locations:
        return {}
    root = next(iter(package.submodule_search_locations))
    return {
        name: _DeferredModule(name, [os.path.join(root, name.rsplit(".", 1)[1])], served)
        for name, served in SERVED.items()
        if name not in sys.modules
    }


def install() -> None:
    """Hook eth_keyfile's import, unless it happened already (or the hook is in place)."""
    stand_ins.install(KEYFILE_MODULE, _stand_ins)
