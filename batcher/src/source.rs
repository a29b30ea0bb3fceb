//! The sequencer, seen from the batcher: sealed blocks read over JSON-RPC, and the admin port
//! where the batcher reports L1 progress and applies back-pressure.
//!
//! Following the sequencer over RPC (rather than in-process) keeps the batcher a separate
//! process that can be stopped, killed and restarted on its own, and lets it follow any
//! sequencer, local or remote.

use alloy::{
    consensus::Transaction as _,
    eips::{BlockNumberOrTag, eip2718::Encodable2718},
    providers::{Provider, ProviderBuilder, RootProvider},
};
use alloy_primitives::{B256, U64};

use crate::{
    batch::BatchBlock,
    error::{BatcherError, BatcherResult},
};

/// A sealed L2 block as the batcher needs it.
#[derive(Debug, Clone)]
pub struct L2Block {
    /// What the batch carries of it.
    pub block: BatchBlock,
    /// Its hash.
    pub hash: B256,
    /// Its parent's hash.
    pub parent_hash: B256,
    /// The state root after it.
    pub state_root: B256,
    /// Encoded size of its transactions.
    pub raw_bytes: usize,
}

/// The sequencer's RPC and (optionally) admin endpoints.
#[derive(Debug, Clone)]
pub struct L2Source {
    rpc: RootProvider,
    admin: Option<RootProvider>,
}

fn l2_error(e: impl std::fmt::Display) -> BatcherError {
    BatcherError::Unreachable { endpoint: "L2", reason: e.to_string() }
}

impl L2Source {
    /// Connects to the sequencer (and its admin port, if given).
    ///
    /// # Errors
    /// When a URL does not parse.
    pub fn new(rpc: &str, admin: Option<&str>) -> BatcherResult<Self> {
        let parse = |url: &str| {
            url.parse().map_err(|e| BatcherError::Rpc {
                endpoint: "L2",
                reason: format!("bad URL {url}: {e}"),
            })
        };
        Ok(Self {
            rpc: ProviderBuilder::default().connect_http(parse(rpc)?),
            admin: admin
                .map(parse)
                .transpose()?
                .map(|url| ProviderBuilder::default().connect_http(url)),
        })
    }

    /// The chain id.
    ///
    /// # Errors
    /// When the sequencer does not answer.
    pub async fn chain_id(&self) -> BatcherResult<u64> {
        self.rpc.get_chain_id().await.map_err(l2_error)
    }

    /// The newest sealed block number.
    ///
    /// # Errors
    /// When the sequencer does not answer.
    pub async fn head(&self) -> BatcherResult<u64> {
        self.rpc.get_block_number().await.map_err(l2_error)
    }

    /// Block `number` with its transactions, if sealed.
    ///
    /// # Errors
    /// When the sequencer does not answer.
    pub async fn block(&self, number: u64) -> BatcherResult<Option<L2Block>> {
        let Some(block) = self
            .rpc
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .full()
            .await
            .map_err(l2_error)?
        else {
            return Ok(None);
        };
        let header = &block.header;
        let transactions: Vec<_> = block
            .transactions
            .clone()
            .into_transactions()
            .map(|tx| tx.inner.into_inner())
            .collect();
        let raw_bytes = transactions.iter().map(|tx| tx.encode_2718_len()).sum();
        debug_assert!(transactions.iter().all(|tx| tx.chain_id().is_some()));
        Ok(Some(L2Block {
            block: BatchBlock {
                number: header.number,
                timestamp: header.timestamp,
                beneficiary: header.beneficiary,
                extra_data: header.extra_data.clone(),
                transactions,
            },
            hash: header.hash,
            parent_hash: header.parent_hash,
            state_root: header.state_root,
            raw_bytes,
        }))
    }

    /// Caps (or, with `None`, uncaps) the encoded transaction bytes of future blocks.
    ///
    /// # Errors
    /// When the admin port does not answer.
    pub async fn set_max_block_bytes(&self, max: Option<u64>) -> BatcherResult<()> {
        self.admin_request("sequencer_setMaxBlockBytes", (max.map(U64::from),)).await
    }

    /// Reports the newest L2 block posted to L1 (`safe`) and final there (`finalized`).
    ///
    /// # Errors
    /// When the admin port does not answer.
    pub async fn set_l1_heads(&self, safe: u64, finalized: u64) -> BatcherResult<()> {
        self.admin_request("sequencer_setL1Heads", (U64::from(safe), U64::from(finalized))).await
    }

    /// Calls an admin method (they answer `true`); without an admin port, does nothing.
    async fn admin_request<P>(&self, method: &'static str, params: P) -> BatcherResult<()>
    where
        P: serde::Serialize + Clone + std::fmt::Debug + Send + Sync + Unpin,
    {
        let Some(admin) = &self.admin else { return Ok(()) };
        let _: bool = admin.raw_request(method.into(), params).await.map_err(|e| {
            BatcherError::Unreachable { endpoint: "L2 admin", reason: e.to_string() }
        })?;
        Ok(())
    }
}
