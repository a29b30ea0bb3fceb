//! The derivation tool: reads batches back from L1 and checks them.
//!
//! Given only an L1 RPC URL and the `Rollup` address, it lists batches, decodes and inspects
//! them, re-executes every block with the sequencer's own executor and compares the posted
//! state roots, and rebuilds a read-only replica. It is built in its own issue; this crate is
//! its home in the workspace.
