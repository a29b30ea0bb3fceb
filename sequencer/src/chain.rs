//! Chain rules shared by the block builder and the derivation tool: the hardfork, the header
//! fields a block derives from its parent, and the EIP-1559 base fee.
//!
//! Everything here is a pure function of the chain config and the parent header, so a verifier
//! rebuilds exactly the header the sequencer sealed from the few fields a batch carries.

use alloy::{
    consensus::{EMPTY_OMMER_ROOT_HASH, Header},
    eips::{eip1559::BaseFeeParams, eip7685::EMPTY_REQUESTS_HASH},
};
use alloy_primitives::{Address, B256, Bloom, Bytes, U256};
use alloy_trie::EMPTY_ROOT_HASH;

use crate::genesis::Genesis;

/// The Ethereum hardforks the executor knows, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hardfork {
    /// Frontier (2015).
    Frontier,
    /// Homestead.
    Homestead,
    /// Tangerine Whistle (EIP-150).
    Tangerine,
    /// Spurious Dragon (EIP-155/158).
    SpuriousDragon,
    /// Byzantium.
    Byzantium,
    /// Petersburg (Constantinople without EIP-1283).
    Petersburg,
    /// Istanbul.
    Istanbul,
    /// Muir Glacier.
    MuirGlacier,
    /// Berlin (EIP-2929/2930).
    Berlin,
    /// London (EIP-1559).
    London,
    /// Arrow Glacier.
    ArrowGlacier,
    /// Gray Glacier.
    GrayGlacier,
    /// Paris (the merge).
    Paris,
    /// Shanghai.
    Shanghai,
    /// Cancun.
    Cancun,
    /// Prague (EIP-7702, EIP-7623).
    Prague,
    /// Osaka (EIP-7825 transaction gas cap, EIP-7939 CLZ, EIP-7951 P-256 precompile).
    Osaka,
}

impl Hardfork {
    /// The hardfork this chain runs: the newest one both revm and anvil support.
    pub const LATEST: Self = Self::Osaka;

    /// The mainnet hardfork active at block `number` (for replaying historical blocks).
    pub const fn mainnet_at(number: u64, timestamp: u64) -> Self {
        match number {
            _ if timestamp >= 1_764_798_551 => Self::Osaka,
            _ if timestamp >= 1_746_612_311 => Self::Prague,
            _ if timestamp >= 1_710_338_135 => Self::Cancun,
            _ if timestamp >= 1_681_338_455 => Self::Shanghai,
            n if n >= 15_537_394 => Self::Paris,
            n if n >= 15_050_000 => Self::GrayGlacier,
            n if n >= 13_773_000 => Self::ArrowGlacier,
            n if n >= 12_965_000 => Self::London,
            n if n >= 12_244_000 => Self::Berlin,
            n if n >= 9_200_000 => Self::MuirGlacier,
            n if n >= 9_069_000 => Self::Istanbul,
            n if n >= 7_280_000 => Self::Petersburg,
            n if n >= 4_370_000 => Self::Byzantium,
            n if n >= 2_675_000 => Self::SpuriousDragon,
            n if n >= 2_463_000 => Self::Tangerine,
            n if n >= 1_150_000 => Self::Homestead,
            _ => Self::Frontier,
        }
    }
}

/// Most encoded transaction bytes the producer puts in one block, whatever the gas limit
/// allows: every block must fit in one batch, whose decoded payload the batch format caps at
/// 64 MiB (a block of 128 KiB zero-byte calls is cheap in gas and would not).
pub const MAX_BLOCK_TX_BYTES: usize = 32 << 20;

/// EIP-7825: the most gas one transaction may carry from Osaka on.
pub const TX_GAS_LIMIT_CAP: u64 = 1 << 24;

/// The fixed parameters of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    /// Chain id (EIP-155).
    pub chain_id: u64,
    /// The hardfork every block runs under.
    pub hardfork: Hardfork,
    /// Block gas limit.
    pub gas_limit: u64,
    /// EIP-1559 parameters.
    pub base_fee_params: BaseFeeParams,
}

impl ChainSpec {
    /// The spec of a chain started from `genesis`.
    pub fn from_genesis(genesis: &Genesis) -> Self {
        Self {
            chain_id: genesis.chain_id,
            hardfork: Hardfork::LATEST,
            gas_limit: genesis.gas_limit,
            base_fee_params: BaseFeeParams::ethereum(),
        }
    }

    /// The base fee of the block after `parent`.
    pub fn next_base_fee(&self, parent: &Header) -> u64 {
        parent
            .next_block_base_fee(self.base_fee_params)
            .unwrap_or(parent.base_fee_per_gas.unwrap_or(0))
    }
}

