"""Declare what you import, import what you declare: the package's imports against `pyproject.toml`."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

from infernet_kit.paths import project_root

PACKAGE = project_root() / "service" / "infernet_kit"
# Declared for what they do when present, never imported by name.
UNIMPORTED_ON_PURPOSE = {
    "coincurve": "eth-keys signs with it when installed (a transaction in ~1 ms instead of ~14 ms)",
}
# The pytest plugin (`infernet_kit.testing`) only loads under pytest: it may import the `dev` extra.
DEV_ONLY_UNDER = PACKAGE / "testing"


def _name(requirement: str) -> str:
    """A requirement's distribution name, normalized (PEP 503)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"cannot read a distribution name from {requirement!r}"
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((project_root() / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    dev = {_name(r) for r in project["optional-dependencies"]["dev"]}
    return runtime, dev


def _imports(path: Path) -> set[str]:
    """Top-level module names `path` imports absolutely (relative imports stay inside the package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", "infernet_kit"}


@cache
def _providers() -> dict[str, list[str]]:
    """Top-level module name -> installed distributions providing it (a scan of every installed package)."""
    return dict(packages_distributions())


def _distributions(module: str) -> set[str]:
    found = _providers().get(module)
    assert found, f"{module} is imported but no installed distribution provides it"
    return {_name(d) for d in found}


@cache
def _imported_distributions() -> dict[str, set[str]]:
    """Each third-party distribution the package imports, with the files importing it."""
    used: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for module in _imports(path):
            for distribution in _distributions(module):
                used.setdefault(distribution, set()).add(str(path.relative_to(PACKAGE)))
    return used


def test_every_imported_distribution_is_declared() -> None:
    runtime, dev = _declared()
    undeclared = {}
    for distribution, files in _imported_distributions().items():
        dev_only = all((PACKAGE / f).is_relative_to(DEV_ONLY_UNDER) for f in files)
        if distribution not in runtime and not (dev_only and distribution in dev):
            undeclared[distribution] = sorted(files)
    assert undeclared == {}, f"imported but not declared in pyproject.toml [project] dependencies: {undeclared}"


def test_every_declared_dependency_is_imported() -> None:
    runtime, _ = _declared()
    unused = runtime - set(_imported_distributions()) - set(UNIMPORTED_ON_PURPOSE)
    assert unused == set(), f"declared in pyproject.toml but never imported by infernet_kit: {sorted(unused)}"


def test_the_check_sees_a_known_import() -> None:
    """The scan itself works: it finds the imports we know are there (so an empty result is not a pass)."""
    used = _imported_distributions()
    assert "retrying.py" in used["tenacity"]
    assert {"web3", "pydantic", "aiohttp"} <= set(used)
