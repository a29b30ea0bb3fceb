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

    // What happened.
    uint64[] public committedFirst;
    uint64[] public committedLast;
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
        if (ok) commit(first, last);
    }

    /// A frame: opens a new batch, continues the pending one in order, or is corrupted.
    function submitFrame(uint256 seed, uint8 len, uint8 dataLen) external {
        address sender = pickSender(seed);
        uint256 mode = (seed >> 8) % 8;
        bytes memory data = (seed >> 24) % 32 == 0 ? bytes("") : payload(seed, dataLen);

        uint64 first;
        uint64 last;
        uint16 index;
        uint16 count;
        if (mode <= 2 || !pendingActive) {
            // Frame 0 of a new (possibly replacing) batch.
            first = pickFirst(seed >> 16);
            last = pickLast(seed >> 32, first, len);
            count = uint16((seed >> 40) % 5); // 0 is invalid
            index = mode == 7 ? 1 : 0; // occasionally a later frame with nothing pending
        } else {
            first = pendingFirst;
            last = pendingLast;
            count = pendingCount;
            index = pendingNext;
            if (mode == 6) index = uint16((seed >> 48) % 6); // any order
            if (mode == 7) last = last + 1; // header mismatch
        }

        bytes memory expected;
        if (sender != batcher) {
            expected = abi.encodeWithSelector(Rollup.NotBatcher.selector, sender);
        } else if (data.length == 0) {
            expected = abi.encodeWithSelector(Rollup.EmptyData.selector);
        } else if (index == 0) {
            expected = count == 0
                ? abi.encodeWithSelector(Rollup.InvalidFrameCount.selector)
                : rangeError(first, last);
        } else if (!pendingActive) {
            expected = abi.encodeWithSelector(Rollup.NoPendingBatch.selector);
        } else if (first != pendingFirst || last != pendingLast || count != pendingCount) {
            expected = abi.encodeWithSelector(Rollup.FrameMismatch.selector);
        } else if (index != pendingNext) {
            expected = abi.encodeWithSelector(Rollup.FrameOutOfOrder.selector, pendingNext, index);
        }

        bool ok = run(
            sender,
            abi.encodeCall(
                Rollup.submitFrame,
                (first, last, keccak256(abi.encode(last)), bytes32(0), index, count, data)
            ),
            expected
        );
        if (!ok) return;
        if (index == 0) {
            pendingActive = true;
            pendingFirst = first;
            pendingLast = last;
            pendingCount = count;
            pendingNext = 0;
        }
        pendingNext++;
        if (pendingNext == pendingCount) {
            pendingActive = false;
            commit(first, last);
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

    function commit(uint64 first, uint64 last) internal {
        committedFirst.push(first);
        committedLast.push(last);
        latest = last;
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
    /// stores exactly the batches the handler saw commit.
    function invariant_rangesAreContiguousFromGenesis() public view {
        uint256 count = rollup.batchCount();
        vm.assertEq(count, handler.committedCount(), "batchCount");
        uint64 previousLast = 0;
        for (uint256 i = 0; i < count; i++) {
            uint64 first = handler.committedFirst(i);
            uint64 last = handler.committedLast(i);
            vm.assertEq(uint256(first), uint256(previousLast) + 1, "first = previous last + 1");
            vm.assertTrue(last >= first, "non-empty range");
            vm.assertEq(uint256(rollup.getBatch(i).lastBlock), last, "stored lastBlock");
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

    /// The pending batch, if any, always starts right after latestBlock.
    function invariant_pendingBatchStartsAfterLatest() public view {
        (uint64 firstBlock,,,, uint16 nextFrame, uint16 frameCount,) = rollup.pendingBatch();
        if (nextFrame == 0) return;
        vm.assertEq(uint256(firstBlock), uint256(rollup.latestBlock()) + 1, "pending first");
        vm.assertLt(nextFrame, frameCount, "pending batch is incomplete");
    }
}
