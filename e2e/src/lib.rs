//! The whole stack, end to end: the local devnet ([`devnet`]: anvil as L1, the `Rollup`
//! contract, the sequencer and the batcher, described in `devnet.json`), the load tool
//! ([`load`]: pre-signed workloads sent to any JSON-RPC endpoint, measured), and the helpers
//! the end-to-end tests use to run the real binaries ([`processes`]).

pub mod devnet;
pub mod load;
pub mod processes;
