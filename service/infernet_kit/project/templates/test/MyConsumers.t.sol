// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "kit-test/Test.sol";
import {vm} from "kit-test/Vm.sol";
import {InfernetSim} from "infernet-kit/InfernetSim.sol";
import {ServiceOutputs} from "infernet-kit/ServiceOutputs.sol";
import {MyTGIConsumer} from "../src/MyTGIConsumer.sol";
import {MyRecurringConsumer} from "../src/MyRecurringConsumer.sol";

/// @notice Infernet inside `forge test`: the simulator deploys the core and acts as the node.
contract MyConsumersTest is Test {
    InfernetSim internal sim;
    address internal registry;

    function setUp() public {
        sim = new InfernetSim();
        registry = address(sim.deployAtReference()); // 0x663F3ad617193148711d28f5334eE4Ed07016602
    }

    function test_theNodeAnswersTheQuestion() public {
        MyTGIConsumer consumer = MyTGIConsumer(vm.deployCode("MyTGIConsumer.sol:MyTGIConsumer", abi.encode(registry)));
        uint32 id = consumer.ask("Is the sky blue during a clear day?");

        // What the TGI service would answer, delivered as a node delivers it.
        sim.deliver(id, ServiceOutputs.tgiOutput("Yes, because of Rayleigh scattering."));

        assertEq(consumer.answers(id), "Yes, because of Rayleigh scattering.");
    }

    function test_eachIntervalGetsItsAnswer() public {
        MyRecurringConsumer consumer =
            MyRecurringConsumer(vm.deployCode("MyRecurringConsumer.sol:MyRecurringConsumer", abi.encode(registry)));
        uint32 id = consumer.start("What time is it?", 2, 60);

        sim.skip(60); // the first interval starts one period after creation
        sim.deliver(id, ServiceOutputs.tgiOutput("first"));
        sim.skip(60);
        sim.deliver(id, ServiceOutputs.tgiOutput("second"));

        assertEq(consumer.answers(id, 1), "first");
        assertEq(consumer.answers(id, 2), "second");
    }
}
