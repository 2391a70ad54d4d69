// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Registry} from "./Registry.sol";
import {Inbox} from "./Inbox.sol";
import {BaseConsumer} from "./consumer/Base.sol";
import {Fee} from "./payments/Fee.sol";
import {Wallet} from "./payments/Wallet.sol";
import {WalletFactory} from "./payments/WalletFactory.sol";

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
    /// @notice Proof verifier (not supported yet: must be zero).
    address payable verifier;
    /// @notice Amount paid per delivery (0 for none).
    uint256 paymentAmount;
    /// @notice Payment token, `address(0)` for ETH.
    address paymentToken;
    /// @notice The consumer's escrow wallet paying for deliveries.
    address payable wallet;
}

/// @title Coordinator
/// @notice Keeps subscriptions and accepts their outputs from nodes, enforcing the interval, redundancy and
///         payment rules before handing the output to the consumer.
/// @dev Storage is laid out for gas, not as the ABI struct: a subscription without payment occupies three slots
///      (the ABI layout needs seven), and delivery reads two of them (three when lazy, more when paid).
contract Coordinator {
    /// @dev Slot 0: owner | activeAt | period | frequency. Slot 1: redundancy | lazy | paid | verifier (always 0
    ///      while verifiers are unsupported). Slot 2: containerId.
    struct Record {
        address owner;
        uint32 activeAt;
        uint32 period;
        uint32 frequency;
        uint16 redundancy;
        bool lazy;
        bool paid;
        address verifier;
        bytes32 containerId;
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

    /// @notice The next subscription id (ids start at 1; 0 is never used).
    uint32 public id;

    /// @notice `keccak256(abi.encode(uint32 subscriptionId, uint32 interval, address node))` => node answered.
    mapping(bytes32 => bool) public nodeResponded;

    /// @notice `keccak256(abi.encode(uint32 subscriptionId, uint32 interval))` => number of answers so far.
    mapping(bytes32 => uint16) public redundancyCount;

    mapping(uint32 => Record) internal records;
    mapping(uint32 => Terms) internal terms;

    /// @notice A subscription was created.
    event SubscriptionCreated(uint32 indexed id);
    /// @notice A subscription was cancelled by its owner.
    event SubscriptionCancelled(uint32 indexed id);
    /// @notice `node` delivered an output for subscription `id`.
    event SubscriptionFulfilled(uint32 indexed id, address indexed node);

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
    /// @notice Proof verifiers are not supported yet: `verifier` must be `address(0)`.
    error VerifierNotSupported();

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
    /// @param verifier proof verifier; must be `address(0)` (verifiers are not supported yet)
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
        Record storage record = records[subscriptionId];
        if (record.owner != msg.sender) revert NotSubscriptionOwner();
        record.activeAt = type(uint32).max;
        emit SubscriptionCancelled(subscriptionId);
    }

    /// @notice A subscription as the ABI struct (all fields zero if it does not exist).
    /// @param subscriptionId the subscription id
    function getSubscription(uint32 subscriptionId) external view returns (Subscription memory sub) {
        Record storage record = records[subscriptionId];
        sub.owner = record.owner;
        sub.activeAt = record.activeAt;
        sub.period = record.period;
        sub.frequency = record.frequency;
        sub.redundancy = record.redundancy;
        sub.containerId = record.containerId;
        sub.lazy = record.lazy;
        sub.verifier = payable(record.verifier);
        Terms storage t = terms[subscriptionId];
        sub.paymentAmount = t.paymentAmount;
        sub.paymentToken = t.paymentToken;
        sub.wallet = payable(t.wallet);
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

    /// @notice Part of the SDK ABI for verifier callbacks. Proof verification is not supported yet, so no proof
    ///         request can be pending and this always reverts with `ProofRequestNotFound`.
    function finalizeProofVerification(uint32, uint32, address, bool) external pure {
        revert ProofRequestNotFound();
    }

    /*//////////////////////////////////////////////////////////////
                                  INTERNAL
    //////////////////////////////////////////////////////////////*/

    /// @dev Validates and stores `sub` under the next id, emits `SubscriptionCreated`.
    function _storeSubscription(Subscription memory sub) internal returns (uint32 subscriptionId) {
        if (sub.frequency == 0) revert InvalidFrequency();
        if (sub.redundancy == 0) revert InvalidRedundancy();
        if (sub.verifier != address(0)) revert VerifierNotSupported();

        subscriptionId = id;
        unchecked {
            id = subscriptionId + 1;
        }
        bool paid = sub.paymentAmount != 0;
        records[subscriptionId] = Record({
            owner: sub.owner,
            activeAt: sub.activeAt,
            period: sub.period,
            frequency: sub.frequency,
            redundancy: sub.redundancy,
            lazy: sub.lazy,
            paid: paid,
            verifier: address(0),
            containerId: sub.containerId
        });
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
        Record storage record = records[subscriptionId];
        address owner = record.owner;
        uint32 activeAt = record.activeAt;
        if (owner == address(0)) revert SubscriptionNotFound();
        if (block.timestamp < activeAt) revert SubscriptionNotActive();
        uint32 interval = getSubscriptionInterval(activeAt, record.period);
        if (interval != deliveryInterval) revert IntervalMismatch();
        if (interval > record.frequency) revert SubscriptionCompleted();

        bytes32 countKey = keccak256(abi.encode(subscriptionId, interval));
        uint16 count = redundancyCount[countKey];
        if (count >= record.redundancy) revert IntervalCompleted();
        bytes32 nodeKey = keccak256(abi.encode(subscriptionId, interval, msg.sender));
        if (nodeResponded[nodeKey]) revert NodeRespondedAlready();
        unchecked {
            ++count;
        }
        redundancyCount[countKey] = count;
        nodeResponded[nodeKey] = true;

        if (record.paid) _pay(subscriptionId, owner, nodeWallet);

        if (record.lazy) {
            // The output goes to the Inbox; the consumer gets the (containerId, index) pointer.
            bytes32 containerId = record.containerId;
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

    /// @dev Pays one delivery from the consumer's wallet: the protocol fee to the Fee recipient, the rest to the
    ///      node's wallet. Both wallets must come from the WalletFactory; the wallet enforces the consumer's
    ///      allowance (`InsufficientAllowance`) and its unlocked balance (`InsufficientFunds`).
    function _pay(uint32 subscriptionId, address owner, address nodeWallet) internal {
        Terms storage t = terms[subscriptionId];
        uint256 amount = t.paymentAmount;
        address token = t.paymentToken;
        address consumerWallet = t.wallet;
        if (!WALLET_FACTORY.isValidWallet(consumerWallet) || !WALLET_FACTORY.isValidWallet(nodeWallet)) {
            revert InvalidWallet();
        }
        (address recipient, uint16 feeBasisPoints) = FEE.terms();
        uint256 fee = amount * feeBasisPoints / 10_000;
        if (fee != 0) Wallet(payable(consumerWallet)).cTransfer(owner, token, recipient, fee);
        Wallet(payable(consumerWallet)).cTransfer(owner, token, nodeWallet, amount - fee);
    }
}
