// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {vm} from "kit-test/Vm.sol";
import {KitTestBase} from "./utils/KitTestBase.sol";
import {Coordinator} from "infernet-sdk/Coordinator.sol";
import {Fee} from "infernet-sdk/payments/Fee.sol";
import {Wallet} from "infernet-sdk/payments/Wallet.sol";
import {Owned} from "infernet-sdk/utility/Owned.sol";
import {Coordinated} from "infernet-sdk/utility/Coordinated.sol";
import {RecordingConsumer} from "./fixtures/Consumers.sol";
import {KitTestToken, KitNoReturnToken, KitFalseToken} from "./fixtures/KitTestToken.sol";

contract PaymentsTest is KitTestBase {
    event WalletCreated(address indexed caller, address indexed owner, address wallet);

    address internal constant ALICE = address(0xA11CE0);
    address internal constant NODE_OWNER = address(0xB0B0);

    RecordingConsumer internal consumer;
    Wallet internal consumerWallet;
    Wallet internal nodeWallet;
    KitTestToken internal token;

    function setUp() public override {
        super.setUp();
        consumer = RecordingConsumer(deployConsumer("RecordingConsumer"));
        vm.prank(ALICE);
        consumerWallet = Wallet(payable(walletFactory.createWallet(ALICE)));
        nodeWallet = Wallet(payable(walletFactory.createWallet(NODE_OWNER)));
        token = KitTestToken(deployArtifact("KitTestToken.sol", "KitTestToken", ""));
    }

    function paidSub(address paymentToken, uint256 amount, address wallet) internal returns (uint32) {
        return consumer.create("svc", 1, 0, 1, false, paymentToken, amount, wallet, address(0));
    }

    /// @dev Alice lets the consumer spend `amount` of `paymentToken` (address(0): ETH) from her wallet.
    function allow(address paymentToken, uint256 amount) internal {
        vm.prank(ALICE);
        consumerWallet.approve(address(consumer), paymentToken, amount);
    }

    /// @dev Token `name` of fixtures/KitTestToken.sol, `amount` of it minted to Alice's wallet and allowed to the
    ///      consumer.
    function fundedToken(string memory name, uint256 amount) internal returns (address paymentToken) {
        paymentToken = deployArtifact("KitTestToken.sol", name, "");
        KitTestToken(paymentToken).mint(address(consumerWallet), amount); // every fixture token mints alike
        allow(paymentToken, amount);
    }

    function deliverPaid(uint32 id, address toWallet) internal {
        vm.prank(NODE1);
        coordinator.deliverCompute(id, 1, EMPTY, EMPTY, EMPTY, toWallet);
    }

    function test_FactoryCreatesValidWallets() public {
        vm.expectEmit(true, true, false, false, address(walletFactory));
        emit WalletCreated(address(this), ALICE, address(0));
        address w = walletFactory.createWallet(ALICE);
        assertTrue(walletFactory.isValidWallet(w));
        assertFalse(walletFactory.isValidWallet(address(consumer)));
        assertEq(Wallet(payable(w)).owner(), ALICE);
    }

    function test_EthPaymentSplitsFee() public {
        vm.deal(address(consumerWallet), 10 ether);
        allow(address(0), 3 ether);
        uint32 id = paidSub(address(0), 1 ether, address(consumerWallet));

        address recipient = fee.FEE_RECIPIENT();
        uint256 recipientBefore = recipient.balance;
        deliverPaid(id, address(nodeWallet));

        uint256 feeAmount = 1 ether * 2 * 500 / 10_000; // the SDK charges the fee twice
        assertEq(recipient.balance - recipientBefore, feeAmount);
        assertEq(address(nodeWallet).balance, 1 ether - feeAmount);
        assertEq(address(consumerWallet).balance, 9 ether);
        assertEq(consumerWallet.allowance(address(consumer), address(0)), 2 ether);
        assertEq(consumer.count(), 1);
    }

    function test_TokenPaymentSplitsFee() public {
        token.mint(address(consumerWallet), 1000);
        allow(address(token), 1000);
        vm.prank(FEE_RECIPIENT);
        fee.updateFee(1000); // 10 %, taken twice
        uint32 id = paidSub(address(token), 250, address(consumerWallet));

        deliverPaid(id, address(nodeWallet));
        assertEq(token.balanceOf(FEE_RECIPIENT), 50);
        assertEq(token.balanceOf(address(nodeWallet)), 200);
        assertEq(token.balanceOf(address(consumerWallet)), 750);

        // The node owner withdraws its earnings.
        vm.prank(NODE_OWNER);
        nodeWallet.withdraw(address(token), 200);
        assertEq(token.balanceOf(NODE_OWNER), 200);
    }

    function test_TokenWithoutReturnValueIsAccepted() public {
        KitNoReturnToken usdtLike = KitNoReturnToken(fundedToken("KitNoReturnToken", 100));
        uint32 id = paidSub(address(usdtLike), 100, address(consumerWallet));
        deliverPaid(id, address(nodeWallet));
        assertEq(usdtLike.balanceOf(address(nodeWallet)), 90);
        assertEq(usdtLike.balanceOf(FEE_RECIPIENT), 10);
    }

    function test_RevertWhen_TokenTransferFails() public {
        KitFalseToken broken = KitFalseToken(fundedToken("KitFalseToken", 100));
        uint32 id = paidSub(address(broken), 100, address(consumerWallet));
        vm.expectRevert(Wallet.TransferFailed.selector);
        deliverPaid(id, address(nodeWallet));
        assertEq(consumerWallet.allowance(address(consumer), address(broken)), 100);
    }

    function test_ZeroFeeSendsEverythingToNode() public {
        vm.prank(FEE_RECIPIENT);
        fee.updateFee(0);
        vm.deal(address(consumerWallet), 1 ether);
        allow(address(0), 1 ether);
        uint32 id = paidSub(address(0), 1 ether, address(consumerWallet));
        deliverPaid(id, address(nodeWallet));
        assertEq(address(nodeWallet).balance, 1 ether);
    }

    function test_RevertWhen_ConsumerWalletNotFromFactory() public {
        uint32 id = paidSub(address(0), 1, address(0xDEAD));
        vm.expectRevert(Coordinator.InvalidWallet.selector);
        deliverPaid(id, address(nodeWallet));
    }

    function test_RevertWhen_NodeWalletNotFromFactory() public {
        vm.deal(address(consumerWallet), 1 ether);
        allow(address(0), 1 ether);
        uint32 id = paidSub(address(0), 1, address(consumerWallet));
        vm.expectRevert(Coordinator.InvalidWallet.selector);
        deliverPaid(id, NODE1);
        vm.expectRevert(Coordinator.InvalidWallet.selector);
        deliverPaid(id, address(0));
    }

    function test_RevertWhen_InsufficientAllowance() public {
        vm.deal(address(consumerWallet), 1 ether);
        allow(address(0), 0.5 ether);
        uint32 id = paidSub(address(0), 1 ether, address(consumerWallet));
        vm.expectRevert(Wallet.InsufficientAllowance.selector);
        deliverPaid(id, address(nodeWallet));
        // Nothing moved and the interval is still open.
        assertEq(address(consumerWallet).balance, 1 ether);
        assertEq(coordinator.redundancyCount(keccak256(abi.encode(id, uint32(1)))), 0);
    }

    function test_RevertWhen_InsufficientFunds() public {
        vm.deal(address(consumerWallet), 0.5 ether);
        allow(address(0), 5 ether);
        uint32 id = paidSub(address(0), 1 ether, address(consumerWallet));
        vm.expectRevert(Wallet.InsufficientFunds.selector);
        deliverPaid(id, address(nodeWallet));
    }

    function test_FreeSubscriptionIgnoresWallets() public {
        uint32 id = paidSub(address(0), 0, address(0xDEAD));
        deliverPaid(id, NODE1);
        assertEq(consumer.count(), 1);
    }

    function test_WalletEscrowLockUnlock() public {
        vm.deal(address(consumerWallet), 10 ether);
        allow(address(0), 4 ether);

        vm.prank(address(coordinator));
        consumerWallet.cLock(address(consumer), address(0), 3 ether);
        assertEq(consumerWallet.allowance(address(consumer), address(0)), 1 ether);
        assertEq(consumerWallet.unlockedBalance(address(0)), 7 ether);

        // Locked funds can be neither withdrawn nor spent.
        vm.prank(ALICE);
        vm.expectRevert(Wallet.InsufficientFunds.selector);
        consumerWallet.withdraw(address(0), 8 ether);
        vm.prank(address(coordinator));
        vm.expectRevert(Wallet.InsufficientAllowance.selector);
        consumerWallet.cLock(address(consumer), address(0), 2 ether);

        vm.prank(address(coordinator));
        vm.expectRevert(Wallet.InsufficientFunds.selector);
        consumerWallet.cUnlock(address(consumer), address(0), 4 ether);
        vm.prank(address(coordinator));
        consumerWallet.cUnlock(address(consumer), address(0), 3 ether);
        assertEq(consumerWallet.allowance(address(consumer), address(0)), 4 ether);
        assertEq(consumerWallet.unlockedBalance(address(0)), 10 ether);

        vm.prank(ALICE);
        consumerWallet.withdraw(address(0), 10 ether);
        assertEq(ALICE.balance, 10 ether);
    }

    function test_WalletAccessControl() public {
        vm.expectRevert(Owned.Unauthorized.selector);
        consumerWallet.approve(address(consumer), address(0), 1);
        vm.expectRevert(Owned.Unauthorized.selector);
        consumerWallet.withdraw(address(0), 0);
        vm.expectRevert(Coordinated.NotCoordinator.selector);
        consumerWallet.cTransfer(address(consumer), address(0), ALICE, 0);
        vm.expectRevert(Coordinated.NotCoordinator.selector);
        consumerWallet.cLock(address(consumer), address(0), 0);
        vm.expectRevert(Coordinated.NotCoordinator.selector);
        consumerWallet.cUnlock(address(consumer), address(0), 0);

        vm.prank(ALICE);
        consumerWallet.transferOwnership(NODE1);
        assertEq(consumerWallet.owner(), NODE1);
    }

    function test_FeeConfiguration() public {
        assertEq(fee.FEE(), 500);
        assertEq(fee.FEE_RECIPIENT(), FEE_RECIPIENT);
        assertEq(fee.owner(), FEE_RECIPIENT);
        vm.expectRevert(Owned.Unauthorized.selector);
        fee.updateFee(1);
        vm.prank(FEE_RECIPIENT);
        fee.updateFee(700);
        (address recipient, uint16 bps) = fee.terms();
        assertEq(recipient, FEE_RECIPIENT);
        assertEq(bps, 700);
        vm.prank(FEE_RECIPIENT);
        vm.expectRevert(Owned.NewOwnerIsZeroAddress.selector);
        fee.transferOwnership(address(0));
        // The recipient hands the fee (and its proceeds) on.
        vm.prank(FEE_RECIPIENT);
        fee.transferOwnership(ALICE);
        assertEq(fee.FEE_RECIPIENT(), ALICE);
        vm.prank(FEE_RECIPIENT);
        vm.expectRevert(Owned.Unauthorized.selector);
        fee.updateFee(1);
    }
}
