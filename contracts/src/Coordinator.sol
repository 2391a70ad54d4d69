// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Registry} from "./Registry.sol";
import {Inbox} from "./Inbox.sol";
import {BaseConsumer} from "./consumer/Base.sol";
import {Fee} from "./payments/Fee.sol";
import {Wallet} from "./payments/Wallet.sol";
import {WalletFactory} from "./payments/WalletFactory.sol";
import {IVerifier} from "./payments/IVerifier.sol";

/// @notice A request for off-chain compute, as the Infernet SDK v1.1 ABI defines it (field order is ABI).
/// @dev `frequency == 1, period == 0` is a one-shot callback; `period > 0` a recurring subscription.
struct Subscription {
    /// @notice The consumer contract that created the subscription and receives its outputs.
    address owner;
    /// @notice Timestamp from which deliveries are accepted; `type(uint32).max` once cancelled.
    uint32 activeAt;
    /// @notice Seconds between intervals; 0 for a one-shot subscription.
    uint32 period;
    /// @notice Number of intervals in total.
    uint32 frequency;
    /// @notice Number of distinct nodes that may answer each interval.
    uint16 redundancy;
    /// @notice `keccak256(abi.encode(string))` of the comma-joined container ids.
    bytes32 containerId;
    /// @notice True: outputs are written to the Inbox and only a pointer is delivered.
    bool lazy;
    /// @notice Proof verifier (`IVerifier`) paid subscriptions' deliveries wait on; zero for none.
    address payable verifier;
    /// @notice Amount paid per delivery (0 for none).
    uint256 paymentAmount;
    /// @notice Payment token, `address(0)` for ETH.
    address paymentToken;
    /// @notice The consumer's escrow wallet paying for deliveries.
    address payable wallet;
}

/// @notice A delivery of a paid subscription with a verifier waiting for its proof to be judged (SDK v1.1 layout).
struct ProofRequest {
    /// @notice After this timestamp anyone may finalize, and the node is paid whatever the verifier said.
    uint32 expiry;
    /// @notice The node's wallet: its stake (`paymentAmount`) is locked there.
    Wallet nodeWallet;
    /// @notice What the consumer's wallet locked for the node (payment minus protocol and verifier fees).
    uint256 consumerEscrowed;
}

