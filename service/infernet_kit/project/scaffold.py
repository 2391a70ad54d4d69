"""`infernet-kit init <dir>`: a new Foundry + pytest project that works at once, offline.

The files are package data (`templates/`); `{{NAME}}` placeholders are filled with where this kit's contracts and
solc wrapper are. A `.tmpl` suffix keeps a template from being taken for a file of the kit itself (pytest,
ruff, mypy); `gitignore` becomes `.gitignore`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from infernet_kit.chain.accounts import NODE_OPERATORS, dev_key
from infernet_kit.paths import kit_dir, solc_wrapper

TEMPLATES = Path(__file__).resolve().parent / "templates"
# The kit's Solidity a project compiles against, as `lib/` copies them with `--vendor`.
KIT_CONTRACT_DIRS = ("contracts/src", "contracts/sim", "contracts/test/lib", "contracts/lib/console")
VENDORED = Path("lib") / "infernet-kit-contracts"
# The kit's compiled core, where InfernetSim deploys it from by path (its `PROJECT_ARTIFACTS`): a link to the
# installed kit's `out/`, or with `--vendor` a copy of the artifacts of the vendored `contracts/src`.
ARTIFACTS = VENDORED / "out"
REFERENCE_REGISTRY = "0x663F3ad617193148711d28f5334eE4Ed07016602"


class InitError(RuntimeError):
    """The target is not empty (and `--force` was not given), or the kit's contracts were never built."""


def _target_name(template: Path) -> Path:
    relative = template.relative_to(TEMPLATES)
    name = relative.name.removesuffix(".tmpl")
    return relative.with_name("." + name if name == "gitignore" else name)


def _values(target: Path, vendor: bool) -> dict[str, str]:
    contracts = (VENDORED / "contracts").as_posix() if vendor else (kit_dir() / "contracts").as_posix()
    allow = [] if vendor else [kit_dir().as_posix()]
    return {
        "CONTRACTS": contracts,
        "ARTIFACTS": ARTIFACTS.as_posix(),
        "SOLC": solc_wrapper().as_posix(),
        "ALLOW_PATHS": ", ".join(json.dumps(path) for path in allow),
        "NODE_KEY": dev_key(NODE_OPERATORS[0]),
        "REGISTRY": REFERENCE_REGISTRY,
        "PROJECT": target.name,
    }


def _render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def init_project(target: Path, *, vendor: bool = False, force: bool = False) -> list[Path]:
    """Write the scaffold into `target` (created if missing); `vendor` copies the kit's contracts into `lib/`
    instead of remapping to the installed kit. Refuses a non-empty `target` unless `force`. Returns the files."""
    target = target.resolve()
    if target.exists() and any(target.iterdir()) and not force:
        raise InitError(f"{target} is not empty: choose a new directory, or pass --force to write into it")
    core = built_core(kit_dir())
    values = _values(target, vendor)
    written: list[Path] = []
    for template in sorted(path for path in TEMPLATES.rglob("*") if path.is_file()):
        destination = target / _target_name(template)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(_render(template.read_text(), values))
        written.append(destination)
    if vendor:
        for directory in KIT_CONTRACT_DIRS:
            shutil.copytree(kit_dir() / directory, target / VENDORED / directory, dirs_exist_ok=True)
        written.append(target / VENDORED)
    written.append(_place_core(core, target / ARTIFACTS, vendor))
    return written


def built_core(kit: Path) -> list[Path]:
    """The artifact directories (`out/<File>.sol`) of `kit`'s `contracts/src`, checked before anything is written:
    a checkout that was never built has none (a wheel always carries them)."""
    out = kit / "out"
    directories = [out / name for name in sorted({source.name for source in (kit / "contracts/src").rglob("*.sol")})]
    missing = [directory for directory in directories if not directory.is_dir()]
    if not directories or missing:
        raise InitError(f"the kit's contracts are not built ({missing[0] if missing else out}): run `make build`")
    return directories


def _place_core(core: list[Path], destination: Path, vendor: bool) -> Path:
    """The kit's compiled core at `destination`: a link to the kit's `out/`, so the simulator deploys what this kit
    ships and deploys (a kit upgrade included), or with `vendor` a copy, which the project carries along."""
    if destination.is_symlink():
        destination.unlink()
    elif destination.is_dir():
        shutil.rmtree(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if vendor:
        for directory in core:
            shutil.copytree(directory, destination / directory.name)
    else:
        destination.symlink_to(core[0].parent, target_is_directory=True)
    return destination
