// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Registry} from "../Registry.sol";
import {Owned} from "../utility/Owned.sol";
import {Coordinated} from "../utility/Coordinated.sol";

/// @title Wallet
/// @notice Escrow wallet for Infernet payments (ETH and ERC20). The owner funds it and approves consumers
///         (`spender`s) to spend up to an allowance; the coordinator moves funds on their behalf when a paid
///         subscription is delivered, and locks funds in escrow while a proof is verified.
/// @dev Events, errors and checks follow the SDK v1.1 `Wallet` (its `Withdrawl` spelling included) so logs and
///      reverts match for indexers and SDK tests.
contract Wallet is Owned, Coordinated {
    /// @notice spender => token => amount the coordinator may still spend for that consumer.
    mapping(address => mapping(address => uint256)) public allowance;

    /// @dev token => total locked in escrow (not withdrawable, not spendable).
    mapping(address => uint256) private lockedBalance;

    /// @notice The owner withdrew `amount` of `token` (the SDK's spelling).
    event Withdrawl(address token, uint256 amount);
    /// @notice The owner approved `spender` for `amount` of `token`.
    event Approval(address indexed spender, address token, uint256 amount);
    /// @notice The coordinator locked (`locked`) or released `amount` of `token` for `spender`.
    event Escrow(address indexed spender, address token, uint256 amount, bool locked);
    /// @notice The coordinator paid `amount` of `token` to `to` on behalf of `spender`.
    event Transfer(address indexed spender, address token, address indexed to, uint256 amount);

    /// @notice The unlocked balance (or the locked escrow, for `cUnlock`) is too small. `0x356680b7`
    error InsufficientFunds();
    /// @notice The spender's allowance is too small. `0x13be252b`
    error InsufficientAllowance();
    /// @notice The ETH or token transfer failed.
    error TransferFailed();

    /// @param registry the registry naming the coordinator
    /// @param initialOwner the wallet owner
    constructor(Registry registry, address initialOwner) Owned(initialOwner) Coordinated(registry) {}

    /// @notice Accepts ETH deposits.
    receive() external payable {}

    /// @notice Balance of `token` that is not locked in escrow.
    /// @param token ERC20 address, or `address(0)` for ETH
    function unlockedBalance(address token) public view returns (uint256) {
        uint256 balance = token == address(0) ? address(this).balance : _tokenBalance(token);
        return balance - lockedBalance[token];
    }

    /// @notice Withdraws unlocked funds to the owner.
    /// @param token ERC20 address, or `address(0)` for ETH
    /// @param amount amount to withdraw
    function withdraw(address token, uint256 amount) external onlyOwner {
        if (amount > unlockedBalance(token)) revert InsufficientFunds();
        emit Withdrawl(token, amount);
        _send(token, msg.sender, amount);
    }

    /// @notice Sets how much of `token` the coordinator may spend on behalf of consumer `spender`.
    /// @param spender the consumer contract (subscription owner)
    /// @param token ERC20 address, or `address(0)` for ETH
    /// @param amount the new allowance
    function approve(address spender, address token, uint256 amount) external onlyOwner {
        allowance[spender][token] = amount;
        emit Approval(spender, token, amount);
    }

    /// @notice Pays `amount` of `token` to `to` on behalf of `spender`, spending its allowance (coordinator only).
    ///         Checks the allowance (`InsufficientAllowance`), then the unlocked funds (`InsufficientFunds`): unlike
    ///         the SDK, escrowed funds cannot be spent by another payment.
    /// @param spender the consumer being charged
    /// @param token ERC20 address, or `address(0)` for ETH
    /// @param to the payee
    /// @param amount the amount
    function cTransfer(address spender, address token, address to, uint256 amount) external onlyCoordinator {
        uint256 allowed = allowance[spender][token];
        if (amount > allowed) revert InsufficientAllowance();
        if (amount > unlockedBalance(token)) revert InsufficientFunds();
        unchecked {
            allowance[spender][token] = allowed - amount;
        }
        emit Transfer(spender, token, to, amount);
        _send(token, to, amount);
    }

    /// @notice Locks `amount` of `token` in escrow out of `spender`'s allowance (coordinator only). Checks the
    ///         unlocked funds first (`InsufficientFunds`), then the allowance (`InsufficientAllowance`).
    /// @param spender the consumer (or node) whose allowance is escrowed
    /// @param token ERC20 address, or `address(0)` for ETH
    /// @param amount the amount to lock
    function cLock(address spender, address token, uint256 amount) external onlyCoordinator {
        if (amount > unlockedBalance(token)) revert InsufficientFunds();
        uint256 allowed = allowance[spender][token];
        if (amount > allowed) revert InsufficientAllowance();
        unchecked {
            allowance[spender][token] = allowed - amount;
        }
        lockedBalance[token] += amount;
        emit Escrow(spender, token, amount, true);
    }

    /// @notice Releases `amount` of `token` from escrow back to `spender`'s allowance (coordinator only).
    /// @param spender the consumer (or node) credited
    /// @param token ERC20 address, or `address(0)` for ETH
    /// @param amount the amount to unlock, at most the locked total (`InsufficientFunds`)
    function cUnlock(address spender, address token, uint256 amount) external onlyCoordinator {
        uint256 locked = lockedBalance[token];
        if (amount > locked) revert InsufficientFunds();
        unchecked {
            lockedBalance[token] = locked - amount;
        }
        allowance[spender][token] += amount;
        emit Escrow(spender, token, amount, false);
    }

    function _tokenBalance(address token) private view returns (uint256) {
        (bool ok, bytes memory ret) = token.staticcall(abi.encodeWithSignature("balanceOf(address)", address(this)));
        if (!ok || ret.length < 32) revert TransferFailed();
        return abi.decode(ret, (uint256));
    }

    function _send(address token, address to, uint256 amount) private {
        bool ok;
        if (token == address(0)) {
            (ok,) = to.call{value: amount}("");
        } else {
            bytes memory ret;
            (ok, ret) = token.call(abi.encodeWithSignature("transfer(address,uint256)", to, amount));
            // Tokens returning nothing are accepted; those returning a value must return true.
            ok = ok && (ret.length == 0 ? token.code.length != 0 : abi.decode(ret, (bool)));
        }
        if (!ok) revert TransferFailed();
    }
}
