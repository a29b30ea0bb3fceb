//! The sequencer node of a layer-2 rollup.
//!
//! It accepts transactions over Ethereum JSON-RPC, keeps them in a txpool, seals a block every
//! block time by executing its transactions (in parallel where their accesses allow), keeps
//! state and history in an embedded redb database with an incrementally maintained
//! Merkle-Patricia state root, and serves the results to wallets.

pub mod builder;
pub mod chain;
pub mod contracts;
pub mod executor;
pub mod genesis;
pub mod logging;
pub mod metrics;
pub mod node;
mod producer;
pub mod rpc;
pub mod state;
pub mod store;
#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;
pub mod trie;
pub mod txpool;
