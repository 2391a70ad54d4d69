// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Coordinator, Subscription} from "./Coordinator.sol";
import {Registry} from "./Registry.sol";
import {EIP712} from "./utility/EIP712.sol";

/// @title EIP712Coordinator
/// @notice The deployed coordinator: a `Coordinator` that also accepts subscriptions signed off-chain by a
///         `Delegator` consumer's signer (EIP-712), so a node can create and serve them in one transaction.
contract EIP712Coordinator is Coordinator {
    /// @notice EIP-712 domain name.
    string public constant EIP712_NAME = "InfernetCoordinator";
    /// @notice EIP-712 domain version.
    string public constant EIP712_VERSION = "1";

    /// @notice Typehash of the `Subscription` struct (`0x3da81ed6...`).
    bytes32 public constant EIP712_SUBSCRIPTION_TYPEHASH = keccak256(
        "Subscription(address owner,uint32 activeAt,uint32 period,uint32 frequency,uint16 redundancy,bytes32 containerId,bool lazy,address verifier,uint256 paymentAmount,address paymentToken,address wallet)"
    );

    /// @notice Typehash of the signed `DelegateSubscription` message (`0xba9ff1ae...`).
    bytes32 public constant EIP712_DELEGATE_SUBSCRIPTION_TYPEHASH = keccak256(
        "DelegateSubscription(uint32 nonce,uint32 expiry,Subscription sub)Subscription(address owner,uint32 activeAt,uint32 period,uint32 frequency,uint16 redundancy,bytes32 containerId,bool lazy,address verifier,uint256 paymentAmount,address paymentToken,address wallet)"
    );

    bytes32 private immutable CACHED_DOMAIN_SEPARATOR;
    uint256 private immutable CACHED_CHAIN_ID;

    /// @notice Highest nonce a subscriber (the `Delegator` owner) has used so far.
    mapping(address => uint32) public maxSubscriberNonce;

    /// @notice `keccak256(abi.encode(address owner, uint32 nonce))` => subscription id created with that nonce.
    mapping(bytes32 => uint32) public delegateCreatedIds;

    /// @notice The recovered signer is not the owner's `getSigner()` (or the owner is no `Delegator`). `0x10c74b03`
    error SignerMismatch();
    /// @notice The signature's expiry has passed. `0x0819bdcd`
    error SignatureExpired();

    /// @param registry the registry naming the Inbox, Fee and WalletFactory
    constructor(Registry registry) Coordinator(registry) {
        CACHED_CHAIN_ID = block.chainid;
        CACHED_DOMAIN_SEPARATOR = EIP712.domainSeparator(EIP712_NAME, EIP712_VERSION);
    }

    /// @notice Creates the signed subscription, or returns the id it already got for `(sub.owner, nonce)`.
    /// @param nonce subscriber nonce (one subscription per owner and nonce)
    /// @param expiry the signature is valid while `block.timestamp < expiry`
    /// @param sub the subscription, stored exactly as signed
    /// @param v signature v
    /// @param r signature r
    /// @param s signature s
    /// @return the subscription id
    function createSubscriptionDelegatee(
        uint32 nonce,
        uint32 expiry,
        Subscription calldata sub,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint32) {
        return _createSubscriptionDelegatee(nonce, expiry, sub, v, r, s);
    }

    /// @notice Creates (or finds) the signed subscription, then delivers an output for it like `deliverCompute`.
    /// @param nonce subscriber nonce
    /// @param expiry signature expiry
    /// @param sub the signed subscription
    /// @param v signature v
    /// @param r signature r
    /// @param s signature s
    /// @param deliveryInterval the interval the output is for
    /// @param input the input the node used
    /// @param output the output
    /// @param proof the proof (empty without a verifier)
    /// @param nodeWallet the node's wallet receiving the payment (ignored for free subscriptions)
    function deliverComputeDelegatee(
        uint32 nonce,
        uint32 expiry,
        Subscription calldata sub,
        uint8 v,
        bytes32 r,
        bytes32 s,
        uint32 deliveryInterval,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof,
        address nodeWallet
    ) external {
        uint32 subscriptionId = _createSubscriptionDelegatee(nonce, expiry, sub, v, r, s);
        _deliver(subscriptionId, deliveryInterval, input, output, proof, nodeWallet);
    }

    /// @notice The EIP-712 domain separator for this chain.
    function DOMAIN_SEPARATOR() public view returns (bytes32) {
        return block.chainid == CACHED_CHAIN_ID
            ? CACHED_DOMAIN_SEPARATOR
            : EIP712.domainSeparator(EIP712_NAME, EIP712_VERSION);
    }

    /// @notice EIP-5267 description of the EIP-712 domain (name, version, chainId, verifyingContract; no salt).
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (hex"0f", EIP712_NAME, EIP712_VERSION, block.chainid, address(this), bytes32(0), new uint256[](0));
    }

    /// @notice The EIP-712 digest a `Delegator`'s signer signs for `(nonce, expiry, sub)`.
    /// @param nonce subscriber nonce
    /// @param expiry signature expiry
    /// @param sub the subscription
    function delegateSubscriptionDigest(uint32 nonce, uint32 expiry, Subscription calldata sub)
        public
        view
        returns (bytes32)
    {
        bytes32 subHash = keccak256(abi.encode(EIP712_SUBSCRIPTION_TYPEHASH, sub));
        bytes32 structHash = keccak256(abi.encode(EIP712_DELEGATE_SUBSCRIPTION_TYPEHASH, nonce, expiry, subHash));
        return EIP712.digest(DOMAIN_SEPARATOR(), structHash);
    }

    function _createSubscriptionDelegatee(
        uint32 nonce,
        uint32 expiry,
        Subscription calldata sub,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) internal returns (uint32 subscriptionId) {
        address owner = sub.owner;
        bytes32 key = keccak256(abi.encode(owner, nonce));
        subscriptionId = delegateCreatedIds[key];
        if (subscriptionId != 0) return subscriptionId;

        if (block.timestamp >= expiry) revert SignatureExpired();
        address signer = ecrecover(delegateSubscriptionDigest(nonce, expiry, sub), v, r, s);
        if (signer == address(0) || signer != _signerOf(owner)) revert SignerMismatch();

        subscriptionId = _storeSubscription(sub);
        delegateCreatedIds[key] = subscriptionId;
        // Nonce 0 can never raise the maximum: skip the read.
        if (nonce != 0 && nonce > maxSubscriberNonce[owner]) maxSubscriberNonce[owner] = nonce;
    }

    /// @dev `Delegator(owner).getSigner()`, or `address(0)` if `owner` does not answer it.
    function _signerOf(address owner) private view returns (address signer) {
        (bool ok, bytes memory ret) = owner.staticcall(abi.encodeWithSignature("getSigner()"));
        if (ok && ret.length >= 32) signer = abi.decode(ret, (address));
    }
}
