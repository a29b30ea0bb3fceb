// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {Rollup} from "../src/Rollup.sol";
import {RollupFixture} from "./utils/RollupFixture.sol";
import {Vm} from "./utils/Vm.sol";

/// @notice Multi-transaction batches: `submitFrame`.
contract RollupFramesTest is RollupFixture {
    /// @dev Header of the batch most tests send as frames.
    uint64 internal constant FIRST = 1;
    uint64 internal constant LAST = 40;

    function frames(uint256 count, uint256 seed) internal pure returns (bytes[] memory out) {
        out = new bytes[](count);
        for (uint256 i = 0; i < count; i++) {
            out[i] = randomData(100 + 37 * i, seed + i);
        }
    }

    /// @dev Sends frame `index` of `count` of the batch `FIRST..=LAST` with `previousHash` (zero
    /// for frame 0, the running hash of the frames before it otherwise).
    function sendFrame(uint16 index, uint16 count, bytes32 previousHash, bytes memory data)
        internal
    {
        vm.prank(BATCHER);
        rollup.submitFrame(
            FIRST, LAST, rootOf(LAST), hashOf(LAST), index, count, previousHash, data
        );
    }

    function chainMismatch(bytes32 expected, bytes32 got) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(Rollup.FrameChainMismatch.selector, expected, got);
    }

    function expectNothingPending() internal view {
        (,,,, uint16 nextFrame, uint16 frameCount, bytes32 runningHash) = rollup.pendingBatch();
        vm.assertEq(uint256(nextFrame), 0, "nextFrame");
        vm.assertEq(uint256(frameCount), 0, "frameCount");
        vm.assertEq(runningHash, bytes32(0), "runningHash");
    }

    // ---------------------------------------------------------------------------------------------
    // Happy paths
    // ---------------------------------------------------------------------------------------------

    function test_submitFrame_commitsWhenLastFrameLands() public {
        bytes[] memory data = frames(3, 10);
        bytes32 acc = keccak256(data[0]);

        vm.expectEmit(address(rollup));
        emit Rollup.FrameSubmitted(0, 0, 3, keccak256(data[0]));
        sendFrame(0, 3, bytes32(0), data[0]);
        (
            uint64 firstBlock,
            uint64 lastBlock,
            bytes32 stateRoot,
            bytes32 blockHash,
            uint16 nextFrame,
            uint16 frameCount,
            bytes32 runningHash
        ) = rollup.pendingBatch();
        vm.assertEq(uint256(firstBlock), FIRST, "pending firstBlock");
        vm.assertEq(uint256(lastBlock), LAST, "pending lastBlock");
        vm.assertEq(stateRoot, rootOf(LAST), "pending stateRoot");
        vm.assertEq(blockHash, hashOf(LAST), "pending blockHash");
        vm.assertEq(uint256(nextFrame), 1, "pending nextFrame");
        vm.assertEq(uint256(frameCount), 3, "pending frameCount");
        vm.assertEq(runningHash, acc, "pending runningHash after frame 0");
        vm.assertEq(uint256(rollup.latestBlock()), 0, "not committed after frame 0");
        vm.assertEq(rollup.batchCount(), 0, "no batch after frame 0");

        vm.roll(L1_BLOCK + 1);
        vm.expectEmit(address(rollup));
        emit Rollup.FrameSubmitted(0, 1, 3, keccak256(data[1]));
        sendFrame(1, 3, acc, data[1]);
        acc = keccak256(abi.encodePacked(acc, keccak256(data[1])));
        (,,,, nextFrame,, runningHash) = rollup.pendingBatch();
        vm.assertEq(uint256(nextFrame), 2, "pending nextFrame after frame 1");
        vm.assertEq(runningHash, acc, "pending runningHash after frame 1");
        vm.assertEq(uint256(rollup.latestBlock()), 0, "not committed after frame 1");

        vm.roll(L1_BLOCK + 2);
        bytes32 commitment = frameCommitment(data);
        vm.expectEmit(address(rollup));
        emit Rollup.FrameSubmitted(0, 2, 3, keccak256(data[2]));
        vm.expectEmit(address(rollup));
        emit Rollup.BatchCommitted(
            0, FIRST, LAST, rootOf(LAST), hashOf(LAST), commitment, L1_BLOCK + 2, 3
        );
        sendFrame(2, 3, acc, data[2]);

        vm.assertEq(uint256(rollup.latestBlock()), LAST, "latestBlock");
        vm.assertEq(rollup.batchCount(), 1, "batchCount");
        Rollup.Batch memory batch = rollup.getBatch(0);
        vm.assertEq(uint256(batch.lastBlock), LAST, "lastBlock");
        vm.assertEq(uint256(batch.l1Block), L1_BLOCK + 2, "l1Block is the last frame's");
        vm.assertEq(batch.stateRoot, rootOf(LAST), "stateRoot");
        vm.assertEq(batch.blockHash, hashOf(LAST), "blockHash");
        vm.assertEq(batch.dataCommitment, commitment, "dataCommitment");
        vm.assertEq(
            batch.dataCommitment,
            calldataCommitment(keccak256(abi.encodePacked(acc, keccak256(data[2])))),
            "commitment is the running hash with the kind byte cleared"
        );
        expectNothingPending();
    }

    function test_submitFrame_singleFrameCommitsLikeSubmitBatch() public {
        bytes memory data = randomData(1000, 11);
        Rollup other = new Rollup(OWNER, BATCHER, CHAIN_ID, GENESIS_HASH, GENESIS_ROOT);

        vm.expectEmit(address(rollup));
        emit Rollup.FrameSubmitted(0, 0, 1, keccak256(data));
        vm.expectEmit(address(rollup));
        emit Rollup.BatchCommitted(
            0,
            FIRST,
            LAST,
            rootOf(LAST),
            hashOf(LAST),
            calldataCommitment(keccak256(data)),
            L1_BLOCK,
            1
        );
        sendFrame(0, 1, bytes32(0), data);
        vm.prank(BATCHER);
        other.submitBatch(FIRST, LAST, rootOf(LAST), hashOf(LAST), data);

        vm.assertEq(
            rollup.getBatch(0).dataCommitment, other.getBatch(0).dataCommitment, "commitment"
        );
        vm.assertEq(uint256(rollup.latestBlock()), LAST, "latestBlock");
        expectNothingPending();
    }

    function test_submitFrame_batchesFollowEachOther() public {
        bytes[] memory data = frames(2, 12);
        sendFrame(0, 2, bytes32(0), data[0]);
        sendFrame(1, 2, keccak256(data[0]), data[1]);
        // The next batch, whichever way it travels, starts at LAST + 1 with index 1.
        vm.expectEmit(address(rollup));
        emit Rollup.FrameSubmitted(1, 0, 2, keccak256(data[1]));
        vm.prank(BATCHER);
        rollup.submitFrame(
            LAST + 1, LAST + 5, rootOf(LAST + 5), hashOf(LAST + 5), 0, 2, bytes32(0), data[1]
        );
        vm.prank(BATCHER);
        rollup.submitFrame(
            LAST + 1,
            LAST + 5,
            rootOf(LAST + 5),
            hashOf(LAST + 5),
            1,
            2,
            keccak256(data[1]),
            data[0]
        );
        submit(LAST + 6, LAST + 6);
        vm.assertEq(rollup.batchCount(), 3, "batchCount");
        vm.assertEq(uint256(rollup.latestBlock()), LAST + 6, "latestBlock");
        vm.assertEq(rollup.stateRootAt(LAST + 5), rootOf(LAST + 5), "stateRootAt");
    }

    // ---------------------------------------------------------------------------------------------
    // Replacement by a new frame 0
    // ---------------------------------------------------------------------------------------------

    function test_submitFrame_newFrameZeroReplacesPendingBatch() public {
        bytes[] memory old = frames(2, 20);
        sendFrame(0, 3, bytes32(0), old[0]);
        sendFrame(1, 3, runningHash(old, 1), old[1]);

        // The batcher restarted and re-encoded blocks 1..=25 into two frames.
        bytes[] memory data = frames(2, 30);
        vm.expectEmit(address(rollup));
        emit Rollup.PendingBatchDiscarded(0, FIRST, 2);
        vm.expectEmit(address(rollup));
        emit Rollup.FrameSubmitted(0, 0, 2, keccak256(data[0]));
        vm.prank(BATCHER);
        rollup.submitFrame(FIRST, 25, rootOf(25), hashOf(25), 0, 2, bytes32(0), data[0]);

        (uint64 firstBlock, uint64 lastBlock,,, uint16 nextFrame, uint16 frameCount,) =
            rollup.pendingBatch();
        vm.assertEq(uint256(firstBlock), FIRST, "firstBlock");
        vm.assertEq(uint256(lastBlock), 25, "lastBlock");
        vm.assertEq(uint256(nextFrame), 1, "nextFrame restarts");
        vm.assertEq(uint256(frameCount), 2, "frameCount");

        // A frame of the discarded batch no longer fits.
        vm.expectRevert(Rollup.FrameMismatch.selector);
        sendFrame(2, 3, runningHash(old, 2), old[1]);

        vm.expectEmit(address(rollup));
        emit Rollup.BatchCommitted(
            0, FIRST, 25, rootOf(25), hashOf(25), frameCommitment(data), L1_BLOCK, 2
        );
        vm.prank(BATCHER);
        rollup.submitFrame(FIRST, 25, rootOf(25), hashOf(25), 1, 2, keccak256(data[0]), data[1]);
        vm.assertEq(uint256(rollup.latestBlock()), 25, "latestBlock");
        expectNothingPending();
    }

    function test_submitFrame_singleFrameReplacementCommitsAndClearsPending() public {
        sendFrame(0, 4, bytes32(0), "old frame 0");
        bytes memory data = randomData(500, 21);
        vm.expectEmit(address(rollup));
        emit Rollup.PendingBatchDiscarded(0, FIRST, 1);
        vm.expectEmit(address(rollup));
        emit Rollup.FrameSubmitted(0, 0, 1, keccak256(data));
        vm.expectEmit(address(rollup));
        emit Rollup.BatchCommitted(
            0,
            FIRST,
            LAST,
            rootOf(LAST),
            hashOf(LAST),
            calldataCommitment(keccak256(data)),
            L1_BLOCK,
            1
        );
        sendFrame(0, 1, bytes32(0), data);
        expectNothingPending();
        // submitBatch works again now that nothing is pending.
        submit(LAST + 1, LAST + 1);
        vm.assertEq(uint256(rollup.latestBlock()), LAST + 1, "latestBlock");
    }

    function test_submitFrame_replacementMustStillBeContiguous() public {
        submit(1, 10);
        vm.prank(BATCHER);
        rollup.submitFrame(11, 20, rootOf(20), hashOf(20), 0, 2, bytes32(0), "frame 0");

        vm.expectRevert(abi.encodeWithSelector(Rollup.UnexpectedFirstBlock.selector, 11, 12));
        vm.prank(BATCHER);
        rollup.submitFrame(12, 20, rootOf(20), hashOf(20), 0, 2, bytes32(0), "frame 0");
        vm.expectRevert(abi.encodeWithSelector(Rollup.InvalidRange.selector, 11, 10));
        vm.prank(BATCHER);
        rollup.submitFrame(11, 10, rootOf(10), hashOf(10), 0, 2, bytes32(0), "frame 0");

        // The pending batch survived the rejected replacements.
        (uint64 firstBlock, uint64 lastBlock,,, uint16 nextFrame,,) = rollup.pendingBatch();
        vm.assertEq(uint256(firstBlock), 11, "firstBlock");
        vm.assertEq(uint256(lastBlock), 20, "lastBlock");
        vm.assertEq(uint256(nextFrame), 1, "nextFrame");
    }

    // ---------------------------------------------------------------------------------------------
    // Rejections
    // ---------------------------------------------------------------------------------------------

    function test_submitFrame_rejectsNonBatcher() public {
        vm.expectRevert(abi.encodeWithSelector(Rollup.NotBatcher.selector, STRANGER));
        vm.prank(STRANGER);
        rollup.submitFrame(FIRST, LAST, rootOf(LAST), hashOf(LAST), 0, 2, bytes32(0), "frame 0");

        sendFrame(0, 2, bytes32(0), "frame 0");
        vm.expectRevert(abi.encodeWithSelector(Rollup.NotBatcher.selector, STRANGER));
        vm.prank(STRANGER);
        rollup.submitFrame(
            FIRST, LAST, rootOf(LAST), hashOf(LAST), 1, 2, keccak256("frame 0"), "frame 1"
        );
        vm.assertEq(uint256(rollup.latestBlock()), 0, "stranger cannot finish a batch");
    }

    function test_submitFrame_rejectsZeroFrameCount() public {
        vm.expectRevert(Rollup.InvalidFrameCount.selector);
        sendFrame(0, 0, bytes32(0), "frame 0");
    }

    function test_submitFrame_rejectsEmptyData() public {
        vm.expectRevert(Rollup.EmptyData.selector);
        sendFrame(0, 2, bytes32(0), "");
        sendFrame(0, 2, bytes32(0), "frame 0");
        vm.expectRevert(Rollup.EmptyData.selector);
        sendFrame(1, 2, keccak256("frame 0"), "");
    }

    function test_submitFrame_frameZeroChecksRange() public {
        vm.expectRevert(abi.encodeWithSelector(Rollup.UnexpectedFirstBlock.selector, 1, 2));
        vm.prank(BATCHER);
        rollup.submitFrame(2, 5, rootOf(5), hashOf(5), 0, 2, bytes32(0), "frame 0");
        vm.expectRevert(abi.encodeWithSelector(Rollup.InvalidRange.selector, 1, 0));
        vm.prank(BATCHER);
        rollup.submitFrame(1, 0, rootOf(0), hashOf(0), 0, 2, bytes32(0), "frame 0");
    }

    function test_submitFrame_rejectsLaterFrameWithoutPendingBatch() public {
        bytes32 frame0 = keccak256("frame 0");
        vm.expectRevert(Rollup.NoPendingBatch.selector);
        sendFrame(1, 2, frame0, "frame 1");

        // Also after the previous batch committed.
        sendFrame(0, 2, bytes32(0), "frame 0");
        sendFrame(1, 2, frame0, "frame 1");
        vm.expectRevert(Rollup.NoPendingBatch.selector);
        sendFrame(1, 2, frame0, "frame 1");
    }

    function test_submitFrame_rejectsOutOfOrderFrames() public {
        // Every frame names the running hash the contract holds: only the index is wrong.
        bytes32 acc = keccak256("frame 0");
        sendFrame(0, 4, bytes32(0), "frame 0");
        vm.expectRevert(abi.encodeWithSelector(Rollup.FrameOutOfOrder.selector, 1, 2));
        sendFrame(2, 4, acc, "frame 2");
        sendFrame(1, 4, acc, "frame 1");
        acc = keccak256(abi.encodePacked(acc, keccak256("frame 1")));
        vm.expectRevert(abi.encodeWithSelector(Rollup.FrameOutOfOrder.selector, 2, 1));
        sendFrame(1, 4, acc, "frame 1 again");
        vm.expectRevert(abi.encodeWithSelector(Rollup.FrameOutOfOrder.selector, 2, 4));
        sendFrame(4, 4, acc, "frame past the end");
        vm.expectRevert(abi.encodeWithSelector(Rollup.FrameOutOfOrder.selector, 2, 65535));
        sendFrame(type(uint16).max, 4, acc, "frame past the end");

        (,,,, uint16 nextFrame,,) = rollup.pendingBatch();
        vm.assertEq(uint256(nextFrame), 2, "rejected frames change nothing");
    }

    function test_submitFrame_rejectsHeaderMismatch() public {
        sendFrame(0, 3, bytes32(0), "frame 0");
        bytes32 root = rootOf(LAST);
        bytes32 hash = hashOf(LAST);
        bytes32 acc = keccak256("frame 0");
        vm.startPrank(BATCHER);
        vm.expectRevert(Rollup.FrameMismatch.selector);
        rollup.submitFrame(FIRST + 1, LAST, root, hash, 1, 3, acc, "frame 1");
        vm.expectRevert(Rollup.FrameMismatch.selector);
        rollup.submitFrame(FIRST, LAST + 1, root, hash, 1, 3, acc, "frame 1");
        vm.expectRevert(Rollup.FrameMismatch.selector);
        rollup.submitFrame(FIRST, LAST, bytes32(0), hash, 1, 3, acc, "frame 1");
        vm.expectRevert(Rollup.FrameMismatch.selector);
        rollup.submitFrame(FIRST, LAST, root, bytes32(0), 1, 3, acc, "frame 1");
        vm.expectRevert(Rollup.FrameMismatch.selector);
        rollup.submitFrame(FIRST, LAST, root, hash, 1, 2, acc, "frame 1");
        // The matching frame is still accepted afterwards.
        rollup.submitFrame(FIRST, LAST, root, hash, 1, 3, acc, "frame 1");
        vm.stopPrank();
        (,,,, uint16 nextFrame,,) = rollup.pendingBatch();
        vm.assertEq(uint256(nextFrame), 2, "nextFrame");
    }

    function test_submitFrame_newBatcherFinishesPendingBatch() public {
        bytes[] memory data = frames(2, 40);
        sendFrame(0, 2, bytes32(0), data[0]);
        address next = address(0xB2);
        vm.prank(OWNER);
        rollup.setBatcher(next);

        vm.expectRevert(abi.encodeWithSelector(Rollup.NotBatcher.selector, BATCHER));
        sendFrame(1, 2, keccak256(data[0]), data[1]);

        vm.prank(next);
        rollup.submitFrame(
            FIRST, LAST, rootOf(LAST), hashOf(LAST), 1, 2, keccak256(data[0]), data[1]
        );
        vm.assertEq(rollup.getBatch(0).dataCommitment, frameCommitment(data), "commitment");
    }

    function test_submitFrame_emitsOnlyFrameEventUntilCommit() public {
        vm.recordLogs();
        sendFrame(0, 2, bytes32(0), "frame 0");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        vm.assertEq(logs.length, 1, "one log");
        vm.assertEq(logs[0].topics[0], Rollup.FrameSubmitted.selector, "FrameSubmitted");
        vm.assertEq(logs[0].topics[1], bytes32(uint256(0)), "batchIndex topic");
    }

    // ---------------------------------------------------------------------------------------------
    // Chaining: `previousHash`
    // ---------------------------------------------------------------------------------------------

    /// Two attempts at the same range with the same header (one key run twice with other frame
    /// sizes or compression): a frame of the other attempt has the right index but does not
    /// extend the frames received, so it is rejected and the pending batch is untouched.
    function test_submitFrame_rejectsFrameOfAnotherEncoding() public {
        bytes[] memory a = frames(3, 50);
        bytes[] memory b = frames(3, 60);
        sendFrame(0, 3, bytes32(0), a[0]);

        // b's frames, chained to b's earlier frames as b's batcher sends them.
        vm.expectRevert(chainMismatch(runningHash(a, 1), runningHash(b, 1)));
        sendFrame(1, 3, runningHash(b, 1), b[1]);
        sendFrame(1, 3, runningHash(a, 1), a[1]);
        vm.expectRevert(chainMismatch(runningHash(a, 2), runningHash(b, 2)));
        sendFrame(2, 3, runningHash(b, 2), b[2]);

        (,,,, uint16 nextFrame,, bytes32 running) = rollup.pendingBatch();
        vm.assertEq(uint256(nextFrame), 2, "rejected frames change nothing");
        vm.assertEq(running, runningHash(a, 2), "running hash is a's");
        sendFrame(2, 3, runningHash(a, 2), a[2]);
        vm.assertEq(rollup.getBatch(0).dataCommitment, frameCommitment(a), "a committed whole");
    }

    /// A later frame must name exactly `acc_{k-1}`: not zero, not an older running hash, not its
    /// own `acc_k`, not a bare frame hash.
    function test_submitFrame_rejectsLaterFrameWithWrongPreviousHash() public {
        bytes[] memory data = frames(3, 55);
        sendFrame(0, 3, bytes32(0), data[0]);
        sendFrame(1, 3, runningHash(data, 1), data[1]);
        bytes32 expected = runningHash(data, 2);

        vm.expectRevert(chainMismatch(expected, bytes32(0)));
        sendFrame(2, 3, bytes32(0), data[2]);
        vm.expectRevert(chainMismatch(expected, runningHash(data, 1)));
        sendFrame(2, 3, runningHash(data, 1), data[2]);
        vm.expectRevert(chainMismatch(expected, runningHash(data, 3)));
        sendFrame(2, 3, runningHash(data, 3), data[2]);
        vm.expectRevert(chainMismatch(expected, keccak256(data[1])));
        sendFrame(2, 3, keccak256(data[1]), data[2]);

        sendFrame(2, 3, expected, data[2]);
        vm.assertEq(rollup.getBatch(0).dataCommitment, frameCommitment(data), "commitment");
    }

    /// Frame 0 has no predecessor: its `previousHash` must be zero, also when it would replace a
    /// pending batch (naming that batch's running hash does not continue it).
    function test_submitFrame_frameZeroRejectsNonZeroPreviousHash() public {
        bytes32 one = bytes32(uint256(1));
        vm.expectRevert(chainMismatch(bytes32(0), one));
        sendFrame(0, 2, one, "frame 0");
        vm.expectRevert(chainMismatch(bytes32(0), one));
        sendFrame(0, 1, one, "frame 0");
        expectNothingPending();
        vm.assertEq(rollup.batchCount(), 0, "nothing committed");

        sendFrame(0, 3, bytes32(0), "frame 0");
        bytes32 acc = keccak256("frame 0");
        vm.expectRevert(chainMismatch(bytes32(0), acc));
        sendFrame(0, 3, acc, "another frame 0");
        vm.expectRevert(chainMismatch(bytes32(0), acc));
        sendFrame(0, 1, acc, "a one-frame batch");

        (,,,, uint16 nextFrame, uint16 frameCount, bytes32 running) = rollup.pendingBatch();
        vm.assertEq(uint256(nextFrame), 1, "pending batch survives");
        vm.assertEq(uint256(frameCount), 3, "frameCount");
        vm.assertEq(running, acc, "runningHash");
    }

    /// The chain is checked after every other check of the frame (the documented order).
    function test_submitFrame_chainIsCheckedAfterTheOtherChecks() public {
        bytes32 bad = keccak256("not a running hash");
        // NotBatcher and EmptyData come first of all.
        vm.expectRevert(abi.encodeWithSelector(Rollup.NotBatcher.selector, STRANGER));
        vm.prank(STRANGER);
        rollup.submitFrame(FIRST, LAST, rootOf(LAST), hashOf(LAST), 0, 2, bad, "frame 0");
        vm.expectRevert(Rollup.EmptyData.selector);
        sendFrame(0, 2, bad, "");
        // Frame 0: after InvalidFrameCount and the range checks.
        vm.expectRevert(Rollup.InvalidFrameCount.selector);
        sendFrame(0, 0, bad, "frame 0");
        vm.expectRevert(abi.encodeWithSelector(Rollup.UnexpectedFirstBlock.selector, 1, 2));
        vm.prank(BATCHER);
        rollup.submitFrame(2, 5, rootOf(5), hashOf(5), 0, 2, bad, "frame 0");
        vm.expectRevert(abi.encodeWithSelector(Rollup.InvalidRange.selector, 1, 0));
        vm.prank(BATCHER);
        rollup.submitFrame(1, 0, rootOf(0), hashOf(0), 0, 2, bad, "frame 0");
        // Later frames: after NoPendingBatch, FrameMismatch and FrameOutOfOrder.
        vm.expectRevert(Rollup.NoPendingBatch.selector);
        sendFrame(1, 2, bad, "frame 1");
        sendFrame(0, 3, bytes32(0), "frame 0");
        vm.expectRevert(Rollup.FrameMismatch.selector);
        sendFrame(1, 2, bad, "frame 1");
        vm.expectRevert(abi.encodeWithSelector(Rollup.FrameOutOfOrder.selector, 1, 2));
        sendFrame(2, 3, bad, "frame 2");
        vm.expectRevert(chainMismatch(keccak256("frame 0"), bad));
        sendFrame(1, 3, bad, "frame 1");
    }

    /// Two batchers with the same key post the same range in three frames each, a's frame 0
    /// first. Without the chain, a0 b1 b2 would commit frames that do not decode together.
    function test_submitFrame_interleavedAttemptsCommitOneWholeAttempt() public {
        bytes[] memory a = frames(3, 70);
        bytes[] memory b = frames(3, 80);
        sendFrame(0, 3, bytes32(0), a[0]);
        vm.expectRevert(chainMismatch(runningHash(a, 1), runningHash(b, 1)));
        sendFrame(1, 3, runningHash(b, 1), b[1]);
        vm.expectRevert(abi.encodeWithSelector(Rollup.FrameOutOfOrder.selector, 1, 2));
        sendFrame(2, 3, runningHash(b, 2), b[2]);
        vm.assertEq(rollup.batchCount(), 0, "nothing committed from a mix");

        sendFrame(1, 3, runningHash(a, 1), a[1]);
        sendFrame(2, 3, runningHash(a, 2), a[2]);
        vm.assertEq(rollup.getBatch(0).dataCommitment, frameCommitment(a), "a committed whole");
    }

    // ---------------------------------------------------------------------------------------------
    // Fuzz
    // ---------------------------------------------------------------------------------------------

    /// Any frame count from 1 to 12 with arbitrary frame contents commits the documented hash.
    function testFuzz_submitFrame_commitmentFollowsFormula(uint8 countSeed, uint256 seed) public {
        uint16 count = uint16(bound(countSeed, 1, 12));
        bytes[] memory data = new bytes[](count);
        for (uint16 i = 0; i < count; i++) {
            data[i] = randomData(1 + (uint256(keccak256(abi.encode(seed, i))) % 200), seed ^ i);
            sendFrame(i, count, runningHash(data, i), data[i]);
        }
        vm.assertEq(rollup.getBatch(0).dataCommitment, frameCommitment(data), "commitment");
        vm.assertEq(uint256(rollup.latestBlock()), LAST, "latestBlock");
        expectNothingPending();
    }

    /// Two attempts at the same range with the same header (one batcher key run twice with other
    /// settings) each send their frames in order, chained to their own, interleaved in any order:
    /// what commits is always one whole attempt, never a mix. In half the runs both attempts share
    /// frame 0 (identical data up to the first frame boundary), so frame 1 of either may follow.
    function testFuzz_submitFrame_interleavedAttemptsNeverMix(
        uint8 countSeed,
        uint256 schedule,
        uint256 seed
    ) public {
        uint16 count = uint16(bound(countSeed, 2, 6));
        // `frames` adds the frame index to its seed: keep it clear of overflow.
        bytes[] memory a = frames(count, seed >> 8);
        bytes[] memory b = frames(count, uint256(keccak256(abi.encode(seed))) >> 8);
        if (seed & 1 == 0) b[0] = a[0];
        uint16[2] memory next;
        for (uint256 step = 0; next[0] < count || next[1] < count; step++) {
            uint256 who;
            if (next[0] == count) who = 1;
            else if (next[1] == count) who = 0;
            else who = (schedule >> step) & 1;
            bytes[] memory mine = who == 0 ? a : b;
            uint16 i = next[who]++;
            bytes32 previousHash = runningHash(mine, i);
            vm.prank(BATCHER);
            try rollup.submitFrame(
                FIRST, LAST, rootOf(LAST), hashOf(LAST), i, count, previousHash, mine[i]
            ) {}
                catch {}
        }
        // The attempt whose frame 0 landed last has all its later frames accepted after it.
        vm.assertEq(rollup.batchCount(), 1, "one batch");
        bytes32 commitment = rollup.getBatch(0).dataCommitment;
        vm.assertTrue(
            commitment == frameCommitment(a) || commitment == frameCommitment(b),
            "the committed batch is one whole attempt"
        );
    }
}
