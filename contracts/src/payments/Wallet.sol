// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Registry} from "../Registry.sol";

/// @title Wallet
/// @notice Escrow wallet for Infernet payments (ETH and ERC20). The owner funds it and approves consumers
///         (`spender`s) to spend up to an allowance; the coordinator moves funds on their behalf when a paid
///         subscription is delivered, and can lock funds in escrow and unlock them again.
contract Wallet {
    /// @notice The only account allowed to call the `c*` functions.
    address public immutable COORDINATOR;

    /// @notice The wallet owner.
    address public owner;

    /// @notice spender => token => amount the coordinator may still spend for that consumer.
    mapping(address => mapping(address => uint256)) public allowance;

    /// @notice spender => token => amount locked in escrow for that consumer.
    mapping(address => mapping(address => uint256)) public lockedBalanceOf;

    /// @notice token => total locked in escrow (not withdrawable, not spendable).
    mapping(address => uint256) public lockedTotal;

    /// @notice The owner approved `spender` for `amount` of `token`.
    event Approval(address indexed spender, address indexed token, uint256 amount);
    /// @notice The owner withdrew `amount` of `token`.
    event Withdrawal(address indexed token, uint256 amount);
    /// @notice The coordinator paid `amount` of `token` to `to` on behalf of `spender`.
    event Transfer(address indexed spender, address indexed token, address indexed to, uint256 amount);
    /// @notice The coordinator locked `amount` of `token` for `spender`.
    event Lock(address indexed spender, address indexed token, uint256 amount);
    /// @notice The coordinator unlocked `amount` of `token` for `spender`.
    event Unlock(address indexed spender, address indexed token, uint256 amount);
    /// @notice Ownership moved to `newOwner`.
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// @notice Only the owner may do this.
    error Unauthorized();
    /// @notice Only the coordinator may do this. `0x9ec853e6`
    error NotCoordinator();
    /// @notice The unlocked balance (or the locked escrow, for `cUnlock`) is too small. `0x356680b7`
    error InsufficientFunds();
    /// @notice The spender's allowance is too small. `0x13be252b`
    error InsufficientAllowance();
    /// @notice The ETH or token transfer failed.
    error TransferFailed();

    modifier onlyOwner() {
        if (msg.sender != owner) revert Unauthorized();
        _;
    }

    modifier onlyCoordinator() {
        if (msg.sender != COORDINATOR) revert NotCoordinator();
        _;
    }

    /// @param registry the registry naming the coordinator
    /// @param initialOwner the wallet owner
    constructor(Registry registry, address initialOwner) {
        COORDINATOR = registry.COORDINATOR();
        owner = initialOwner;
        emit OwnershipTransferred(address(0), initialOwner);
    }

    /// @notice Accepts ETH deposits.
    receive() external payable {}

    /// @notice Balance of `token` that is not locked in escrow.
    /// @param token ERC20 address, or `address(0)` for ETH
    function unlockedBalance(address token) public view returns (uint256) {
        uint256 balance = token == address(0) ? address(this).balance : _tokenBalance(token);
        uint256 locked = lockedTotal[token];
        return balance > locked ? balance - locked : 0;
    }

    /// @notice Withdraws unlocked funds to the owner.
    /// @param token ERC20 address, or `address(0)` for ETH
    /// @param amount amount to withdraw
    function withdraw(address token, uint256 amount) external onlyOwner {
        if (amount > unlockedBalance(token)) revert InsufficientFunds();
        emit Withdrawal(token, amount);
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

    /// @notice Hands the wallet to `newOwner`.
    /// @param newOwner the new owner
    function transferOwnership(address newOwner) external onlyOwner {
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// @notice Pays `amount` of `token` to `to` on behalf of `spender`, spending its allowance (coordinator only).
    /// @param spender the consumer being charged
    /// @param token ERC20 address, or `address(0)` for ETH
    /// @param to the payee
    /// @param amount the amount
    function cTransfer(address spender, address token, address to, uint256 amount) external onlyCoordinator {
        _spendAllowance(spender, token, amount);
        emit Transfer(spender, token, to, amount);
        _send(token, to, amount);
    }

    /// @notice Moves `amount` of `spender`'s allowance into escrow (coordinator only).
    /// @param spender the consumer
    /// @param token ERC20 address, or `address(0)` for ETH
    /// @param amount the amount to lock
    function cLock(address spender, address token, uint256 amount) external onlyCoordinator {
        _spendAllowance(spender, token, amount);
        lockedBalanceOf[spender][token] += amount;
        lockedTotal[token] += amount;
        emit Lock(spender, token, amount);
    }

    /// @notice Releases `amount` of `spender`'s escrow back to its allowance (coordinator only).
    /// @param spender the consumer
    /// @param token ERC20 address, or `address(0)` for ETH
    /// @param amount the amount to unlock
    function cUnlock(address spender, address token, uint256 amount) external onlyCoordinator {
        uint256 locked = lockedBalanceOf[spender][token];
        if (amount > locked) revert InsufficientFunds();
        unchecked {
            lockedBalanceOf[spender][token] = locked - amount;
            lockedTotal[token] -= amount;
        }
        allowance[spender][token] += amount;
        emit Unlock(spender, token, amount);
    }

    /// @dev Checks allowance then unlocked funds, and decreases the allowance.
    function _spendAllowance(address spender, address token, uint256 amount) private {
        uint256 allowed = allowance[spender][token];
        if (amount > allowed) revert InsufficientAllowance();
        if (amount > unlockedBalance(token)) revert InsufficientFunds();
        unchecked {
            allowance[spender][token] = allowed - amount;
        }
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
