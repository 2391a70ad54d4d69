"""The kit used from a user's own project: the wheel, installed into a fresh venv outside the checkout, scaffolds a
project with `infernet-kit init`, whose `forge test` (the simulator) and `pytest` (a real anvil, node, services
and dev backend delivering to the user's consumer) pass.

To stay fast and offline, the fresh venv gets the wheel with `--no-deps` and sees the dev venv's dependencies
through a `.pth` line naming the dev venv's site-packages (a path in a `.pth` file is appended to sys.path, but
the `.pth` files inside it are not run, so the checkout's editable install stays invisible and `infernet_kit`
comes from the wheel). Foundry and npm solc come from a toolchain cache that links the checkout's
node_modules, standing in for what `infernet-kit setup` installs there.
"""

from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from uv import find_uv_bin

from infernet_kit.devstack.anvil import Anvil
from infernet_kit.paths import CACHE_ENV, ROOT_ENV, checkout_root, foundry_platform
from infernet_kit.project.scaffold import ARTIFACTS, InitError, built_core


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh venv outside the checkout with the kit's wheel in it, and the environment to run it."""
    checkout = checkout_root()
    assert checkout is not None, "these tests build the wheel from the checkout"
    home = tmp_path_factory.mktemp("user")
    uv = [find_uv_bin(), "--offline", "--quiet"]  # a third of pip's time for the build, a tenth for the rest
    build = [*uv, "build", "--wheel", "--no-build-isolation", "--python", sys.executable, "--out-dir", str(home), "."]
    _run(build, cwd=checkout, env=dict(os.environ))
    (wheel,) = home.glob("infernet_kit-*.whl")
    venv = home / "venv"
    _run([*uv, "venv", "--python", sys.executable, str(venv)], cwd=home, env=dict(os.environ))
    python = venv / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], home, {}))
    (Path(purelib.as_posix().strip()) / "dev-venv.pth").write_text(
        "\n".join([sysconfig.get_paths()["purelib"], *site.getsitepackages()]) + "\n"
    )
    _run([*uv, "pip", "install", "--python", str(python), "--no-deps", str(wheel)], cwd=home, env=dict(os.environ))
    cache = home / "cache"
    cache.mkdir()
    (cache / "node_modules").symlink_to(checkout / "node_modules")
    env = {key: value for key, value in os.environ.items() if key not in (ROOT_ENV, "VIRTUAL_ENV", "PYTHONPATH")}
    forge_bin = cache / "node_modules" / "@foundry-rs" / f"forge-{foundry_platform()}" / "bin"
    env.update({CACHE_ENV: str(cache), "PATH": f"{venv / 'bin'}:{forge_bin}:/usr/bin:/bin", "HOME": str(home)})
    return venv, env


def test_the_wheel_is_the_kit_that_runs(installed: tuple[Path, dict[str, str]]) -> None:
    venv, env = installed
    code = "import infernet_kit.paths as p; print(p.__file__); print(p.kit_dir()); print(p.checkout_root())"
    module, kit, checkout = _run([str(venv / "bin" / "python"), "-c", code], venv, env).split()
    assert module.startswith(str(venv)) and kit.startswith(str(venv))
    assert checkout == "None"
    assert (Path(kit) / "out" / "EIP712Coordinator.sol" / "EIP712Coordinator.json").is_file()
    assert os.access(Path(kit) / "tools" / "solc", os.X_OK)


def _installed_kit(venv: Path, env: dict[str, str]) -> Path:
    code = "from infernet_kit.paths import kit_dir; print(kit_dir())"
    return Path(_run([str(venv / "bin" / "python"), "-c", code], venv, env).strip())


