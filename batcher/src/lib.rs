//! The batcher: moves sealed L2 blocks onto the L1 `Rollup` contract.
//!
//! It follows the sequencer over JSON-RPC ([`source`]), encodes each range of blocks L1 has not
//! committed in the versioned batch format ([`batch`], the single definition both the batcher
//! and the derivation tool use), compresses it with zstd, and posts it with the state root and
//! block hash of its last block to the contract ([`l1`]) — in one transaction, or in ordered
//! frames over several when it is larger than one L1 transaction may carry.
//!
//! The loop ([`run`]) survives L1 faults without losing or duplicating a range: the
//! contract is the truth about what is committed, and in-flight transactions are persisted
//! ([`progress`]) so a restart watches, rebroadcasts or replaces them instead of competing with
//! them. When L2 produces data faster than L1 takes it, the batcher throttles the sequencer's
//! block size through its admin port.
//!
//! ```no_run
//! # async fn example() -> Result<(), batcher::BatcherError> {
//! use batcher::{BatcherConfig, spawn};
//! let key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d".parse().unwrap();
//! let rollup = "0x5FbDB2315678afecb367f032d93F642f64180aa3".parse().unwrap();
//! let config = BatcherConfig::new(
//!     "http://127.0.0.1:8545".into(),
//!     "http://127.0.0.1:9545".into(),
//!     rollup,
//!     key,
//!     "batcher-data".into(),
//! );
//! let batcher = spawn(config);
//! batcher.stop().await
//! # }
//! ```

pub mod batch;
mod config;
mod error;
pub mod l1;
pub mod progress;
mod service;
pub mod source;
#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;
pub mod toolchain;

pub use config::{BatcherConfig, DEFAULT_MAX_FRAME_BYTES};
pub use error::{BatcherError, BatcherResult};
pub use service::{BatcherHandle, run, spawn};
