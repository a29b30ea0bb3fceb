//! Integration tests of the derivation tool against a real anvil, the real contract, batches
//! posted by the real batcher (or, for the failure cases, by the test with the batcher key),
//! and a real sequencer to compare with.

mod common;
mod replica;
mod verify;
