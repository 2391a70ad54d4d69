// SPDX-License-Identifier: MIT
pragma solidity ^0.8.4;

import {Registry} from "../Registry.sol";
import {BaseVerifier} from "./BaseVerifier.sol";
import {EIP712} from "../utility/EIP712.sol";

/// @title SignatureVerifier
/// @notice Atomic verifier: a proof is an EIP-712 signature, by a signer the owner trusts (e.g. the key of an
///         attested container), over (subscriptionId, interval, keccak256(input), keccak256(output)). It is judged
///         inside the delivery, so the node is paid or slashed in the same transaction. Format: docs/PROOFS.md.
contract SignatureVerifier is BaseVerifier {
    /// @notice EIP-712 domain name.
    string public constant EIP712_NAME = "InfernetSignatureVerifier";
    /// @notice EIP-712 domain version.
    string public constant EIP712_VERSION = "1";
    /// @notice Typehash of the signed `ComputeProof` struct.
    bytes32 public constant COMPUTE_PROOF_TYPEHASH =
        keccak256("ComputeProof(uint32 subscriptionId,uint32 interval,bytes32 inputHash,bytes32 outputHash)");
    /// @notice Length of a well-formed proof: inputHash ‖ outputHash ‖ r ‖ s ‖ v.
    uint256 public constant PROOF_LENGTH = 129;

    /// @dev secp256k1 order / 2: signatures with a larger `s` are the malleable twins and are refused.
    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @notice Signers whose proofs are accepted.
    mapping(address => bool) public isTrustedSigner;

    /// @notice The owner trusted (`trusted`) or distrusted `signer`.
    event SignerTrustUpdated(address indexed signer, bool trusted);
    /// @notice A proof of `node` for (`subscriptionId`, `interval`) was judged; `signer` is the recovered
    ///         address (zero if malformed). Consumers can match `outputHash` against what they received.
    event ProofChecked(
        uint32 indexed subscriptionId,
        uint32 indexed interval,
        address indexed node,
        address signer,
        bytes32 inputHash,
        bytes32 outputHash,
        bool valid
    );

    /// @param registry the registry naming the coordinator
    /// @param initialOwner manages trusted signers and fees
    /// @param payee receives the verification fees
    /// @param initialSigner first trusted signer (`address(0)`: none yet)
    constructor(Registry registry, address initialOwner, address payee, address initialSigner)
        BaseVerifier(registry, initialOwner, payee)
    {
        if (initialSigner != address(0)) _setSigner(initialSigner, true);
    }

    /// @notice Trusts or distrusts `signer` (owner only).
    /// @param signer the signing address
    /// @param trusted whether its proofs are accepted
    function setSigner(address signer, bool trusted) external onlyOwner {
        _setSigner(signer, trusted);
    }

    /// @notice Judges `proof` at once and settles it at the coordinator (coordinator only).
    /// @param subscriptionId the subscription delivered
    /// @param interval the interval delivered
    /// @param node the delivering node
    /// @param proof inputHash ‖ outputHash ‖ r ‖ s ‖ v (129 bytes)
    function requestProofVerification(uint32 subscriptionId, uint32 interval, address node, bytes calldata proof)
        external
        onlyCoordinator
    {
        (bool valid, address signer, bytes32 inputHash, bytes32 outputHash) = check(subscriptionId, interval, proof);
        emit ProofChecked(subscriptionId, interval, node, signer, inputHash, outputHash, valid);
        _finalize(subscriptionId, interval, node, valid);
    }

    /// @notice Whether `proof` is a trusted signer's valid signature for (`subscriptionId`, `interval`); a
    ///         malformed proof is invalid, never a revert (the node must be slashable for it).
    /// @param subscriptionId the subscription
    /// @param interval the interval
    /// @param proof inputHash ‖ outputHash ‖ r ‖ s ‖ v
    /// @return valid whether the proof is accepted
    /// @return signer the recovered signer (zero if none)
    /// @return inputHash the input hash the proof claims
    /// @return outputHash the output hash the proof claims
    function check(uint32 subscriptionId, uint32 interval, bytes calldata proof)
        public
        view
        returns (bool valid, address signer, bytes32 inputHash, bytes32 outputHash)
    {
        if (proof.length != PROOF_LENGTH) return (false, address(0), bytes32(0), bytes32(0));
        inputHash = bytes32(proof[0:32]);
        outputHash = bytes32(proof[32:64]);
        bytes32 r = bytes32(proof[64:96]);
        bytes32 s = bytes32(proof[96:128]);
        uint8 v = uint8(proof[128]);
        if (uint256(s) <= HALF_ORDER) {
            signer = ecrecover(proofDigest(subscriptionId, interval, inputHash, outputHash), v, r, s);
        }
        valid = signer != address(0) && isTrustedSigner[signer];
    }

    /// @notice The EIP-712 digest a trusted signer signs.
    /// @param subscriptionId the subscription
    /// @param interval the interval
    /// @param inputHash keccak256 of the delivered `input` bytes
    /// @param outputHash keccak256 of the delivered `output` bytes
    function proofDigest(uint32 subscriptionId, uint32 interval, bytes32 inputHash, bytes32 outputHash)
        public
        view
        returns (bytes32)
    {
        bytes32 structHash =
            keccak256(abi.encode(COMPUTE_PROOF_TYPEHASH, subscriptionId, interval, inputHash, outputHash));
        return EIP712.digest(EIP712.domainSeparator(EIP712_NAME, EIP712_VERSION), structHash);
    }

    function _setSigner(address signer, bool trusted) private {
        isTrustedSigner[signer] = trusted;
        emit SignerTrustUpdated(signer, trusted);
    }
}
