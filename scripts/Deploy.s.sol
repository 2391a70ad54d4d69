// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

// Deploys the Infernet core and the example consumers, then writes `deployments/<chainid>.json`.
//
//   PRIVATE_KEY=0x... node_modules/@foundry-rs/forge-linux-amd64/bin/forge script scripts/Deploy.s.sol --rpc-url http://127.0.0.1:8545 --broadcast
//
// Order and constructor arguments (scripts/deploy.py mirrors them exactly; nonces count from the deployer's
// current nonce n). The Registry is created first with the addresses the next five creations will get:
//   n+0 Registry(coordinator, inbox, reader, fee, walletFactory)
//   n+1 EIP712Coordinator(registry)
//   n+2 Inbox(registry)
//   n+3 Reader(registry)
//   n+4 Fee(deployer, 500)                 fee recipient = deployer, 500 basis points (5 %)
//   n+5 WalletFactory(registry)
//   n+6 TGICallbackConsumer(registry)
//   n+7 HFCallbackConsumer(registry)
//   n+8 RecurringConsumer(registry)
//   n+9 DelegateConsumer(registry, signer)  signer = env DELEGATE_SIGNER, default: the deployer
// From anvil account #2 at nonce 0 this yields the reference addresses (Registry 0x663F3ad6..., Coordinator
// 0x2E983A1B..., Inbox 0x8438Ad1C..., Reader 0xBC9129Dc..., Fee 0x6e989C01..., WalletFactory 0xF6168876...).
// JSON (the Python deployer's shape): chainId, deployer, registry, coordinator, inbox, reader, fee, walletFactory,
// consumers {TGICallbackConsumer, HFCallbackConsumer, RecurringConsumer, DelegateConsumer}.

import {Script} from "kit-test/Script.sol";
import {vm} from "kit-test/Vm.sol";
import {artifact} from "kit-test/Artifacts.sol";
import {Registry} from "infernet-sdk/Registry.sol";
// Imported so `forge script` / `forge build` compile every artifact `_create` deploys.
import {EIP712Coordinator as _EIP712Coordinator} from "infernet-sdk/EIP712Coordinator.sol";
import {Inbox as _Inbox} from "infernet-sdk/Inbox.sol";
import {Reader as _Reader} from "infernet-sdk/utility/Reader.sol";
import {Fee as _Fee} from "infernet-sdk/payments/Fee.sol";
import {WalletFactory as _WalletFactory} from "infernet-sdk/payments/WalletFactory.sol";
import {TGICallbackConsumer as _TGICallbackConsumer} from "../contracts/examples/TGICallbackConsumer.sol";
import {HFCallbackConsumer as _HFCallbackConsumer} from "../contracts/examples/HFCallbackConsumer.sol";
import {RecurringConsumer as _RecurringConsumer} from "../contracts/examples/RecurringConsumer.sol";
import {DelegateConsumer as _DelegateConsumer} from "../contracts/examples/DelegateConsumer.sol";

