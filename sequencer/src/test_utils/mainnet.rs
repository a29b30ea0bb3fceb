//! Real Ethereum mainnet blocks with their pre-state (`tests/fixtures/mainnet-blocks.tar.zst`),
//! ready to execute: the conformance corpus of the executor and its replay benchmark.

use std::{collections::HashMap, io::Read, path::Path};

use alloy::{
    consensus::Header,
    rpc::types::{Block, Transaction},
};
use alloy_primitives::{Address, B256, Bytes, U256};
use serde::Deserialize;

use crate::{
    chain::Hardfork,
    executor::{BlockEnv, ExecTx},
    state::{AccountInfo, MemoryState},
};

/// One replayable block.
#[derive(Debug, Clone)]
pub struct MainnetBlock {
    /// The header as mainnet sealed it.
    pub header: Header,
    /// The block hash.
    pub hash: B256,
    /// The environment its transactions ran in, at its own hardfork.
    pub env: BlockEnv,
    /// Its transactions, with `from` as the sender.
    pub txs: Vec<ExecTx>,
    /// The state it read, before it ran.
    pub state: MemoryState,
}

impl MainnetBlock {
    /// The block number.
    pub const fn number(&self) -> u64 {
        self.header.number
    }
}

#[derive(Deserialize)]
struct PreAccount {
    balance: U256,
    nonce: u64,
    code_hash: Option<B256>,
    #[serde(default)]
    storage: HashMap<U256, U256>,
}

/// The fixture tarball of this crate.
pub fn fixture_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mainnet-blocks.tar.zst")
}

/// Loads every block of the corpus, in block order.
///
/// # Panics
/// If the tarball is missing or malformed (it is committed test data).
pub fn load_blocks() -> Vec<MainnetBlock> {
    let compressed = std::fs::File::open(fixture_path()).expect("mainnet fixture tarball");
    let decoder = zstd::stream::Decoder::new(compressed).expect("zstd stream");
    let mut archive = tar::Archive::new(decoder);
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = entry
            .path()
            .expect("entry path")
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if path.ends_with(".json") {
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).expect("entry bytes");
            files.insert(path, bytes);
        }
    }
    let codes: HashMap<B256, Bytes> =
        serde_json::from_slice(&files["bytecodes.json"]).expect("bytecodes.json");
    let hashes: HashMap<String, B256> =
        serde_json::from_slice(&files["block_hashes.json"]).expect("block_hashes.json");
    let block_hashes: HashMap<u64, B256> =
        hashes.into_iter().map(|(n, h)| (n.parse().expect("block number"), h)).collect();
    let mut numbers: Vec<u64> = files
        .keys()
        .filter_map(|p| p.strip_prefix("blocks/")?.strip_suffix("/block.json")?.parse().ok())
        .collect();
    numbers.sort_unstable();
    numbers
        .into_iter()
        .map(|number| {
            let block: Block<Transaction> =
                serde_json::from_slice(&files[&format!("blocks/{number}/block.json")])
                    .expect("block.json");
            let pre: HashMap<Address, PreAccount> =
                serde_json::from_slice(&files[&format!("blocks/{number}/pre_state.json")])
                    .expect("pre_state.json");
            let mut state = MemoryState {
                block_hashes: block_hashes.iter().map(|(k, v)| (*k, *v)).collect(),
                ..Default::default()
            };
            for (address, account) in pre {
                let code_hash = account.code_hash.unwrap_or(alloy_trie::KECCAK_EMPTY);
                if let Some(code) = codes.get(&code_hash) {
                    state.codes.insert(code_hash, code.clone());
                }
                state.accounts.insert(
                    address,
                    AccountInfo { nonce: account.nonce, balance: account.balance, code_hash },
                );
                for (slot, value) in account.storage {
                    state.storage.insert((address, slot), value);
                }
            }
            let header = block.header.inner.clone();
            let hardfork = Hardfork::mainnet_at(header.number, header.timestamp);
            let env = BlockEnv::from_header(&header, 1, hardfork);
            let txs =
                block.transactions.into_transactions().map(|tx| ExecTx::from(tx.inner)).collect();
            MainnetBlock { hash: block.header.hash, header, env, txs, state }
        })
        .collect()
}
