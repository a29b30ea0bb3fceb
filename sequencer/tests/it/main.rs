//! Integration tests of the sequencer: genesis roots, the node over real HTTP and WebSocket
//! JSON-RPC, persistence across restarts, and Foundry's `cast` against the node.

mod cast;
mod genesis;
mod mainnet;
mod node;
mod parallel;
mod state_root;
