//! The redb tables and how their keys are laid out.
//!
//! State is keyed by hashed address and hashed slot: the same keys the tries use, so a flat
//! entry is also the value of its trie leaf and the trie never needs a second copy.

use alloy_primitives::B256;
use alloy_trie::Nibbles;
use redb::TableDefinition;

/// Small metadata: head, genesis hash, chain id, schema version, pruning mark.
pub(crate) const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
/// keccak(address) → RLP of the trie account (nonce, balance, storage root, code hash).
pub(crate) const ACCOUNTS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("accounts");
/// keccak(address) ‖ keccak(slot) → RLP of the value.
pub(crate) const STORAGE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("storage");
/// code hash → code.
pub(crate) const CODE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("code");
/// path key → trie record of the account trie.
pub(crate) const ACCOUNT_TRIE: TableDefinition<'_, &[u8], &[u8]> =
    TableDefinition::new("account_trie");
/// keccak(address) ‖ path key → trie record of that account's storage trie.
pub(crate) const STORAGE_TRIE: TableDefinition<'_, &[u8], &[u8]> =
    TableDefinition::new("storage_trie");
/// block (big-endian) ‖ kind ‖ key → the value the key had before that block.
///
/// Block first: a block's history is appended at the end of the table in one sorted run
/// (cheap to write, few pages to sync), and pruning or unwinding a block is one range.
pub(crate) const HISTORY: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("history");
/// block number → RLP header.
pub(crate) const HEADERS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("headers");
/// block number → block hash.
pub(crate) const CANONICAL: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("canonical");
/// block hash → block number.
pub(crate) const BLOCK_NUMBERS: TableDefinition<'_, &[u8], u64> =
    TableDefinition::new("block_numbers");
/// block number → transactions (sender and EIP-2718 bytes).
pub(crate) const BODIES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("bodies");
/// block number → receipts (EIP-2718 bytes).
pub(crate) const RECEIPTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("receipts");
/// transaction hash → block number (8 bytes) ‖ index in block (4 bytes).
pub(crate) const TX_INDEX: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("tx_index");

/// Keys of [`META`].
pub(crate) mod meta {
    pub(crate) const HEAD: &str = "head";
    pub(crate) const GENESIS_HASH: &str = "genesis_hash";
    pub(crate) const CHAIN_ID: &str = "chain_id";
    pub(crate) const SCHEMA: &str = "schema";
    /// Highest block whose history entries were pruned: states before it are gone.
    pub(crate) const PRUNED: &str = "pruned";
    /// The L2 blocks posted to L1 (`safe`) and final there (`finalized`), as last reported.
    pub(crate) const L1_HEADS: &str = "l1_heads";
}

/// Version of this layout; a datadir written with another is refused. (3: the history keeps
/// flat values only; 2 also kept every changed trie record.)
pub(crate) const SCHEMA_VERSION: u64 = 3;

/// Which versioned table a history entry belongs to. The tries are not versioned: an older
/// block's records are rebuilt from the flat history (see [`super::view`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Account = 1,
    Storage = 2,
}

impl Kind {
    pub(crate) const fn key_len(self) -> usize {
        match self {
            Self::Account => 32,
            Self::Storage => 64,
        }
    }

    pub(crate) const fn from_u8(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => Self::Account,
            2 => Self::Storage,
            _ => return None,
        })
    }
}

/// Length of an encoded trie path: 32 packed bytes plus the nibble count.
pub(crate) const PATH_KEY_LEN: usize = 33;

/// The pseudo-path under which a trie's root reference is stored.
pub(crate) const ROOT_PATH_KEY: [u8; PATH_KEY_LEN] = [0xff; PATH_KEY_LEN];

/// Encodes a nibble path as a fixed-length key (packed nibbles, zero-padded, then the length).
pub(crate) fn path_key(path: &Nibbles) -> [u8; PATH_KEY_LEN] {
    let mut key = [0u8; PATH_KEY_LEN];
    path.pack_to(&mut key[..32]);
    key[32] = path.len() as u8;
    key
}

/// The nibble path a [`path_key`] encodes; `None` for bytes no path encodes to (the root
/// pseudo-path among them).
pub(crate) fn path_from_key(key: &[u8]) -> Option<Nibbles> {
    let (packed, len) = key.split_at_checked(32)?;
    let &[len] = len else { return None };
    if len > 64 {
        return None;
    }
    let mut path = Nibbles::unpack(packed);
    path.truncate(usize::from(len));
    Some(path)
}

/// keccak(address) ‖ keccak(slot).
pub(crate) fn storage_key(hashed_address: &B256, hashed_slot: &B256) -> [u8; 64] {
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(hashed_address.as_slice());
    key[32..].copy_from_slice(hashed_slot.as_slice());
    key
}

/// keccak(address) ‖ path key.
pub(crate) fn storage_trie_key(hashed_address: &B256, path: &[u8; PATH_KEY_LEN]) -> [u8; 65] {
    let mut key = [0u8; 65];
    key[..32].copy_from_slice(hashed_address.as_slice());
    key[32..].copy_from_slice(path);
    key
}

/// Length of the longest history key: block, kind and a storage key.
pub(crate) const MAX_HISTORY_KEY_LEN: usize = 8 + 1 + 64;

/// block ‖ kind ‖ key, written into `out`; returns the used prefix of `out`.
pub(crate) fn history_key<'a>(
    out: &'a mut [u8; MAX_HISTORY_KEY_LEN],
    block: u64,
    kind: Kind,
    key: &[u8],
) -> &'a [u8] {
    let len = 9 + key.len();
    out[..8].copy_from_slice(&block.to_be_bytes());
    out[8] = kind as u8;
    out[9..len].copy_from_slice(key);
    &out[..len]
}

/// The (block, kind, key) a [`history_key`] encodes; `None` when the bytes are no such key.
pub(crate) fn parse_history_key(bytes: &[u8]) -> Option<(u64, Kind, &[u8])> {
    let (block, rest) = bytes.split_first_chunk::<8>()?;
    let (&kind, key) = rest.split_first()?;
    let kind = Kind::from_u8(kind)?;
    (key.len() == kind.key_len()).then_some((u64::from_be_bytes(*block), kind, key))
}

/// Bounds of the history keys of blocks `from..=to`: every key of those blocks is `>= start`
/// and `< end`.
pub(crate) fn history_range(from: u64, to: u64) -> ([u8; 8], [u8; 9]) {
    let mut end = [0xff; 9];
    end[..8].copy_from_slice(&to.to_be_bytes());
    (from.to_be_bytes(), end)
}

/// The previous value a [`history_value`] encodes (`Some(None)`: absent before the block);
/// `None` when the bytes are no such value.
pub(crate) fn parse_history_value(bytes: &[u8]) -> Option<Option<&[u8]>> {
    match bytes.split_first()? {
        (1, old) => Some(Some(old)),
        (0, []) => Some(None),
        _ => None,
    }
}

/// A history value: 0 for "absent before the block", else 1 ‖ old value.
pub(crate) fn history_value(old: Option<&[u8]>) -> Vec<u8> {
    match old {
        None => vec![0],
        Some(old) => {
            let mut out = Vec::with_capacity(1 + old.len());
            out.push(1);
            out.extend_from_slice(old);
            out
        }
    }
}
