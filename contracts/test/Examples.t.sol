// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {vm} from "kit-test/Vm.sol";
import {KitTestBase} from "./utils/KitTestBase.sol";
import {Coordinator, Subscription} from "infernet-sdk/Coordinator.sol";
import {TGICallbackConsumer} from "../examples/TGICallbackConsumer.sol";
import {HFCallbackConsumer} from "../examples/HFCallbackConsumer.sol";
import {RecurringConsumer} from "../examples/RecurringConsumer.sol";
import {MyOnchainSubscription} from "./fixtures/SeedConsumer.sol";

contract ExamplesTest is KitTestBase {
    event ChatAnswered(uint32 indexed subscriptionId, address indexed node, string text);

    TGICallbackConsumer internal tgi;
    HFCallbackConsumer internal hf;
    RecurringConsumer internal recurring;

    function setUp() public override {
        super.setUp();
        tgi = TGICallbackConsumer(d.tgiCallbackConsumer);
        hf = HFCallbackConsumer(d.hfCallbackConsumer);
        recurring = RecurringConsumer(d.recurringConsumer);
    }

    /// @dev What the TGI service answers on chain: raw_output = abi.encode(string); raw_input = the input.
    function tgiDelivery(bytes memory inputs, string memory text)
        internal
        pure
        returns (bytes memory input, bytes memory output)
    {
        return (abi.encode(inputs, bytes("")), abi.encode(abi.encode(text), bytes("")));
    }

    function test_TGIChatWithLLM() public {
        bytes memory inputs = abi.encode("Is the sky blue during a clear day?");
        uint32 id = tgi.chatWithLLM(inputs);
        Subscription memory sub = coordinator.getSubscription(id);
        assertEq(sub.containerId, containerHash(TGI));
        assertEq(tgi.getContainerInputs(id, 1, uint32(clock), NODE1), inputs);

        (bytes memory input, bytes memory output) = tgiDelivery(inputs, "Yes, the sky is blue.");
        vm.expectEmit(true, true, false, true, address(tgi));
        emit ChatAnswered(id, NODE1, "Yes, the sky is blue.");
        vm.prank(NODE1);
        coordinator.deliverCompute(id, 1, input, output, EMPTY, address(0));
        assertEq(tgi.outputs(id), "Yes, the sky is blue.");
    }

    function test_TGIRejectsMalformedOutput() public {
        uint32 id = tgi.chatWithLLM(abi.encode("hi"));
        vm.prank(NODE1);
        vm.expectRevert();
        coordinator.deliverCompute(id, 1, EMPTY, hex"1234", EMPTY, address(0));
        assertEq(bytes(tgi.outputs(id)).length, 0);
    }

    function test_HFTextGenerationAndSummarization() public {
        uint32 gen = hf.requestTask(abi.encode(uint8(1), "", "Is the sky blue during a clear day?"));
        assertEq(
            hf.getContainerInputs(gen, 1, 0, NODE1), abi.encode(uint8(1), "", "Is the sky blue during a clear day?")
        );
        assertEq(coordinator.getSubscription(gen).containerId, containerHash("hf_inference_client_service"));
        deliver(NODE1, gen, 1, nodeOutput(abi.encode("Yes.")));
        assertEq(hf.generatedText(gen), "Yes.");

        uint32 sum = hf.requestTask(abi.encode(uint8(4), "facebook/bart-large-cnn", "A long text."));
        deliver(NODE1, sum, 1, nodeOutput(abi.encode("Short.")));
        assertEq(hf.summary(sum), "Short.");
        assertEq(hf.taskOf(sum), 4);
    }

    function test_HFClassifications() public {
        string[] memory labels = new string[](2);
        labels[0] = "POSITIVE";
        labels[1] = "NEGATIVE";
        uint256[] memory scores = new uint256[](2);
        scores[0] = 998_765;
        scores[1] = 1_235;

        uint32 cls = hf.requestTask(abi.encode(uint8(2), "", "I love it"));
        deliver(NODE1, cls, 1, nodeOutput(abi.encode(labels, scores)));
        (string[] memory gotLabels, uint256[] memory gotScores) = hf.classification(cls);
        assertEq(gotLabels.length, 2);
        assertEq(gotLabels[0], "POSITIVE");
        assertEq(gotLabels[1], "NEGATIVE");
        assertEq(gotScores[0], 998_765);
        assertEq(gotScores[1], 1_235);

        string[] memory groups = new string[](1);
        groups[0] = "PER";
        uint256[] memory groupScores = new uint256[](1);
        groupScores[0] = 999_000;
        uint32 tok = hf.requestTask(abi.encode(uint8(3), "dslim/bert-base-NER", "My name is Sarah"));
        deliver(NODE1, tok, 1, nodeOutput(abi.encode(groups, groupScores)));
        (string[] memory gotGroups, uint256[] memory gotGroupScores) = hf.tokenClassification(tok);
        assertEq(gotGroups[0], "PER");
        assertEq(gotGroupScores[0], 999_000);
    }

    function test_HFRejectsUnsetTask() public {
        vm.expectRevert(abi.encodeWithSelector(HFCallbackConsumer.UnsupportedTask.selector, uint256(0)));
        hf.requestTask(abi.encode(uint8(0), "", "x"));
        vm.expectRevert(abi.encodeWithSelector(HFCallbackConsumer.UnsupportedTask.selector, uint256(5)));
        hf.requestTask(abi.encode(uint8(5), "", "x"));
        vm.expectRevert(abi.encodeWithSelector(HFCallbackConsumer.UnsupportedTask.selector, uint256(1000)));
        hf.requestTask(abi.encode(uint256(1000), "", "x"));
        vm.expectRevert(HFCallbackConsumer.MalformedInputs.selector);
        hf.requestTask(abi.encode(uint8(1)));
    }

    function test_RecurringGivesEachIntervalItsInput() public {
        uint32 id = recurring.start("Weather report", 3, 60, 1, false);
        assertEq(recurring.getContainerInputs(id, 1, 0, NODE1), abi.encode("Weather report (interval 1)"));
        assertEq(recurring.getContainerInputs(id, 12, 0, NODE1), abi.encode("Weather report (interval 12)"));

        skipTime(60);
        deliver(NODE1, id, 1, nodeOutput(abi.encode("sunny")));
        skipTime(60);
        deliver(NODE1, id, 2, nodeOutput(abi.encode("rainy")));
        assertEq(recurring.outputs(id, 1), "sunny");
        assertEq(recurring.outputs(id, 2), "rainy");
        assertEq(recurring.deliveries(id), 2);

        vm.prank(NODE1);
        vm.expectRevert(RecurringConsumer.NotRequester.selector);
        recurring.cancel(id);
        recurring.cancel(id);
        skipTime(60);
        vm.expectRevert(Coordinator.SubscriptionNotActive.selector);
        deliver(NODE1, id, 3, nodeOutput(abi.encode("snowy")));
    }

    function test_RecurringLazyReadsInbox() public {
        uint32 id = recurring.start("Lazy", 1, 10, 1, true);
        skipTime(10);
        deliver(NODE2, id, 1, nodeOutput(abi.encode("from the inbox")));
        assertEq(recurring.outputs(id, 1), "from the inbox");
        assertEq(inbox.itemCount(containerHash(TGI), NODE2), 1);
    }

    function test_SeedConsumerIsDropIn() public {
        MyOnchainSubscription seed = MyOnchainSubscription(
            deployArtifact("SeedConsumer.sol", "MyOnchainSubscription", abi.encode(address(registry)))
        );
        bytes memory inputs = abi.encode("Is the sky blue during a clear day?");
        seed.chatWithLLM(inputs);
        uint32 id = coordinator.id() - 1;
        Subscription memory sub = coordinator.getSubscription(id);
        assertEq(sub.owner, address(seed));
        assertEq(sub.containerId, containerHash("my-container"));
        assertEq(seed.getContainerInputs(id, 1, 0, NODE1), inputs);
        bytes memory output = nodeOutput(abi.encode("yes"));
        deliver(NODE1, id, 1, output);
        assertEq(seed.lastOutput(), output);
    }
}