def test_init_gives_a_project_whose_forge_test_and_pytest_pass(installed: tuple[Path, dict[str, str]]) -> None:
    venv, env = installed
    project = venv.parent / "my-project"
    _run([str(venv / "bin" / "infernet-kit"), "init", str(project)], venv.parent, env)
    assert (project / ".gitignore").is_file() and (project / "config.json").is_file()
    # The simulator's core is the installed kit's build, linked.
    assert (project / ARTIFACTS).is_symlink()
    assert (project / ARTIFACTS).resolve() == _installed_kit(venv, env) / "out"

    # Built with the scaffold in one forge build, run apart (its second test fails on purpose), then gone.
    (project / "test" / "PrintTheCore.t.sol").write_text(PRINT_THE_CORE)
    _run(["forge", "build"], project, env, timeout=600)
    built = {path.parent.name for path in (project / "out").glob("*.sol/*.json")}
    assert {"MyTGIConsumer.sol", "MyRecurringConsumer.sol", "MyConsumers.t.sol", "PrintTheCore.t.sol"} <= built
    # The kit's contracts were type-checked, not generated: not the core, nor the simulator on its own; its
    # import brings their ABIs only.
    assert not built & {"EIP712Coordinator.sol", "Registry.sol", "Inbox.sol", "Simulator.sol"}, built
    carriers = [json.loads(path.read_text()) for path in (project / "out" / "InfernetSim.sol").glob("*.json")]
    assert {"deliver", "deliverCompute"} <= {item.get("name") for carrier in carriers for item in carrier["abi"]}
    assert all(carrier["bytecode"]["object"] in ("", "0x") for carrier in carriers)

    forge = _run(["forge", "test", "--match-path", "test/MyConsumers.t.sol"], project, env, timeout=600)
    assert "2 passed; 0 failed" in forge, forge
    _the_simulator_deploys_the_shipped_core(project, env, _installed_kit(venv, env))
    (project / "test" / "PrintTheCore.t.sol").unlink()

    pytest_run = _run([str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, env)
    assert "1 passed" in pytest_run, pytest_run

    _deploy_as_the_readme_says(project, venv, env)

    # State stayed in the project, nothing was written into the installed package.
    assert (project / "deployments" / "31337.json").is_file()
    assert not list((venv / "lib").rglob(".kit")) and not list((venv / "lib").rglob("deployments"))


# The core's contracts InfernetSim keeps, by artifact name, in the order PRINT_THE_CORE prints their code.
CORE = ("Registry", "EIP712Coordinator", "Inbox", "Fee", "WalletFactory")
PRINT_THE_CORE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {console} from "forge-std/console.sol";
import {vm} from "kit-test/Vm.sol";
import {InfernetSim} from "infernet-kit/InfernetSim.sol";
import {ServiceOutputs} from "infernet-kit/ServiceOutputs.sol";
import {MyTGIConsumer} from "../src/MyTGIConsumer.sol";

contract PrintTheCore {
    function test_print() public {
        InfernetSim sim = new InfernetSim();
        sim.deployAtReference();
        console.logBytes(address(sim.registry()).code);
        console.logBytes(address(sim.coordinator()).code);
        console.logBytes(address(sim.inbox()).code);
        console.logBytes(address(sim.fee()).code);
        console.logBytes(address(sim.walletFactory()).code);
    }

    function test_deliverTwice() public {
        InfernetSim sim = new InfernetSim();
        bytes memory registry = abi.encode(sim.deployAtReference());
        MyTGIConsumer consumer = MyTGIConsumer(vm.deployCode("MyTGIConsumer.sol:MyTGIConsumer", registry));
        uint32 id = consumer.ask("twice?");
        sim.deliver(id, ServiceOutputs.tgiOutput("once"));
        sim.deliver(id, ServiceOutputs.tgiOutput("twice"));
    }
}
"""


def _the_simulator_deploys_the_shipped_core(project: Path, env: dict[str, str], kit: Path) -> None:
    """The code the simulator deployed, printed by PRINT_THE_CORE's forge test, is the kit's shipped (optimized)
    runtime code, immutables aside (the artifact leaves them zero); a Coordinator error through it reads by name."""
    command = ["forge", "test", "--match-contract", "PrintTheCore", "--json", "-vv"]
    ran = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=600)
    (results,) = [suite["test_results"] for suite in json.loads(ran.stdout).values()]
    assert results["test_deliverTwice()"]["reason"] == "IntervalCompleted()", results["test_deliverTwice()"]
    printed = results["test_print()"]
    assert printed["status"] == "Success", printed
    for name, logged in zip(CORE, printed["decoded_logs"], strict=True):
        shipped = json.loads((kit / "out" / f"{name}.sol" / f"{name}.json").read_text())
        assert shipped["metadata"]["settings"]["optimizer"]["enabled"], name
        code = bytearray(bytes.fromhex(logged.removeprefix("0x")))
        for references in shipped["deployedBytecode"].get("immutableReferences", {}).values():
            for reference in references:
                code[reference["start"] : reference["start"] + reference["length"]] = bytes(reference["length"])
        assert code.hex() == shipped["deployedBytecode"]["object"].removeprefix("0x"), name


def _readme_blocks(language: str) -> list[str]:
    """The code blocks of README's "Deploying your consumer against the kit's deployment"."""
    readme = (checkout_root() or Path()).joinpath("README.md").read_text()
    section = readme.split("### Deploying your consumer against the kit's deployment", 1)[1].split("\n#", 1)[0]
    return re.findall(rf"^```{language}\n(.*?)^```$", section, flags=re.S | re.M)


def _deploy_as_the_readme_says(project: Path, venv: Path, env: dict[str, str]) -> None:
    """`infernet-kit deploy` from the project (the deployment file lands there), then README's `forge create`
    line and its Python equivalent, which read the Registry from it."""
    with Anvil(log_path=project / "anvil.log") as chain:
        _run([str(venv / "bin" / "infernet-kit"), "deploy", "--rpc-url", chain.url], project, env)
        (create,) = _readme_blocks("bash")
        created = _run(["bash", "-c", create.replace("http://127.0.0.1:8545", chain.url)], project, env)
        address = re.search(r"Deployed to: (0x[0-9a-fA-F]{40})", created)
        assert address and chain.w3.eth.get_code(address.group(1))

        (snippet,) = _readme_blocks("python")
        code = snippet.replace("http://127.0.0.1:8545", chain.url) + "print(consumer.address)\n"
        printed = _run([str(venv / "bin" / "python"), "-c", code], project, env).split()[-1]
        # The consumer's constructor asks the Registry for the Coordinator: it deployed, so the address was right.
        assert chain.w3.eth.get_code(printed)
        assert json.loads((project / "deployments" / "31337.json").read_text())["chainId"] == 31337


def test_init_refuses_a_directory_that_is_not_empty(installed: tuple[Path, dict[str, str]]) -> None:
    venv, env = installed
    taken = venv.parent / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    result = subprocess.run(
        [str(venv / "bin" / "infernet-kit"), "init", str(taken)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "is not empty" in result.stderr and "--force" in result.stderr
    assert sorted(path.name for path in taken.iterdir()) == ["notes.txt"]


def test_setup_finds_an_installed_toolchain_and_says_what_is_missing(installed: tuple[Path, dict[str, str]]) -> None:
    venv, env = installed
    kit = str(venv / "bin" / "infernet-kit")
    digest = "from infernet_kit.project.toolchain import lock_digest; print(lock_digest(), end='')"
    stamp = Path(env[CACHE_ENV]) / ".kit-installed"
    stamp.write_text(_run([str(venv / "bin" / "python"), "-c", digest], venv, env))
    listed = _run([kit, "setup"], venv, env)  # the lock is installed there: nothing to do, no npm call
    assert {line.split()[0] for line in listed.splitlines()} == {"forge", "anvil", "cast", "solc"}

    empty = {**env, CACHE_ENV: str(venv.parent / "empty-cache"), "PATH": str(venv / "bin")}
    refused = subprocess.run([kit, "setup"], env=empty, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert "npm is not on PATH" in refused.stderr


def test_the_scaffolds_node_config_loads(installed: tuple[Path, dict[str, str]]) -> None:
    venv, env = installed
    project = venv.parent / "config-check"
    _run([str(venv / "bin" / "infernet-kit"), "init", str(project)], venv.parent, env)
    code = "from infernet_kit.node.config import load_config; c = load_config('config.json'); print(c.chain.enabled)"
    assert _run([str(venv / "bin" / "python"), "-c", code], project, env).strip() == "True"


def test_init_vendor_remaps_to_a_copy_in_lib(installed: tuple[Path, dict[str, str]]) -> None:
    venv, env = installed
    project = venv.parent / "vendored"
    _run([str(venv / "bin" / "infernet-kit"), "init", "--vendor", str(project)], venv.parent, env)
    targets = [line.split("=", 1)[1] for line in (project / "remappings.txt").read_text().splitlines()]
    assert targets and all(target.startswith("lib/infernet-kit-contracts/") for target in targets)
    assert all((project / target).is_dir() for target in targets)
    assert (project / "lib/infernet-kit-contracts/contracts/sim/InfernetSim.sol").is_file()
    assert "allow_paths = []" in (project / "foundry.toml").read_text()
    # The compiled core is copied too, and git keeps it (the scaffold ignores only the project's own out/).
    kit = _installed_kit(venv, env)
    copied = project / ARTIFACTS / "EIP712Coordinator.sol" / "EIP712Coordinator.json"
    assert not (project / ARTIFACTS).is_symlink()
    assert copied.read_bytes() == (kit / "out" / "EIP712Coordinator.sol" / "EIP712Coordinator.json").read_bytes()
    _run(["git", "init", "--quiet"], project, env)
    ignored = subprocess.run(["git", "check-ignore", "--quiet", str(copied)], cwd=project, env=env, timeout=60)
    assert ignored.returncode == 1, "the vendored artifacts are git-ignored"

    forge = _run(["forge", "test"], project, env, timeout=600)
    assert "2 passed; 0 failed" in forge, forge


def test_init_refuses_a_kit_whose_contracts_were_never_built(tmp_path: Path) -> None:
    """Before writing anything: the simulator would have no core to deploy."""
    kit = tmp_path / "kit"
    (kit / "contracts/src/payments").mkdir(parents=True)
    (kit / "contracts/src/Registry.sol").write_text("")
    (kit / "contracts/src/payments/Fee.sol").write_text("")
    (kit / "out/Registry.sol").mkdir(parents=True)
    with pytest.raises(InitError, match=r"out/Fee\.sol\): run `make build`"):
        built_core(kit)
    (kit / "out/Fee.sol").mkdir()
    assert [path.name for path in built_core(kit)] == ["Fee.sol", "Registry.sol"]
