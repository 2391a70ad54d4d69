// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Registry} from "../Registry.sol";
import {Wallet} from "./Wallet.sol";

/// @title WalletFactory
/// @notice Creates payment `Wallet`s and vouches for them: the coordinator only moves funds between wallets
///         this factory created.
contract WalletFactory {
    /// @notice The registry handed to every wallet.
    Registry public immutable REGISTRY;

    mapping(address => bool) private created;

    /// @notice `caller` created `wallet` owned by `owner`.
    event WalletCreated(address indexed caller, address indexed owner, address wallet);

    /// @param registry the registry naming the coordinator
    constructor(Registry registry) {
        REGISTRY = registry;
    }

    /// @notice Creates a wallet owned by `initialOwner`.
    /// @param initialOwner the wallet owner
    /// @return the new wallet's address
    function createWallet(address initialOwner) external returns (address) {
        address wallet = address(new Wallet(REGISTRY, initialOwner));
        created[wallet] = true;
        emit WalletCreated(msg.sender, initialOwner, wallet);
        return wallet;
    }

    /// @notice Whether `wallet` was created by this factory.
    /// @param wallet the address to check
    function isValidWallet(address wallet) external view returns (bool) {
        return created[wallet];
    }
}
