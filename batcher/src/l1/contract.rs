//! The L1 `Rollup` contract: bindings generated from the committed Foundry artifact
//! (`contracts/artifacts/Rollup.json`, rebuilt and checked by CI) and its deployment.

#![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)] // generated bindings

use std::time::Duration;

use alloy::{
    network::Ethereum,
    providers::{PendingTransactionError, Provider, WatchTxError},
};
use alloy_primitives::{Address, B256};

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    Rollup,
    "../contracts/artifacts/Rollup.json"
);

/// `submitFrame` as contracts deployed before frames were chained declare it (without
/// `previousHash`, selector `0x5c4ce949`): readers still decode the frames such a deployment
/// holds.
pub mod unchained {
    alloy::sol! {
        #[derive(Debug)]
        function submitFrame(
            uint64 firstBlock,
            uint64 lastBlock,
            bytes32 stateRoot,
            bytes32 blockHash,
            uint16 frameIndex,
            uint16 frameCount,
            bytes data
        ) external;
    }
}

/// The first byte of a data commitment that says "keccak of calldata".
pub const DATA_KIND_CALLDATA: u8 = 0;

/// The contract's running hash after one more frame: `keccak256(frame)` for frame 0
/// (`previous` is zero), `keccak256(previous ‖ keccak256(frame))` after it.
fn chain(previous: B256, first: bool, frame: &[u8]) -> B256 {
    let hash = alloy_primitives::keccak256(frame);
    if first {
        hash
    } else {
        alloy_primitives::keccak256([previous.as_slice(), hash.as_slice()].concat())
    }
}

/// The `previousHash` argument of `submitFrame` for each frame of a batch sent as `frames`: zero
/// for frame 0, and for frame `k > 0` the running hash over frames `0..k` before it (what the
/// contract's `pendingBatch()` reports as `runningHash` once those frames landed). The contract
/// rejects a frame whose `previousHash` differs (`FrameChainMismatch`), so frames of two
/// encodings of the same range never commit together.
pub fn previous_hashes<'a>(frames: impl IntoIterator<Item = &'a [u8]>) -> Vec<B256> {
    let mut running = B256::ZERO;
    frames
        .into_iter()
        .enumerate()
        .map(|(i, frame)| {
            let previous = running;
            running = chain(running, i == 0, frame);
            previous
        })
        .collect()
}

/// The data commitment the contract stores for a batch sent as `frames` (one frame for
/// `submitBatch`): the running keccak over the frames, its first byte replaced by the kind.
pub fn data_commitment<'a>(frames: impl IntoIterator<Item = &'a [u8]>) -> B256 {
    let mut running = B256::ZERO;
    for (i, frame) in frames.into_iter().enumerate() {
        running = chain(running, i == 0, frame);
    }
    running.0[0] = DATA_KIND_CALLDATA;
    running
}

/// What a `Rollup` deployment is for: who owns it, who may post batches, and the L2 chain and
/// genesis block the committed chain starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupParams {
    /// May change the batcher and hand ownership on.
    pub owner: Address,
    /// The only account whose batches the contract accepts.
    pub batcher: Address,
    /// The L2 chain id (the sequencer's `eth_chainId`).
    pub l2_chain_id: u64,
    /// The L2 genesis block hash: the parent of the first committed block.
    pub genesis_hash: B256,
    /// The L2 genesis state root.
    pub genesis_state_root: B256,
}

/// A `Rollup` contract deployed on L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployment {
    /// The contract's address.
    pub rollup: Address,
    /// The deployment transaction.
    pub transaction: B256,
    /// The L1 block that holds it: readers of the contract's events start there
    /// (`derivation --l1.from-block`).
    pub l1_block: u64,
    /// Gas the deployment used.
    pub gas_used: u64,
}

