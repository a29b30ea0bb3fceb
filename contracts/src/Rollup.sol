// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

/// @title Rollup
/// @notice Settlement contract of one L2 chain on L1. The configured batcher submits the next
/// contiguous range of L2 blocks together with the state root and block hash after its last block
/// and a commitment to the batch data. Readers need only this contract's logs and the
/// transactions that emitted them to find every batch.
///
/// @dev Architecture invariants, enforced in `_checkRange`, `_commit` and `submitFrame`:
/// - Genesis is L2 block 0 and is not a batch. Batch 0 starts at L2 block 1, and batch `i` starts
///   at `getBatch(i - 1).lastBlock + 1`: committed ranges are contiguous, with no gap or overlap.
/// - `latestBlock()` is the last block of the last batch (0 before the first batch).
/// - At most one frame batch is pending. While one is pending, `latestBlock()` cannot move:
///   `submitBatch` is rejected, and only the pending batch's last frame, or a new frame 0, moves on.
/// - Frames are chained: frame `k > 0` names `acc_{k-1}` (below) as its `previousHash`, the hash
///   of exactly the frames its encoder sent before it, so a batch commits the frames of one
///   encoding only. Two attempts at the same range (same header, other frame sizes or
///   compression) cannot interleave: a frame of the other attempt does not chain.
///
/// Data commitment: a bytes32 whose most significant byte is the data kind.
/// - kind 0x00 (`DATA_KIND_CALLDATA`): `h` with its first byte cleared, where
///   `h = keccak256(data)` for `submitBatch`, and for frames `acc_0 = keccak256(frame_0)`,
///   `acc_i = keccak256(abi.encodePacked(acc_{i-1}, keccak256(frame_i)))`, `h = acc_{n-1}`.
///   A one-frame `submitFrame` thus commits exactly as `submitBatch` does.
/// - kind 0x01 (`DATA_KIND_BLOB`): reserved for blob-carried batches; the commitment will be the
///   EIP-4844 versioned hash, which starts with 0x01. Not accepted yet.
///
/// Finding a batch's data: the `BatchCommitted` log's transaction carries the data (for frames,
/// its last frame). For a batch of `n > 1` frames, its frames are the last `FrameSubmitted` logs
/// with frame indexes `0..n-1` and the batch's index, up to that transaction; frames of a batch
/// that a new frame 0 replaced are announced by `PendingBatchDiscarded` and must be skipped.
contract Rollup {
    /// @notice A committed batch. Packed into 4 storage slots.
    /// @param lastBlock Last L2 block of the batch (its first is the previous batch's + 1).
    /// @param l1Block L1 block number in which the batch committed.
    /// @param stateRoot L2 state root after `lastBlock`.
    /// @param blockHash L2 block hash of `lastBlock`.
    /// @param dataCommitment Commitment to the batch data, kind in its first byte.
    struct Batch {
        uint64 lastBlock;
        uint64 l1Block;
        bytes32 stateRoot;
        bytes32 blockHash;
        bytes32 dataCommitment;
    }

    /// @dev Header and running hash of a multi-frame batch still waiting for frames.
    struct PendingBatch {
        uint64 firstBlock;
        uint64 lastBlock;
        uint16 frameCount;
        bytes32 stateRoot;
        bytes32 blockHash;
        bytes32 runningHash;
    }

    /// @notice Data kind byte of a commitment to data carried in calldata.
    uint8 public constant DATA_KIND_CALLDATA = 0x00;
    /// @notice Data kind byte reserved for blob-carried batches (EIP-4844 versioned hash).
    uint8 public constant DATA_KIND_BLOB = 0x01;

    /// @dev Clears a commitment's kind byte.
    uint256 private constant KIND_MASK = type(uint256).max >> 8;

    /// @notice Chain id of the L2 this contract settles.
    uint64 public immutable l2ChainId;
    /// @notice Hash of L2 block 0.
    bytes32 public immutable genesisBlockHash;
    /// @notice State root of L2 block 0.
    bytes32 public immutable genesisStateRoot;

    // Slot 0: everything a submission reads (one cold SLOAD).
    /// @notice The only account allowed to submit batches and frames.
    address public batcher;
    /// @notice Last L2 block committed (0 = only genesis).
    uint64 public latestBlock;
    /// @dev Frames received of the pending batch; 0 when none is pending.
    uint16 private _framesReceived;

    /// @notice Account allowed to rotate the batcher and transfer ownership.
    address public owner;
    /// @notice Account that may accept ownership (two-step transfer); zero when none.
    address public pendingOwner;

    Batch[] private _batches;
    PendingBatch private _pending;

    /// @notice A batch committed: its data is complete and its range is final.
    /// @param batchIndex Index of the batch (0 = first batch after genesis).
    /// @param firstBlock First L2 block of the batch.
    /// @param lastBlock Last L2 block of the batch.
    /// @param stateRoot L2 state root after `lastBlock`.
    /// @param blockHash L2 block hash of `lastBlock`.
    /// @param dataCommitment Commitment to the batch data (kind in its first byte).
    /// @param l1Block L1 block number of the commit.
    /// @param frameCount Number of L1 transactions that carried the data (1 for `submitBatch`).
    event BatchCommitted(
        uint256 indexed batchIndex,
        uint64 indexed firstBlock,
        uint64 lastBlock,
        bytes32 stateRoot,
        bytes32 blockHash,
        bytes32 dataCommitment,
        uint64 l1Block,
        uint16 frameCount
    );

    /// @notice A frame of a multi-transaction batch was accepted (emitted by `submitFrame` only).
    /// @param batchIndex Index the batch gets when it commits.
    /// @param frameIndex Position of this frame in the batch.
    /// @param frameCount Number of frames in the batch.
    /// @param frameHash keccak256 of this frame's data.
    event FrameSubmitted(
        uint256 indexed batchIndex, uint16 frameIndex, uint16 frameCount, bytes32 frameHash
    );

    /// @notice A new frame 0 replaced a pending batch (the batcher restarted and re-encoded).
    /// @param batchIndex Index the discarded batch would have had (the replacement gets it).
    /// @param firstBlock First L2 block of the discarded batch.
    /// @param framesReceived Frames of the discarded batch that had landed.
    event PendingBatchDiscarded(
        uint256 indexed batchIndex, uint64 firstBlock, uint16 framesReceived
    );

    /// @notice The batcher changed (also emitted by the constructor, from the zero address).
    event BatcherChanged(address indexed previousBatcher, address indexed newBatcher);
    /// @notice `owner` proposed `newOwner`; the zero address cancels a proposal.
    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
    /// @notice Ownership moved (also emitted by the constructor, from the zero address).
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// @notice The caller is not the batcher.
    error NotBatcher(address caller);
    /// @notice The caller is not the owner.
    error NotOwner(address caller);
    /// @notice The caller is not the pending owner.
    error NotPendingOwner(address caller);
    /// @notice A zero address was given where an account is required.
    error ZeroAddress();
    /// @notice The batch does not start right after `latestBlock()`.
    error UnexpectedFirstBlock(uint64 expected, uint64 got);
    /// @notice The batch ends before it starts.
    error InvalidRange(uint64 first, uint64 last);
    /// @notice The batch or frame carries no data.
    error EmptyData();
    /// @notice A frame 0 announced zero frames.
    error InvalidFrameCount();
    /// @notice A frame with index > 0 arrived while no batch is pending.
    error NoPendingBatch();
    /// @notice A frame's header differs from the pending batch's.
    error FrameMismatch();
    /// @notice A frame arrived out of order.
    error FrameOutOfOrder(uint16 expected, uint16 got);
    /// @notice A frame's `previousHash` is not the running hash of the frames before it: zero for
    /// frame 0, `acc_{k-1}` (the pending batch's `runningHash`) for frame `k > 0`. The frame
    /// belongs to another encoding of the range (or to none).
    error FrameChainMismatch(bytes32 expected, bytes32 got);
    /// @notice `submitBatch` was called while a frame batch is pending.
    error PendingBatchExists();
    /// @notice The L2 block is beyond `latestBlock()`.
    error BlockNotCommitted(uint64 l2Block);
    /// @notice The L2 block is committed but is not the last block of a batch, so this contract
    /// holds no state root or block hash for it.
    error NotBatchBoundary(uint64 l2Block, uint64 batchLastBlock);
    /// @notice Genesis (L2 block 0) belongs to no batch.
    error GenesisNotInBatch();
    /// @notice No batch has this index.
    error BatchNotFound(uint256 index);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    /// @param initialOwner Owner (rotates the batcher, transfers ownership).
    /// @param initialBatcher Batcher (the only submitter).
    /// @param chainId Chain id of the L2 (`l2ChainId()`).
    /// @param genesisHash Hash of L2 block 0 (`genesisBlockHash()`).
    /// @param genesisRoot State root of L2 block 0 (`genesisStateRoot()`).
    constructor(
        address initialOwner,
        address initialBatcher,
        uint64 chainId,
        bytes32 genesisHash,
        bytes32 genesisRoot
    ) {
        if (initialOwner == address(0) || initialBatcher == address(0)) {
            revert ZeroAddress();
        }
        owner = initialOwner;
        batcher = initialBatcher;
        l2ChainId = chainId;
        genesisBlockHash = genesisHash;
        genesisStateRoot = genesisRoot;
        emit OwnershipTransferred(address(0), initialOwner);
        emit BatcherChanged(address(0), initialBatcher);
    }

    // ---------------------------------------------------------------------------------------------
    // Submission
    // ---------------------------------------------------------------------------------------------

    /// @notice Commits blocks `firstBlock..=lastBlock` whose batch data is `data` (one transaction).
    /// @dev Commitment: kind 0x00, `keccak256(data)` with its first byte cleared. Emits
    /// `BatchCommitted` with `frameCount = 1`. Checks, in order: `NotBatcher`,
    /// `PendingBatchExists` (finish or replace the frame batch first: a frame 0 with
    /// `frameCount = 1` replaces it), `UnexpectedFirstBlock`, `InvalidRange`, `EmptyData`.
    function submitBatch(
        uint64 firstBlock,
        uint64 lastBlock,
        bytes32 stateRoot,
        bytes32 blockHash,
        bytes calldata data
    ) external {
        _checkBatcher();
        if (_framesReceived != 0) revert PendingBatchExists();
        _checkRange(firstBlock, lastBlock);
        if (data.length == 0) revert EmptyData();
        _commit(
            firstBlock, lastBlock, stateRoot, blockHash, _calldataCommitment(keccak256(data)), 1
        );
    }

    /// @notice Submits frame `frameIndex` of a batch of `frameCount` frames; the batch commits when
    /// its last frame lands.
    /// @dev `previousHash` chains the frame to the frames before it: zero for frame 0, and for
    /// frame `k > 0` the running hash `acc_{k-1}` over frames `0..k-1` (`pendingBatch()`'s
    /// `runningHash`). It does not enter the commitment. Checks, in order: `NotBatcher`,
    /// `EmptyData`; then for frame 0 `InvalidFrameCount`, `UnexpectedFirstBlock`, `InvalidRange`,
    /// `FrameChainMismatch` (non-zero `previousHash`); for a frame with index > 0
    /// `NoPendingBatch`, `FrameMismatch` (the header must repeat the pending batch's exactly),
    /// `FrameOutOfOrder` (it must come next), `FrameChainMismatch` (it must extend the frames
    /// received). Frame 0 opens a pending batch; a frame 0 while a batch is pending replaces it
    /// and emits `PendingBatchDiscarded` first. Every accepted frame emits `FrameSubmitted`; the
    /// last one also emits `BatchCommitted`.
    function submitFrame(
        uint64 firstBlock,
        uint64 lastBlock,
        bytes32 stateRoot,
        bytes32 blockHash,
        uint16 frameIndex,
        uint16 frameCount,
        bytes32 previousHash,
        bytes calldata data
    ) external {
        _checkBatcher();
        if (data.length == 0) revert EmptyData();
        bytes32 frameHash = keccak256(data);
        uint256 batchIndex = _batches.length;
        uint16 received = _framesReceived;

        if (frameIndex == 0) {
            if (frameCount == 0) revert InvalidFrameCount();
            _checkRange(firstBlock, lastBlock);
            if (previousHash != 0) revert FrameChainMismatch(0, previousHash);
            if (received != 0) {
                emit PendingBatchDiscarded(batchIndex, _pending.firstBlock, received);
            }
            emit FrameSubmitted(batchIndex, 0, frameCount, frameHash);
            if (frameCount == 1) {
                if (received != 0) {
                    delete _pending;
                    _framesReceived = 0;
                }
                _commit(
                    firstBlock, lastBlock, stateRoot, blockHash, _calldataCommitment(frameHash), 1
                );
            } else {
                _pending = PendingBatch({
                    firstBlock: firstBlock,
                    lastBlock: lastBlock,
                    frameCount: frameCount,
                    stateRoot: stateRoot,
                    blockHash: blockHash,
                    runningHash: frameHash
                });
                _framesReceived = 1;
            }
            return;
        }

        if (received == 0) revert NoPendingBatch();
        PendingBatch storage pending = _pending;
        if (
            pending.firstBlock != firstBlock || pending.lastBlock != lastBlock
                || pending.frameCount != frameCount || pending.stateRoot != stateRoot
                || pending.blockHash != blockHash
        ) revert FrameMismatch();
        // `received < frameCount` holds here, so this also rejects `frameIndex >= frameCount`.
        if (frameIndex != received) revert FrameOutOfOrder(received, frameIndex);
        bytes32 previous = pending.runningHash;
        if (previousHash != previous) revert FrameChainMismatch(previous, previousHash);

        bytes32 runningHash = keccak256(abi.encodePacked(previous, frameHash));
        emit FrameSubmitted(batchIndex, frameIndex, frameCount, frameHash);
        if (frameIndex + 1 == frameCount) {
            delete _pending;
            _framesReceived = 0;
            _commit(
                firstBlock,
                lastBlock,
                stateRoot,
                blockHash,
                _calldataCommitment(runningHash),
                frameCount
            );
        } else {
            pending.runningHash = runningHash;
            _framesReceived = received + 1;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Administration
    // ---------------------------------------------------------------------------------------------

    /// @notice Rotates the batcher; the previous one is rejected from the next call on. A pending
    /// frame batch stays pending: the new batcher may finish it or replace it with a frame 0.
    function setBatcher(address newBatcher) external onlyOwner {
        if (newBatcher == address(0)) revert ZeroAddress();
        emit BatcherChanged(batcher, newBatcher);
        batcher = newBatcher;
    }

    /// @notice Proposes `newOwner`, who becomes owner by calling `acceptOwnership`. Proposing the
    /// zero address cancels a pending proposal.
    function transferOwnership(address newOwner) external onlyOwner {
        pendingOwner = newOwner;
        emit OwnershipTransferStarted(msg.sender, newOwner);
    }

    /// @notice Completes a two-step ownership transfer; callable by the pending owner only.
    function acceptOwnership() external {
        if (msg.sender != pendingOwner) revert NotPendingOwner(msg.sender);
        emit OwnershipTransferred(owner, msg.sender);
        owner = msg.sender;
        pendingOwner = address(0);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice Number of committed batches.
    function batchCount() external view returns (uint256) {
        return _batches.length;
    }

    /// @notice The batch at `index` (0 = first batch after genesis).
    /// @dev Reverts with `BatchNotFound(index)` when `index >= batchCount()`.
    function getBatch(uint256 index) external view returns (Batch memory) {
        if (index >= _batches.length) revert BatchNotFound(index);
        return _batches[index];
    }

    /// @notice Index of the batch containing `l2Block` (binary search, O(log batchCount())).
    /// @dev Reverts with `GenesisNotInBatch()` for block 0 and `BlockNotCommitted(l2Block)`
    /// beyond `latestBlock()`.
    function batchIndexOf(uint64 l2Block) public view returns (uint256) {
        if (l2Block == 0) revert GenesisNotInBatch();
        if (l2Block > latestBlock) revert BlockNotCommitted(l2Block);
        // latestBlock > 0 implies at least one batch, and the last one ends at latestBlock.
        uint256 lo = 0;
        uint256 hi = _batches.length - 1;
        while (lo < hi) {
            uint256 mid = (lo + hi) >> 1;
            if (_batches[mid].lastBlock < l2Block) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// @notice State root after L2 block `l2Block`: the genesis state root for block 0, else the
    /// root committed by the batch ending at `l2Block`.
    /// @dev Reverts with `BlockNotCommitted(l2Block)` beyond `latestBlock()`, and with
    /// `NotBatchBoundary(l2Block, batchLastBlock)` for a block inside a batch (only batch ends
    /// carry roots).
    function stateRootAt(uint64 l2Block) external view returns (bytes32) {
        if (l2Block == 0) return genesisStateRoot;
        return _batchEndingAt(l2Block).stateRoot;
    }

    /// @notice Hash of L2 block `l2Block`: the genesis hash for block 0, else the hash committed by
    /// the batch ending at `l2Block`.
    /// @dev Reverts like `stateRootAt`.
    function blockHashAt(uint64 l2Block) external view returns (bytes32) {
        if (l2Block == 0) return genesisBlockHash;
        return _batchEndingAt(l2Block).blockHash;
    }

    /// @notice The multi-frame batch waiting for frames; all zero when none is pending.
    /// @return firstBlock First L2 block of the pending batch.
    /// @return lastBlock Last L2 block of the pending batch.
    /// @return stateRoot State root announced by its frames.
    /// @return blockHash Block hash announced by its frames.
    /// @return nextFrame Index of the next expected frame (= frames received).
    /// @return frameCount Number of frames of the batch.
    /// @return runningHash Running hash `acc_{nextFrame-1}` over the frames received (no kind byte).
    function pendingBatch()
        external
        view
        returns (
            uint64 firstBlock,
            uint64 lastBlock,
            bytes32 stateRoot,
            bytes32 blockHash,
            uint16 nextFrame,
            uint16 frameCount,
            bytes32 runningHash
        )
    {
        nextFrame = _framesReceived;
        if (nextFrame == 0) return (0, 0, 0, 0, 0, 0, 0);
        PendingBatch storage pending = _pending;
        return (
            pending.firstBlock,
            pending.lastBlock,
            pending.stateRoot,
            pending.blockHash,
            nextFrame,
            pending.frameCount,
            pending.runningHash
        );
    }

    // ---------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------

    function _checkBatcher() private view {
        if (msg.sender != batcher) revert NotBatcher(msg.sender);
    }

    /// @dev Enforces contiguity: the range must start right after `latestBlock` and not be empty.
    function _checkRange(uint64 firstBlock, uint64 lastBlock) private view {
        uint64 expected = latestBlock + 1;
        if (firstBlock != expected) revert UnexpectedFirstBlock(expected, firstBlock);
        if (lastBlock < firstBlock) revert InvalidRange(firstBlock, lastBlock);
    }

    /// @dev Stores the batch, advances `latestBlock` and emits `BatchCommitted`. Callers have
    /// checked the range with `_checkRange`.
    function _commit(
        uint64 firstBlock,
        uint64 lastBlock,
        bytes32 stateRoot,
        bytes32 blockHash,
        bytes32 dataCommitment,
        uint16 frameCount
    ) private {
        uint256 batchIndex = _batches.length;
        uint64 l1Block = uint64(block.number);
        _batches.push(
            Batch({
                lastBlock: lastBlock,
                l1Block: l1Block,
                stateRoot: stateRoot,
                blockHash: blockHash,
                dataCommitment: dataCommitment
            })
        );
        latestBlock = lastBlock;
        emit BatchCommitted(
            batchIndex,
            firstBlock,
            lastBlock,
            stateRoot,
            blockHash,
            dataCommitment,
            l1Block,
            frameCount
        );
    }

    function _batchEndingAt(uint64 l2Block) private view returns (Batch storage batch) {
        batch = _batches[batchIndexOf(l2Block)];
        if (batch.lastBlock != l2Block) revert NotBatchBoundary(l2Block, batch.lastBlock);
    }

    /// @dev Kind 0x00 commitment: `hash` with its first byte cleared.
    function _calldataCommitment(bytes32 hash) private pure returns (bytes32) {
        return bytes32(uint256(hash) & KIND_MASK);
    }
}
