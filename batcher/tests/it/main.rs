//! Integration tests of the batcher against a real anvil, the real `Rollup` contract and a
//! real sequencer producing blocks.

mod deploy;
mod faults;
mod posting;
