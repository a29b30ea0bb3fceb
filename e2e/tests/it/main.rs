//! End-to-end tests: the real `sequencer`, `batcher` and `derivation` binaries against a real
//! anvil, driven like users and operators drive them — a wallet session that settles and
//! verifies, crashes under load, and hostile input under load.

mod bad_input;
mod cluster;
mod crash;
mod devnet;
mod scenarios;
mod traffic;
