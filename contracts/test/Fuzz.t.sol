// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {vm} from "kit-test/Vm.sol";
import {KitTestBase} from "./utils/KitTestBase.sol";
import {Coordinator} from "infernet-sdk/Coordinator.sol";
import {Subscription} from "infernet-sdk/Coordinator.sol";
import {EIP712Coordinator} from "infernet-sdk/EIP712Coordinator.sol";
import {Wallet} from "infernet-sdk/payments/Wallet.sol";
import {RecordingConsumer, NoopDelegatorConsumer} from "./fixtures/Consumers.sol";

contract FuzzTest is KitTestBase {
    RecordingConsumer internal consumer;

    function setUp() public override {
        super.setUp();
        consumer = RecordingConsumer(deployConsumer("RecordingConsumer"));
    }

    /// @notice getSubscriptionInterval matches `(now - activeAt) / period + 1` (1 for period 0, 0 before activeAt).
    function testFuzz_IntervalMaths(uint32 activeAt, uint32 period, uint32 elapsed) public {
        activeAt = uint32(bound(activeAt, 1, type(uint32).max / 2));
        warpTo(uint256(activeAt) + elapsed);
        uint32 got = coordinator.getSubscriptionInterval(activeAt, period);
        if (period == 0) assertEq(got, 1);
        else assertEq(got, _min(uint256(elapsed) / period + 1, type(uint32).max));
        if (period != 0 && activeAt > 1) {
            warpTo(uint256(activeAt) - 1);
            assertEq(coordinator.getSubscriptionInterval(activeAt, period), 0);
        }
    }

    /// @notice A delivery is accepted exactly in its own interval, and only while interval <= frequency.
    function testFuzz_DeliveryWindow(uint32 frequency, uint32 period, uint32 offset, uint32 claimed) public {
        frequency = uint32(bound(frequency, 1, 1000));
        period = uint32(bound(period, 1, 1 days));
        offset = uint32(bound(offset, 0, uint256(period) * 1100));
        claimed = uint32(bound(claimed, 0, 1200));
        uint32 id = consumer.create("svc", frequency, period, 1, false, address(0), 0, address(0), address(0));
        uint256 activeAt = clock + period;
        warpTo(activeAt + offset);
        uint32 current = uint32(offset / period + 1);
        vm.prank(NODE1);
        if (claimed != current) {
            vm.expectRevert(Coordinator.IntervalMismatch.selector);
        } else if (current > frequency) {
            vm.expectRevert(Coordinator.SubscriptionCompleted.selector);
        }
        coordinator.deliverCompute(id, claimed, EMPTY, EMPTY, EMPTY, address(0));
        assertEq(consumer.count(), claimed == current && current <= frequency ? 1 : 0);
    }

    /// @notice With redundancy r and n distinct nodes, exactly min(n, r) deliveries land; the rest revert.
    function testFuzz_Redundancy(uint16 redundancy, uint8 nodes) public {
        redundancy = uint16(bound(redundancy, 1, 12));
        nodes = uint8(bound(nodes, 1, 16));
        uint32 id = consumer.create("svc", 1, 0, redundancy, false, address(0), 0, address(0), address(0));
        for (uint256 i; i < nodes; ++i) {
            address node = address(uint160(0x5000 + i));
            vm.prank(node);
            if (i >= redundancy) vm.expectRevert(Coordinator.IntervalCompleted.selector);
            coordinator.deliverCompute(id, 1, EMPTY, EMPTY, EMPTY, address(0));
        }
        uint256 landed = nodes < redundancy ? nodes : redundancy;
        assertEq(consumer.count(), landed);
        assertEq(coordinator.redundancyCount(keccak256(abi.encode(id, uint32(1)))), landed);
        if (landed > 0) assertEq(consumer.delivery(landed - 1).redundancy, landed);
        // Every node that landed is refused a second time (or the interval is full).
        vm.prank(address(uint160(0x5000)));
        if (landed >= redundancy) vm.expectRevert(Coordinator.IntervalCompleted.selector);
        else vm.expectRevert(Coordinator.NodeRespondedAlready.selector);
        coordinator.deliverCompute(id, 1, EMPTY, EMPTY, EMPTY, address(0));
    }

    /// @notice A paid delivery moves exactly `amount`: `amount * 2 * bps / 10_000` (the SDK's double fee) to the
    ///         fee recipient, the rest to the node's wallet, and spends `amount` of the consumer's allowance.
    function testFuzz_PaymentSplit(uint96 amount, uint16 bps) public {
        amount = uint96(bound(amount, 1, 1000 ether));
        bps = uint16(bound(bps, 0, 5_000));
        vm.prank(FEE_RECIPIENT);
        fee.updateFee(bps);
        Wallet payer = Wallet(payable(walletFactory.createWallet(address(this))));
        Wallet payee = Wallet(payable(walletFactory.createWallet(NODE1)));
        vm.deal(address(payer), uint256(amount) * 2);
        payer.approve(address(consumer), address(0), uint256(amount) * 2);
        uint32 id = consumer.create("svc", 1, 0, 1, false, address(0), amount, address(payer), address(0));
        uint256 recipientBefore = FEE_RECIPIENT.balance;

        vm.prank(NODE1);
        coordinator.deliverCompute(id, 1, EMPTY, EMPTY, EMPTY, address(payee));
        uint256 feeAmount = uint256(amount) * 2 * bps / 10_000;
        assertEq(FEE_RECIPIENT.balance - recipientBefore, feeAmount);
        assertEq(address(payee).balance, amount - feeAmount);
        assertEq(address(payer).balance, amount);
        assertEq(payer.allowance(address(consumer), address(0)), amount);
    }

    /// @notice Any (nonce, expiry) signed by the delegator's signer creates exactly one subscription while
    ///         unexpired; the same pair then always answers the same id.
    function testFuzz_DelegatedNonceAndExpiry(uint32 nonce, uint32 expiry) public {
        NoopDelegatorConsumer delegator = NoopDelegatorConsumer(deployDelegator("NoopDelegatorConsumer"));
        Subscription memory sub = oneShotSub(address(delegator), "svc");
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(SIGNER_KEY, coordinator.delegateSubscriptionDigest(nonce, expiry, sub));
        if (expiry <= clock) {
            vm.expectRevert(EIP712Coordinator.SignatureExpired.selector);
            coordinator.createSubscriptionDelegatee(nonce, expiry, sub, v, r, s);
            return;
        }
        uint32 id = coordinator.createSubscriptionDelegatee(nonce, expiry, sub, v, r, s);
        assertEq(coordinator.createSubscriptionDelegatee(nonce, expiry, sub, v, r, s), id);
        assertEq(coordinator.maxSubscriberNonce(address(delegator)), nonce);
        assertEq(coordinator.id(), id + 1);
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
