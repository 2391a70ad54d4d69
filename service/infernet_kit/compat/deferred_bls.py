"""py_ecc's BLS12-381 modules, loaded when first used instead of whenever eth_account is imported.

eth_account imports eth_keyfile, which imports `py_ecc.bls` (for EIP-2335 BLS keystores, which the kit never makes)
and `py_ecc.bls12_381.curve_order` at module level; importing those computes pairing tables: about 0.5 s of CPU,
most of eth_account's import, in every process that signs or encodes (each node, CLI command and script, each
test worker). `install()` puts stand-ins in `sys.modules` for the two names eth_keyfile imports (the curve order, a
constant; the ciphersuite class, behind a proxy); anything else read from them loads the real module.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import types
from typing import Any

# The order r of BLS12-381's groups (py_ecc.bls12_381.curve_order; tests/toolchain/test_compat_shapes.py checks it).
CURVE_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
# What eth_keyfile.keyfile imports from each module (served by the stand-ins without loading them).
DEFERRED = {"py_ecc.bls": ("G2ProofOfPossession",), "py_ecc.bls12_381": ("curve_order",)}


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


def install() -> None:
    """Defer the two modules, unless something imported them (or eth_keyfile) already or py_ecc is missing."""
    if "eth_keyfile" in sys.modules or any(name in sys.modules for name in DEFERRED):
        return
    package = importlib.machinery.PathFinder.find_spec("py_ecc")  # found, not imported
    if package is None or not package.submodule_search_locations:
        return
    root = next(iter(package.submodule_search_locations))
    sys.modules["py_ecc.bls"] = _DeferredModule(
        "py_ecc.bls",
        [os.path.join(root, "bls")],
        {"G2ProofOfPossession": _DeferredAttribute("py_ecc.bls", "G2ProofOfPossession")},
    )
    sys.modules["py_ecc.bls12_381"] = _DeferredModule(
        "py_ecc.bls12_381", [os.path.join(root, "bls12_381")], {"curve_order": CURVE_ORDER}
    )
