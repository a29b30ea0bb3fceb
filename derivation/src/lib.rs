//! The derivation tool: sees and checks everything the sequencer did, from L1 alone.
//!
//! Given an L1 RPC URL and the `Rollup` address, it reads the batches back from the
//! contract's logs and the transactions that carried them ([`source`], authenticated against
//! the contract's batcher history), decodes them with the batcher's own format
//! ([`batcher::batch`]), re-executes every block with the sequencer's own block builder
//! ([`replay`]) and compares each posted state root and block hash ([`verify`]), or keeps a
//! replica datadir in the sequencer's on-disk format in step with L1, undoing what L1 reorgs
//! remove ([`sync`]), for `sequencer --replica` to serve.
//!
//! A [`Divergence`] — undecodable data, a wrong range, an invalid transaction, a state root
//! or block hash that re-execution does not reproduce — names the first failing block and what
//! differs; hostile data is reported, never a panic.

pub mod display;
mod error;
pub mod replay;
pub mod source;
pub mod sync;
pub mod verify;

use std::{path::Path, sync::Arc};

pub use error::{DerivationError, DerivationResult, Divergence, GenesisMismatch};
use sequencer::{
    chain::ChainSpec,
    executor::{BlockExecutor, ParallelExecutor, SequentialExecutor},
    genesis::Genesis,
    node::ExecMode,
    store::{GenesisBlock, Store, StoreConfig},
};

use crate::{replay::Replayer, source::L1Source};

/// Where re-executed blocks are kept.
#[derive(Debug, Clone, Copy)]
pub enum StoreLocation<'a> {
    /// In memory, gone when the tool exits (`verify` without `--datadir`).
    Scratch,
    /// A datadir in the sequencer's format, shareable with `sequencer --replica`.
    Datadir(&'a Path),
}

/// Checks `genesis` is the one the contract was deployed for, opens the store (initialised
/// with it) and returns a replayer extending it with the chosen executor.
///
/// # Errors
/// [`DerivationError::WrongGenesis`] when the genesis does not match the contract; L1 and
/// store errors.
pub async fn open_replayer(
    source: &L1Source,
    genesis: &Genesis,
    location: StoreLocation<'_>,
    exec: ExecMode,
) -> DerivationResult<Replayer> {
    let block = GenesisBlock::new(genesis)?;
    let (chain_id, contract_hash, contract_root) = source.genesis().await?;
    if chain_id != genesis.chain_id
        || contract_hash != block.hash
        || contract_root != block.state_root()
    {
        return Err(DerivationError::WrongGenesis(Box::new(GenesisMismatch {
            ours: block.hash,
            our_root: block.state_root(),
            contract: contract_hash,
            contract_root,
        })));
    }
    let config = StoreConfig { shared_with_readers: true, ..StoreConfig::default() };
    let store = Arc::new(match location {
        StoreLocation::Scratch => Store::in_memory(&block, config)?,
        StoreLocation::Datadir(dir) => Store::open(dir, &block, config)?,
    });
    let executor: Arc<dyn BlockExecutor> = match exec {
        ExecMode::Parallel => Arc::new(ParallelExecutor::default()),
        ExecMode::Sequential => Arc::new(SequentialExecutor::default()),
    };
    Ok(Replayer::new(ChainSpec::from_genesis(genesis), store, executor))
}
