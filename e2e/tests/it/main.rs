//! End-to-end tests: the real `sequencer`, `batcher`, `derivation` and `devnet` binaries
//! against a real anvil, driven like users and operators drive them — the one-command devnet,
//! a wallet session that settles and verifies, crashes under load, and hostile input under
//! load.

mod bad_input;
mod cluster;
mod crash;
mod devnet;
mod scenarios;
mod traffic;
