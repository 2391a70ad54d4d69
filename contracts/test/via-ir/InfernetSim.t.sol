// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Test} from "kit-test/Test.sol";
import {vm} from "kit-test/Vm.sol";
import {artifact} from "kit-test/Artifacts.sol";
import {Coordinator, Subscription} from "infernet-sdk/Coordinator.sol";
import {InfernetSim} from "infernet-kit/InfernetSim.sol";
import {ServiceOutputs} from "infernet-kit/ServiceOutputs.sol";
import {TGICallbackConsumer} from "../../examples/TGICallbackConsumer.sol";
import {HFCallbackConsumer} from "../../examples/HFCallbackConsumer.sol";
import {RecurringConsumer} from "../../examples/RecurringConsumer.sol";
import {DelegateConsumer} from "../../examples/DelegateConsumer.sol";
import {NoopCallbackConsumer, RecordingConsumer, Delivery} from "../fixtures/Consumers.sol";

/// @notice The simulator drives the example consumers through every flow a node serves, inside `forge test`.
contract InfernetSimTest is Test {
    InfernetSim internal sim;
    address internal registry;

    function setUp() public {
        sim = new InfernetSim();
        registry = address(sim.deployAtReference());
    }

    /// @dev Consumer `name` of source `file` as `forge build` made it (the bytecode the kit ships), by path: its
    ///      twin is not compiled in this test's profile.
    function _deploy(string memory file, string memory name, bytes memory args) internal returns (address) {
        return vm.deployCode(artifact(file, name), args);
    }

    function test_deploysAtTheReferenceAddresses() public view {
        assertEq(registry, 0x663F3ad617193148711d28f5334eE4Ed07016602);
        assertEq(address(sim.coordinator()), 0x2E983A1Ba5e8b38AAAeC4B440B9dDcFBf72E15d1);
        (address recipient, uint16 basisPoints) = sim.fee().terms();
        assertEq(recipient, sim.REFERENCE_DEPLOYER());
        assertEq(basisPoints, 500);
    }

    function test_aSecondSimulatorDeploysElsewhere() public {
        InfernetSim other = new InfernetSim();
        address otherRegistry = address(other.deploy());
        assertTrue(otherRegistry != registry);
        vm.expectRevert(InfernetSim.AlreadyDeployed.selector);
        other.deploy();
        // The reference deployer has used nonce 0 now.
        InfernetSim third = new InfernetSim();
        vm.expectRevert(abi.encodeWithSelector(InfernetSim.ReferenceDeployerUsed.selector, uint64(6)));
        third.deployAtReference();
    }

    function test_callbackGetsTheTgiAnswer() public {
        TGICallbackConsumer consumer =
            TGICallbackConsumer(_deploy("TGICallbackConsumer.sol", "TGICallbackConsumer", abi.encode(registry)));
        uint32 id = consumer.chatWithLLM(ServiceOutputs.tgiInput("Is the sky blue?"));

        assertEq(sim.deliver(id, ServiceOutputs.tgiOutput("Yes.")), 1);

        assertEq(consumer.outputs(id), "Yes.");
        uint256 second = sim.addNode();
        vm.expectRevert(Coordinator.IntervalCompleted.selector);
        sim.deliverAs(second, id, ServiceOutputs.tgiOutput("again"));
    }

    function test_theNodeReadsTheConsumersInputs() public {
        RecordingConsumer consumer =
            RecordingConsumer(_deploy("Consumers.sol", "RecordingConsumer", abi.encode(registry)));
        uint32 id = consumer.create(ServiceOutputs.TGI, 1, 0, 2, false, address(0), 0, address(0), address(0));
        uint256 second = sim.addNode();

        sim.deliver(id, ServiceOutputs.tgiOutput("a"));
        sim.deliverAs(second, id, ServiceOutputs.tgiOutput("b"));

        assertEq(consumer.count(), 2);
        Delivery memory last = consumer.delivery(1);
        assertEq(last.node, sim.node(second));
        assertEq(last.redundancy, 2);
        // The input pair holds what getContainerInputs answered; the output pair the service's raw bytes.
        assertEq(last.input, abi.encode(abi.encode(id, uint32(1)), bytes("")));
        assertEq(last.output, abi.encode(abi.encode("b"), bytes("")));
    }

    function test_hfShapesDecodeInTheHfConsumer() public {
        HFCallbackConsumer consumer =
            HFCallbackConsumer(_deploy("HFCallbackConsumer.sol", "HFCallbackConsumer", abi.encode(registry)));
        string[] memory labels = new string[](2);
        labels[0] = "POSITIVE";
        labels[1] = "NEGATIVE";
        uint256[] memory scores = new uint256[](2);
        scores[0] = 998_000;
        scores[1] = 2_000;

        uint32 classify = consumer.requestTask(ServiceOutputs.hfInput(ServiceOutputs.TEXT_CLASSIFICATION, "", "great"));
        sim.deliver(classify, ServiceOutputs.hfTextClassification(labels, scores));
        (string[] memory gotLabels, uint256[] memory gotScores) = consumer.classification(classify);
        assertEq(gotLabels[0], "POSITIVE");
        assertEq(gotScores[1], 2_000);

        uint32 tokens = consumer.requestTask(ServiceOutputs.hfInput(ServiceOutputs.TOKEN_CLASSIFICATION, "", "Ada"));
        sim.deliver(tokens, ServiceOutputs.hfTokenClassification(labels, scores));
        (gotLabels,) = consumer.tokenClassification(tokens);
        assertEq(gotLabels[1], "NEGATIVE");

        uint32 generate = consumer.requestTask(ServiceOutputs.hfInput(ServiceOutputs.TEXT_GENERATION, "", "Hi"));
        sim.deliver(generate, ServiceOutputs.hfTextGeneration("Hello"));
        assertEq(consumer.generatedText(generate), "Hello");

        uint32 summarize = consumer.requestTask(ServiceOutputs.hfInput(ServiceOutputs.SUMMARIZATION, "", "long"));
        sim.deliver(summarize, ServiceOutputs.hfSummarization("short"));
        assertEq(consumer.summary(summarize), "short");
    }

    function test_recurringServesEachIntervalWithItsOwnInput() public {
        RecurringConsumer consumer =
            RecurringConsumer(_deploy("RecurringConsumer.sol", "RecurringConsumer", abi.encode(registry)));
        uint32 id = consumer.start("Tell me a fact", 3, 60, 1, false);

        vm.expectRevert(Coordinator.SubscriptionNotActive.selector);
        sim.deliver(id, ServiceOutputs.tgiOutput("too early"));

        sim.skip(60);
        assertEq(sim.deliver(id, ServiceOutputs.tgiOutput("one")), 1);
        sim.skip(60);
        assertEq(sim.currentInterval(id), 2);
        assertEq(sim.deliver(id, ServiceOutputs.tgiOutput("two")), 2);
        sim.warpToInterval(id, 3);
        assertEq(sim.deliver(id, ServiceOutputs.tgiOutput("three")), 3);

        assertEq(consumer.outputs(id, 1), "one");
        assertEq(consumer.outputs(id, 2), "two");
        assertEq(consumer.outputs(id, 3), "three");
        assertEq(consumer.deliveries(id), 3);

        sim.skip(60);
        vm.expectRevert(Coordinator.SubscriptionCompleted.selector);
        sim.deliver(id, ServiceOutputs.tgiOutput("four"));
    }

    function test_lazyOutputsGoThroughTheInbox() public {
        RecurringConsumer consumer =
            RecurringConsumer(_deploy("RecurringConsumer.sol", "RecurringConsumer", abi.encode(registry)));
        uint32 id = consumer.start("Lazy", 1, 30, 1, true);
        sim.skip(30);

        sim.deliver(id, ServiceOutputs.tgiOutput("from the inbox"));

        assertEq(consumer.outputs(id, 1), "from the inbox");
        bytes32 container = keccak256(abi.encode(ServiceOutputs.TGI));
        assertEq(sim.inbox().itemCount(container, sim.node(0)), 1);
        assertEq(sim.inbox().read(container, sim.node(0), 0).output, ServiceOutputs.pair(abi.encode("from the inbox")));

        uint256 index =
            sim.writeInbox(0, ServiceOutputs.TGI, ServiceOutputs.tgiInput("q"), ServiceOutputs.tgiOutput("a"));
        assertEq(index, 1);
        assertEq(sim.inbox().read(container, sim.node(0), 1).subscriptionId, 0);
    }

    function test_delegatedSubscriptionIsSignedAndServed() public {
        uint256 signerKey = 0xA11CE;
        DelegateConsumer consumer = DelegateConsumer(
            _deploy("DelegateConsumer.sol", "DelegateConsumer", abi.encode(registry, vm.addr(signerKey)))
        );
        Subscription memory sub = sim.delegatedSubscription(address(consumer), ServiceOutputs.TGI, 2, 60, 1, false);
        sim.skip(60);
        uint32 expiry = uint32(sim.timestamp() + 3600);

        // The simulator signs as an off-chain signer does; the Coordinator agrees on the digest.
        assertEq(sim.delegationDigest(1, expiry, sub), sim.coordinator().delegateSubscriptionDigest(1, expiry, sub));
        uint32 id = sim.deliverDelegated(0, signerKey, 1, expiry, sub, ServiceOutputs.tgiOutput("delegated"));
        assertEq(consumer.outputs(id, 1), abi.encode("delegated"));

        // Later intervals are served as an ordinary subscription.
        sim.skip(60);
        sim.deliver(id, ServiceOutputs.tgiOutput("second"));
        assertEq(consumer.outputs(id, 2), abi.encode("second"));

        // A signature by anyone else is refused.
        vm.expectRevert(bytes4(keccak256("SignerMismatch()")));
        sim.deliverDelegated(0, 0xB0B, 2, expiry, sub, ServiceOutputs.tgiOutput("forged"));
    }

    function test_paidDeliveryPaysTheNodeAndTheFee() public {
        NoopCallbackConsumer consumer =
            NoopCallbackConsumer(_deploy("Consumers.sol", "NoopCallbackConsumer", abi.encode(registry)));
        address payable wallet = sim.openWallet(address(this), address(consumer), 1 ether);
        uint32 id = consumer.request(ServiceOutputs.TGI, "", 1, address(0), 0.1 ether, wallet, address(0));
        address feeRecipient = sim.REFERENCE_DEPLOYER();
        uint256 feeBefore = feeRecipient.balance;

        sim.deliver(id, ServiceOutputs.tgiOutput("paid"));

        uint256 spent = 1 ether - wallet.balance;
        uint256 nodeGot = sim.nodeWallet(0).balance;
        uint256 feeGot = feeRecipient.balance - feeBefore;
        assertGt(nodeGot, 0);
        assertGt(feeGot, 0);
        assertEq(nodeGot + feeGot, spent);
    }
}
