// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Registry} from "infernet-sdk/Registry.sol";
import {EIP712Coordinator} from "infernet-sdk/EIP712Coordinator.sol";
import {Inbox} from "infernet-sdk/Inbox.sol";
import {Reader} from "infernet-sdk/utility/Reader.sol";
import {Fee} from "infernet-sdk/payments/Fee.sol";
import {Wallet} from "infernet-sdk/payments/Wallet.sol";
import {WalletFactory} from "infernet-sdk/payments/WalletFactory.sol";
import {InfernetSim} from "./Simulator.sol";

// `import {InfernetSim} from "infernet-kit/InfernetSim.sol";`: the simulator (Simulator.sol), with the ABIs forge
// decodes its output with. Forge decodes a test's reverts, calls and events with the ABIs of what it compiled, and a
// project made by `infernet-kit init` generates neither the core (the simulator deploys the kit's build of it) nor
// the simulator on its own (a test compiles it into its bytecode): these abstract contracts, with no code to
// generate, bring their ABIs into the project's build (`IntervalCompleted()`, not `custom error 0x2f4ca85b`).

abstract contract InfernetSimABI is InfernetSim {}

abstract contract RegistryABI is Registry {}

abstract contract EIP712CoordinatorABI is EIP712Coordinator {}

abstract contract InboxABI is Inbox {}

abstract contract ReaderABI is Reader {}

abstract contract FeeABI is Fee {}

abstract contract WalletABI is Wallet {}

abstract contract WalletFactoryABI is WalletFactory {}