/// @title Coordinator
/// @notice Keeps subscriptions and accepts their outputs from nodes, enforcing the interval, redundancy and
///         payment rules before handing the output to the consumer.
/// @dev Storage is laid out for gas, not as the ABI struct (seven slots): the common one-shot (one interval, one
///      node, eager, free, no verifier) occupies two slots, one of them shared with its first interval's answer
///      count, and its delivery reads that one; other settings take a third slot, payment terms up to three more.
contract Coordinator {
    /// @dev One slot under `keccak256(abi.encode(uint32 id, uint32 interval))`, the SDK's `redundancyCount` key:
    ///      the answers so far, and for interval 1 also the subscription's head. A subscription's first answer is
    ///      thus counted in a slot its creation already paid for (a 2,900-gas update, 100 in the transaction that
    ///      created it) instead of a new 22,100-gas slot.
    struct Interval {
        uint16 count;
        address owner;
        uint32 activeAt;
        uint32 period;
        /// @dev The subscription has `Settings` (else all of them are zero): its deliveries read one more slot.
        bool custom;
    }

    /// @dev Stored only when not all zero, which is the common one-shot: one interval, one node, eager, free, no
    ///      verifier. Its creation skips this slot and its delivery does not read it.
    struct Settings {
        uint32 extraFrequency;
        uint16 extraRedundancy;
        bool lazy;
        bool paid;
        address verifier;
    }

    /// @dev Payment terms, written only when some of them are non-zero.
    struct Terms {
        uint256 paymentAmount;
        address paymentToken;
        address wallet;
    }

    /// @notice Inbox receiving lazily delivered outputs.
    Inbox public immutable INBOX;
    /// @notice Protocol fee configuration.
    Fee public immutable FEE;
    /// @notice Factory whose wallets may pay and be paid.
    WalletFactory public immutable WALLET_FACTORY;

    /// @notice How long a verifier has to judge a proof before the node is paid regardless.
    uint32 public constant PROOF_WINDOW = 1 weeks;

    /// @dev Transient slot of the reentrancy guard of paid deliveries.
    uint256 private constant GUARD_SLOT = uint256(keccak256("infernet-kit.Coordinator.guard"));

    /// @notice The next subscription id (ids start at 1; 0 is never used).
    uint32 public id;

    /// @notice `keccak256(abi.encode(uint32 subscriptionId, uint32 interval, address node))` => node answered.
    mapping(bytes32 => bool) public nodeResponded;

    /// @dev See `Interval`; read through `redundancyCount` and `getSubscription`.
    mapping(bytes32 => Interval) internal intervals;

    /// @notice `keccak256(abi.encode(uint32 subscriptionId, uint32 interval, address node))` => pending proof.
    mapping(bytes32 => ProofRequest) public proofRequests;

    mapping(uint32 => Settings) internal settings;
    mapping(uint32 => bytes32) internal containerIds;
    mapping(uint32 => Terms) internal terms;

    /// @notice A subscription was created.
    event SubscriptionCreated(uint32 indexed id);
    /// @notice A subscription was cancelled by its owner.
    event SubscriptionCancelled(uint32 indexed id);
    /// @notice `node` delivered an output for subscription `id`.
    event SubscriptionFulfilled(uint32 indexed id, address indexed node);
    /// @notice The proof of `node` for (`id`, `interval`) was settled by `verifier` (`active`: within the window,
    ///         so `valid` decided who was paid; else the window had passed and the node was paid).
    event ProofVerified(
        uint32 indexed id, uint32 indexed interval, address indexed node, bool active, address verifier, bool valid
    );

    /// @notice A paid delivery names a consumer or node wallet not created by the WalletFactory. `0x23455ba1`
    error InvalidWallet();
    /// @notice The delivery is for another interval than the current one. `0x4db310c3`
    error IntervalMismatch();
    /// @notice The interval already has `redundancy` answers. `0x2f4ca85b`
    error IntervalCompleted();
    /// @notice Only the subscription's verifier may finalize its proofs. `0xb9857aa1`
    error UnauthorizedVerifier();
    /// @notice This node already answered this interval. `0x88a21e4f`
    error NodeRespondedAlready();
    /// @notice No subscription with this id. `0x1a00354f`
    error SubscriptionNotFound();
    /// @notice No proof validation is pending for these arguments. `0x1d68b37c`
    error ProofRequestNotFound();
    /// @notice Only the subscription's owner may cancel it. `0xa7fba711`
    error NotSubscriptionOwner();
    /// @notice Every interval has been served. `0xae6704a7`
    error SubscriptionCompleted();
    /// @notice Before `activeAt`, or cancelled. `0xefb74efe`
    error SubscriptionNotActive();
    /// @notice The verifier does not accept the payment token. `0xe2372799`
    error UnsupportedVerifierToken();
    /// @notice `frequency` must be at least 1 (a subscription that can never be served is refused).
    error InvalidFrequency();
    /// @notice `redundancy` must be at least 1 (a subscription that can never be served is refused).
    error InvalidRedundancy();
    /// @notice A delivery was attempted from inside a paid delivery's payment. `0xab143c06`
    error Reentrancy();

    /// @param registry the registry naming the Inbox, Fee and WalletFactory
    constructor(Registry registry) {
        INBOX = Inbox(registry.INBOX());
        FEE = Fee(registry.FEE());
        WALLET_FACTORY = WalletFactory(registry.WALLET_FACTORY());
        id = 1;
    }

    /*//////////////////////////////////////////////////////////////
                               SUBSCRIPTIONS
    //////////////////////////////////////////////////////////////*/

    /// @notice Creates a subscription owned by the caller, active from `now + period`.
    /// @param containerId comma-joined container ids (hashed on chain)
    /// @param frequency number of intervals (>= 1)
    /// @param period seconds between intervals (0: one-shot)
    /// @param redundancy nodes answering each interval (>= 1)
    /// @param lazy write outputs to the Inbox and deliver a pointer
    /// @param paymentToken payment token (`address(0)` for ETH)
    /// @param paymentAmount paid per delivery (0: free)
    /// @param wallet consumer wallet paying for deliveries
    /// @param verifier proof verifier (`IVerifier`), `address(0)` for none
    /// @return the new subscription id
    function createSubscription(
        string calldata containerId,
        uint32 frequency,
        uint32 period,
        uint16 redundancy,
        bool lazy,
        address paymentToken,
        uint256 paymentAmount,
        address wallet,
        address verifier
    ) external returns (uint32) {
        return _storeSubscription(
            Subscription({
                owner: msg.sender,
                activeAt: uint32(block.timestamp) + period,
                period: period,
                frequency: frequency,
                redundancy: redundancy,
                containerId: keccak256(abi.encode(containerId)),
                lazy: lazy,
                verifier: payable(verifier),
                paymentAmount: paymentAmount,
                paymentToken: paymentToken,
                wallet: payable(wallet)
            })
        );
    }

    /// @notice Cancels a subscription: no further delivery is accepted.
    /// @param subscriptionId the subscription to cancel; the caller must own it
    function cancelSubscription(uint32 subscriptionId) external {
        Interval storage head = _interval(subscriptionId, 1);
        if (head.owner != msg.sender) revert NotSubscriptionOwner();
        head.activeAt = type(uint32).max;
        emit SubscriptionCancelled(subscriptionId);
    }

    /// @notice A subscription as the ABI struct (all fields zero if it does not exist).
    /// @param subscriptionId the subscription id
    function getSubscription(uint32 subscriptionId) external view returns (Subscription memory sub) {
        Interval storage head = _interval(subscriptionId, 1);
        Settings storage extra = settings[subscriptionId];
        sub.owner = head.owner;
        sub.activeAt = head.activeAt;
        sub.period = head.period;
        if (head.owner != address(0)) {
            sub.frequency = extra.extraFrequency + 1;
            sub.redundancy = extra.extraRedundancy + 1;
        }
        sub.containerId = containerIds[subscriptionId];
        sub.lazy = extra.lazy;
        sub.verifier = payable(extra.verifier);
        Terms storage t = terms[subscriptionId];
        sub.paymentAmount = t.paymentAmount;
        sub.paymentToken = t.paymentToken;
        sub.wallet = payable(t.wallet);
    }

    /// @notice Answers so far for an interval (the SDK's public mapping).
    /// @param key `keccak256(abi.encode(uint32 subscriptionId, uint32 interval))`
    function redundancyCount(bytes32 key) external view returns (uint16) {
        return intervals[key].count;
    }

    /// @notice The interval current at this block: 1 for one-shot subscriptions, else
    ///         `(block.timestamp - activeAt) / period + 1`; 0 while not yet active. Saturates at
    ///         `type(uint32).max` instead of wrapping (a wrapped interval could pass the frequency check).
    /// @param activeAt the subscription's `activeAt`
    /// @param period the subscription's `period`
    function getSubscriptionInterval(uint32 activeAt, uint32 period) public view returns (uint32) {
        if (period == 0) return 1;
        if (block.timestamp < activeAt) return 0;
        uint256 interval;
        unchecked {
            interval = (block.timestamp - activeAt) / period + 1;
        }
        return interval > type(uint32).max ? type(uint32).max : uint32(interval);
    }

    /*//////////////////////////////////////////////////////////////
                                  DELIVERY
    //////////////////////////////////////////////////////////////*/

    /// @notice Delivers a node's output for the current interval of a subscription.
    /// @dev Checks, in order: SubscriptionNotFound, SubscriptionNotActive, IntervalMismatch, SubscriptionCompleted,
    ///      IntervalCompleted, NodeRespondedAlready; then pays (if `paymentAmount > 0`), delivers, emits.
    /// @param subscriptionId the subscription
    /// @param deliveryInterval the interval the output is for (must be the current one)
    /// @param input the input the node used (`abi.encode(bytes raw, bytes processed)`)
    /// @param output the output (`abi.encode(bytes raw, bytes processed)`)
    /// @param proof the proof (empty without a verifier)
    /// @param nodeWallet the node's wallet receiving the payment (ignored for free subscriptions)
    function deliverCompute(
        uint32 subscriptionId,
        uint32 deliveryInterval,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof,
        address nodeWallet
    ) external {
        _deliver(subscriptionId, deliveryInterval, input, output, proof, nodeWallet);
    }

    /// @notice Settles a pending proof: releases both escrows, then pays the node (`valid`, or the window has
    ///         passed) or pays the node's stake to the consumer's wallet (invalid). Within the window only the
    ///         subscription's verifier may call; after it, anyone.
    /// @param subscriptionId the subscription delivered
    /// @param interval the interval delivered
    /// @param node the delivering node
    /// @param valid whether the proof is valid
    function finalizeProofVerification(uint32 subscriptionId, uint32 interval, address node, bool valid) external {
        bytes32 key = keccak256(abi.encode(subscriptionId, interval, node));
        ProofRequest memory request = proofRequests[key];
        if (request.expiry == 0) revert ProofRequestNotFound();
        bool active = block.timestamp < request.expiry;
        address verifier = settings[subscriptionId].verifier;
        address owner = _interval(subscriptionId, 1).owner;
        if (active && msg.sender != verifier) revert UnauthorizedVerifier();
        delete proofRequests[key];

        Terms storage t = terms[subscriptionId];
        uint256 stake = t.paymentAmount;
        address token = t.paymentToken;
        Wallet consumerWallet = Wallet(payable(t.wallet));
        request.nodeWallet.cUnlock(node, token, stake);
        consumerWallet.cUnlock(owner, token, request.consumerEscrowed);
        if (valid || !active) {
            consumerWallet.cTransfer(owner, token, address(request.nodeWallet), request.consumerEscrowed);
        } else {
            request.nodeWallet.cTransfer(node, token, address(consumerWallet), stake);
        }
        emit ProofVerified(subscriptionId, interval, node, active, msg.sender, valid);
    }

    /*//////////////////////////////////////////////////////////////
                                  INTERNAL
    //////////////////////////////////////////////////////////////*/

    /// @dev Validates and stores `sub` under the next id, emits `SubscriptionCreated`.
    function _storeSubscription(Subscription memory sub) internal returns (uint32 subscriptionId) {
        if (sub.frequency == 0) revert InvalidFrequency();
        if (sub.redundancy == 0) revert InvalidRedundancy();

        subscriptionId = id;
        unchecked {
            id = subscriptionId + 1;
        }
        bool paid = sub.paymentAmount != 0;
        bool custom = sub.frequency != 1 || sub.redundancy != 1 || sub.lazy || paid || sub.verifier != address(0);
        intervals[_intervalKey(subscriptionId, 1)] =
            Interval({count: 0, owner: sub.owner, activeAt: sub.activeAt, period: sub.period, custom: custom});
        if (custom) {
            settings[subscriptionId] = Settings({
                extraFrequency: sub.frequency - 1,
                extraRedundancy: sub.redundancy - 1,
                lazy: sub.lazy,
                paid: paid,
                verifier: sub.verifier
            });
        }
        containerIds[subscriptionId] = sub.containerId;
        if (paid || sub.paymentToken != address(0) || sub.wallet != address(0)) {
            terms[subscriptionId] =
                Terms({paymentAmount: sub.paymentAmount, paymentToken: sub.paymentToken, wallet: sub.wallet});
        }
        emit SubscriptionCreated(subscriptionId);
    }

    /// @dev The checks of `deliverCompute` in protocol order, then payment, delivery and event.
    function _deliver(
        uint32 subscriptionId,
        uint32 deliveryInterval,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof,
        address nodeWallet
    ) internal {
        Interval storage head = _interval(subscriptionId, 1);
        address owner = head.owner;
        uint32 activeAt = head.activeAt;
        if (owner == address(0)) revert SubscriptionNotFound();
        if (block.timestamp < activeAt) revert SubscriptionNotActive();
        uint32 interval = getSubscriptionInterval(activeAt, head.period);
        if (interval != deliveryInterval) revert IntervalMismatch();
        Settings memory extra;
        if (head.custom) extra = settings[subscriptionId];
        // Active, so interval >= 1.
        unchecked {
            if (interval - 1 > extra.extraFrequency) revert SubscriptionCompleted();
        }

        Interval storage current = interval == 1 ? head : _interval(subscriptionId, interval);
        uint16 count = current.count;
        if (count > extra.extraRedundancy) revert IntervalCompleted();
        bytes32 nodeKey = keccak256(abi.encode(subscriptionId, interval, msg.sender));
        if (nodeResponded[nodeKey]) revert NodeRespondedAlready();
        unchecked {
            ++count;
        }
        current.count = count;
        nodeResponded[nodeKey] = true;

        if (extra.paid) _pay(subscriptionId, interval, owner, extra.verifier, nodeWallet, nodeKey, proof);

        if (extra.lazy) {
            // The output goes to the Inbox; the consumer gets the (containerId, index) pointer.
            bytes32 containerId = containerIds[subscriptionId];
            uint256 index =
                INBOX.writeViaCoordinator(containerId, msg.sender, subscriptionId, interval, input, output, proof);
            BaseConsumer(owner)
                .rawReceiveCompute(subscriptionId, interval, count, msg.sender, "", "", "", containerId, index);
        } else {
            BaseConsumer(owner)
                .rawReceiveCompute(subscriptionId, interval, count, msg.sender, input, output, proof, bytes32(0), 0);
        }
        emit SubscriptionFulfilled(subscriptionId, msg.sender);
    }

    /// @dev The slot of `(subscriptionId, interval)`: its answer count, and for interval 1 the head.
    function _interval(uint32 subscriptionId, uint32 interval) internal view returns (Interval storage) {
        return intervals[_intervalKey(subscriptionId, interval)];
    }

    /// @dev The SDK's `redundancyCount` key of `(subscriptionId, interval)`.
    function _intervalKey(uint32 subscriptionId, uint32 interval) internal pure returns (bytes32) {
        return keccak256(abi.encode(subscriptionId, interval));
    }

    /// @dev Pays one delivery from the consumer's wallet, as the SDK: `2 × fee` of the payment to the Fee
    ///      recipient; without a verifier the rest to the node's wallet. With one, the verifier's fee (less the
    ///      protocol's `fee` of it) goes to the verifier, the node's stake (`paymentAmount`) and the rest of the
    ///      payment are locked in escrow under `nodeKey`, and the verifier is asked to judge `proof`.
    ///      Both wallets must come from the WalletFactory; the wallets enforce allowances and funds. Tokens and the
    ///      verifier run their code here, so no delivery may start until the payment is done (`Reentrancy`); the
    ///      rest of a delivery needs no guard, as every state change precedes its only call, to the consumer.
    function _pay(
        uint32 subscriptionId,
        uint32 interval,
        address owner,
        address verifier,
        address nodeWallet,
        bytes32 nodeKey,
        bytes calldata proof
    ) internal {
        _enter();
        Terms storage t = terms[subscriptionId];
        uint256 amount = t.paymentAmount;
        address token = t.paymentToken;
        Wallet consumerWallet = Wallet(payable(t.wallet));
        if (!WALLET_FACTORY.isValidWallet(nodeWallet) || !WALLET_FACTORY.isValidWallet(address(consumerWallet))) {
            revert InvalidWallet();
        }
        (address recipient, uint16 feeBasisPoints) = FEE.terms();
        uint256 protocolFee = amount * (uint256(feeBasisPoints) * 2) / 10_000;
        uint256 available = amount - protocolFee;
        if (protocolFee != 0) consumerWallet.cTransfer(owner, token, recipient, protocolFee);
        if (verifier == address(0)) {
            consumerWallet.cTransfer(owner, token, nodeWallet, available);
            _exit();
            return;
        }
        IVerifier judge = IVerifier(payable(verifier));
        if (!judge.isSupportedToken(token)) revert UnsupportedVerifierToken();
        uint256 verifierFee = judge.fee(token);
        available -= verifierFee;
        uint256 verifierProtocolFee = verifierFee * feeBasisPoints / 10_000;
        if (verifierProtocolFee != 0) consumerWallet.cTransfer(owner, token, recipient, verifierProtocolFee);
        if (verifierFee != verifierProtocolFee) {
            consumerWallet.cTransfer(owner, token, judge.getWallet(), verifierFee - verifierProtocolFee);
        }
        Wallet(payable(nodeWallet)).cLock(msg.sender, token, amount);
        consumerWallet.cLock(owner, token, available);
        proofRequests[nodeKey] = ProofRequest({
            expiry: uint32(block.timestamp) + PROOF_WINDOW,
            nodeWallet: Wallet(payable(nodeWallet)),
            consumerEscrowed: available
        });
        judge.requestProofVerification(subscriptionId, interval, msg.sender, proof);
        _exit();
    }

    /// @dev Starts a payment; reverts `Reentrancy` inside another one.
    function _enter() private {
        uint256 slot = GUARD_SLOT;
        bool entered;
        assembly ("memory-safe") {
            entered := tload(slot)
            tstore(slot, 1)
        }
        if (entered) revert Reentrancy();
    }

    /// @dev Ends a payment.
    function _exit() private {
        uint256 slot = GUARD_SLOT;
        assembly ("memory-safe") {
            tstore(slot, 0)
        }
    }
}
