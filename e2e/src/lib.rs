//! End-to-end harness: anvil as L1, the contracts deployed, sequencer and batcher running.
//!
//! It hosts the one-command devnet, the scenario tests that drive the whole stack over real
//! JSON-RPC, the crash-safety tests and the load tool. It is built in its own issue; this
//! crate is its home in the workspace.
