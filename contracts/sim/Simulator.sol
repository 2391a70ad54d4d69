// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

// Projects import the simulator as `infernet-kit/InfernetSim.sol`, which adds the ABIs forge decodes its output with.

import {Registry} from "infernet-sdk/Registry.sol";
import {EIP712Coordinator} from "infernet-sdk/EIP712Coordinator.sol";
import {Subscription} from "infernet-sdk/Coordinator.sol";
import {Inbox} from "infernet-sdk/Inbox.sol";
import {Fee} from "infernet-sdk/payments/Fee.sol";
import {Wallet} from "infernet-sdk/payments/Wallet.sol";
import {WalletFactory} from "infernet-sdk/payments/WalletFactory.sol";
import {BaseConsumer} from "infernet-sdk/consumer/Base.sol";
import {ServiceOutputs} from "./ServiceOutputs.sol";

/// @dev The forge cheatcodes the simulator uses (declared here so it needs no test library).
interface SimCheats {
    function warp(uint256 newTimestamp) external;
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;
    function deal(address account, uint256 newBalance) external;
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function getNonce(address account) external view returns (uint64);
    function deployCode(string calldata artifactPath, bytes calldata constructorArgs) external returns (address);
    function label(address account, string calldata newLabel) external;
    function exists(string calldata path) external view returns (bool);
    function toString(uint256 value) external pure returns (string memory);
}

