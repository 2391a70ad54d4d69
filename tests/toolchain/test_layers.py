"""The package's layers hold: the dev stack stands on top of what it runs, and `protocol/` at the bottom imports
nothing of the kit but itself (docs/ARCHITECTURE.md draws the layers)."""

from __future__ import annotations

import ast
from pathlib import Path

from infernet_kit.paths import project_root

PACKAGE = project_root() / "service" / "infernet_kit"
# What may import `infernet_kit.devstack`: the dev stack itself, the CLI that exposes it, the pytest plugin.
MAY_IMPORT_DEVSTACK = ("devstack", "cli", "testing")
# What may import the node, the services or the client: whatever sits above them.
LOWER_LAYERS = ("protocol", "chain")
DEVSTACK = "infernet_kit.devstack"


def _kit_imports(path: Path) -> set[str]:
    """Every `infernet_kit.*` module `path` imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.startswith("infernet_kit."))
    return found


def _area(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_scan_sees_the_package() -> None:
    areas = {_area(path) for path in _modules()}
    assert {"protocol", "chain", "node", "services", "client", "devstack", "testing"} <= areas
    assert "infernet_kit.devstack.stack" in _kit_imports(PACKAGE / "devstack" / "cli.py")


def test_nothing_below_the_dev_stack_imports_it() -> None:
    reaching_up = {
        str(path.relative_to(PACKAGE)): sorted(name for name in _kit_imports(path) if name.startswith(DEVSTACK))
        for path in _modules()
        if _area(path) not in MAY_IMPORT_DEVSTACK
    }
    assert not {module: names for module, names in reaching_up.items() if names}, "imports of the dev stack"


def test_lower_layers_import_no_layer_above_them() -> None:
    upper = ("infernet_kit.node", "infernet_kit.services", "infernet_kit.client", DEVSTACK)
    reaching_up: dict[str, list[str]] = {}
    for path in _modules():
        area = _area(path)
        if area not in LOWER_LAYERS:
            continue
        names = _kit_imports(path)
        bad = [name for name in names if name.startswith(upper)]
        if area == "protocol":  # the bottom: nothing of the kit but itself
            bad = [name for name in names if not name.startswith("infernet_kit.protocol")]
        if bad:
            reaching_up[str(path.relative_to(PACKAGE))] = sorted(bad)
    assert not reaching_up, "lower layers importing upward"
