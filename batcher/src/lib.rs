//! The batcher: moves sealed L2 blocks onto the L1 `Rollup` contract.
//!
//! It encodes ranges of blocks in the versioned batch format, compresses them with zstd and
//! posts them, with the state root and block hash of their last block, to L1 — surviving L1
//! faults without losing or duplicating a range. The batch format lives in [`batch`], the
//! single definition both the batcher and the derivation tool use; the posting loop is built
//! in its own issue.

pub mod batch;