/// @title InfernetSim
/// @notice Infernet inside `forge test`: deploys the core contracts and acts as the nodes, so a consumer is tested
///         as in the real flow (its `getContainerInputs` read, outputs shaped as the kit's services shape them,
///         intervals advanced with `vm.warp`, lazy outputs through the Inbox, EIP-712 delegated subscriptions,
///         payments) without anvil, a node or a service.
/// @dev `new InfernetSim()` in a test, then `deploy()` or `deployAtReference()`. The core is created from the kit's
///      own build of it (`vm.deployCode` by path: the optimized bytecode the kit ships and deploys), so a project
///      that tests with the simulator neither embeds nor compiles it.
contract InfernetSim {
    SimCheats private constant VM = SimCheats(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @notice Anvil's dev account #2: from its nonce 0 the core lands at the reference addresses.
    address public constant REFERENCE_DEPLOYER = 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC;
    /// @notice The protocol fee the kit's deployment sets, in basis points.
    uint16 public constant FEE_BASIS_POINTS = 500;
    /// @notice Where a project made by `infernet-kit init` finds the kit's compiled core: a link to the installed
    ///         kit's artifacts (a copy of them with `--vendor`), which its foundry.toml lets forge read.
    string public constant PROJECT_ARTIFACTS = "lib/infernet-kit-contracts/out/";
    /// @notice Where the kit's own checkout has them (`make build`).
    string public constant CHECKOUT_ARTIFACTS = "out/";

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant SUBSCRIPTION_TYPEHASH = keccak256(
        "Subscription(address owner,uint32 activeAt,uint32 period,uint32 frequency,uint16 redundancy,bytes32 containerId,bool lazy,address verifier,uint256 paymentAmount,address paymentToken,address wallet)"
    );
    bytes32 private constant DELEGATE_TYPEHASH = keccak256(
        "DelegateSubscription(uint32 nonce,uint32 expiry,Subscription sub)Subscription(address owner,uint32 activeAt,uint32 period,uint32 frequency,uint16 redundancy,bytes32 containerId,bool lazy,address verifier,uint256 paymentAmount,address paymentToken,address wallet)"
    );

    Registry public registry;
    EIP712Coordinator public coordinator;
    Inbox public inbox;
    Fee public fee;
    WalletFactory public walletFactory;

    /// @notice The simulated nodes' addresses, in the order they were added (node 0 exists after deployment).
    address[] public nodes;
    /// @notice node address => its payment wallet (created on its first paid delivery).
    mapping(address => address) public nodeWallets;

    /// @notice Already deployed: one core per simulator.
    error AlreadyDeployed();
    /// @notice `deployAtReference` needs the reference deployer unused (nonce 0); it has `nonce`.
    error ReferenceDeployerUsed(uint64 nonce);
    /// @notice There is no node with this index (`addNode` adds one).
    error NoSuchNode(uint256 index);
    /// @notice The kit's compiled core is not readable at `path` (nor in a kit checkout's `out/`): `infernet-kit init`
    ///         links it there, and foundry.toml's `fs_permissions` must let forge read it.
    error CoreArtifactsMissing(string path);

    /// @dev Named in forge's traces: a project does not compile the simulator on its own, so forge cannot tell it
    ///      by its code.
    constructor() {
        VM.label(address(this), "InfernetSim");
    }

    /// @notice The deployment's fee recipient is this contract when it deployed the core: it takes ETH fees.
    receive() external payable {}

    /*//////////////////////////////////////////////////////////////
                                DEPLOYMENT
    //////////////////////////////////////////////////////////////*/

    /// @notice Deploys the core (Registry, EIP712Coordinator, Inbox, Reader, Fee 5 % to this contract,
    ///         WalletFactory) from this contract, and node 0.
    /// @return the Registry consumers are constructed with
    function deploy() external returns (Registry) {
        return _deploy(address(this));
    }

    /// @notice Deploys the core at the kit's and Ritual's reference addresses (Registry
    ///         0x663F3ad617193148711d28f5334eE4Ed07016602), as anvil account #2 does from nonce 0.
    /// @return the Registry consumers are constructed with
    function deployAtReference() external returns (Registry) {
        uint64 nonce = VM.getNonce(REFERENCE_DEPLOYER);
        if (nonce != 0) revert ReferenceDeployerUsed(nonce);
        VM.startPrank(REFERENCE_DEPLOYER);
        Registry deployed = _deploy(REFERENCE_DEPLOYER);
        VM.stopPrank();
        return deployed;
    }

    /// @notice Adds a simulated node (a fresh address); nodes need no registration in SDK v1.1.
    /// @return index the node's index for `deliverAs` and friends
    function addNode() public returns (uint256 index) {
        index = nodes.length;
        address nodeAddress = VM.addr(uint256(keccak256(abi.encode("infernet-sim node", index))));
        VM.label(nodeAddress, string.concat("node", VM.toString(index)));
        nodes.push(nodeAddress);
    }

    /// @notice The address of node `index`.
    function node(uint256 index) public view returns (address) {
        if (index >= nodes.length) revert NoSuchNode(index);
        return nodes[index];
    }

    /*//////////////////////////////////////////////////////////////
                                   TIME
    //////////////////////////////////////////////////////////////*/

    /// @notice Moves chain time forward by `secondsToSkip` (a test's own `block.timestamp` may be read once per
    ///         call frame under via-IR: read `timestamp()` instead).
    function skip(uint256 secondsToSkip) external {
        VM.warp(block.timestamp + secondsToSkip);
    }

    /// @notice Moves chain time to the start of `interval` of `subscriptionId`.
    function warpToInterval(uint32 subscriptionId, uint32 interval) external {
        Subscription memory sub = coordinator.getSubscription(subscriptionId);
        VM.warp(uint256(sub.activeAt) + uint256(sub.period) * (interval - 1));
    }

    /// @notice Chain time as the contracts see it.
    function timestamp() external view returns (uint256) {
        return block.timestamp;
    }

    /// @notice The interval a node would serve for `subscriptionId` now (0 before it is active).
    function currentInterval(uint32 subscriptionId) public view returns (uint32) {
        Subscription memory sub = coordinator.getSubscription(subscriptionId);
        return coordinator.getSubscriptionInterval(sub.activeAt, sub.period);
    }

    /*//////////////////////////////////////////////////////////////
                                 DELIVERY
    //////////////////////////////////////////////////////////////*/

    /// @notice Node 0 serves the current interval of `subscriptionId` with the service's `rawOutput`.
    /// @return interval the interval delivered
    function deliver(uint32 subscriptionId, bytes memory rawOutput) external returns (uint32) {
        return deliverAs(0, subscriptionId, rawOutput);
    }

    /// @notice Node `nodeIndex` serves the current interval as a node does: reads the consumer's
    ///         `getContainerInputs(id, interval, now, node)`, delivers `input = abi.encode(inputs, "")` and
    ///         `output = abi.encode(rawOutput, "")`, with its wallet when the subscription pays. The
    ///         Coordinator's own errors (`IntervalCompleted`, `SubscriptionNotActive`...) come through as is.
    /// @return interval the interval delivered
    function deliverAs(uint256 nodeIndex, uint32 subscriptionId, bytes memory rawOutput) public returns (uint32) {
        address nodeAddress = node(nodeIndex);
        Subscription memory sub = coordinator.getSubscription(subscriptionId);
        uint32 interval = coordinator.getSubscriptionInterval(sub.activeAt, sub.period);
        bytes memory inputs = sub.owner == address(0)
            ? bytes("")
            : BaseConsumer(sub.owner).getContainerInputs(subscriptionId, interval, uint32(block.timestamp), nodeAddress);
        address payTo = sub.paymentAmount == 0 ? address(0) : nodeWallet(nodeIndex);
        VM.prank(nodeAddress);
        coordinator.deliverCompute(
            subscriptionId, interval, ServiceOutputs.pair(inputs), ServiceOutputs.pair(rawOutput), "", payTo
        );
        return interval;
    }

    /// @notice Node `nodeIndex` writes an output of its own to the Inbox (a job whose destination is the Inbox).
    /// @return index the item's index under `(keccak256(abi.encode(containerId)), node)`
    function writeInbox(uint256 nodeIndex, string memory containerId, bytes memory rawInput, bytes memory rawOutput)
        external
        returns (uint256)
    {
        VM.prank(node(nodeIndex));
        return inbox.write(
            keccak256(abi.encode(containerId)), ServiceOutputs.pair(rawInput), ServiceOutputs.pair(rawOutput), ""
        );
    }

    /*//////////////////////////////////////////////////////////////
                          DELEGATED SUBSCRIPTIONS
    //////////////////////////////////////////////////////////////*/

    /// @notice A subscription for a `Delegator` consumer `owner`, active now (`period` 0) or one period from now.
    function delegatedSubscription(
        address owner,
        string memory containerId,
        uint32 frequency,
        uint32 period,
        uint16 redundancy,
        bool lazy
    ) external view returns (Subscription memory) {
        return Subscription({
            owner: owner,
            activeAt: uint32(block.timestamp) + period,
            period: period,
            frequency: frequency,
            redundancy: redundancy,
            containerId: keccak256(abi.encode(containerId)),
            lazy: lazy,
            verifier: payable(address(0)),
            paymentAmount: 0,
            paymentToken: address(0),
            wallet: payable(address(0))
        });
    }

    /// @notice Signs `(nonce, expiry, sub)` with `signerKey` as the consumer's signer does (EIP-712, `vm.sign`).
    function signDelegated(uint256 signerKey, uint32 nonce, uint32 expiry, Subscription memory sub)
        public
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        return VM.sign(signerKey, delegationDigest(nonce, expiry, sub));
    }

    /// @notice The EIP-712 digest of a `DelegateSubscription`, computed as an off-chain signer does: from the
    ///         Coordinator's EIP-5267 domain (`eip712Domain()`) and the SDK's type strings.
    function delegationDigest(uint32 nonce, uint32 expiry, Subscription memory sub) public view returns (bytes32) {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            coordinator.eip712Domain();
        bytes32 domain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256(bytes(version)), chainId, verifyingContract)
        );
        bytes32 structHash =
            keccak256(abi.encode(DELEGATE_TYPEHASH, nonce, expiry, keccak256(abi.encode(SUBSCRIPTION_TYPEHASH, sub))));
        return keccak256(abi.encodePacked(hex"1901", domain, structHash));
    }

    /// @notice Node `nodeIndex` creates the signed subscription and serves its current interval in one
    ///         transaction (`deliverComputeDelegatee`), as a node does for `POST /api/jobs` with a signature. The
    ///         input came off chain, so the delivered raw input is empty, as the services answer it.
    /// @return subscriptionId the subscription created (or found) for `(sub.owner, nonce)`
    function deliverDelegated(
        uint256 nodeIndex,
        uint256 signerKey,
        uint32 nonce,
        uint32 expiry,
        Subscription memory sub,
        bytes memory rawOutput
    ) external returns (uint32 subscriptionId) {
        (uint8 v, bytes32 r, bytes32 s) = signDelegated(signerKey, nonce, expiry, sub);
        uint32 interval = coordinator.getSubscriptionInterval(sub.activeAt, sub.period);
        address payTo = sub.paymentAmount == 0 ? address(0) : nodeWallet(nodeIndex);
        VM.prank(node(nodeIndex));
        coordinator.deliverComputeDelegatee(
            nonce, expiry, sub, v, r, s, interval, ServiceOutputs.pair(""), ServiceOutputs.pair(rawOutput), "", payTo
        );
        return coordinator.delegateCreatedIds(keccak256(abi.encode(sub.owner, nonce)));
    }

    /*//////////////////////////////////////////////////////////////
                                 PAYMENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice A WalletFactory wallet owned by `owner`, holding `ethAmount`, letting `spender` (the consumer)
    ///         spend all of it in ETH.
    function openWallet(address owner, address spender, uint256 ethAmount) external returns (address payable) {
        address payable wallet = payable(walletFactory.createWallet(owner));
        VM.deal(wallet, ethAmount);
        VM.prank(owner);
        Wallet(wallet).approve(spender, address(0), ethAmount);
        return wallet;
    }

    /// @notice Node `nodeIndex`'s wallet (created on first use), where its payments go.
    function nodeWallet(uint256 nodeIndex) public returns (address) {
        address nodeAddress = node(nodeIndex);
        address wallet = nodeWallets[nodeAddress];
        if (wallet == address(0)) {
            wallet = walletFactory.createWallet(nodeAddress);
            nodeWallets[nodeAddress] = wallet;
        }
        return wallet;
    }

    /*//////////////////////////////////////////////////////////////
                                 INTERNAL
    //////////////////////////////////////////////////////////////*/

    /// @dev The order of scripts/Deploy.s.sol (and `infernet_kit.chain.deploy`): the Registry first, with the
    ///      addresses of the next five creations.
    function _deploy(address deployer) private returns (Registry) {
        if (address(registry) != address(0)) revert AlreadyDeployed();
        string memory artifacts = _coreArtifacts();
        uint256 nonce = VM.getNonce(deployer);
        registry = Registry(
            VM.deployCode(
                string.concat(artifacts, "Registry.sol/Registry.json"),
                abi.encode(
                    _createAddress(deployer, nonce + 1),
                    _createAddress(deployer, nonce + 2),
                    _createAddress(deployer, nonce + 3),
                    _createAddress(deployer, nonce + 4),
                    _createAddress(deployer, nonce + 5)
                )
            )
        );
        bytes memory withRegistry = abi.encode(registry);
        coordinator = EIP712Coordinator(
            VM.deployCode(string.concat(artifacts, "EIP712Coordinator.sol/EIP712Coordinator.json"), withRegistry)
        );
        inbox = Inbox(VM.deployCode(string.concat(artifacts, "Inbox.sol/Inbox.json"), withRegistry));
        VM.deployCode(string.concat(artifacts, "Reader.sol/Reader.json"), withRegistry);
        fee = Fee(VM.deployCode(string.concat(artifacts, "Fee.sol/Fee.json"), abi.encode(deployer, FEE_BASIS_POINTS)));
        walletFactory = WalletFactory(
            VM.deployCode(string.concat(artifacts, "WalletFactory.sol/WalletFactory.json"), withRegistry)
        );
        VM.label(address(registry), "Registry");
        VM.label(address(coordinator), "EIP712Coordinator");
        VM.label(address(inbox), "Inbox");
        VM.label(address(fee), "Fee");
        VM.label(address(walletFactory), "WalletFactory");
        if (nodes.length == 0) addNode();
        return registry;
    }

    /// @dev The directory of the kit's compiled core: a project's link to it first, else the checkout's build. A
    ///      path forge may not read (fs_permissions) counts as missing: `vm.exists` reverts for it.
    function _coreArtifacts() private view returns (string memory) {
        if (_hasCore(PROJECT_ARTIFACTS)) return PROJECT_ARTIFACTS;
        if (_hasCore(CHECKOUT_ARTIFACTS)) return CHECKOUT_ARTIFACTS;
        revert CoreArtifactsMissing(PROJECT_ARTIFACTS);
    }

    function _hasCore(string memory artifacts) private view returns (bool) {
        try VM.exists(string.concat(artifacts, "Registry.sol/Registry.json")) returns (bool found) {
            return found;
        } catch {
            return false;
        }
    }

    /// @dev The CREATE address of `deployer` at `nonce` (RLP of [deployer, nonce], nonce below 2^24).
    function _createAddress(address deployer, uint256 nonce) private pure returns (address) {
        bytes memory data;
        if (nonce == 0) {
            data = abi.encodePacked(bytes1(0xd6), bytes1(0x94), deployer, bytes1(0x80));
        } else if (nonce <= 0x7f) {
            data = abi.encodePacked(bytes1(0xd6), bytes1(0x94), deployer, uint8(nonce));
        } else if (nonce <= 0xff) {
            data = abi.encodePacked(bytes1(0xd7), bytes1(0x94), deployer, bytes1(0x81), uint8(nonce));
        } else if (nonce <= 0xffff) {
            data = abi.encodePacked(bytes1(0xd8), bytes1(0x94), deployer, bytes1(0x82), uint16(nonce));
        } else {
            data = abi.encodePacked(bytes1(0xd9), bytes1(0x94), deployer, bytes1(0x83), uint24(nonce));
        }
        return address(uint160(uint256(keccak256(data))));
    }
}