contract Deploy is Script {
    /// @notice Protocol fee in basis points set at deployment.
    uint16 internal constant FEE_BASIS_POINTS = 500;

    struct Deployment {
        address registry;
        address coordinator;
        address inbox;
        address reader;
        address fee;
        address walletFactory;
        address tgiCallbackConsumer;
        address hfCallbackConsumer;
        address recurringConsumer;
        address delegateConsumer;
    }

    /// @notice Deploys with the key in env PRIVATE_KEY and writes deployments/<chainid>.json.
    function run() external returns (Deployment memory d) {
        uint256 key = vm.envUint("PRIVATE_KEY");
        address deployer = vm.addr(key);
        d = deployWithKey(key, vm.envOr("DELEGATE_SIGNER", deployer));
        _write(d, deployer);
    }

    /// @notice Broadcasts the deployment from the account of `key` (no file written).
    function deployWithKey(uint256 key, address signer) public returns (Deployment memory d) {
        vm.startBroadcast(key);
        d = deploy(vm.addr(key), signer);
        vm.stopBroadcast();
    }

    /// @notice Deploys everything from `deployer` (the current broadcaster or caller) in the documented order.
    function deploy(address deployer, address signer) public returns (Deployment memory d) {
        uint256 nonce = vm.getNonce(deployer);
        Registry registry = Registry(
            _create(
                "Registry.sol",
                "Registry",
                abi.encode(
                    computeCreateAddress(deployer, nonce + 1),
                    computeCreateAddress(deployer, nonce + 2),
                    computeCreateAddress(deployer, nonce + 3),
                    computeCreateAddress(deployer, nonce + 4),
                    computeCreateAddress(deployer, nonce + 5)
                )
            )
        );
        d.registry = address(registry);
        bytes memory withRegistry = abi.encode(registry);
        d.coordinator = _create("EIP712Coordinator.sol", "EIP712Coordinator", withRegistry);
        d.inbox = _create("Inbox.sol", "Inbox", withRegistry);
        d.reader = _create("Reader.sol", "Reader", withRegistry);
        d.fee = _create("Fee.sol", "Fee", abi.encode(deployer, FEE_BASIS_POINTS));
        d.walletFactory = _create("WalletFactory.sol", "WalletFactory", withRegistry);
        require(
            d.coordinator == registry.COORDINATOR() && d.inbox == registry.INBOX() && d.reader == registry.READER()
                && d.fee == registry.FEE() && d.walletFactory == registry.WALLET_FACTORY(),
            "Deploy: core addresses differ from the ones precomputed for the Registry"
        );
        d.tgiCallbackConsumer = _create("TGICallbackConsumer.sol", "TGICallbackConsumer", withRegistry);
        d.hfCallbackConsumer = _create("HFCallbackConsumer.sol", "HFCallbackConsumer", withRegistry);
        d.recurringConsumer = _create("RecurringConsumer.sol", "RecurringConsumer", withRegistry);
        d.delegateConsumer = _create("DelegateConsumer.sol", "DelegateConsumer", abi.encode(registry, signer));
    }

    /// @dev CREATE from forge's compiled artifact. Equivalent to `new`, but keeps this script from embedding (and,
    ///      under via-IR, re-optimizing) every contract's bytecode, which would make builds several times slower.
    function _create(string memory file, string memory name, bytes memory constructorArgs) internal returns (address) {
        return vm.deployCode(artifact(file, name), constructorArgs);
    }

    /// @dev Same shape as the Python deployer's file (infernet_kit.chain.deploy.Deployment).
    function _write(Deployment memory d, address deployer) internal {
        string memory consumers = string.concat(
            "{\n",
            _entry("    ", "TGICallbackConsumer", d.tgiCallbackConsumer, true),
            _entry("    ", "HFCallbackConsumer", d.hfCallbackConsumer, true),
            _entry("    ", "RecurringConsumer", d.recurringConsumer, true),
            _entry("    ", "DelegateConsumer", d.delegateConsumer, false),
            "  }\n"
        );
        string memory json = string.concat(
            "{\n",
            '  "chainId": ',
            vm.toString(block.chainid),
            ",\n",
            _entry("  ", "deployer", deployer, true),
            _entry("  ", "registry", d.registry, true),
            _entry("  ", "coordinator", d.coordinator, true),
            _entry("  ", "inbox", d.inbox, true),
            _entry("  ", "reader", d.reader, true),
            _entry("  ", "fee", d.fee, true),
            _entry("  ", "walletFactory", d.walletFactory, true),
            '  "consumers": ',
            consumers,
            "}\n"
        );
        vm.createDir("deployments", true);
        vm.writeFile(string.concat("deployments/", vm.toString(block.chainid), ".json"), json);
    }

    function _entry(string memory indent, string memory name, address value, bool comma)
        private
        pure
        returns (string memory)
    {
        return string.concat(indent, '"', name, '": "', vm.toString(value), comma ? '",\n' : '"\n');
    }
}
