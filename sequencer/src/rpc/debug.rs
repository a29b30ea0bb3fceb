//! The `debug_getRaw*` methods: the chain's consensus encodings of headers, blocks, receipts
//! and transactions, for indexers and tools that check blocks themselves rather than trust
//! the node's JSON.

use alloy::eips::{BlockId, eip2718::Encodable2718};
use alloy_primitives::{B256, Bytes};
use jsonrpsee::core::RpcResult;

use super::{api::DebugApiServer, eth::EthRpc};

/// The `debug_` API implementation (block lookups shared with `eth_`).
#[derive(Debug, Clone)]
pub(crate) struct DebugRpc {
    pub(crate) eth: EthRpc,
}

impl DebugApiServer for DebugRpc {
    fn get_raw_header(&self, block: BlockId) -> RpcResult<Bytes> {
        let stored = self.eth.existing_block(block)?;
        Ok(alloy_rlp::encode(&stored.header).into())
    }

    fn get_raw_block(&self, block: BlockId) -> RpcResult<Bytes> {
        let stored = self.eth.existing_block(block)?;
        Ok(alloy_rlp::encode(super::convert::consensus_block(&stored)).into())
    }

    fn get_raw_receipts(&self, block: BlockId) -> RpcResult<Vec<Bytes>> {
        let stored = self.eth.existing_block(block)?;
        Ok(stored.receipts.iter().map(|receipt| receipt.encoded_2718().into()).collect())
    }

    fn get_raw_transaction(&self, hash: B256) -> RpcResult<Option<Bytes>> {
        Ok(self.eth.raw_transaction(&hash)?)
    }
}
