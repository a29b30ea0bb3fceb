// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {Rollup} from "../../src/Rollup.sol";
import {Test} from "./Test.sol";

/// @notice A deployed `Rollup` with fixed accounts and genesis, plus helpers shared by the suites.
abstract contract RollupFixture is Test {
    address internal constant OWNER = address(0xA11CE);
    address internal constant BATCHER = address(0xBA7C4E5);
    address internal constant STRANGER = address(0xBAD);
    uint64 internal constant CHAIN_ID = 901;
    bytes32 internal constant GENESIS_HASH = keccak256("genesis block hash");
    bytes32 internal constant GENESIS_ROOT = keccak256("genesis state root");
    /// @dev L1 block the tests run at, so `l1Block` is not a default value.
    uint64 internal constant L1_BLOCK = 1_000;

    Rollup internal rollup;

    function setUp() public virtual {
        rollup = new Rollup(OWNER, BATCHER, CHAIN_ID, GENESIS_HASH, GENESIS_ROOT);
        vm.label(address(rollup), "Rollup");
        vm.label(OWNER, "owner");
        vm.label(BATCHER, "batcher");
        vm.label(STRANGER, "stranger");
        vm.roll(L1_BLOCK);
    }

    /// @dev Deterministic state root claimed for L2 block `n`.
    function rootOf(uint64 n) internal pure returns (bytes32) {
        return keccak256(abi.encode("state root", n));
    }

    /// @dev Deterministic block hash claimed for L2 block `n`.
    function hashOf(uint64 n) internal pure returns (bytes32) {
        return keccak256(abi.encode("block hash", n));
    }

    /// @dev The documented kind-0x00 commitment of `h`: `h` with its first byte cleared.
    function calldataCommitment(bytes32 h) internal pure returns (bytes32) {
        return bytes32(uint256(h) & (type(uint256).max >> 8));
    }

    /// @dev The documented running hash `acc_{n-1}` over the first `n` frames, zero for `n = 0`:
    /// the `previousHash` frame `n` must carry.
    function runningHash(bytes[] memory frames, uint256 n) internal pure returns (bytes32 acc) {
        for (uint256 i = 0; i < n; i++) {
            acc = i == 0
                ? keccak256(frames[0])
                : keccak256(abi.encodePacked(acc, keccak256(frames[i])));
        }
    }

    /// @dev The documented commitment of a batch sent as `frames`.
    function frameCommitment(bytes[] memory frames) internal pure returns (bytes32) {
        return calldataCommitment(runningHash(frames, frames.length));
    }

    /// @dev `size` bytes of keccak output: pseudo-random and almost never zero.
    function randomData(uint256 size, uint256 seed) internal pure returns (bytes memory data) {
        data = new bytes(size);
        // `new bytes` allocates whole words, so writing the last word whole stays inside `data`.
        assembly ("memory-safe") {
            let start := add(data, 32)
            for { let offset := 0 } lt(offset, size) { offset := add(offset, 32) } {
                mstore(0, seed)
                mstore(32, offset)
                mstore(add(start, offset), keccak256(0, 64))
            }
        }
    }

    /// @dev Submits `firstBlock..=lastBlock` as the batcher with some data.
    function submit(uint64 firstBlock, uint64 lastBlock) internal {
        vm.prank(BATCHER);
        rollup.submitBatch(
            firstBlock, lastBlock, rootOf(lastBlock), hashOf(lastBlock), bytes("batch data")
        );
    }
}
