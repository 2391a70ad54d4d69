// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {vm} from "kit-test/Vm.sol";
import {KitTestBase} from "./utils/KitTestBase.sol";
import {Coordinator} from "infernet-sdk/Coordinator.sol";
import {Wallet} from "infernet-sdk/payments/Wallet.sol";
import {Owned} from "infernet-sdk/utility/Owned.sol";
import {Coordinated} from "infernet-sdk/utility/Coordinated.sol";
import {SignatureVerifier} from "infernet-sdk/verifiers/SignatureVerifier.sol";
import {OptimisticVerifier} from "infernet-sdk/verifiers/OptimisticVerifier.sol";
import {RecordingConsumer} from "./fixtures/Consumers.sol";

/// @notice Paid subscriptions with a proof verifier: fees, escrow and settlement, balances to the wei.
contract ProofsTest is KitTestBase {
    event ProofVerified(
        uint32 indexed id, uint32 indexed interval, address indexed node, bool active, address verifier, bool valid
    );
    event Escrow(address indexed spender, address token, uint256 amount, bool locked);
    event Transfer(address indexed spender, address token, address indexed to, uint256 amount);
    event Withdrawl(address token, uint256 amount);
    event Approval(address indexed spender, address token, uint256 amount);

    address internal constant ALICE = address(0xA11CE0);
    address internal constant NODE_OWNER = address(0xB0B0);
    address internal constant PAYEE = address(0x9A1EE);
    uint256 internal constant PROOF_KEY = 0xB0B;
    uint256 internal constant ROGUE_KEY = 0xBAD;
    uint256 internal constant PRICE = 1 ether;
    uint256 internal constant VERIFIER_FEE = 0.1 ether;
    uint32 internal constant CHALLENGE_WINDOW = 1 days;

    RecordingConsumer internal consumer;
    Wallet internal consumerWallet;
    Wallet internal nodeWallet;
    SignatureVerifier internal signatures;
    OptimisticVerifier internal optimistic;
    bytes internal input = abi.encode("Is the sky blue?");
    bytes internal output = abi.encode(bytes("yes"), bytes(""));

    function setUp() public override {
        super.setUp();
        consumer = RecordingConsumer(deployConsumer("RecordingConsumer"));
        consumerWallet = Wallet(payable(walletFactory.createWallet(ALICE)));
        nodeWallet = Wallet(payable(walletFactory.createWallet(NODE_OWNER)));
        vm.deal(address(consumerWallet), 10 ether);
        vm.deal(address(nodeWallet), 5 ether);
        vm.prank(ALICE);
        consumerWallet.approve(address(consumer), address(0), 10 ether);
        // The node's stake is escrowed out of the allowance its wallet gives the node's address.
        vm.prank(NODE_OWNER);
        nodeWallet.approve(NODE1, address(0), 5 ether);

        signatures = SignatureVerifier(
            payable(deployArtifact(
                    "SignatureVerifier.sol",
                    "SignatureVerifier",
                    abi.encode(address(registry), address(this), PAYEE, vm.addr(PROOF_KEY))
                ))
        );
        optimistic = OptimisticVerifier(
            payable(deployArtifact(
                    "OptimisticVerifier.sol",
                    "OptimisticVerifier",
                    abi.encode(address(registry), address(this), PAYEE, CHALLENGE_WINDOW)
                ))
        );
        signatures.setTokenTerms(address(0), true, uint248(VERIFIER_FEE));
        optimistic.setTokenTerms(address(0), true, uint248(VERIFIER_FEE));
    }

    function subscribe(address verifier, uint256 price) internal returns (uint32) {
        return consumer.create("svc", 1, 0, 1, false, address(0), price, address(consumerWallet), verifier);
    }

    function proofFor(uint256 key, uint32 id, bytes memory signedOutput) internal view returns (bytes memory) {
        bytes32 inputHash = keccak256(input);
        bytes32 outputHash = keccak256(signedOutput);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, signatures.proofDigest(id, 1, inputHash, outputHash));
        return abi.encodePacked(inputHash, outputHash, r, s, v);
    }

    function deliver(uint32 id, bytes memory proof) internal {
        vm.prank(NODE1);
        coordinator.deliverCompute(id, 1, input, output, proof, address(nodeWallet));
    }

    /// @dev Protocol: `2 × fee` of the price, plus `fee` of the verifier's fee (paid on the verifier's behalf).
    function protocolCut(uint256 price, uint256 verifierFee, uint256 bps) internal pure returns (uint256) {
        return price * 2 * bps / 10_000 + verifierFee * bps / 10_000;
    }

    function test_ValidSignatureProofPaysNodeAtOnce() public {
        uint32 id = subscribe(address(signatures), PRICE);
        vm.expectEmit(true, true, true, true, address(coordinator));
        emit ProofVerified(id, 1, NODE1, true, address(signatures), true);
        deliver(id, proofFor(PROOF_KEY, id, output));

        uint256 toProtocol = protocolCut(PRICE, VERIFIER_FEE, 500); // 0.1 + 0.005 ether
        uint256 toNode = PRICE - PRICE * 2 * 500 / 10_000 - VERIFIER_FEE; // 0.8 ether
        assertEq(FEE_RECIPIENT.balance, toProtocol);
        assertEq(PAYEE.balance, VERIFIER_FEE - VERIFIER_FEE * 500 / 10_000);
        assertEq(address(nodeWallet).balance, 5 ether + toNode);
        assertEq(address(consumerWallet).balance, 10 ether - PRICE);
        assertEq(consumerWallet.allowance(address(consumer), address(0)), 10 ether - PRICE);
        assertEq(nodeWallet.allowance(NODE1, address(0)), 5 ether);
        assertEq(nodeWallet.unlockedBalance(address(0)), 5 ether + toNode);
        assertEq(consumerWallet.unlockedBalance(address(0)), 10 ether - PRICE);
        (uint32 expiry,,) = coordinator.proofRequests(keccak256(abi.encode(id, uint32(1), NODE1)));
        assertEq(expiry, 0);
        assertEq(consumer.count(), 1);
    }

    function test_InvalidSignatureProofSlashesNode() public {
        uint32 id = subscribe(address(signatures), PRICE);
        vm.expectEmit(true, true, true, true, address(coordinator));
        emit ProofVerified(id, 1, NODE1, true, address(signatures), false);
        deliver(id, proofFor(ROGUE_KEY, id, output));

        uint256 fees = PRICE * 2 * 500 / 10_000 + VERIFIER_FEE; // the consumer still pays protocol and verifier
        assertEq(FEE_RECIPIENT.balance, protocolCut(PRICE, VERIFIER_FEE, 500));
        assertEq(address(nodeWallet).balance, 5 ether - PRICE);
        assertEq(address(consumerWallet).balance, 10 ether - fees + PRICE);
        assertEq(consumerWallet.allowance(address(consumer), address(0)), 10 ether - fees);
        assertEq(nodeWallet.allowance(NODE1, address(0)), 5 ether - PRICE);
        assertEq(nodeWallet.unlockedBalance(address(0)), 5 ether - PRICE);
        // The output is still delivered: the consumer judges it knowing the proof failed (ProofVerified).
        assertEq(consumer.count(), 1);
    }

    function test_MalformedAndReplayedProofsAreInvalid() public {
        (bool valid, address signer,,) = signatures.check(1, 1, hex"1234");
        assertFalse(valid);
        assertEq(signer, address(0));
        // A proof signed for another subscription recovers another address.
        bytes memory other = proofFor(PROOF_KEY, 7, output);
        (valid,,,) = signatures.check(8, 1, other);
        assertFalse(valid);
        (valid, signer,,) = signatures.check(7, 1, other);
        assertTrue(valid);
        assertEq(signer, vm.addr(PROOF_KEY));
        // The high-s twin of a valid signature is refused.
        bytes memory twin = proofFor(PROOF_KEY, 7, output);
        bytes32 s = bytes32(
            uint256(0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141) - uint256(_word(twin, 96))
        );
        uint8 v = uint8(twin[128]) == 27 ? 28 : 27;
        (valid,,,) = signatures.check(7, 1, abi.encodePacked(_word(twin, 0), _word(twin, 32), _word(twin, 64), s, v));
        assertFalse(valid);

        uint32 id = subscribe(address(signatures), PRICE);
        deliver(id, hex"00");
        assertEq(address(nodeWallet).balance, 5 ether - PRICE);
    }

    function test_VerifierAdministration() public {
        vm.prank(ALICE);
        vm.expectRevert(Owned.Unauthorized.selector);
        signatures.setSigner(ALICE, true);
        vm.prank(ALICE);
        vm.expectRevert(Owned.Unauthorized.selector);
        signatures.setTokenTerms(address(0), true, 0);
        vm.expectRevert(Coordinated.NotCoordinator.selector);
        signatures.requestProofVerification(1, 1, NODE1, "");
        vm.expectRevert(Coordinated.NotCoordinator.selector);
        optimistic.requestProofVerification(1, 1, NODE1, "");
        signatures.setSigner(vm.addr(PROOF_KEY), false);
        assertFalse(signatures.isTrustedSigner(vm.addr(PROOF_KEY)));
        assertEq(signatures.getWallet(), PAYEE);
        (bool ok,) = address(signatures).call{value: 1}("");
        assertFalse(ok);
    }

    function test_RevertWhen_VerifierRefusesToken() public {
        signatures.setTokenTerms(address(0), false, 0);
        uint32 id = subscribe(address(signatures), PRICE);
        bytes memory proof = proofFor(PROOF_KEY, id, output);
        vm.expectRevert(Coordinator.UnsupportedVerifierToken.selector);
        deliver(id, proof);
        assertEq(address(consumerWallet).balance, 10 ether);
    }

    function test_RevertWhen_NodeStakeMissing() public {
        vm.prank(NODE_OWNER);
        nodeWallet.approve(NODE1, address(0), PRICE - 1);
        uint32 id = subscribe(address(signatures), PRICE);
        bytes memory proof = proofFor(PROOF_KEY, id, output);
        vm.expectRevert(Wallet.InsufficientAllowance.selector);
        deliver(id, proof);
        assertEq(address(consumerWallet).balance, 10 ether);
    }

    function test_RevertWhen_PaymentReentersDelivery() public {
        address hostile = deployArtifact("ReentrantVerifier.sol", "ReentrantVerifier", abi.encode(address(coordinator)));
        // Redundancy 2, so the nested delivery (from the verifier, another "node") passes every check but the guard.
        uint32 id = consumer.create("svc", 1, 0, 2, false, address(0), PRICE, address(consumerWallet), hostile);
        vm.expectRevert(Coordinator.Reentrancy.selector);
        deliver(id, "");
        assertEq(address(consumerWallet).balance, 10 ether);
    }

    function test_OptimisticProofEscrowsUntilSettled() public {
        uint32 id = subscribe(address(optimistic), PRICE);
        vm.expectEmit(true, false, false, true, address(nodeWallet));
        emit Escrow(NODE1, address(0), PRICE, true);
        deliver(id, "claim");

        bytes32 key = keccak256(abi.encode(id, uint32(1), NODE1));
        (uint32 expiry, Wallet heldBy, uint256 escrowed) = coordinator.proofRequests(key);
        uint256 toNode = PRICE - PRICE * 2 * 500 / 10_000 - VERIFIER_FEE;
        assertEq(expiry, clock + 1 weeks);
        assertEq(address(heldBy), address(nodeWallet));
        assertEq(escrowed, toNode);
        assertEq(nodeWallet.unlockedBalance(address(0)), 5 ether - PRICE);
        assertEq(consumerWallet.unlockedBalance(address(0)), 10 ether - PRICE);

        // Only the verifier may settle within the coordinator's window; the challenge window must pass first.
        vm.expectRevert(Coordinator.UnauthorizedVerifier.selector);
        coordinator.finalizeProofVerification(id, 1, NODE1, true);
        vm.expectRevert(OptimisticVerifier.ChallengeWindowOpen.selector);
        optimistic.settle(id, 1, NODE1);
        skipTime(CHALLENGE_WINDOW);
        vm.prank(ALICE);
        vm.expectRevert(Owned.Unauthorized.selector);
        optimistic.challenge(id, 1, NODE1);
        vm.expectRevert(OptimisticVerifier.ChallengeWindowClosed.selector);
        optimistic.challenge(id, 1, NODE1);

        vm.prank(ALICE); // anyone
        optimistic.settle(id, 1, NODE1);
        assertEq(address(nodeWallet).balance, 5 ether + toNode);
        assertEq(nodeWallet.unlockedBalance(address(0)), 5 ether + toNode);
        assertEq(address(consumerWallet).balance, 10 ether - PRICE);
        vm.expectRevert(OptimisticVerifier.NoPendingProof.selector);
        optimistic.settle(id, 1, NODE1);
        vm.expectRevert(Coordinator.ProofRequestNotFound.selector);
        coordinator.finalizeProofVerification(id, 1, NODE1, true);
    }

    function test_OptimisticChallengeSlashesNode() public {
        uint32 id = subscribe(address(optimistic), PRICE);
        deliver(id, "claim");
        skipTime(CHALLENGE_WINDOW - 1);
        optimistic.challenge(id, 1, NODE1);
        uint256 fees = PRICE * 2 * 500 / 10_000 + VERIFIER_FEE;
        assertEq(address(nodeWallet).balance, 5 ether - PRICE);
        assertEq(address(consumerWallet).balance, 10 ether - fees + PRICE);
        assertEq(consumerWallet.unlockedBalance(address(0)), 10 ether - fees + PRICE);
    }

    function test_ExpiredProofPaysNodeWhoeverFinalizes() public {
        uint32 id = subscribe(address(optimistic), PRICE);
        deliver(id, "claim");
        skipTime(1 weeks);
        vm.expectEmit(true, true, true, true, address(coordinator));
        emit ProofVerified(id, 1, NODE1, false, ALICE, false);
        vm.prank(ALICE);
        coordinator.finalizeProofVerification(id, 1, NODE1, false);
        assertEq(address(nodeWallet).balance, 5 ether + PRICE - PRICE * 2 * 500 / 10_000 - VERIFIER_FEE);
    }

    function test_WalletEventsMatchTheSdk() public {
        vm.expectEmit(true, false, false, true, address(consumerWallet));
        emit Approval(address(consumer), address(0), 20 ether);
        vm.prank(ALICE);
        consumerWallet.approve(address(consumer), address(0), 20 ether);
        vm.prank(address(coordinator));
        vm.expectEmit(true, true, false, true, address(consumerWallet));
        emit Transfer(address(consumer), address(0), ALICE, 1 ether);
        consumerWallet.cTransfer(address(consumer), address(0), ALICE, 1 ether);
        vm.prank(address(coordinator));
        vm.expectEmit(true, false, false, true, address(consumerWallet));
        emit Escrow(address(consumer), address(0), 8 ether, true);
        consumerWallet.cLock(address(consumer), address(0), 8 ether);
        assertEq(consumerWallet.unlockedBalance(address(0)), 1 ether);

        // Escrowed funds can be neither paid out (unlike the SDK) nor withdrawn, although the allowance is there.
        vm.prank(address(coordinator));
        vm.expectRevert(Wallet.InsufficientFunds.selector);
        consumerWallet.cTransfer(address(consumer), address(0), ALICE, 2 ether);
        vm.prank(ALICE);
        vm.expectRevert(Wallet.InsufficientFunds.selector);
        consumerWallet.withdraw(address(0), 2 ether);
        // cLock checks the funds before the allowance (as the SDK): both are short here.
        vm.prank(address(coordinator));
        vm.expectRevert(Wallet.InsufficientFunds.selector);
        consumerWallet.cLock(address(consumer), address(0), 100 ether);

        vm.prank(address(coordinator));
        vm.expectEmit(true, false, false, true, address(consumerWallet));
        emit Escrow(address(consumer), address(0), 8 ether, false);
        consumerWallet.cUnlock(address(consumer), address(0), 8 ether);
        vm.expectEmit(false, false, false, true, address(consumerWallet));
        emit Withdrawl(address(0), 2 ether);
        vm.prank(ALICE);
        consumerWallet.withdraw(address(0), 2 ether);
        assertEq(ALICE.balance, 3 ether);
    }

    /// @notice Any price, verifier fee, protocol fee and verdict: every wei lands where the SDK sends it.
    function testFuzz_VerifiedPaymentSplit(uint96 price, uint96 verifierFee, uint16 bps, bool valid) public {
        price = uint96(bound(price, 1, 4 ether));
        bps = uint16(bound(bps, 0, 5_000));
        uint256 afterProtocol = price - uint256(price) * 2 * bps / 10_000;
        verifierFee = uint96(bound(verifierFee, 0, afterProtocol));
        vm.prank(FEE_RECIPIENT);
        fee.updateFee(bps);
        signatures.setTokenTerms(address(0), true, verifierFee);
        uint32 id = subscribe(address(signatures), price);

        deliver(id, proofFor(valid ? PROOF_KEY : ROGUE_KEY, id, output));

        uint256 toProtocol = protocolCut(price, verifierFee, bps);
        uint256 toVerifier = verifierFee - uint256(verifierFee) * bps / 10_000;
        uint256 escrowed = afterProtocol - verifierFee;
        assertEq(FEE_RECIPIENT.balance, toProtocol);
        assertEq(PAYEE.balance, toVerifier);
        if (valid) {
            assertEq(address(nodeWallet).balance, 5 ether + escrowed);
            assertEq(address(consumerWallet).balance, 10 ether - price);
        } else {
            assertEq(address(nodeWallet).balance, 5 ether - price);
            assertEq(address(consumerWallet).balance, 10 ether - toProtocol - toVerifier + price);
        }
        assertEq(toProtocol + toVerifier + escrowed, price);
        assertEq(nodeWallet.unlockedBalance(address(0)), address(nodeWallet).balance);
        assertEq(consumerWallet.unlockedBalance(address(0)), address(consumerWallet).balance);
    }

    function _word(bytes memory data, uint256 offset) private pure returns (bytes32 word) {
        assembly ("memory-safe") {
            word := mload(add(add(data, 0x20), offset))
        }
    }
}
