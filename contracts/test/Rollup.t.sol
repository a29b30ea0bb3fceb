// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {Rollup} from "../src/Rollup.sol";
import {RollupFixture} from "./utils/RollupFixture.sol";
import {Vm} from "./utils/Vm.sol";

/// @notice Deployment, single-transaction batches, administration and views.
contract RollupTest is RollupFixture {
    // ---------------------------------------------------------------------------------------------
    // Deployment and genesis
    // ---------------------------------------------------------------------------------------------

    function test_constructor_setsGenesisAndRoles() public view {
        vm.assertEq(rollup.owner(), OWNER, "owner");
        vm.assertEq(rollup.pendingOwner(), address(0), "pendingOwner");
        vm.assertEq(rollup.batcher(), BATCHER, "batcher");
        vm.assertEq(uint256(rollup.l2ChainId()), CHAIN_ID, "l2ChainId");
        vm.assertEq(uint256(rollup.latestBlock()), 0, "latestBlock");
        vm.assertEq(rollup.batchCount(), 0, "batchCount");
        vm.assertEq(rollup.genesisStateRoot(), GENESIS_ROOT, "genesisStateRoot");
        vm.assertEq(rollup.genesisBlockHash(), GENESIS_HASH, "genesisBlockHash");
        vm.assertEq(rollup.stateRootAt(0), GENESIS_ROOT, "stateRootAt(0)");
        vm.assertEq(rollup.blockHashAt(0), GENESIS_HASH, "blockHashAt(0)");
        vm.assertEq(uint256(rollup.DATA_KIND_CALLDATA()), 0, "DATA_KIND_CALLDATA");
        vm.assertEq(uint256(rollup.DATA_KIND_BLOB()), 1, "DATA_KIND_BLOB");
        (
            uint64 firstBlock,
            uint64 lastBlock,
            bytes32 stateRoot,
            bytes32 blockHash,
            uint16 nextFrame,
            uint16 frameCount,
            bytes32 runningHash
        ) = rollup.pendingBatch();
        vm.assertEq(uint256(firstBlock) + lastBlock + nextFrame + frameCount, 0, "pending numbers");
        vm.assertEq(stateRoot | blockHash | runningHash, bytes32(0), "pending hashes");
    }

    function test_constructor_emitsRoleEvents() public {
        vm.expectEmit();
        emit Rollup.OwnershipTransferred(address(0), OWNER);
        vm.expectEmit();
        emit Rollup.BatcherChanged(address(0), BATCHER);
        new Rollup(OWNER, BATCHER, CHAIN_ID, GENESIS_HASH, GENESIS_ROOT);
    }

    function test_constructor_rejectsZeroOwner() public {
        vm.expectRevert(Rollup.ZeroAddress.selector);
        new Rollup(address(0), BATCHER, CHAIN_ID, GENESIS_HASH, GENESIS_ROOT);
    }

    function test_constructor_rejectsZeroBatcher() public {
        vm.expectRevert(Rollup.ZeroAddress.selector);
        new Rollup(OWNER, address(0), CHAIN_ID, GENESIS_HASH, GENESIS_ROOT);
    }

    // ---------------------------------------------------------------------------------------------
    // submitBatch
    // ---------------------------------------------------------------------------------------------

    function test_submitBatch_commitsFirstBatchAndEmits() public {
        bytes memory data = randomData(300, 1);
        bytes32 commitment = calldataCommitment(keccak256(data));

        vm.expectEmit(address(rollup));
        emit Rollup.BatchCommitted(0, 1, 5, rootOf(5), hashOf(5), commitment, L1_BLOCK, 1);
        vm.prank(BATCHER);
        rollup.submitBatch(1, 5, rootOf(5), hashOf(5), data);

        vm.assertEq(uint256(rollup.latestBlock()), 5, "latestBlock");
        vm.assertEq(rollup.batchCount(), 1, "batchCount");
        Rollup.Batch memory batch = rollup.getBatch(0);
        vm.assertEq(uint256(batch.lastBlock), 5, "lastBlock");
        vm.assertEq(uint256(batch.l1Block), L1_BLOCK, "l1Block");
        vm.assertEq(batch.stateRoot, rootOf(5), "stateRoot");
        vm.assertEq(batch.blockHash, hashOf(5), "blockHash");
        vm.assertEq(batch.dataCommitment, commitment, "dataCommitment");
    }

    function test_submitBatch_consecutiveBatchesAdvance() public {
        submit(1, 1);
        vm.roll(L1_BLOCK + 7);
        vm.expectEmit(address(rollup));
        emit Rollup.BatchCommitted(
            1,
            2,
            9,
            rootOf(9),
            hashOf(9),
            calldataCommitment(keccak256("batch data")),
            L1_BLOCK + 7,
            1
        );
        submit(2, 9);
        vm.assertEq(uint256(rollup.latestBlock()), 9, "latestBlock");
        vm.assertEq(rollup.batchCount(), 2, "batchCount");
        vm.assertEq(uint256(rollup.getBatch(0).lastBlock), 1, "batch 0 lastBlock");
        vm.assertEq(uint256(rollup.getBatch(1).l1Block), L1_BLOCK + 7, "batch 1 l1Block");
    }

    function test_submitBatch_commitmentIsKeccakWithKindByteCleared() public {
        bytes memory data = randomData(64, 2);
        bytes32 h = keccak256(data);
        // Make sure the test data exercises the mask.
        vm.assertTrue(uint8(h[0]) != 0, "test data hash must have a nonzero first byte");

        vm.prank(BATCHER);
        rollup.submitBatch(1, 3, rootOf(3), hashOf(3), data);

        bytes32 commitment = rollup.getBatch(0).dataCommitment;
        vm.assertEq(uint256(uint8(commitment[0])), rollup.DATA_KIND_CALLDATA(), "kind byte");
        vm.assertEq(commitment << 8, h << 8, "remaining 31 bytes are keccak256(data)'s");
    }

    function test_submitBatch_emitsNoFrameEvent() public {
        vm.recordLogs();
        submit(1, 2);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        vm.assertEq(logs.length, 1, "one log");
        vm.assertEq(logs[0].topics[0], Rollup.BatchCommitted.selector, "BatchCommitted only");
    }

    function test_submitBatch_rejectsNonBatcher() public {
        vm.expectRevert(abi.encodeWithSelector(Rollup.NotBatcher.selector, STRANGER));
        vm.prank(STRANGER);
        rollup.submitBatch(1, 1, rootOf(1), hashOf(1), "x");

        vm.expectRevert(abi.encodeWithSelector(Rollup.NotBatcher.selector, OWNER));
        vm.prank(OWNER);
        rollup.submitBatch(1, 1, rootOf(1), hashOf(1), "x");
    }

    function test_submitBatch_rejectsGenesisBlock() public {
        vm.expectRevert(abi.encodeWithSelector(Rollup.UnexpectedFirstBlock.selector, 1, 0));
        vm.prank(BATCHER);
        rollup.submitBatch(0, 3, rootOf(3), hashOf(3), "x");
    }

    function test_submitBatch_rejectsGap() public {
        submit(1, 4);
        vm.expectRevert(abi.encodeWithSelector(Rollup.UnexpectedFirstBlock.selector, 5, 6));
        vm.prank(BATCHER);
        rollup.submitBatch(6, 8, rootOf(8), hashOf(8), "x");
    }

    function test_submitBatch_rejectsOverlap() public {
        submit(1, 4);
        vm.expectRevert(abi.encodeWithSelector(Rollup.UnexpectedFirstBlock.selector, 5, 4));
        vm.prank(BATCHER);
        rollup.submitBatch(4, 8, rootOf(8), hashOf(8), "x");
    }

    function test_submitBatch_rejectsInvertedRange() public {
        vm.expectRevert(abi.encodeWithSelector(Rollup.InvalidRange.selector, 1, 0));
        vm.prank(BATCHER);
        rollup.submitBatch(1, 0, rootOf(0), hashOf(0), "x");
    }

    function test_submitBatch_rejectsEmptyData() public {
        vm.expectRevert(Rollup.EmptyData.selector);
        vm.prank(BATCHER);
        rollup.submitBatch(1, 1, rootOf(1), hashOf(1), "");
    }

    function test_submitBatch_rejectsWhileFrameBatchPending() public {
        vm.prank(BATCHER);
        rollup.submitFrame(1, 3, rootOf(3), hashOf(3), 0, 2, bytes32(0), "frame 0");
        vm.expectRevert(Rollup.PendingBatchExists.selector);
        vm.prank(BATCHER);
        rollup.submitBatch(1, 3, rootOf(3), hashOf(3), "x");
    }

    // ---------------------------------------------------------------------------------------------
    // Batcher rotation
    // ---------------------------------------------------------------------------------------------

    function test_setBatcher_rotatesAndRejectsOldBatcher() public {
        address next = address(0xB2);
        vm.expectEmit(address(rollup));
        emit Rollup.BatcherChanged(BATCHER, next);
        vm.prank(OWNER);
        rollup.setBatcher(next);
        vm.assertEq(rollup.batcher(), next, "batcher");

        vm.expectRevert(abi.encodeWithSelector(Rollup.NotBatcher.selector, BATCHER));
        vm.prank(BATCHER);
        rollup.submitBatch(1, 1, rootOf(1), hashOf(1), "x");

        vm.prank(next);
        rollup.submitBatch(1, 1, rootOf(1), hashOf(1), "x");
        vm.assertEq(uint256(rollup.latestBlock()), 1, "new batcher submits");
    }

    function test_setBatcher_rejectsNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Rollup.NotOwner.selector, BATCHER));
        vm.prank(BATCHER);
        rollup.setBatcher(STRANGER);
    }

    function test_setBatcher_rejectsZeroAddress() public {
        vm.expectRevert(Rollup.ZeroAddress.selector);
        vm.prank(OWNER);
        rollup.setBatcher(address(0));
    }

    // ---------------------------------------------------------------------------------------------
    // Two-step ownership
    // ---------------------------------------------------------------------------------------------

    function test_ownership_twoStepTransfer() public {
        address next = address(0x0B2);
        vm.expectEmit(address(rollup));
        emit Rollup.OwnershipTransferStarted(OWNER, next);
        vm.prank(OWNER);
        rollup.transferOwnership(next);
        vm.assertEq(rollup.owner(), OWNER, "owner unchanged until accepted");
        vm.assertEq(rollup.pendingOwner(), next, "pendingOwner");

        vm.expectEmit(address(rollup));
        emit Rollup.OwnershipTransferred(OWNER, next);
        vm.prank(next);
        rollup.acceptOwnership();
        vm.assertEq(rollup.owner(), next, "owner");
        vm.assertEq(rollup.pendingOwner(), address(0), "pendingOwner cleared");

        vm.expectRevert(abi.encodeWithSelector(Rollup.NotOwner.selector, OWNER));
        vm.prank(OWNER);
        rollup.setBatcher(STRANGER);

        vm.prank(next);
        rollup.setBatcher(STRANGER);
        vm.assertEq(rollup.batcher(), STRANGER, "new owner rotates the batcher");
    }

    function test_transferOwnership_rejectsNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Rollup.NotOwner.selector, STRANGER));
        vm.prank(STRANGER);
        rollup.transferOwnership(STRANGER);
    }

    function test_acceptOwnership_rejectsOthers() public {
        vm.expectRevert(abi.encodeWithSelector(Rollup.NotPendingOwner.selector, STRANGER));
        vm.prank(STRANGER);
        rollup.acceptOwnership();

        vm.prank(OWNER);
        rollup.transferOwnership(address(0x0B2));
        vm.expectRevert(abi.encodeWithSelector(Rollup.NotPendingOwner.selector, STRANGER));
        vm.prank(STRANGER);
        rollup.acceptOwnership();
        vm.expectRevert(abi.encodeWithSelector(Rollup.NotPendingOwner.selector, OWNER));
        vm.prank(OWNER);
        rollup.acceptOwnership();
    }

    function test_transferOwnership_newProposalReplacesOld() public {
        vm.startPrank(OWNER);
        rollup.transferOwnership(address(0x0B2));
        rollup.transferOwnership(address(0x0B3));
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Rollup.NotPendingOwner.selector, address(0x0B2)));
        vm.prank(address(0x0B2));
        rollup.acceptOwnership();
        vm.prank(address(0x0B3));
        rollup.acceptOwnership();
        vm.assertEq(rollup.owner(), address(0x0B3), "owner");
    }

    function test_transferOwnership_zeroAddressCancels() public {
        vm.prank(OWNER);
        rollup.transferOwnership(address(0x0B2));
        vm.expectEmit(address(rollup));
        emit Rollup.OwnershipTransferStarted(OWNER, address(0));
        vm.prank(OWNER);
        rollup.transferOwnership(address(0));
        vm.assertEq(rollup.pendingOwner(), address(0), "pendingOwner");
        vm.expectRevert(abi.encodeWithSelector(Rollup.NotPendingOwner.selector, address(0x0B2)));
        vm.prank(address(0x0B2));
        rollup.acceptOwnership();
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    function test_views_rejectUncommittedBlocksBeforeFirstBatch() public {
        vm.expectRevert(abi.encodeWithSelector(Rollup.BlockNotCommitted.selector, 1));
        rollup.stateRootAt(1);
        vm.expectRevert(abi.encodeWithSelector(Rollup.BlockNotCommitted.selector, 1));
        rollup.blockHashAt(1);
        vm.expectRevert(abi.encodeWithSelector(Rollup.BlockNotCommitted.selector, 1));
        rollup.batchIndexOf(1);
        vm.expectRevert(Rollup.GenesisNotInBatch.selector);
        rollup.batchIndexOf(0);
        vm.expectRevert(abi.encodeWithSelector(Rollup.BatchNotFound.selector, 0));
        rollup.getBatch(0);
    }

    /// Binary search over 64 batches of lengths 1..7: every committed block maps to its batch,
    /// batch ends have roots and hashes, interior blocks and blocks beyond the tip revert.
    function test_views_binarySearchAcrossManyBatches() public {
        uint64[] memory lastOf = new uint64[](64);
        uint64 last = 0;
        for (uint256 i = 0; i < lastOf.length; i++) {
            uint64 first = last + 1;
            last = first + uint64(uint256(keccak256(abi.encode(i))) % 7);
            submit(first, last);
            lastOf[i] = last;
        }
        vm.assertEq(rollup.batchCount(), lastOf.length, "batchCount");
        vm.assertEq(uint256(rollup.latestBlock()), last, "latestBlock");

        uint256 batch = 0;
        for (uint64 n = 1; n <= last; n++) {
            if (n > lastOf[batch]) batch++;
            vm.assertEq(rollup.batchIndexOf(n), batch, "batchIndexOf");
            if (n == lastOf[batch]) {
                vm.assertEq(rollup.stateRootAt(n), rootOf(n), "stateRootAt");
                vm.assertEq(rollup.blockHashAt(n), hashOf(n), "blockHashAt");
            } else {
                bytes memory err =
                    abi.encodeWithSelector(Rollup.NotBatchBoundary.selector, n, lastOf[batch]);
                vm.expectRevert(err);
                rollup.stateRootAt(n);
                vm.expectRevert(err);
                rollup.blockHashAt(n);
            }
        }
        vm.assertEq(rollup.stateRootAt(0), GENESIS_ROOT, "genesis root still served");

        vm.expectRevert(abi.encodeWithSelector(Rollup.BlockNotCommitted.selector, last + 1));
        rollup.stateRootAt(last + 1);
        vm.expectRevert(abi.encodeWithSelector(Rollup.BlockNotCommitted.selector, last + 1));
        rollup.blockHashAt(last + 1);
        vm.expectRevert(abi.encodeWithSelector(Rollup.BlockNotCommitted.selector, type(uint64).max));
        rollup.stateRootAt(type(uint64).max);
        vm.expectRevert(abi.encodeWithSelector(Rollup.BatchNotFound.selector, lastOf.length));
        rollup.getBatch(lastOf.length);
    }

    // ---------------------------------------------------------------------------------------------
    // Fuzz
    // ---------------------------------------------------------------------------------------------

    /// Any caller but the batcher is rejected, whatever the range.
    function testFuzz_submitBatch_rejectsAnyoneButBatcher(
        address caller,
        uint64 firstBlock,
        uint64 lastBlock
    ) public {
        vm.assume(caller != BATCHER);
        vm.expectRevert(abi.encodeWithSelector(Rollup.NotBatcher.selector, caller));
        vm.prank(caller);
        rollup.submitBatch(firstBlock, lastBlock, rootOf(lastBlock), hashOf(lastBlock), "x");
    }

    /// After a first batch 1..=10, exactly the ranges starting at 11 and not inverted commit.
    function testFuzz_submitBatch_acceptsOnlyTheNextRange(uint64 firstBlock, uint64 lastBlock)
        public
    {
        submit(1, 10);
        vm.prank(BATCHER);
        if (firstBlock != 11) {
            vm.expectRevert(
                abi.encodeWithSelector(Rollup.UnexpectedFirstBlock.selector, 11, firstBlock)
            );
        } else if (lastBlock < firstBlock) {
            vm.expectRevert(
                abi.encodeWithSelector(Rollup.InvalidRange.selector, firstBlock, lastBlock)
            );
        }
        rollup.submitBatch(firstBlock, lastBlock, rootOf(lastBlock), hashOf(lastBlock), "x");
        bool committed = firstBlock == 11 && lastBlock >= firstBlock;
        vm.assertEq(uint256(rollup.latestBlock()), committed ? lastBlock : 10, "latestBlock");
        vm.assertEq(rollup.batchCount(), committed ? 2 : 1, "batchCount");
    }

    /// A sequence of random-length batches keeps every view consistent.
    function testFuzz_submitBatch_sequenceKeepsViewsConsistent(uint8[8] calldata lengths) public {
        uint64 last = 0;
        for (uint256 i = 0; i < lengths.length; i++) {
            uint64 first = last + 1;
            last = first + lengths[i];
            submit(first, last);
            vm.assertEq(rollup.batchIndexOf(first), i, "first block in batch i");
            vm.assertEq(rollup.batchIndexOf(last), i, "last block in batch i");
            vm.assertEq(rollup.stateRootAt(last), rootOf(last), "stateRootAt");
        }
        vm.assertEq(uint256(rollup.latestBlock()), last, "latestBlock");
        vm.assertEq(rollup.batchCount(), lengths.length, "batchCount");
    }
}
