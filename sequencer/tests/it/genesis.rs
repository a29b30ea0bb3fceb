//! Genesis allocations of public networks become exactly their published state roots.

use std::path::PathBuf;

use alloy_primitives::{B256, b256};
use sequencer::{genesis::Genesis, store::GenesisBlock};

fn fixture(name: &str) -> Genesis {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/genesis").join(name);
    Genesis::from_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn root(name: &str) -> B256 {
    GenesisBlock::new(&fixture(name)).unwrap().state_root()
}

#[test]
fn mainnet_genesis_root() {
    assert_eq!(
        root("mainnet.json"),
        b256!("d7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544")
    );
}

#[test]
fn sepolia_genesis_root() {
    assert_eq!(
        root("sepolia.json"),
        b256!("5eb6e371a698b8d68f665192350ffcecbbbf322916f4b51bd79bb6887da3f494")
    );
}

#[test]
fn holesky_genesis_root_with_code_and_storage() {
    assert_eq!(
        root("holesky.json"),
        b256!("69d8c9d72f6fa4ad42d4702b433707212f90db395eb54dc20bc85de253788783")
    );
}

#[test]
fn hoodi_genesis_root_with_code_and_storage() {
    assert_eq!(
        root("hoodi.json"),
        b256!("da87d7f5f91c51508791bbcbd4aa5baf04917830b86985eeb9ad3d5bfb657576")
    );
}

#[test]
fn incremental_genesis_root_matches_alloy_trie_reference() {
    // The same allocation through alloy-trie's own from-scratch helper.
    let genesis = fixture("holesky.json");
    let accounts = genesis.alloc.iter().map(|(address, account)| {
        let storage_root = alloy_trie::root::storage_root_unhashed(
            account.storage.iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (B256::from(*k), *v)),
        );
        let code_hash = if account.code.is_empty() {
            alloy_trie::KECCAK_EMPTY
        } else {
            alloy_primitives::keccak256(&account.code)
        };
        (
            *address,
            alloy_trie::TrieAccount::new(account.nonce, account.balance, storage_root, code_hash),
        )
    });
    let reference = alloy_trie::root::state_root_unhashed(accounts);
    assert_eq!(root("holesky.json"), reference);
}

#[test]
fn dev_genesis_is_deterministic() {
    let a = GenesisBlock::new(&Genesis::dev()).unwrap();
    let b = GenesisBlock::new(&Genesis::dev()).unwrap();
    assert_eq!(a.hash, b.hash);
    assert_eq!(a.header.number, 0);
}
