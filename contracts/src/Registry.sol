// SPDX-License-Identifier: MIT
pragma solidity ^0.8.4;

/// @title Registry
/// @notice Address book of the Infernet core contracts. It is deployed first, with the addresses the deployer will
///         create next (precomputed from its nonce), so every other contract can look its peers up at construction.
contract Registry {
    /// @notice The coordinator (an `EIP712Coordinator`).
    address public immutable COORDINATOR;
    /// @notice The inbox holding lazily delivered outputs.
    address public immutable INBOX;
    /// @notice The batch reader used by nodes.
    address public immutable READER;
    /// @notice The protocol fee configuration.
    address public immutable FEE;
    /// @notice The factory of payment wallets.
    address public immutable WALLET_FACTORY;

    /// @param coordinator coordinator address
    /// @param inbox inbox address
    /// @param reader reader address
    /// @param fee fee contract address
    /// @param walletFactory wallet factory address
    constructor(address coordinator, address inbox, address reader, address fee, address walletFactory) {
        COORDINATOR = coordinator;
        INBOX = inbox;
        READER = reader;
        FEE = fee;
        WALLET_FACTORY = walletFactory;
    }
}
