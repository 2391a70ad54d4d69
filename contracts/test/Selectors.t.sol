// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Test} from "kit-test/Test.sol";
import {Coordinator} from "infernet-sdk/Coordinator.sol";
import {EIP712Coordinator} from "infernet-sdk/EIP712Coordinator.sol";
import {BaseConsumer} from "infernet-sdk/consumer/Base.sol";
import {Allowlist} from "infernet-sdk/pattern/Allowlist.sol";
import {Wallet} from "infernet-sdk/payments/Wallet.sol";
import {CallbackConsumer} from "infernet-sdk/consumer/Callback.sol";
import {CodeStore} from "infernet-sdk/utility/CodeStore.sol";
import {Owned} from "infernet-sdk/utility/Owned.sol";

/// @notice The custom-error selectors nodes decode (PROTOCOL.md 1.2) and the events' topics.
contract SelectorsTest is Test {
    function test_ErrorSelectorsMatchTheProtocol() public pure {
        assertSelector(Coordinator.InvalidWallet.selector, 0x23455ba1);
        assertSelector(Coordinator.IntervalMismatch.selector, 0x4db310c3);
        assertSelector(Coordinator.IntervalCompleted.selector, 0x2f4ca85b);
        assertSelector(Coordinator.UnauthorizedVerifier.selector, 0xb9857aa1);
        assertSelector(Coordinator.NodeRespondedAlready.selector, 0x88a21e4f);
        assertSelector(Coordinator.SubscriptionNotFound.selector, 0x1a00354f);
        assertSelector(Coordinator.ProofRequestNotFound.selector, 0x1d68b37c);
        assertSelector(Coordinator.NotSubscriptionOwner.selector, 0xa7fba711);
        assertSelector(Coordinator.SubscriptionCompleted.selector, 0xae6704a7);
        assertSelector(Coordinator.SubscriptionNotActive.selector, 0xefb74efe);
        assertSelector(Coordinator.UnsupportedVerifierToken.selector, 0xe2372799);
        assertSelector(EIP712Coordinator.SignerMismatch.selector, 0x10c74b03);
        assertSelector(EIP712Coordinator.SignatureExpired.selector, 0x0819bdcd);
        assertSelector(BaseConsumer.NotCoordinator.selector, 0x9ec853e6);
        assertSelector(Allowlist.NodeNotAllowed.selector, 0x42764946);
        assertSelector(Wallet.InsufficientFunds.selector, 0x356680b7);
        assertSelector(Wallet.InsufficientAllowance.selector, 0x13be252b);
        // The SDK's solady-derived errors.
        assertSelector(Coordinator.Reentrancy.selector, 0xab143c06);
        assertSelector(Owned.Unauthorized.selector, 0x82b42900);
        assertSelector(Owned.NewOwnerIsZeroAddress.selector, 0x7448fbae);
    }

    function test_CodeStoreInitCodeAsksForTheStagedCode() public pure {
        assertSelector(CallbackConsumer.infernetStagedCode.selector, 0x2658cbf5);
        assertEq(CodeStore.STAGED_INIT_CODE.length, 31);
        assertEq(uint256(uint8(CodeStore.STAGED_INIT_CODE[0])), 0x63); // PUSH4 <selector>
        assertEq(
            uint256(
                uint32(
                    bytes4(
                        bytes.concat(
                            CodeStore.STAGED_INIT_CODE[1],
                            CodeStore.STAGED_INIT_CODE[2],
                            CodeStore.STAGED_INIT_CODE[3],
                            CodeStore.STAGED_INIT_CODE[4]
                        )
                    )
                )
            ),
            0x2658cbf5
        );
    }

    function test_EventTopics() public pure {
        assertEq(Coordinator.SubscriptionCreated.selector, keccak256("SubscriptionCreated(uint32)"));
        assertEq(Coordinator.SubscriptionCancelled.selector, keccak256("SubscriptionCancelled(uint32)"));
        assertEq(Coordinator.SubscriptionFulfilled.selector, keccak256("SubscriptionFulfilled(uint32,address)"));
        assertEq(
            Coordinator.ProofVerified.selector, keccak256("ProofVerified(uint32,uint32,address,bool,address,bool)")
        );
        // The SDK's Wallet events, its `Withdrawl` spelling included.
        assertEq(Wallet.Withdrawl.selector, keccak256("Withdrawl(address,uint256)"));
        assertEq(Wallet.Approval.selector, keccak256("Approval(address,address,uint256)"));
        assertEq(Wallet.Transfer.selector, keccak256("Transfer(address,address,address,uint256)"));
        assertEq(Wallet.Escrow.selector, keccak256("Escrow(address,address,uint256,bool)"));
        assertEq(Owned.OwnershipTransferred.selector, keccak256("OwnershipTransferred(address,address)"));
    }

    function assertSelector(bytes4 selector, uint32 expected) internal pure {
        assertEq(uint256(uint32(selector)), uint256(expected));
    }
}
