//! The `debug_` namespace: the `debug_getRaw*` methods (the chain's consensus encodings of
//! headers, blocks, receipts and transactions, for indexers and tools that check blocks
//! themselves rather than trust the node's JSON) and the `debug_trace*` methods (geth's
//! tracers over a stored block's transactions, or over a call).

use std::sync::Arc;

use alloy::{
    eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718},
    rpc::types::{
        TransactionRequest,
        trace::{
            common::TraceResult,
            geth::{GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace},
        },
    },
};
use alloy_primitives::{B256, Bytes};
use jsonrpsee::core::{RpcResult, async_trait};

use super::{
    api::DebugApiServer,
    error::{RpcError, RpcResult as Result},
    eth::EthRpc,
    overrides::apply_block_overrides,
};
use crate::{
    executor::{self, BlockEnv, Tracer, TxTrace},
    state::{DiffState, StateDiff, StateReader},
    store::{StateView, StoredBlock},
};

/// The `debug_` API implementation (block lookups shared with `eth_`).
#[derive(Debug, Clone)]
pub(crate) struct DebugRpc {
    pub(crate) eth: EthRpc,
}

impl DebugRpc {
    /// Every transaction of the block `block` names, traced (`debug_traceBlockBy*`).
    async fn trace_whole_block(
        &self,
        block: BlockId,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult<GethTrace, String>>> {
        self.eth
            .expensive(move |eth| {
                let tracer = tracer(eth, options.unwrap_or_default())?;
                let block = eth.existing_block(block)?;
                Ok(block_results(trace_block(eth, &block, |_| true, &tracer)?))
            })
            .await
    }
}

#[async_trait]
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

    async fn trace_transaction(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace> {
        self.eth
            .expensive(move |eth| {
                let tracer = tracer(eth, options.unwrap_or_default())?;
                let (block, index) = block_of(eth, &hash)?;
                match trace_block(eth, &block, |i| i == index, &tracer)?.pop() {
                    Some((_, Ok(trace))) => Ok(trace),
                    Some((_, Err(e))) => Err(RpcError::from(e).into()),
                    None => Err(RpcError::TransactionNotFound.into()),
                }
            })
            .await
    }

    async fn trace_block_by_number(
        &self,
        block: BlockNumberOrTag,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult<GethTrace, String>>> {
        self.trace_whole_block(BlockId::Number(block), options).await
    }

    async fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult<GethTrace, String>>> {
        self.trace_whole_block(BlockId::hash(hash), options).await
    }

    async fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        options: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace> {
        self.eth
            .expensive(move |eth| {
                let options = options.unwrap_or_default();
                let tracer = tracer(eth, options.tracing_options)?;
                let gas_cap = eth.node.config.rpc.gas_cap;
                let (state, diff, mut env) = match options.tx_index {
                    Some(index) => {
                        let block = block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest));
                        let stored = eth.existing_block(block)?;
                        let (parent, env) = parent_of(eth, &stored)?;
                        let diff = state_before(eth, &parent, &env, &stored, index, &tracer)?;
                        (parent, diff, env)
                    }
                    None => {
                        let ctx = eth.call_context(block)?;
                        (ctx.state, StateDiff::default(), ctx.env)
                    }
                };
                if let Some(overrides) = &options.block_overrides {
                    apply_block_overrides(&mut env, overrides)?;
                }
                let layered = DiffState::new(state.as_ref(), &diff);
                let trace =
                    eth.with_overrides(&layered, options.state_overrides, |state, codes| {
                        Ok(executor::trace_call(state, codes, &env, &request, gas_cap, &tracer)?)
                    })?;
                Ok(trace)
            })
            .await
    }
}

/// The tracer the options name, with the node's bounds; its clock starts now (after the
/// request waited for its permit).
fn tracer(eth: &EthRpc, options: GethDebugTracingOptions) -> Result<Tracer> {
    Ok(Tracer::new(options, &eth.node.config.rpc.trace)?)
}

/// The stored block holding the transaction `hash`, and its index there.
fn block_of(eth: &EthRpc, hash: &B256) -> Result<(StoredBlock, usize)> {
    let blocks = eth.node.store.blocks()?;
    let location = blocks.tx_location(hash)?.ok_or(RpcError::TransactionNotFound)?;
    let block = blocks.block(location.block)?.ok_or(RpcError::TransactionNotFound)?;
    Ok((block, location.index as usize))
}

/// The state before `block` (its parent's, found by hash) and the block's environment.
fn parent_of(eth: &EthRpc, block: &StoredBlock) -> Result<(Arc<StateView>, BlockEnv)> {
    if block.header.number == 0 {
        return Err(RpcError::CallFailed("genesis is not traceable".into()));
    }
    let parent_hash = block.header.parent_hash;
    let (parent, _) = eth.state(Some(BlockId::hash(parent_hash)))?;
    // On a replica the writer may replace that height between finding the number and
    // opening its state: check the state is the parent's, in the view's own snapshot.
    if parent.block_hash(parent.block())? != Some(parent_hash) {
        return Err(RpcError::BlockNotFound);
    }
    let spec = &eth.node.spec;
    Ok((parent, BlockEnv::from_header(&block.header, spec.chain_id, spec.hardfork)))
}

/// Traces the transactions of `block` that `traced` selects.
fn trace_block(
    eth: &EthRpc,
    block: &StoredBlock,
    traced: impl Fn(usize) -> bool,
    tracer: &Tracer,
) -> Result<Vec<TxTrace>> {
    let (parent, env) = parent_of(eth, block)?;
    Ok(executor::trace_transactions(
        parent.as_ref(),
        &eth.node.codes,
        &env,
        block.hash,
        &block.transactions,
        traced,
        tracer,
    )?)
}

/// The changes the first `count` transactions of `block` make to `parent` (geth's rule: the
/// count must name a transaction of the block).
fn state_before(
    eth: &EthRpc,
    parent: &StateView,
    env: &BlockEnv,
    block: &StoredBlock,
    count: u64,
    tracer: &Tracer,
) -> Result<StateDiff> {
    let len = block.transactions.len();
    let count = usize::try_from(count).ok().filter(|count| *count < len).ok_or_else(|| {
        RpcError::CallFailed(format!(
            "transaction index {count} out of range for block {:#x}",
            block.header.number
        ))
    })?;
    let txs = &block.transactions[..count];
    Ok(executor::replay_transactions(parent, &eth.node.codes, env, txs, tracer)?)
}

/// A block's traces as geth lists them: `{txHash, result}` or `{txHash, error}` each.
fn block_results(traces: Vec<TxTrace>) -> Vec<TraceResult<GethTrace, String>> {
    traces
        .into_iter()
        .map(|(hash, trace)| match trace {
            Ok(result) => TraceResult::Success { result, tx_hash: Some(hash) },
            Err(e) => {
                TraceResult::Error { error: RpcError::from(e).to_string(), tx_hash: Some(hash) }
            }
        })
        .collect()
}
