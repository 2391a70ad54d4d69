// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Test} from "kit-test/Test.sol";
import {vm} from "kit-test/Vm.sol";
import {artifact} from "kit-test/Artifacts.sol";
import {Registry} from "infernet-sdk/Registry.sol";
import {EIP712Coordinator} from "infernet-sdk/EIP712Coordinator.sol";
import {Coordinator, Subscription} from "infernet-sdk/Coordinator.sol";
import {Inbox} from "infernet-sdk/Inbox.sol";
import {Reader} from "infernet-sdk/utility/Reader.sol";
import {Fee} from "infernet-sdk/payments/Fee.sol";
import {WalletFactory} from "infernet-sdk/payments/WalletFactory.sol";

/// @notice The part of scripts/Deploy.s.sol tests call. Declared here rather than imported, so editing the script
///         does not recompile every test (the script is deployed from its compiled artifact).
interface IKitDeploy {
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

    function deploy(address deployer, address signer) external returns (Deployment memory);
}

/// @notice Deploys the whole kit through the deployment script (so tests exercise it) and offers helpers.
abstract contract KitTestBase is Test {
    IKitDeploy internal deployer;
    IKitDeploy.Deployment internal d;
    Registry internal registry;
    EIP712Coordinator internal coordinator;
    Inbox internal inbox;
    Reader internal reader;
    Fee internal fee;
    WalletFactory internal walletFactory;

    uint256 internal constant SIGNER_KEY = 0xA11CE;
    address internal signer;

    address internal constant FEE_RECIPIENT = address(0xFEE0);
    address internal constant NODE1 = address(0x1001);
    address internal constant NODE2 = address(0x1002);
    address internal constant NODE3 = address(0x1003);

    bytes internal constant EMPTY = "";
    /// @dev The TGI service's container id, as consumers name it.
    string internal constant TGI = "tgi_client_inference_service";

    /// @dev The test's clock. Tests move time with `skipTime`/`warpTo` and read it from here: under via-IR,
    ///      `block.timestamp` may be read once per call frame, so it does not see `vm.warp` inside a test.
    uint256 internal clock;

    function warpTo(uint256 timestamp) internal {
        clock = timestamp;
        vm.warp(timestamp);
    }

    function skipTime(uint256 secondsToSkip) internal {
        warpTo(clock + secondsToSkip);
    }

    function setUp() public virtual {
        warpTo(1_700_000_000);
        signer = vm.addr(SIGNER_KEY);
        deployer = IKitDeploy(vm.deployCode(artifact("Deploy.s.sol", "Deploy")));
        d = deployer.deploy(address(deployer), signer);
        registry = Registry(d.registry);
        coordinator = EIP712Coordinator(d.coordinator);
        inbox = Inbox(d.inbox);
        reader = Reader(d.reader);
        fee = Fee(d.fee);
        walletFactory = WalletFactory(d.walletFactory);
        // The deployment makes its deployer (here the Deploy contract, which takes no ETH) the fee recipient.
        vm.prank(address(deployer));
        fee.transferOwnership(FEE_RECIPIENT);
    }

    /// @dev Deploys contract `name` of source `file` (e.g. "Consumers.sol", "RecordingConsumer") from forge's
    ///      output. Creating contracts with `new` would embed their bytecode in every test contract, which makes
    ///      via-IR builds slow.
    function deployArtifact(string memory file, string memory name, bytes memory constructorArgs)
        internal
        returns (address)
    {
        return vm.deployCode(artifact(file, name), constructorArgs);
    }

    /// @dev Deploys consumer `name` of fixtures/Consumers.sol on the kit's registry.
    function deployConsumer(string memory name) internal returns (address) {
        return deployArtifact("Consumers.sol", name, abi.encode(address(registry)));
    }

    /// @dev Deploys delegator consumer `name` of fixtures/Consumers.sol, its subscriptions signed by `signer`.
    function deployDelegator(string memory name) internal returns (address) {
        return deployArtifact("Consumers.sol", name, abi.encode(address(registry), signer));
    }

    /// @dev A one-shot, free, eager subscription of `owner` to `containerId`, active now: the delegated
    ///      subscription the tests sign.
    function oneShotSub(address owner, string memory containerId) internal view returns (Subscription memory) {
        return Subscription({
            owner: owner,
            activeAt: uint32(clock),
            period: 0,
            frequency: 1,
            redundancy: 1,
            containerId: containerHash(containerId),
            lazy: false,
            verifier: payable(address(0)),
            paymentAmount: 0,
            paymentToken: address(0),
            wallet: payable(address(0))
        });
    }

    /// @dev The output shape nodes deliver: `abi.encode(bytes raw, bytes processed)`.
    function nodeOutput(bytes memory raw) internal pure returns (bytes memory) {
        return abi.encode(raw, bytes(""));
    }

    function deliver(address node, uint32 subscriptionId, uint32 interval, bytes memory output) internal {
        vm.prank(node);
        coordinator.deliverCompute(subscriptionId, interval, EMPTY, output, EMPTY, address(0));
    }

    function containerHash(string memory containerId) internal pure returns (bytes32) {
        return keccak256(abi.encode(containerId));
    }
}
