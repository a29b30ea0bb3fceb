// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {Rollup} from "../src/Rollup.sol";
import {RollupFixture} from "./utils/RollupFixture.sol";

/// @notice Gas of steady-state submissions, recorded in `.gas-snapshot` by `forge snapshot`.
/// @dev Only the call into the contract is metered: building the payload and the calldata is not.
/// The figures are execution gas as seen from a caller; an L1 transaction adds the 21000 base
/// and the calldata cost (16 gas per nonzero byte, or the EIP-7623 floor of 40 from Prague on).
contract RollupGasTest is RollupFixture {
    function setUp() public override {
        super.setUp();
        // Steady state: batches exist already, so only the new batch's slots go from zero.
        submit(1, 1);
    }

    function test_gas_submitBatch_1KB() public {
        measureSubmitBatch(1024);
    }

    function test_gas_submitBatch_100KB() public {
        measureSubmitBatch(100 * 1024);
    }

    function test_gas_submitFrame_3x100KB() public {
        vm.pauseGasMetering();
        bytes32 previousHash;
        for (uint16 i = 0; i < 3; i++) {
            bytes memory frame = randomData(100 * 1024, i);
            bytes memory callData = abi.encodeCall(
                Rollup.submitFrame, (2, 200, rootOf(200), hashOf(200), i, 3, previousHash, frame)
            );
            previousHash = i == 0
                ? keccak256(frame)
                : keccak256(abi.encodePacked(previousHash, keccak256(frame)));
            vm.prank(BATCHER);
            vm.resumeGasMetering();
            (bool ok,) = address(rollup).call(callData);
            vm.pauseGasMetering();
            vm.assertTrue(ok, "submitFrame");
        }
        vm.assertEq(uint256(rollup.latestBlock()), 200, "committed");
    }

    function measureSubmitBatch(uint256 size) internal {
        vm.pauseGasMetering();
        bytes memory callData = abi.encodeCall(
            Rollup.submitBatch, (2, 100, rootOf(100), hashOf(100), randomData(size, size))
        );
        vm.prank(BATCHER);
        vm.resumeGasMetering();
        (bool ok,) = address(rollup).call(callData);
        vm.pauseGasMetering();
        vm.assertTrue(ok, "submitBatch");
        vm.assertEq(uint256(rollup.latestBlock()), 100, "committed");
    }
}
