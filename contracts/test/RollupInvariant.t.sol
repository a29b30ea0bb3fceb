// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {Rollup} from "../src/Rollup.sol";
import {RollupFixture} from "./utils/RollupFixture.sol";
import {Vm} from "./utils/Vm.sol";

/// @notice Drives a `Rollup` with random valid and invalid submissions, predicts each outcome with
/// a small model of the contract's rules, and records every committed range.
contract RollupHandler {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    Rollup public immutable rollup;
    address public immutable owner;
    address[3] internal batchers = [address(0xBA7C4E5), address(0xB2), address(0xB3)];

    // Model of the contract.
    address public batcher;
    uint64 public latest;
    bool internal pendingActive;
    uint64 internal pendingFirst;
    uint64 internal pendingLast;
    uint16 internal pendingCount;
    uint16 internal pendingNext;
    /// Running hash `acc` over the pending batch's frames received (zero when none is pending).
    bytes32 public pendingRunning;

    // What happened.
    uint64[] public committedFirst;
    uint64[] public committedLast;
    bytes32[] public committedCommitment;
    uint256 public calls;
    uint256 public rejected;
    /// Calls whose outcome (success, or the exact revert data) differed from the model's.
    uint256 public surprises;
    bytes public lastSurprise;

    constructor(Rollup rollup_, address owner_) {
        rollup = rollup_;
        owner = owner_;
        batcher = rollup_.batcher();
    }

    function committedCount() external view returns (uint256) {
        return committedFirst.length;
    }

    // ---------------------------------------------------------------------------------------------
    // Fuzzed entry points
    // ---------------------------------------------------------------------------------------------

    /// A single-transaction batch, usually valid, sometimes off by a block, empty, inverted or
    /// from the wrong sender.
    function submitBatch(uint256 seed, uint8 len, uint8 dataLen) external {
        address sender = pickSender(seed);
        uint64 first = pickFirst(seed >> 8);
        uint64 last = pickLast(seed >> 16, first, len);
        bytes memory data = (seed >> 24) % 16 == 0 ? bytes("") : payload(seed, dataLen);

        bytes memory expected;
        if (sender != batcher) {
            expected = abi.encodeWithSelector(Rollup.NotBatcher.selector, sender);
        } else if (pendingActive) {
            expected = abi.encodeWithSelector(Rollup.PendingBatchExists.selector);
        } else {
            expected = rangeError(first, last);
            if (expected.length == 0 && data.length == 0) {
                expected = abi.encodeWithSelector(Rollup.EmptyData.selector);
            }
        }

        bool ok = run(
            sender,
            abi.encodeCall(
                Rollup.submitBatch, (first, last, keccak256(abi.encode(last)), bytes32(seed), data)
            ),
            expected
        );
        if (ok) commit(first, last, calldataCommitment(keccak256(data)));
    }

    /// A frame: opens a new batch, continues the pending one in order, or is corrupted (wrong
    /// header, order or previous hash).
    function submitFrame(uint256 seed, uint8 len, uint8 dataLen) external {
        address sender = pickSender(seed);
        FrameCall memory f = pickFrame(seed, len, dataLen);
        bool ok = run(
            sender,
            abi.encodeCall(
                Rollup.submitFrame,
                (
                    f.first,
                    f.last,
                    keccak256(abi.encode(f.last)),
                    bytes32(0),
                    f.index,
                    f.count,
                    f.previousHash,
                    f.data
                )
            ),
            frameError(sender, f)
        );
        if (!ok) return;
        bytes32 frameHash = keccak256(f.data);
        if (f.index == 0) {
            pendingActive = true;
            pendingFirst = f.first;
            pendingLast = f.last;
            pendingCount = f.count;
            pendingNext = 0;
            pendingRunning = frameHash;
        } else {
            pendingRunning = keccak256(abi.encodePacked(pendingRunning, frameHash));
        }
        pendingNext++;
        if (pendingNext == pendingCount) {
            commit(f.first, f.last, calldataCommitment(pendingRunning));
            pendingActive = false;
            pendingRunning = 0;
        }
    }

    /// The owner rotates the batcher among three accounts.
    function rotateBatcher(uint8 which) external {
        address next = batchers[which % batchers.length];
        vm.prank(owner);
        rollup.setBatcher(next);
        batcher = next;
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------

    /// The arguments of a `submitFrame` call (the state root and block hash follow from them).
    struct FrameCall {
        uint64 first;
        uint64 last;
        uint16 index;
        uint16 count;
        bytes32 previousHash;
        bytes data;
    }

    function pickFrame(uint256 seed, uint8 len, uint8 dataLen)
        internal
        view
        returns (FrameCall memory f)
    {
        uint256 mode = (seed >> 8) % 8;
        f.data = (seed >> 24) % 32 == 0 ? bytes("") : payload(seed, dataLen);
        // Occasionally a frame of another encoding of the range: it does not chain.
        bool unchained = (seed >> 56) % 8 == 0;
        if (mode <= 2 || !pendingActive) {
            // Frame 0 of a new (possibly replacing) batch.
            f.first = pickFirst(seed >> 16);
            f.last = pickLast(seed >> 32, f.first, len);
            f.count = uint16((seed >> 40) % 5); // 0 is invalid
            f.index = mode == 7 ? 1 : 0; // occasionally a later frame with nothing pending
            if (unchained) {
                // Chained to the pending frames, or to anything: frame 0 must name zero.
                f.previousHash = pendingActive && (seed >> 60) % 2 == 0
                    ? pendingRunning
                    : keccak256(abi.encode("unchained", seed));
            }
        } else {
            f.first = pendingFirst;
            f.last = pendingLast;
            f.count = pendingCount;
            f.index = pendingNext;
            f.previousHash = pendingRunning;
            if (mode == 6) f.index = uint16((seed >> 48) % 6); // any order
            if (mode == 7) f.last = f.last + 1; // header mismatch
            if (unchained) f.previousHash = keccak256(abi.encode(pendingRunning, seed));
        }
    }

    /// The revert data the rules predict for frame `f` from `sender`; empty for success.
    function frameError(address sender, FrameCall memory f)
        internal
        view
        returns (bytes memory expected)
    {
        if (sender != batcher) {
            expected = abi.encodeWithSelector(Rollup.NotBatcher.selector, sender);
        } else if (f.data.length == 0) {
            expected = abi.encodeWithSelector(Rollup.EmptyData.selector);
        } else if (f.index == 0) {
            expected = f.count == 0
                ? abi.encodeWithSelector(Rollup.InvalidFrameCount.selector)
                : rangeError(f.first, f.last);
            if (expected.length == 0 && f.previousHash != 0) {
                expected =
                    abi.encodeWithSelector(Rollup.FrameChainMismatch.selector, 0, f.previousHash);
            }
        } else if (!pendingActive) {
            expected = abi.encodeWithSelector(Rollup.NoPendingBatch.selector);
        } else if (f.first != pendingFirst || f.last != pendingLast || f.count != pendingCount) {
            expected = abi.encodeWithSelector(Rollup.FrameMismatch.selector);
        } else if (f.index != pendingNext) {
            expected = abi.encodeWithSelector(Rollup.FrameOutOfOrder.selector, pendingNext, f.index);
        } else if (f.previousHash != pendingRunning) {
            expected = abi.encodeWithSelector(
                Rollup.FrameChainMismatch.selector, pendingRunning, f.previousHash
            );
        }
    }

    function pickSender(uint256 seed) internal view returns (address) {
        uint256 r = seed % 16;
        if (r == 0) return address(uint160(uint256(keccak256(abi.encode(seed)))));
        if (r == 1) return owner;
        if (r == 2) return batchers[(seed >> 4) % batchers.length];
        return batcher;
    }

    function pickFirst(uint256 seed) internal view returns (uint64) {
        uint256 r = seed % 16;
        if (r == 0) return latest; // overlap (block 0 at genesis)
        if (r == 1) return latest + 2; // gap
        return latest + 1;
    }

    function pickLast(uint256 seed, uint64 first, uint8 len) internal pure returns (uint64) {
        if (seed % 16 == 0 && first > 0) return first - 1; // inverted range
        return first + (len % 32);
    }

    function payload(uint256 seed, uint8 dataLen) internal pure returns (bytes memory) {
        return abi.encodePacked(keccak256(abi.encode(seed)), new bytes(dataLen));
    }

    function rangeError(uint64 first, uint64 last) internal view returns (bytes memory) {
        if (first != latest + 1) {
            return abi.encodeWithSelector(Rollup.UnexpectedFirstBlock.selector, latest + 1, first);
        }
        if (last < first) return abi.encodeWithSelector(Rollup.InvalidRange.selector, first, last);
        return "";
    }

    /// Calls the rollup as `sender`; `expected` is the revert data, empty for success.
    function run(address sender, bytes memory callData, bytes memory expected)
        internal
        returns (bool ok)
    {
        calls++;
        bytes memory ret;
        vm.prank(sender);
        (ok, ret) = address(rollup).call(callData);
        if (!ok) rejected++;
        bool asExpected = expected.length == 0 ? ok : (!ok && keccak256(ret) == keccak256(expected));
        if (!asExpected) {
            surprises++;
            lastSurprise = abi.encode(callData, ret, expected);
        }
    }

    function commit(uint64 first, uint64 last, bytes32 commitment) internal {
        committedFirst.push(first);
        committedLast.push(last);
        committedCommitment.push(commitment);
        latest = last;
    }

    /// The documented kind-0x00 commitment of `h`: `h` with its first byte cleared.
    function calldataCommitment(bytes32 h) internal pure returns (bytes32) {
        return bytes32(uint256(h) & (type(uint256).max >> 8));
    }
}

/// @notice Invariants over random call sequences.
contract RollupInvariantTest is RollupFixture {
    RollupHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new RollupHandler(rollup, OWNER);
        targetContract(address(handler));
    }

    /// Committed ranges tile the L2 chain from block 1 with no gap or overlap, and the contract
    /// stores exactly the batches the handler saw commit, with the commitment of the data the
    /// model chained (a frame of another encoding never enters it).
    function invariant_rangesAreContiguousFromGenesis() public view {
        uint256 count = rollup.batchCount();
        vm.assertEq(count, handler.committedCount(), "batchCount");
        uint64 previousLast = 0;
        for (uint256 i = 0; i < count; i++) {
            uint64 first = handler.committedFirst(i);
            uint64 last = handler.committedLast(i);
            vm.assertEq(uint256(first), uint256(previousLast) + 1, "first = previous last + 1");
            vm.assertTrue(last >= first, "non-empty range");
            Rollup.Batch memory batch = rollup.getBatch(i);
            vm.assertEq(uint256(batch.lastBlock), last, "stored lastBlock");
            vm.assertEq(batch.dataCommitment, handler.committedCommitment(i), "commitment");
            previousLast = last;
        }
    }

    /// latestBlock is the last batch's lastBlock (0 with no batch).
    function invariant_latestBlockIsLastBatchEnd() public view {
        uint256 count = rollup.batchCount();
        uint64 expected = count == 0 ? 0 : rollup.getBatch(count - 1).lastBlock;
        vm.assertEq(uint256(rollup.latestBlock()), expected, "latestBlock");
        vm.assertEq(uint256(handler.latest()), expected, "model latest");
    }

    /// Every call succeeded or failed exactly as the rules predict (including the error data).
    function invariant_everyOutcomeMatchesTheRules() public view {
        vm.assertEq(handler.surprises(), 0, "unexpected outcome; see handler.lastSurprise()");
    }

    /// The pending batch, if any, always starts right after latestBlock, and its running hash is
    /// the model's (the chain the next frame must name).
    function invariant_pendingBatchStartsAfterLatest() public view {
        (uint64 firstBlock,,,, uint16 nextFrame, uint16 frameCount, bytes32 runningHash) =
            rollup.pendingBatch();
        vm.assertEq(runningHash, handler.pendingRunning(), "pending runningHash");
        if (nextFrame == 0) return;
        vm.assertEq(uint256(firstBlock), uint256(rollup.latestBlock()) + 1, "pending first");
        vm.assertLt(nextFrame, frameCount, "pending batch is incomplete");
    }
}