/// Why a deployment failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The transaction could not be built or sent (estimation failed, funds, nonce, transport).
    #[error("sending the deployment: {0}")]
    Send(#[from] alloy::contract::Error),
    /// It was sent, but its receipt could not be had: it may still be mined.
    #[error(
        "waiting for the receipt of deployment {transaction}: {source}; it may still be mined: \
         look it up before deploying again"
    )]
    Receipt {
        /// The deployment transaction.
        transaction: B256,
        /// Why the receipt is missing.
        source: PendingTransactionError,
    },
    /// It was sent, and no block included it within the time the caller gave.
    #[error(
        "deployment {transaction} was not mined within {}s; it may still be mined (or be \
         replaced by a transaction with the same nonce and a higher fee): look it up before \
         deploying again",
        waited.as_secs()
    )]
    NotMined {
        /// The deployment transaction.
        transaction: B256,
        /// How long it was waited for.
        waited: Duration,
    },
    /// It was mined and reverted.
    #[error("the deployment transaction {0} reverted")]
    Reverted(B256),
    /// The receipt names no created contract.
    #[error("the receipt of {0} names no contract address")]
    NoAddress(B256),
}

/// Deploys `Rollup` for an L2 chain and waits for its receipt, at most `timeout` when one is
/// given. `progress` hears the transaction hash as soon as the transaction is sent, before it
/// is mined.
///
/// # Errors
/// When the deployment transaction cannot be sent, is not mined in time, fails or reverts.
pub async fn deploy<P: Provider<Ethereum>>(
    provider: P,
    params: &RollupParams,
    timeout: Option<Duration>,
    progress: impl FnOnce(B256),
) -> Result<Deployment, DeployError> {
    let pending = Rollup::deploy_builder(
        provider,
        params.owner,
        params.batcher,
        params.l2_chain_id,
        params.genesis_hash,
        params.genesis_state_root,
    )
    .send()
    .await?;
    let transaction = *pending.tx_hash();
    progress(transaction);
    let receipt =
        pending.with_timeout(timeout).get_receipt().await.map_err(|source| match source {
            PendingTransactionError::TxWatcher(WatchTxError::Timeout) => {
                DeployError::NotMined { transaction, waited: timeout.unwrap_or_default() }
            }
            source => DeployError::Receipt { transaction, source },
        })?;
    if !receipt.status() {
        return Err(DeployError::Reverted(transaction));
    }
    let rollup = receipt.contract_address.ok_or(DeployError::NoAddress(transaction))?;
    Ok(Deployment {
        rollup,
        transaction,
        l1_block: receipt.block_number.unwrap_or_default(),
        gas_used: receipt.gas_used,
    })
}

#[cfg(test)]
mod tests {
    use alloy_primitives::keccak256;

    use super::*;

    #[test]
    fn previous_hashes_follow_the_documented_running_hash() {
        let frames: [&[u8]; 3] = [b"frame 0", b"frame 1", b"frame 2"];
        let acc0 = keccak256(frames[0]);
        let acc1 = keccak256([acc0.as_slice(), keccak256(frames[1]).as_slice()].concat());
        let acc2 = keccak256([acc1.as_slice(), keccak256(frames[2]).as_slice()].concat());
        assert_eq!(previous_hashes(frames), vec![B256::ZERO, acc0, acc1]);

        let mut commitment = acc2;
        commitment.0[0] = DATA_KIND_CALLDATA;
        assert_eq!(data_commitment(frames), commitment);
        // One frame: nothing to chain to, and the commitment of `submitBatch`.
        assert_eq!(previous_hashes([frames[0]]), vec![B256::ZERO]);
        assert!(previous_hashes(std::iter::empty::<&[u8]>()).is_empty());
        let mut single = acc0;
        single.0[0] = DATA_KIND_CALLDATA;
        assert_eq!(data_commitment([frames[0]]), single);
    }

    #[test]
    fn the_unchained_submit_frame_is_the_selector_older_deployments_hold() {
        use alloy::sol_types::SolCall;
        assert_eq!(unchained::submitFrameCall::SELECTOR, [0x5c, 0x4c, 0xe9, 0x49]);
        assert_ne!(unchained::submitFrameCall::SELECTOR, Rollup::submitFrameCall::SELECTOR);
    }
}
