// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {vm} from "kit-test/Vm.sol";
import {KitTestBase} from "../utils/KitTestBase.sol";
import {Subscription} from "infernet-sdk/Coordinator.sol";
import {Wallet} from "infernet-sdk/payments/Wallet.sol";
import {NoopCallbackConsumer, NoopSubscriptionConsumer, NoopDelegatorConsumer} from "../fixtures/Consumers.sol";

/// @notice One main path per test, consumers doing nothing in their callback (as the reference measured), so
///         `forge snapshot` (.gas-snapshot) tracks the coordinator's own cost.
contract GasTest is KitTestBase {
    // Upper bounds on each measured call's gas (`gasleft()` around the call alone): a few percent above the
    // figures measured when they were set, so a regression in the coordinator fails here.
    uint256 internal constant REQUEST_COMPUTE_GAS = 139_000;
    uint256 internal constant DELIVER_COMPUTE_GAS = 77_500;
    uint256 internal constant DELIVER_COMPUTE_SECOND_NODE_GAS = 80_000;
    uint256 internal constant DELIVER_COMPUTE_LAZY_GAS = 249_000;
    uint256 internal constant CREATE_SUBSCRIPTION_DELEGATEE_GAS = 142_000;
    uint256 internal constant DELIVER_COMPUTE_DELEGATEE_GAS = 203_000;
    uint256 internal constant DELIVER_COMPUTE_PAID_ETH_GAS = 116_000;
    uint256 internal constant CREATE_RECURRING_GAS = 88_500;
    uint256 internal constant DELIVER_COMPUTE_RECURRING_FIRST_GAS = 80_000;

    NoopCallbackConsumer internal callback;
    NoopSubscriptionConsumer internal subscriber;
    NoopDelegatorConsumer internal delegator;
    bytes internal inputs = abi.encode("Is the sky blue during a clear day?");
    bytes internal output = abi.encode(abi.encode("Yes, the sky is blue during a clear day."), bytes(""));
    uint32 internal oneShot;
    uint32 internal redundant;
    uint32 internal lazy;
    uint32 internal recurring;
    Subscription internal sub;
    uint8 internal v;
    bytes32 internal r;
    bytes32 internal s;

    function setUp() public override {
        super.setUp();
        callback = NoopCallbackConsumer(deployConsumer("NoopCallbackConsumer"));
        subscriber = NoopSubscriptionConsumer(deployConsumer("NoopSubscriptionConsumer"));
        delegator = NoopDelegatorConsumer(deployDelegator("NoopDelegatorConsumer"));
        oneShot = callback.request("tgi_client_inference_service", inputs, 1, address(0), 0, address(0), address(0));
        redundant = callback.request("tgi_client_inference_service", inputs, 2, address(0), 0, address(0), address(0));
        vm.prank(NODE1);
        coordinator.deliverCompute(redundant, 1, inputs, output, EMPTY, address(0));
        lazy = subscriber.create("tgi_client_inference_service", 1, 0, 1, true);
        recurring = subscriber.create("tgi_client_inference_service", 3, 60, 1, false);

        sub = oneShotSub(address(delegator), "tgi_client_inference_service");
        (v, r, s) = vm.sign(SIGNER_KEY, coordinator.delegateSubscriptionDigest(1, uint32(clock + 600), sub));
    }

    function test_Gas_RequestCompute() public {
        uint256 before = gasleft();
        callback.request("tgi_client_inference_service", inputs, 1, address(0), 0, address(0), address(0));
        assertGasAtMost("requestCompute", before - gasleft(), REQUEST_COMPUTE_GAS);
    }

    function test_Gas_DeliverCompute() public {
        vm.prank(NODE1);
        uint256 before = gasleft();
        coordinator.deliverCompute(oneShot, 1, inputs, output, EMPTY, address(0));
        assertGasAtMost("deliverCompute", before - gasleft(), DELIVER_COMPUTE_GAS);
    }

    function test_Gas_DeliverComputeSecondNode() public {
        vm.prank(NODE2);
        uint256 before = gasleft();
        coordinator.deliverCompute(redundant, 1, inputs, output, EMPTY, address(0));
        assertGasAtMost("deliverCompute (second node)", before - gasleft(), DELIVER_COMPUTE_SECOND_NODE_GAS);
    }

    function test_Gas_DeliverComputeLazy() public {
        vm.prank(NODE1);
        uint256 before = gasleft();
        coordinator.deliverCompute(lazy, 1, inputs, output, EMPTY, address(0));
        assertGasAtMost("deliverCompute (lazy)", before - gasleft(), DELIVER_COMPUTE_LAZY_GAS);
    }

    function test_Gas_CreateRecurring() public {
        uint256 before = gasleft();
        subscriber.create("tgi_client_inference_service", 3, 60, 1, false);
        assertGasAtMost("createSubscription (recurring)", before - gasleft(), CREATE_RECURRING_GAS);
    }

    function test_Gas_DeliverComputeRecurringFirstInterval() public {
        skipTime(60);
        vm.prank(NODE1);
        uint256 before = gasleft();
        coordinator.deliverCompute(recurring, 1, inputs, output, EMPTY, address(0));
        assertGasAtMost(
            "deliverCompute (recurring, interval 1)", before - gasleft(), DELIVER_COMPUTE_RECURRING_FIRST_GAS
        );
    }

    function test_Gas_CreateSubscriptionDelegatee() public {
        uint256 before = gasleft();
        coordinator.createSubscriptionDelegatee(1, uint32(clock + 600), sub, v, r, s);
        assertGasAtMost("createSubscriptionDelegatee", before - gasleft(), CREATE_SUBSCRIPTION_DELEGATEE_GAS);
    }

    function test_Gas_DeliverComputeDelegatee() public {
        vm.prank(NODE1);
        uint256 before = gasleft();
        coordinator.deliverComputeDelegatee(1, uint32(clock + 600), sub, v, r, s, 1, inputs, output, EMPTY, address(0));
        assertGasAtMost("deliverComputeDelegatee", before - gasleft(), DELIVER_COMPUTE_DELEGATEE_GAS);
    }

    function test_Gas_DeliverComputePaidEth() public {
        Wallet consumerWallet = Wallet(payable(walletFactory.createWallet(address(this))));
        Wallet nodeWallet = Wallet(payable(walletFactory.createWallet(NODE1)));
        vm.deal(address(consumerWallet), 1 ether);
        consumerWallet.approve(address(callback), address(0), 1 ether);
        uint32 id = callback.request(
            "tgi_client_inference_service", inputs, 1, address(0), 0.01 ether, address(consumerWallet), address(0)
        );
        vm.prank(NODE1);
        uint256 before = gasleft();
        coordinator.deliverCompute(id, 1, inputs, output, EMPTY, address(nodeWallet));
        assertGasAtMost("deliverCompute (paid in ETH)", before - gasleft(), DELIVER_COMPUTE_PAID_ETH_GAS);
    }

    /// @dev Fails naming the path when `used` exceeds its bound.
    function assertGasAtMost(string memory path, uint256 used, uint256 bound) internal pure {
        if (used > bound) {
            fail(string.concat(path, " used ", vm.toString(used), " gas, above its bound of ", vm.toString(bound)));
        }
    }
}
