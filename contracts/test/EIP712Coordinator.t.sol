// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {vm} from "kit-test/Vm.sol";
import {KitTestBase} from "./utils/KitTestBase.sol";
import {Coordinator, Subscription} from "infernet-sdk/Coordinator.sol";
import {EIP712Coordinator} from "infernet-sdk/EIP712Coordinator.sol";
import {NoopDelegatorConsumer, RecordingConsumer, Delivery} from "./fixtures/Consumers.sol";
import {DelegateConsumer} from "../examples/DelegateConsumer.sol";

contract EIP712CoordinatorTest is KitTestBase {
    event SubscriptionCreated(uint32 indexed id);

    NoopDelegatorConsumer internal delegator;

    function setUp() public override {
        super.setUp();
        delegator = NoopDelegatorConsumer(deployDelegator("NoopDelegatorConsumer"));
    }

    /// @dev The EIP-712 digest computed here from the spec strings, independently of the contract.
    function digestOf(uint32 nonce, uint32 expiry, Subscription memory sub) internal view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("InfernetCoordinator"),
                keccak256("1"),
                block.chainid,
                address(coordinator)
            )
        );
        bytes32 subHash = keccak256(
            abi.encode(
                bytes32(0x3da81ed66ee47395e568c52867826ec137777eef9c1bdfb6bf972dd4385bc5a9),
                sub.owner,
                sub.activeAt,
                sub.period,
                sub.frequency,
                sub.redundancy,
                sub.containerId,
                sub.lazy,
                sub.verifier,
                sub.paymentAmount,
                sub.paymentToken,
                sub.wallet
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                bytes32(0xba9ff1aef2b048b42767aade2b901745a3acf14f698a9ec13952098cfd03d0b6), nonce, expiry, subHash
            )
        );
        return keccak256(abi.encodePacked(hex"1901", domain, structHash));
    }

    function signed(uint256 key, uint32 nonce, uint32 expiry, Subscription memory sub)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        return vm.sign(key, digestOf(nonce, expiry, sub));
    }

    function test_Typehashes() public view {
        assertEq(
            coordinator.EIP712_SUBSCRIPTION_TYPEHASH(),
            0x3da81ed66ee47395e568c52867826ec137777eef9c1bdfb6bf972dd4385bc5a9
        );
        assertEq(
            coordinator.EIP712_DELEGATE_SUBSCRIPTION_TYPEHASH(),
            0xba9ff1aef2b048b42767aade2b901745a3acf14f698a9ec13952098cfd03d0b6
        );
        Subscription memory sub = oneShotSub(address(delegator), TGI);
        assertEq(coordinator.delegateSubscriptionDigest(3, 9, sub), digestOf(3, 9, sub));
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = coordinator.eip712Domain();
        assertEq(name, "InfernetCoordinator");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifying, address(coordinator));
    }

    function test_CreateSubscriptionDelegatee() public {
        Subscription memory sub = oneShotSub(address(delegator), TGI);
        sub.activeAt = uint32(clock + 5);
        sub.period = 7;
        sub.frequency = 3;
        sub.redundancy = 2;
        sub.lazy = true;
        (uint8 v, bytes32 r, bytes32 s) = signed(SIGNER_KEY, 5, uint32(clock + 60), sub);
        vm.expectEmit(true, false, false, true, address(coordinator));
        emit SubscriptionCreated(1);
        uint32 id = coordinator.createSubscriptionDelegatee(5, uint32(clock + 60), sub, v, r, s);
        assertEq(id, 1);
        Subscription memory stored = coordinator.getSubscription(id);
        assertEq(stored.owner, address(delegator));
        assertEq(stored.activeAt, clock + 5); // stored as signed, not now + period
        assertEq(stored.period, 7);
        assertEq(stored.frequency, 3);
        assertEq(stored.redundancy, 2);
        assertEq(stored.lazy, true);
        assertEq(stored.containerId, sub.containerId);
        assertEq(coordinator.delegateCreatedIds(keccak256(abi.encode(address(delegator), uint32(5)))), id);
        assertEq(coordinator.maxSubscriberNonce(address(delegator)), 5);
    }

    function test_ReplayReturnsSameIdWithoutEvent() public {
        Subscription memory sub = oneShotSub(address(delegator), TGI);
        uint32 expiry = uint32(clock + 60);
        (uint8 v, bytes32 r, bytes32 s) = signed(SIGNER_KEY, 1, expiry, sub);
        uint32 id = coordinator.createSubscriptionDelegatee(1, expiry, sub, v, r, s);
        vm.recordLogs();
        assertEq(coordinator.createSubscriptionDelegatee(1, expiry, sub, v, r, s), id);
        assertEq(vm.getRecordedLogs().length, 0);
        assertEq(coordinator.id(), id + 1);
        // The replay short-circuits before expiry and signature checks.
        skipTime(3600);
        assertEq(coordinator.createSubscriptionDelegatee(1, expiry, sub, 0, bytes32(0), bytes32(0)), id);
    }

    function test_MaxSubscriberNonceOnlyGrows() public {
        Subscription memory sub = oneShotSub(address(delegator), TGI);
        uint32 expiry = uint32(clock + 60);
        (uint8 v, bytes32 r, bytes32 s) = signed(SIGNER_KEY, 10, expiry, sub);
        coordinator.createSubscriptionDelegatee(10, expiry, sub, v, r, s);
        (v, r, s) = signed(SIGNER_KEY, 4, expiry, sub);
        uint32 id = coordinator.createSubscriptionDelegatee(4, expiry, sub, v, r, s);
        assertEq(id, 2);
        assertEq(coordinator.maxSubscriberNonce(address(delegator)), 10);
    }

    function test_RevertWhen_SignatureExpired() public {
        Subscription memory sub = oneShotSub(address(delegator), TGI);
        uint32 expiry = uint32(clock);
        (uint8 v, bytes32 r, bytes32 s) = signed(SIGNER_KEY, 1, expiry, sub);
        vm.expectRevert(EIP712Coordinator.SignatureExpired.selector);
        coordinator.createSubscriptionDelegatee(1, expiry, sub, v, r, s);
    }

    function test_RevertWhen_WrongSigner() public {
        Subscription memory sub = oneShotSub(address(delegator), TGI);
        uint32 expiry = uint32(clock + 60);
        (uint8 v, bytes32 r, bytes32 s) = signed(0xB0B, 1, expiry, sub);
        vm.expectRevert(EIP712Coordinator.SignerMismatch.selector);
        coordinator.createSubscriptionDelegatee(1, expiry, sub, v, r, s);
    }

    function test_RevertWhen_SignedFieldsChanged() public {
        Subscription memory sub = oneShotSub(address(delegator), TGI);
        uint32 expiry = uint32(clock + 60);
        (uint8 v, bytes32 r, bytes32 s) = signed(SIGNER_KEY, 1, expiry, sub);
        sub.redundancy = 2;
        vm.expectRevert(EIP712Coordinator.SignerMismatch.selector);
        coordinator.createSubscriptionDelegatee(1, expiry, sub, v, r, s);
        sub.redundancy = 1;
        vm.expectRevert(EIP712Coordinator.SignerMismatch.selector);
        coordinator.createSubscriptionDelegatee(2, expiry, sub, v, r, s);
    }

    function test_RevertWhen_OwnerIsNoDelegator() public {
        RecordingConsumer plain = RecordingConsumer(deployConsumer("RecordingConsumer"));
        Subscription memory sub = oneShotSub(address(plain), TGI);
        uint32 expiry = uint32(clock + 60);
        (uint8 v, bytes32 r, bytes32 s) = signed(SIGNER_KEY, 1, expiry, sub);
        vm.expectRevert(EIP712Coordinator.SignerMismatch.selector);
        coordinator.createSubscriptionDelegatee(1, expiry, sub, v, r, s);
    }

    function test_RevertWhen_SignerRotated() public {
        Subscription memory sub = oneShotSub(address(delegator), TGI);
        uint32 expiry = uint32(clock + 60);
        (uint8 v, bytes32 r, bytes32 s) = signed(SIGNER_KEY, 1, expiry, sub);
        delegator.updateSigner(address(0xB0B));
        vm.expectRevert(EIP712Coordinator.SignerMismatch.selector);
        coordinator.createSubscriptionDelegatee(1, expiry, sub, v, r, s);
    }

    function test_RevertWhen_SignedSubscriptionInvalid() public {
        Subscription memory sub = oneShotSub(address(delegator), TGI);
        sub.frequency = 0;
        uint32 expiry = uint32(clock + 60);
        (uint8 v, bytes32 r, bytes32 s) = signed(SIGNER_KEY, 1, expiry, sub);
        vm.expectRevert(Coordinator.InvalidFrequency.selector);
        coordinator.createSubscriptionDelegatee(1, expiry, sub, v, r, s);
    }

    function test_DeliverComputeDelegateeCreatesAndDelivers() public {
        DelegateConsumer example = DelegateConsumer(d.delegateConsumer);
        Subscription memory sub = oneShotSub(address(example), TGI);
        sub.redundancy = 2;
        uint32 expiry = uint32(clock + 60);
        (uint8 v, bytes32 r, bytes32 s) = signed(SIGNER_KEY, 7, expiry, sub);
        bytes memory raw = abi.encode("delegated answer");

        vm.prank(NODE1);
        coordinator.deliverComputeDelegatee(7, expiry, sub, v, r, s, 1, EMPTY, nodeOutput(raw), EMPTY, address(0));
        uint32 id = coordinator.delegateCreatedIds(keccak256(abi.encode(address(example), uint32(7))));
        assertEq(id, 1);
        assertEq(example.outputs(id, 1), raw);

        // A second node serves the same signed subscription: no new subscription is created.
        vm.prank(NODE2);
        coordinator.deliverComputeDelegatee(7, expiry, sub, v, r, s, 1, EMPTY, nodeOutput(raw), EMPTY, address(0));
        assertEq(coordinator.id(), 2);
        assertEq(example.deliveries(id), 2);

        vm.prank(NODE3);
        vm.expectRevert(Coordinator.IntervalCompleted.selector);
        coordinator.deliverComputeDelegatee(7, expiry, sub, v, r, s, 1, EMPTY, nodeOutput(raw), EMPTY, address(0));
    }

    function test_DeliverComputeDelegateeRevertsAtomically() public {
        Subscription memory sub = oneShotSub(address(delegator), TGI);
        uint32 expiry = uint32(clock + 60);
        (uint8 v, bytes32 r, bytes32 s) = signed(SIGNER_KEY, 1, expiry, sub);
        vm.prank(NODE1);
        vm.expectRevert(Coordinator.IntervalMismatch.selector);
        coordinator.deliverComputeDelegatee(1, expiry, sub, v, r, s, 2, EMPTY, EMPTY, EMPTY, address(0));
        assertEq(coordinator.id(), 1); // creation rolled back too
    }

    function test_DelegateConsumerSignerManagement() public {
        DelegateConsumer example = DelegateConsumer(d.delegateConsumer);
        assertEq(example.getSigner(), signer);
        vm.prank(NODE1);
        vm.expectRevert(DelegateConsumer.Unauthorized.selector);
        example.setSigner(NODE1);
        vm.prank(address(deployer));
        example.setSigner(NODE1);
        assertEq(example.getSigner(), NODE1);
    }
}