/// The header fields a sequencer chooses for a block; everything else follows from the parent,
/// the chain spec and the execution result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockAttributes {
    /// Block number (parent + 1).
    pub number: u64,
    /// Timestamp in seconds, greater than the parent's.
    pub timestamp: u64,
    /// Receiver of priority fees.
    pub beneficiary: Address,
    /// Arbitrary bytes (at most 32).
    pub extra_data: Bytes,
}

/// The header fields fixed before execution: what the executor's block environment needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingHeader {
    /// Parent hash.
    pub parent_hash: B256,
    /// The chosen attributes.
    pub attributes: BlockAttributes,
    /// Gas limit.
    pub gas_limit: u64,
    /// Base fee.
    pub base_fee: u64,
    /// `prevrandao` (the header's mix hash): the parent's hash, so a verifier derives it.
    pub prevrandao: B256,
}

impl PendingHeader {
    /// The pending header of the child of `parent` with `attributes`.
    pub fn child_of(
        spec: &ChainSpec,
        parent: &Header,
        parent_hash: B256,
        attributes: BlockAttributes,
    ) -> Self {
        Self {
            parent_hash,
            gas_limit: spec.gas_limit,
            base_fee: spec.next_base_fee(parent),
            prevrandao: parent_hash,
            attributes,
        }
    }

    /// Completes the header with the execution results.
    pub fn seal(
        &self,
        spec: &ChainSpec,
        state_root: B256,
        transactions_root: B256,
        receipts_root: B256,
        logs_bloom: Bloom,
        gas_used: u64,
    ) -> Header {
        let fork = spec.hardfork;
        Header {
            parent_hash: self.parent_hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: self.attributes.beneficiary,
            state_root,
            transactions_root,
            receipts_root,
            logs_bloom,
            difficulty: U256::ZERO,
            number: self.attributes.number,
            gas_limit: self.gas_limit,
            gas_used,
            timestamp: self.attributes.timestamp,
            extra_data: self.attributes.extra_data.clone(),
            mix_hash: self.prevrandao,
            nonce: Default::default(),
            base_fee_per_gas: Some(self.base_fee),
            withdrawals_root: (fork >= Hardfork::Shanghai).then_some(EMPTY_ROOT_HASH),
            blob_gas_used: (fork >= Hardfork::Cancun).then_some(0),
            excess_blob_gas: (fork >= Hardfork::Cancun).then_some(0),
            parent_beacon_block_root: (fork >= Hardfork::Cancun).then_some(B256::ZERO),
            requests_hash: (fork >= Hardfork::Prague).then_some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        }
    }
}

/// The genesis header: the genesis file's fields, plus the post-London/Cancun/Prague fields of
/// this chain's hardfork.
pub fn genesis_header(genesis: &Genesis, state_root: B256) -> Header {
    let fork = Hardfork::LATEST;
    Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Bloom::ZERO,
        difficulty: genesis.difficulty,
        number: 0,
        gas_limit: genesis.gas_limit,
        gas_used: 0,
        timestamp: genesis.timestamp,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: genesis.nonce.into(),
        base_fee_per_gas: Some(genesis.base_fee_per_gas),
        withdrawals_root: (fork >= Hardfork::Shanghai).then_some(EMPTY_ROOT_HASH),
        blob_gas_used: (fork >= Hardfork::Cancun).then_some(0),
        excess_blob_gas: (fork >= Hardfork::Cancun).then_some(0),
        parent_beacon_block_root: (fork >= Hardfork::Cancun).then_some(B256::ZERO),
        requests_hash: (fork >= Hardfork::Prague).then_some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainnet_forks_by_block() {
        assert_eq!(Hardfork::mainnet_at(46_147, 0), Hardfork::Frontier);
        assert_eq!(Hardfork::mainnet_at(4_370_000, 0), Hardfork::Byzantium);
        assert_eq!(Hardfork::mainnet_at(12_244_000, 0), Hardfork::Berlin);
        assert_eq!(Hardfork::mainnet_at(15_537_394, 1_663_224_179), Hardfork::Paris);
        assert_eq!(Hardfork::mainnet_at(17_034_870, 1_681_338_455), Hardfork::Shanghai);
        assert_eq!(Hardfork::mainnet_at(19_426_587, 1_710_338_135), Hardfork::Cancun);
    }

    #[test]
    fn base_fee_rises_when_full_and_falls_when_empty() {
        let spec = ChainSpec::from_genesis(&Genesis::dev());
        let parent = Header {
            gas_limit: 1_000_000,
            gas_used: 1_000_000,
            base_fee_per_gas: Some(1_000_000_000),
            ..Default::default()
        };
        assert_eq!(spec.next_base_fee(&parent), 1_125_000_000);
        let empty = Header { gas_used: 0, ..parent };
        assert_eq!(spec.next_base_fee(&empty), 875_000_000);
    }
}
