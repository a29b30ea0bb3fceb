// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Probe
/// @notice Exercises what a parallel executor must get right: reads of the block's
///         beneficiary, payments to it, precompiles, block data, gas exhaustion and reverts.
contract Probe {
    mapping(uint256 => uint256) public slots;

    error Failed(string why);

    /// @notice Stores the beneficiary's balance as this transaction sees it.
    function readCoinbase() external returns (uint256 balance) {
        balance = block.coinbase.balance;
        slots[0] = balance;
    }

    /// @notice Forwards the call's value to the beneficiary.
    function payCoinbase() external payable {
        (bool ok,) = block.coinbase.call{value: msg.value}("");
        require(ok, "payment failed");
    }

    /// @notice Calls sha256, ripemd160, identity and ecrecover and stores a digest of them.
    function precompiles(bytes calldata data) external returns (bytes32 digest) {
        bytes32 a = sha256(data);
        bytes20 b = ripemd160(data);
        (bool ok, bytes memory copy) = address(4).staticcall(data);
        require(ok, "identity failed");
        address signer = ecrecover(a, 27, a, bytes32(b));
        digest = keccak256(abi.encode(a, b, copy, signer));
        slots[uint256(uint160(msg.sender))] = uint256(digest);
    }

    /// @notice Stores block number, timestamp and the parent's hash.
    function blockInfo() external {
        slots[2] = block.number;
        slots[3] = block.timestamp;
        slots[4] = uint256(blockhash(block.number - 1));
    }

    /// @notice Hashes in a loop `rounds` times; runs out of gas for large rounds.
    function burn(uint256 rounds) external {
        uint256 x = slots[1];
        for (uint256 i; i < rounds; ++i) {
            x = uint256(keccak256(abi.encode(x, i)));
        }
        slots[1] = x;
    }

    /// @notice Always reverts with `why`.
    function fail(string calldata why) external pure {
        revert Failed(why);
    }

    /// @notice Writes one slot.
    function write(uint256 key, uint256 value) external {
        slots[key] = value;
    }
}
