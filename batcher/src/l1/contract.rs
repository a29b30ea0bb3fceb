//! The L1 `Rollup` contract: bindings generated from the committed Foundry artifact
//! (`contracts/artifacts/Rollup.json`, rebuilt and checked by CI) and its deployment.

#![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)] // generated bindings

use alloy::{network::Ethereum, providers::Provider};
use alloy_primitives::{Address, B256};

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    Rollup,
    "../contracts/artifacts/Rollup.json"
);

/// The first byte of a data commitment that says "keccak of calldata".
pub const DATA_KIND_CALLDATA: u8 = 0;

/// The data commitment the contract stores for a batch sent as `frames` (one frame for
/// `submitBatch`): the running keccak over the frames, its first byte replaced by the kind.
pub fn data_commitment<'a>(frames: impl IntoIterator<Item = &'a [u8]>) -> B256 {
    let mut running: Option<B256> = None;
    for frame in frames {
        let hash = alloy_primitives::keccak256(frame);
        running = Some(match running {
            None => hash,
            Some(previous) => {
                alloy_primitives::keccak256([previous.as_slice(), hash.as_slice()].concat())
            }
        });
    }
    let mut commitment = running.unwrap_or_default();
    commitment.0[0] = DATA_KIND_CALLDATA;
    commitment
}

/// Deploys `Rollup` for an L2 chain and returns its address.
///
/// # Errors
/// When the deployment transaction fails or reverts.
pub async fn deploy<P: Provider<Ethereum>>(
    provider: P,
    owner: Address,
    batcher: Address,
    l2_chain_id: u64,
    genesis_hash: B256,
    genesis_state_root: B256,
) -> Result<Address, alloy::contract::Error> {
    let contract =
        Rollup::deploy(provider, owner, batcher, l2_chain_id, genesis_hash, genesis_state_root)
            .await?;
    Ok(*contract.address())
}
