// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {vm} from "kit-test/Vm.sol";
import {artifact} from "kit-test/Artifacts.sol";
import {Test} from "kit-test/Test.sol";
import {Deploy} from "../../scripts/Deploy.s.sol";
import {Registry} from "infernet-sdk/Registry.sol";
import {DelegateConsumer} from "../examples/DelegateConsumer.sol";
import {Fee} from "infernet-sdk/payments/Fee.sol";

/// @notice The deployment script itself (importing it here also keeps its artifact, which other tests deploy
///         from, rebuilt by `forge test`).
contract DeployTest is Test {
    /// @dev Anvil's well-known development account #2 (public test key, never used beyond local chains).
    uint256 internal constant ANVIL_ACCOUNT_2_KEY = 0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a;

    function test_ReferenceAddressesFromAnvilAccount2() public {
        Deploy script = Deploy(vm.deployCode(artifact("Deploy.s.sol", "Deploy")));
        address deployer = vm.addr(ANVIL_ACCOUNT_2_KEY);
        assertEq(deployer, 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC);
        assertEq(vm.getNonce(deployer), 0);

        Deploy.Deployment memory d = script.deployWithKey(ANVIL_ACCOUNT_2_KEY, deployer);
        assertEq(d.registry, 0x663F3ad617193148711d28f5334eE4Ed07016602);
        assertEq(d.coordinator, 0x2E983A1Ba5e8b38AAAeC4B440B9dDcFBf72E15d1);
        assertEq(d.inbox, 0x8438Ad1C834623CfF278AB6829a248E37C2D7E3f);
        assertEq(d.reader, 0xBC9129Dc0487fc2E169941C75aABC539f208fb01);
        assertEq(d.fee, 0x6e989C01a3e3A94C973A62280a72EC335598490e);
        assertEq(d.walletFactory, 0xF6168876932289D073567f347121A267095f3DD6);

        Registry registry = Registry(d.registry);
        assertEq(registry.COORDINATOR(), d.coordinator);
        assertEq(registry.WALLET_FACTORY(), d.walletFactory);
        assertEq(DelegateConsumer(d.delegateConsumer).getSigner(), deployer);
        assertEq(Fee(d.fee).FEE_RECIPIENT(), deployer);
        assertEq(Fee(d.fee).FEE(), 500);
        assertEq(vm.getNonce(deployer), 10);
    }
}
