// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {vm} from "kit-test/Vm.sol";
import {KitTestBase} from "./utils/KitTestBase.sol";
import {Coordinator, Subscription} from "infernet-sdk/Coordinator.sol";
import {BaseConsumer} from "infernet-sdk/consumer/Base.sol";
import {Inbox, InboxItem} from "infernet-sdk/Inbox.sol";
import {Reader} from "infernet-sdk/utility/Reader.sol";
import {Coordinated} from "infernet-sdk/utility/Coordinated.sol";
import {Allowlist} from "infernet-sdk/pattern/Allowlist.sol";
import {NoopCallbackConsumer, RecordingConsumer, AllowlistConsumer, Delivery} from "./fixtures/Consumers.sol";

contract CoordinatorTest is KitTestBase {
    event SubscriptionCreated(uint32 indexed id);
    event SubscriptionCancelled(uint32 indexed id);
    event SubscriptionFulfilled(uint32 indexed id, address indexed node);
    event NewInboxItem(bytes32 indexed containerId, address indexed node, uint256 index);

    RecordingConsumer internal consumer;
    NoopCallbackConsumer internal callback;

    function setUp() public override {
        super.setUp();
        consumer = RecordingConsumer(deployConsumer("RecordingConsumer"));
        callback = NoopCallbackConsumer(deployConsumer("NoopCallbackConsumer"));
    }

    function createRecurring(uint32 frequency, uint32 period, uint16 redundancy) internal returns (uint32) {
        return consumer.create("svc", frequency, period, redundancy, false, address(0), 0, address(0), address(0));
    }

    /*//////////////////////////////////////////////////////////////
                               CREATION
    //////////////////////////////////////////////////////////////*/

    function test_IdStartsAtOneAndIncrements() public {
        assertEq(coordinator.id(), 1);
        assertEq(createRecurring(1, 0, 1), 1);
        assertEq(createRecurring(1, 0, 1), 2);
        assertEq(coordinator.id(), 3);
    }

    function test_CreateStoresEveryField() public {
        vm.expectEmit(true, false, false, true, address(coordinator));
        emit SubscriptionCreated(1);
        uint32 id = consumer.create("a,b", 5, 60, 3, true, address(0xBEEF), 7, address(0xCAFE), address(0));
        Subscription memory sub = coordinator.getSubscription(id);
        assertEq(sub.owner, address(consumer));
        assertEq(sub.activeAt, clock + 60);
        assertEq(sub.period, 60);
        assertEq(sub.frequency, 5);
        assertEq(sub.redundancy, 3);
        assertEq(sub.containerId, keccak256(abi.encode("a,b")));
        assertEq(sub.lazy, true);
        assertEq(sub.verifier, address(0));
        assertEq(sub.paymentAmount, 7);
        assertEq(sub.paymentToken, address(0xBEEF));
        assertEq(sub.wallet, address(0xCAFE));
    }

    function test_ContainerIdTestVector() public {
        uint32 id = consumer.create("hello-world", 1, 0, 1, false, address(0), 0, address(0), address(0));
        assertEq(
            coordinator.getSubscription(id).containerId,
            0x5768661526084c7b4d30f7224ed6c74ade98db3c6c395c55400a17f34a547e22
        );
    }

    function test_CallbackRequestIsOneShotWithInputs() public {
        bytes memory inputs = abi.encode("Is the sky blue during a clear day?");
        uint32 id = callback.request("svc", inputs, 2, address(0), 0, address(0), address(0));
        Subscription memory sub = coordinator.getSubscription(id);
        assertEq(sub.owner, address(callback));
        assertEq(sub.frequency, 1);
        assertEq(sub.period, 0);
        assertEq(sub.redundancy, 2);
        assertEq(sub.activeAt, clock);
        assertEq(sub.lazy, false);
        assertEq(callback.getContainerInputs(id, 1, uint32(clock), NODE1), inputs);
    }

    function test_CallbackInputsOfAnySize() public {
        uint32 empty = callback.request("svc", "", 1, address(0), 0, address(0), address(0));
        assertEq(callback.getContainerInputs(empty, 1, 0, NODE1).length, 0);

        // Up to 32 bytes the inputs stay in the SDK's `subscriptionInputs` mapping; above, in code.
        bytes memory short = new bytes(31);
        short[30] = 0x05;
        uint32 shortId = callback.request("svc", short, 1, address(0), 0, address(0), address(0));
        assertEq(callback.getContainerInputs(shortId, 1, 0, NODE1), short);
        bytes memory word = new bytes(32);
        word[31] = 0x06;
        uint32 wordId = callback.request("svc", word, 1, address(0), 0, address(0), address(0));
        assertEq(callback.getContainerInputs(wordId, 1, 0, NODE1), word);

        bytes memory large = new bytes(24_576); // one byte over what a data contract holds: kept in storage
        large[0] = 0x01;
        large[24_575] = 0xff;
        uint32 big = callback.request("svc", large, 1, address(0), 0, address(0), address(0));
        assertEq(callback.getContainerInputs(big, 1, 0, NODE1), large);

        bytes memory edge = new bytes(24_575); // the largest data contract
        edge[24_574] = 0x07;
        uint32 fits = callback.request("svc", edge, 1, address(0), 0, address(0), address(0));
        assertEq(callback.getContainerInputs(fits, 1, 0, NODE1), edge);

        // Outside of a request nothing is staged: the data contracts' source answers an empty payload.
        (bool ok, bytes memory staged) = address(callback).staticcall(abi.encodeWithSignature("infernetStagedCode()"));
        assertTrue(ok);
        assertEq(staged, hex"00");
    }

    function test_GetSubscriptionOfUnknownIdIsZero() public view {
        Subscription memory sub = coordinator.getSubscription(42);
        assertEq(sub.owner, address(0));
        assertEq(sub.frequency, 0);
    }

    function test_RevertWhen_FrequencyZero() public {
        vm.expectRevert(Coordinator.InvalidFrequency.selector);
        createRecurring(0, 10, 1);
    }

    function test_RevertWhen_RedundancyZero() public {
        vm.expectRevert(Coordinator.InvalidRedundancy.selector);
        createRecurring(1, 0, 0);
    }

    function test_VerifierIsStored() public {
        uint32 id = consumer.create("svc", 1, 0, 1, false, address(0), 0, address(0), address(0xF00D));
        assertEq(coordinator.getSubscription(id).verifier, address(0xF00D));
    }

    function test_FinalizeProofVerificationHasNoPendingRequest() public {
        vm.expectRevert(Coordinator.ProofRequestNotFound.selector);
        coordinator.finalizeProofVerification(1, 1, NODE1, true);
    }

    /*//////////////////////////////////////////////////////////////
                               DELIVERY
    //////////////////////////////////////////////////////////////*/

    function test_DeliverEagerPassesEverythingToConsumer() public {
        uint32 id = createRecurring(1, 0, 1);
        bytes memory input = abi.encode(bytes("in"), bytes(""));
        bytes memory output = nodeOutput(abi.encode("out"));
        vm.expectEmit(true, true, false, true, address(coordinator));
        emit SubscriptionFulfilled(id, NODE1);
        vm.prank(NODE1);
        coordinator.deliverCompute(id, 1, input, output, hex"beef", address(0));

        assertEq(consumer.count(), 1);
        Delivery memory got = consumer.delivery(0);
        assertEq(got.subscriptionId, id);
        assertEq(got.interval, 1);
        assertEq(got.redundancy, 1);
        assertEq(got.node, NODE1);
        assertEq(got.input, input);
        assertEq(got.output, output);
        assertEq(got.proof, hex"beef");
        assertEq(got.containerId, bytes32(0));
        assertEq(got.index, 0);
        assertEq(coordinator.redundancyCount(keccak256(abi.encode(id, uint32(1)))), 1);
        assertTrue(coordinator.nodeResponded(keccak256(abi.encode(id, uint32(1), NODE1))));
        assertFalse(coordinator.nodeResponded(keccak256(abi.encode(id, uint32(1), NODE2))));
    }

    function test_RevertWhen_SubscriptionNotFound() public {
        vm.expectRevert(Coordinator.SubscriptionNotFound.selector);
        deliver(NODE1, 1, 1, EMPTY);
    }

    function test_RevertWhen_SubscriptionNotActive() public {
        uint32 id = createRecurring(2, 60, 1);
        vm.expectRevert(Coordinator.SubscriptionNotActive.selector);
        deliver(NODE1, id, 1, EMPTY);
        skipTime(60);
        deliver(NODE1, id, 1, EMPTY);
    }

    function test_RevertWhen_IntervalMismatch() public {
        uint32 id = createRecurring(3, 60, 1);
        skipTime(60);
        vm.expectRevert(Coordinator.IntervalMismatch.selector);
        deliver(NODE1, id, 2, EMPTY);
        vm.expectRevert(Coordinator.IntervalMismatch.selector);
        deliver(NODE1, id, 0, EMPTY);
    }

    function test_RevertWhen_SubscriptionCompleted() public {
        uint32 id = createRecurring(2, 60, 1);
        skipTime(60 * 3);
        vm.expectRevert(Coordinator.SubscriptionCompleted.selector);
        deliver(NODE1, id, 3, EMPTY);
    }

    function test_RevertWhen_IntervalCompleted() public {
        uint32 id = createRecurring(1, 0, 1);
        deliver(NODE1, id, 1, EMPTY);
        vm.expectRevert(Coordinator.IntervalCompleted.selector);
        deliver(NODE2, id, 1, EMPTY);
    }

    function test_RevertWhen_NodeRespondedAlready() public {
        uint32 id = createRecurring(1, 0, 2);
        deliver(NODE1, id, 1, EMPTY);
        vm.expectRevert(Coordinator.NodeRespondedAlready.selector);
        deliver(NODE1, id, 1, EMPTY);
    }

    function test_RevertWhen_RawReceiveComputeNotFromCoordinator() public {
        vm.expectRevert(BaseConsumer.NotCoordinator.selector);
        consumer.rawReceiveCompute(1, 1, 1, NODE1, EMPTY, EMPTY, EMPTY, bytes32(0), 0);
    }

    function test_ConsumerRevertRevertsDelivery() public {
        uint32 id = createRecurring(1, 0, 1);
        consumer.setShouldRevert(true);
        vm.expectRevert(RecordingConsumer.ConsumerFailed.selector);
        deliver(NODE1, id, 1, EMPTY);
        // Nothing was recorded: the interval can still be served.
        assertEq(coordinator.redundancyCount(keccak256(abi.encode(id, uint32(1)))), 0);
        consumer.setShouldRevert(false);
        deliver(NODE1, id, 1, EMPTY);
        assertEq(consumer.count(), 1);
    }

    /*//////////////////////////////////////////////////////////////
                              CHECK ORDER
    //////////////////////////////////////////////////////////////*/

    function test_Order_NotActiveBeforeIntervalMismatch() public {
        uint32 id = createRecurring(2, 60, 1);
        vm.expectRevert(Coordinator.SubscriptionNotActive.selector);
        deliver(NODE1, id, 7, EMPTY);
    }

    function test_Order_IntervalMismatchBeforeCompleted() public {
        uint32 id = createRecurring(1, 60, 1);
        skipTime(60 * 5); // current interval 5 > frequency 1
        vm.expectRevert(Coordinator.IntervalMismatch.selector);
        deliver(NODE1, id, 1, EMPTY);
        vm.expectRevert(Coordinator.SubscriptionCompleted.selector);
        deliver(NODE1, id, 5, EMPTY);
    }

    function test_Order_IntervalCompletedBeforeNodeRespondedAlready() public {
        uint32 id = createRecurring(1, 0, 1);
        deliver(NODE1, id, 1, EMPTY);
        vm.expectRevert(Coordinator.IntervalCompleted.selector);
        deliver(NODE1, id, 1, EMPTY);
    }

    function test_Order_CancelledFailsAsNotActive() public {
        uint32 id = createRecurring(1, 0, 1);
        consumer.cancel(id);
        vm.expectRevert(Coordinator.SubscriptionNotActive.selector);
        deliver(NODE1, id, 99, EMPTY);
    }

    /*//////////////////////////////////////////////////////////////
                        INTERVALS AND REDUNDANCY
    //////////////////////////////////////////////////////////////*/

    function test_IntervalMaths() public view {
        uint32 t = uint32(clock);
        assertEq(coordinator.getSubscriptionInterval(t, 0), 1);
        assertEq(coordinator.getSubscriptionInterval(t + 100, 0), 1);
        assertEq(coordinator.getSubscriptionInterval(t, 10), 1);
        assertEq(coordinator.getSubscriptionInterval(t - 9, 10), 1);
        assertEq(coordinator.getSubscriptionInterval(t - 10, 10), 2);
        assertEq(coordinator.getSubscriptionInterval(t - 25, 10), 3);
        assertEq(coordinator.getSubscriptionInterval(t + 1, 10), 0);
    }

    function test_RecurringDeliversEachIntervalOnce() public {
        uint32 id = createRecurring(3, 30, 1);
        uint256 start = clock;
        for (uint32 i = 1; i <= 3; ++i) {
            warpTo(start + 30 * i);
            deliver(NODE1, id, i, nodeOutput(abi.encode(i)));
            vm.expectRevert(Coordinator.IntervalCompleted.selector);
            deliver(NODE2, id, i, EMPTY);
        }
        warpTo(start + 30 * 4);
        vm.expectRevert(Coordinator.SubscriptionCompleted.selector);
        deliver(NODE1, id, 4, EMPTY);
        assertEq(consumer.count(), 3);
        assertEq(consumer.delivery(2).interval, 3);
    }

    function test_LateNodeMissesThePassedInterval() public {
        uint32 id = createRecurring(3, 30, 1);
        skipTime(30 + 29);
        deliver(NODE1, id, 1, EMPTY);
        skipTime(1);
        vm.expectRevert(Coordinator.IntervalMismatch.selector);
        deliver(NODE2, id, 1, EMPTY);
        deliver(NODE2, id, 2, EMPTY);
    }

    function test_RedundancyThreeNodes() public {
        uint32 id = createRecurring(1, 0, 3);
        deliver(NODE1, id, 1, EMPTY);
        deliver(NODE2, id, 1, EMPTY);
        deliver(NODE3, id, 1, EMPTY);
        vm.expectRevert(Coordinator.IntervalCompleted.selector);
        deliver(address(0x1004), id, 1, EMPTY);
        assertEq(consumer.count(), 3);
        assertEq(consumer.delivery(0).redundancy, 1);
        assertEq(consumer.delivery(1).redundancy, 2);
        assertEq(consumer.delivery(2).redundancy, 3);
        assertEq(consumer.delivery(2).node, NODE3);
        assertEq(coordinator.redundancyCount(keccak256(abi.encode(id, uint32(1)))), 3);
    }

    function test_RedundancyCountsPerInterval() public {
        uint32 id = createRecurring(2, 10, 2);
        skipTime(10);
        deliver(NODE1, id, 1, EMPTY);
        skipTime(10);
        deliver(NODE1, id, 2, EMPTY);
        deliver(NODE2, id, 2, EMPTY);
        assertEq(coordinator.redundancyCount(keccak256(abi.encode(id, uint32(1)))), 1);
        assertEq(coordinator.redundancyCount(keccak256(abi.encode(id, uint32(2)))), 2);
    }

    /*//////////////////////////////////////////////////////////////
                               CANCELLATION
    //////////////////////////////////////////////////////////////*/

    function test_FirstIntervalCountLeavesTheSubscriptionIntact() public {
        // The subscription's head and its first interval's count share a slot: counting and cancelling touch
        // only their own fields.
        uint32 id = consumer.create("a,b", 5, 60, 3, false, address(0), 0, address(0), address(0));
        Subscription memory created = coordinator.getSubscription(id);
        skipTime(60);
        deliver(NODE1, id, 1, EMPTY);
        deliver(NODE2, id, 1, EMPTY);
        bytes32 first = keccak256(abi.encode(id, uint32(1)));
        assertEq(coordinator.redundancyCount(first), 2);
        assertEq(abi.encode(coordinator.getSubscription(id)), abi.encode(created));
        consumer.cancel(id);
        Subscription memory cancelled = coordinator.getSubscription(id);
        assertEq(cancelled.activeAt, type(uint32).max);
        cancelled.activeAt = created.activeAt;
        assertEq(abi.encode(cancelled), abi.encode(created));
        assertEq(coordinator.redundancyCount(first), 2);
        assertEq(coordinator.redundancyCount(keccak256(abi.encode(id, uint32(2)))), 0);
    }

    function test_CancelMarksSubscription() public {
        uint32 id = createRecurring(5, 10, 1);
        vm.expectEmit(true, false, false, true, address(coordinator));
        emit SubscriptionCancelled(id);
        consumer.cancel(id);
        assertEq(coordinator.getSubscription(id).activeAt, type(uint32).max);
        skipTime(1000);
        vm.expectRevert(Coordinator.SubscriptionNotActive.selector);
        deliver(NODE1, id, 100, EMPTY);
    }

    function test_RevertWhen_CancelByNonOwner() public {
        uint32 id = createRecurring(5, 10, 1);
        vm.prank(NODE1);
        vm.expectRevert(Coordinator.NotSubscriptionOwner.selector);
        coordinator.cancelSubscription(id);
        vm.expectRevert(Coordinator.NotSubscriptionOwner.selector);
        coordinator.cancelSubscription(77);
    }

    /*//////////////////////////////////////////////////////////////
                                  LAZY
    //////////////////////////////////////////////////////////////*/

    function test_LazyDeliveryGoesThroughInbox() public {
        uint32 id = consumer.create("lazy-svc", 1, 0, 2, true, address(0), 0, address(0), address(0));
        bytes32 cid = containerHash("lazy-svc");
        bytes memory input = abi.encode(bytes("in"), bytes(""));
        bytes memory output = nodeOutput(abi.encode("lazy out"));

        vm.expectEmit(true, true, false, true, address(inbox));
        emit NewInboxItem(cid, NODE1, 0);
        vm.prank(NODE1);
        coordinator.deliverCompute(id, 1, input, output, hex"01", address(0));
        vm.prank(NODE2);
        coordinator.deliverCompute(id, 1, input, output, EMPTY, address(0));

        Delivery memory got = consumer.delivery(0);
        assertEq(got.input.length, 0);
        assertEq(got.output.length, 0);
        assertEq(got.proof.length, 0);
        assertEq(got.containerId, cid);
        assertEq(got.index, 0);

        InboxItem memory item = inbox.read(cid, NODE1, 0);
        assertEq(item.timestamp, clock);
        assertEq(item.subscriptionId, id);
        assertEq(item.interval, 1);
        assertEq(item.input, input);
        assertEq(item.output, output);
        assertEq(item.proof, hex"01");
        assertEq(inbox.itemCount(cid, NODE1), 1);
        assertEq(inbox.read(cid, NODE2, 0).proof.length, 0);
    }

    function test_InboxDirectWriteAndErrors() public {
        vm.prank(NODE1);
        assertEq(inbox.write(bytes32(uint256(1)), "i", "o", "p"), 0);
        vm.prank(NODE1);
        assertEq(inbox.write(bytes32(uint256(1)), "i2", "o2", ""), 1);
        InboxItem memory item = inbox.read(bytes32(uint256(1)), NODE1, 1);
        assertEq(item.subscriptionId, 0);
        assertEq(item.output, bytes("o2"));
        vm.expectRevert(Inbox.InboxItemNotFound.selector);
        inbox.read(bytes32(uint256(1)), NODE1, 2);
        vm.expectRevert(Coordinated.NotCoordinator.selector);
        inbox.writeViaCoordinator(bytes32(0), NODE1, 1, 1, "", "", "");
    }

    function test_InboxEmptyAndOversizedItems() public {
        bytes32 cid = bytes32(uint256(2));
        vm.prank(NODE1);
        inbox.write(cid, "", "", "");
        InboxItem memory empty = inbox.read(cid, NODE1, 0);
        assertEq(empty.input.length + empty.output.length + empty.proof.length, 0);
        assertEq(empty.timestamp, clock);

        bytes memory big = new bytes(30_000); // beyond a data contract: kept in storage
        big[0] = 0x11;
        big[29_999] = 0x22;
        vm.prank(NODE1);
        inbox.write(cid, "in", big, hex"0203");
        InboxItem memory item = inbox.read(cid, NODE1, 1);
        assertEq(item.input, bytes("in"));
        assertEq(item.output, big);
        assertEq(item.proof, hex"0203");

        vm.prank(NODE1);
        inbox.write(cid, "", hex"ff", "");
        item = inbox.read(cid, NODE1, 2);
        assertEq(item.input.length, 0);
        assertEq(item.output, hex"ff");
        assertEq(item.proof.length, 0);
    }

    /*//////////////////////////////////////////////////////////////
                                 READER
    //////////////////////////////////////////////////////////////*/

    function test_ReaderBatches() public {
        createRecurring(1, 0, 1);
        createRecurring(2, 10, 2);
        uint32 id3 = createRecurring(1, 0, 3);
        deliver(NODE1, id3, 1, EMPTY);
        deliver(NODE2, id3, 1, EMPTY);

        Subscription[] memory subs = reader.readSubscriptionBatch(1, 5);
        assertEq(subs.length, 4);
        assertEq(subs[1].frequency, 2);
        assertEq(subs[2].redundancy, 3);
        assertEq(subs[3].owner, address(0));
        assertEq(reader.readSubscriptionBatch(3, 3).length, 0);

        uint32[] memory ids = new uint32[](2);
        uint32[] memory intervals = new uint32[](2);
        ids[0] = id3;
        intervals[0] = 1;
        ids[1] = 1;
        intervals[1] = 1;
        uint16[] memory counts = reader.readRedundancyCountBatch(ids, intervals);
        assertEq(counts[0], 2);
        assertEq(counts[1], 0);

        vm.expectRevert(Reader.LengthMismatch.selector);
        reader.readRedundancyCountBatch(ids, new uint32[](1));
    }

    /*//////////////////////////////////////////////////////////////
                                ALLOWLIST
    //////////////////////////////////////////////////////////////*/

    function test_AllowlistRestrictsNodes() public {
        address[] memory nodes = new address[](1);
        nodes[0] = NODE1;
        AllowlistConsumer guarded = AllowlistConsumer(
            deployArtifact("Consumers.sol", "AllowlistConsumer", abi.encode(address(registry), nodes))
        );
        uint32 id = guarded.create();
        assertTrue(guarded.isAllowedNode(NODE1));
        assertFalse(guarded.isAllowedNode(NODE2));

        deliver(NODE1, id, 1, EMPTY);
        vm.expectRevert(Allowlist.NodeNotAllowed.selector);
        deliver(NODE2, id, 1, EMPTY);

        nodes[0] = NODE2;
        bool[] memory statuses = new bool[](1);
        statuses[0] = true;
        guarded.updateAllowlist(nodes, statuses);
        deliver(NODE2, id, 1, EMPTY);
        assertEq(guarded.deliveries(), 2);

        vm.expectRevert(Allowlist.AllowlistLengthMismatch.selector);
        guarded.updateAllowlist(nodes, new bool[](0));
    }

    function test_RegistryAndDeployWiring() public view {
        assertEq(registry.COORDINATOR(), address(coordinator));
        assertEq(registry.INBOX(), address(inbox));
        assertEq(registry.READER(), address(reader));
        assertEq(registry.FEE(), address(fee));
        assertEq(registry.WALLET_FACTORY(), address(walletFactory));
        assertEq(address(coordinator.INBOX()), address(inbox));
        assertEq(address(reader.COORDINATOR()), address(coordinator));
    }
}
