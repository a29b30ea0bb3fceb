//! The `eth_`, `net_` and `web3_` methods, over the node's store, txpool and executor.

use std::{sync::Arc, time::Duration};

use alloy::{
    consensus::{Header as ConsensusHeader, Transaction as _},
    eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718},
    rpc::types::{
        AccessListResult, Block, BlockOverrides, EIP1186AccountProofResponse, EIP1186StorageProof,
        FeeHistory, Filter, FilterBlockOption, FilterChanges, Index, Log, SyncStatus, Transaction,
        TransactionReceipt, TransactionRequest,
        simulate::{SimulatePayload, SimulatedBlock},
        state::StateOverride,
    },
    serde::JsonStorageKey,
};
use alloy_primitives::{Address, B256, Bytes, U64, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY};
use jsonrpsee::core::{RpcResult as JsonRpcResult, async_trait};

use super::{
    api::{EthApiServer, NetApiServer, Web3ApiServer},
    convert,
    error::{RpcError, RpcResult},
    filters::{FilterKind, Filters},
    overrides::{OverriddenState, apply_block_overrides},
};
use crate::{
    executor::{self, BlockEnv, CodeCache},
    node::{Included, Node},
    state::StateReader,
    store::{BlockReader, StateView, StoredBlock},
    txpool::PooledTx,
};

/// Lowest priority fee the node suggests (0.001 gwei): enough to order, cheap on an L2.
const MIN_SUGGESTED_TIP: u128 = 1_000_000;
/// Blocks sampled for the suggested tip.
const TIP_SAMPLE_BLOCKS: u64 = 20;
/// Transactions sampled per block for the suggested tip (the first: the best-paying).
const TIP_SAMPLE_TXS: usize = 100;
/// Most blocks one `eth_feeHistory` call covers.
const MAX_FEE_HISTORY_BLOCKS: u64 = 1024;
/// The most storage keys one `eth_getProof` proves (geth's limit): each is a trie walk.
const MAX_PROOF_KEYS: usize = 1024;
/// The most reward percentiles `eth_feeHistory` accepts (geth's limit).
const MAX_REWARD_PERCENTILES: usize = 100;
/// The EIP-4844 blob base fee at zero excess blob gas, where this blob-free chain stays.
const MIN_BLOB_BASE_FEE: u128 = 1;

/// The `eth_` API implementation.
#[derive(Debug, Clone)]
pub(crate) struct EthRpc {
    pub(crate) node: Arc<Node>,
    filters: Arc<Filters>,
    /// Permits for the methods whose cost a caller controls ([`Self::expensive`]).
    expensive: Arc<tokio::sync::Semaphore>,
    /// The suggested tip and the head block (hash) it was computed at: wallets ask for it
    /// before every transaction, and it only changes with the head.
    tip: Arc<parking_lot::Mutex<Option<(B256, u128)>>>,
}

/// A state to run against, and the block environment of that state's block.
pub(crate) struct CallContext {
    pub(crate) state: Arc<StateView>,
    pub(crate) env: BlockEnv,
}

impl EthRpc {
    pub(crate) fn new(node: Arc<Node>, filters: Arc<Filters>) -> Self {
        let permits = node.config.rpc.max_concurrent_calls.max(1);
        Self {
            node,
            filters,
            expensive: Arc::new(tokio::sync::Semaphore::new(permits)),
            tip: Arc::default(),
        }
    }

    /// Installs a filter reporting from the next block on.
    fn install_filter(&self, kind: FilterKind) -> JsonRpcResult<U256> {
        Ok(self
            .filters
            .install(kind, self.head() + 1)
            .ok_or(RpcError::TooManyFilters { max: super::filters::MAX_FILTERS })?)
    }

    /// Runs a method whose cost the caller controls (EVM runs, log scans, proofs) on a
    /// blocking thread, at most `rpc.max_concurrent_calls` at once; the others wait without
    /// holding a thread. Run inline, a few such requests (a batch of ten thousand estimates
    /// is one request) would occupy every async worker, and with them the block producer's
    /// timer and every other connection.
    pub(crate) async fn expensive<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> JsonRpcResult<T> + Send + 'static,
    ) -> JsonRpcResult<T> {
        let _permit = self
            .expensive
            .acquire()
            .await
            .map_err(|_| RpcError::Internal("the node is shutting down".into()))?;
        let this = self.clone();
        match tokio::task::spawn_blocking(move || work(&this)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(RpcError::Internal("the node is shutting down".into()).into()),
        }
    }

    fn head(&self) -> u64 {
        self.node.store.head_number()
    }

    /// The block number a tag names (the head for `latest` and `pending`).
    fn number_of(&self, tag: BlockNumberOrTag) -> u64 {
        let head = self.head();
        let (safe, finalized) = self.node.l1_heads();
        match tag {
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => head,
            BlockNumberOrTag::Safe => safe,
            BlockNumberOrTag::Finalized => finalized,
            BlockNumberOrTag::Earliest => 0,
            BlockNumberOrTag::Number(n) => n,
        }
    }

    /// The number of the block a block id names, if it exists.
    fn resolve(&self, block: BlockId) -> RpcResult<Option<u64>> {
        match block {
            BlockId::Number(tag) => {
                let number = self.number_of(tag);
                Ok((number <= self.head()).then_some(number))
            }
            BlockId::Hash(hash) => self.number_by_hash(&hash.block_hash),
        }
    }

    /// The number of the stored block with hash `hash`, if there is one.
    fn number_by_hash(&self, hash: &B256) -> RpcResult<Option<u64>> {
        Ok(self.node.store.blocks()?.number(hash)?)
    }

    fn stored_block(&self, number: u64) -> RpcResult<Option<StoredBlock>> {
        Ok(self.node.store.blocks()?.block(number)?)
    }

    pub(crate) fn header(&self, number: u64) -> RpcResult<Option<ConsensusHeader>> {
        Ok(self.node.store.blocks()?.header(number)?)
    }

    /// The stored block with hash `hash`, number and block read in one view of the store (a
    /// replica's writer may replace the block at a height between two reads).
    fn block_by_hash(&self, hash: &B256) -> RpcResult<Option<StoredBlock>> {
        let blocks = self.node.store.blocks()?;
        let Some(number) = blocks.number(hash)? else { return Ok(None) };
        Ok(blocks.block(number)?.filter(|block| block.hash == *hash))
    }

    /// The stored block a block id names, if there is one.
    fn block_at(&self, block: BlockId) -> RpcResult<Option<StoredBlock>> {
        match block {
            BlockId::Hash(hash) => self.block_by_hash(&hash.block_hash),
            BlockId::Number(_) => match self.resolve(block)? {
                Some(number) => self.stored_block(number),
                None => Ok(None),
            },
        }
    }

    /// The RPC header of block `number`, if it exists.
    fn rpc_header(&self, number: u64) -> RpcResult<Option<alloy::rpc::types::Header>> {
        header_in(&self.node.store.blocks()?, number)
    }

    /// The stored block a block id names; [`RpcError::BlockNotFound`] when there is none.
    pub(crate) fn existing_block(&self, block: BlockId) -> RpcResult<StoredBlock> {
        self.block_at(block)?.ok_or(RpcError::BlockNotFound)
    }

    /// Where the transaction with hash `hash` is: in a stored block, or in the pool.
    fn locate_transaction(&self, hash: &B256) -> RpcResult<Option<Located>> {
        let blocks = self.node.store.blocks()?;
        if let Some(location) = blocks.tx_location(hash)? {
            let index = location.index as usize;
            let block = blocks.block(location.block)?;
            return Ok(block
                .filter(|block| index < block.transactions.len())
                .map(|block| Located::Included(Box::new(block), index)));
        }
        Ok(self.node.pool.lock().get(hash).map(Located::Pooled))
    }

    /// A transaction's EIP-2718 encoding by hash, from the chain or the pool.
    pub(crate) fn raw_transaction(&self, hash: &B256) -> RpcResult<Option<Bytes>> {
        Ok(self.locate_transaction(hash)?.map(|located| {
            match located {
                Located::Included(block, index) => block.transactions[index].inner().encoded_2718(),
                Located::Pooled(pooled) => pooled.tx.inner().encoded_2718(),
            }
            .into()
        }))
    }

    /// The state after the block `block` names (default: latest).
    pub(crate) fn state(&self, block: Option<BlockId>) -> RpcResult<(Arc<StateView>, u64)> {
        let block = block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest));
        let number = self.resolve(block)?.ok_or(RpcError::HeaderNotFound)?;
        let latest = self.node.latest_state();
        if number == latest.block() {
            return Ok((latest, number));
        }
        Ok((Arc::new(self.node.store.state_at(number)?), number))
    }

    /// The state and environment calls at `block` run in; `pending` runs in the next block.
    pub(crate) fn call_context(&self, block: Option<BlockId>) -> RpcResult<CallContext> {
        let pending = matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)));
        let (state, number) = self.state(block)?;
        let header = self.header(number)?.ok_or(RpcError::HeaderNotFound)?;
        let mut env =
            BlockEnv::from_header(&header, self.node.spec.chain_id, self.node.spec.hardfork);
        if pending {
            env.number += 1;
            env.timestamp += 1;
            env.base_fee = self.node.spec.next_base_fee(&header);
        }
        Ok(CallContext { state, env })
    }

    /// Runs `run` on `state` with `overrides` applied, and the code cache to run with: the
    /// node's shared one, unless the overrides carry code. Code a caller makes up then stays
    /// in a cache of that call's own, so it can neither fill the shared cache (and, past its
    /// size, clear the analysed code of the chain's hot contracts) nor occupy its memory.
    pub(crate) fn with_overrides<T>(
        &self,
        state: &dyn StateReader,
        overrides: Option<StateOverride>,
        run: impl FnOnce(&dyn StateReader, &Arc<CodeCache>) -> RpcResult<T>,
    ) -> RpcResult<T> {
        match overrides {
            Some(overrides) if !overrides.is_empty() => {
                let own_code = overrides.values().any(|account| account.code.is_some());
                let overlay = OverriddenState::new(state, overrides)?;
                if own_code {
                    run(&overlay, &Arc::new(CodeCache::default()))
                } else {
                    run(&overlay, &self.node.codes)
                }
            }
            _ => run(state, &self.node.codes),
        }
    }

    /// The receipt of the included transaction `hash`, if a stored block includes it.
    fn receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>> {
        let blocks = self.node.store.blocks()?;
        let Some(location) = blocks.tx_location(&hash)? else { return Ok(None) };
        let Some(block) = blocks.block(location.block)? else { return Ok(None) };
        Ok(convert::receipt(&block, location.index as usize))
    }

    /// The receipt of `hash`, a transaction just submitted, once a committed block includes
    /// it: what `eth_sendRawTransactionSync` and `eth_sendTransactionSync` answer. `timeout` is
    /// the caller's wait in milliseconds (absent or 0: the node's default; capped at the
    /// node's maximum).
    ///
    /// # Errors
    /// [`RpcError::TxSyncTimeout`] when no block included it in time.
    pub(crate) async fn wait_for_receipt(
        &self,
        hash: B256,
        timeout: Option<U64>,
    ) -> RpcResult<TransactionReceipt> {
        let config = &self.node.config.rpc;
        let timeout = match timeout.map(|ms| ms.to::<u64>()) {
            Some(ms) if ms > 0 => Duration::from_millis(ms).min(config.tx_sync_max_timeout),
            _ => config.tx_sync_timeout,
        };
        // Watch before looking: a block committed before the look-up is in the store, any
        // later one reaches the watch.
        let mut watch = self.node.inclusions.watch(hash);
        if let Some(receipt) = self.receipt(hash)? {
            return Ok(receipt);
        }
        let included = match tokio::time::timeout(timeout, watch.included()).await {
            Ok(included) => included,
            // The block may have come as the wait ran out.
            Err(_) => watch.try_included().ok_or(RpcError::TxSyncTimeout { hash, timeout })?,
        };
        let Included { block, index, first_log_index } = included;
        convert::receipt_with_first_log(&block, index, first_log_index).ok_or_else(|| {
            RpcError::Internal(format!("block {} has no receipt {index}", block.header.number))
        })
    }

    /// The nonce `address`'s next transaction takes: after its pooled ones.
    ///
    /// The state and the pool's count are taken together under the pool's lock, under which a
    /// committed block swaps the latest state and updates the pool: read apart, the old state
    /// and the updated pool (which no longer holds the mined transactions) would give a nonce
    /// the block has just used. The head is read there too: when the node could not open the
    /// new head's state for its plan, the pool has moved on while the latest state has not,
    /// and the head's own state is read instead.
    pub(crate) fn pending_nonce(&self, address: Address) -> RpcResult<u64> {
        let (latest, head, pooled) = {
            let pool = self.node.pool.lock();
            (self.node.latest_state(), self.head(), pool.pending_nonce(&address))
        };
        let state =
            if latest.block() == head { latest } else { Arc::new(self.node.store.state_at(head)?) };
        let nonce = state.account(address)?.map_or(0, |a| a.nonce);
        Ok(nonce.max(pooled.unwrap_or(0)))
    }

    pub(crate) fn next_base_fee(&self) -> u64 {
        self.node.spec.next_base_fee(&self.node.store.head().0)
    }

    /// The suggested tip: a high percentile of recent tips, at least [`MIN_SUGGESTED_TIP`];
    /// computed once per head.
    pub(crate) fn suggested_tip(&self) -> RpcResult<u128> {
        let blocks = self.node.store.blocks()?;
        let head = blocks.head();
        let Some(head_hash) = blocks.hash(head)? else { return Err(RpcError::HeaderNotFound) };
        if let Some((at, tip)) = *self.tip.lock()
            && at == head_hash
        {
            return Ok(tip);
        }
        let mut tips = Vec::new();
        for number in head.saturating_sub(TIP_SAMPLE_BLOCKS - 1)..=head {
            let Some(header) = blocks.header(number)? else { continue };
            let base_fee = header.base_fee_per_gas.unwrap_or(0);
            for tx in blocks.first_transactions(number, TIP_SAMPLE_TXS)?.unwrap_or_default() {
                if let Some(tip) = tx.effective_tip_per_gas(base_fee) {
                    tips.push(tip);
                }
            }
        }
        tips.sort_unstable();
        let percentile = tips.get(tips.len() * 6 / 10).copied().unwrap_or(0);
        let tip = percentile.max(MIN_SUGGESTED_TIP);
        *self.tip.lock() = Some((head_hash, tip));
        Ok(tip)
    }

    /// The inclusive block range of a log query, as `blocks` sees the chain.
    fn log_range(&self, blocks: &BlockReader, filter: &Filter) -> RpcResult<(u64, u64)> {
        match filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let number = blocks.number(&hash)?.ok_or(RpcError::HeaderNotFound)?;
                Ok((number, number))
            }
            FilterBlockOption::Range { from_block, to_block } => {
                let head = blocks.head();
                let from = from_block.map_or(head, |t| self.number_of(t));
                let to = to_block.map_or(head, |t| self.number_of(t)).min(head);
                Ok((from, to))
            }
        }
    }

    /// Logs matching `filter` in blocks `from..=to`, read from `blocks` (the reader that
    /// resolved the range: on a replica, another one could see a chain its writer has since
    /// replaced).
    fn logs_in(
        &self,
        blocks: &BlockReader,
        filter: &Filter,
        from: u64,
        to: u64,
    ) -> RpcResult<Vec<Log>> {
        if from > to {
            return Ok(Vec::new());
        }
        let max_range = self.node.config.rpc.max_logs_range;
        if to - from + 1 > max_range {
            return Err(RpcError::BlockRangeTooLarge { max: max_range });
        }
        let mut logs = Vec::new();
        for number in from..=to {
            let Some(header) = blocks.header(number)? else { break };
            if !filter.matches_bloom(header.logs_bloom) {
                continue;
            }
            let Some(block) = blocks.block(number)? else { break };
            logs.extend(convert::logs(&block).filter(|log| filter.matches(&log.inner)));
            if logs.len() > self.node.config.rpc.max_logs {
                return Err(RpcError::TooManyLogs { max: self.node.config.rpc.max_logs });
            }
        }
        Ok(logs)
    }

    fn block_by_number(&self, tag: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>> {
        let number = self.number_of(tag);
        Ok(self.stored_block(number)?.map(|b| convert::block(&b, full)))
    }

    fn fee_history(
        &self,
        count: u64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        if let Some(p) = &percentiles {
            check_reward_percentiles(p)?;
        }
        // An empty percentile list asks for no rewards (geth leaves the field out).
        let percentiles = percentiles.filter(|p| !p.is_empty());
        if count == 0 {
            return Ok(FeeHistory::default());
        }
        let blocks = self.node.store.blocks()?;
        let head = blocks.head();
        let newest = match newest {
            BlockNumberOrTag::Number(n) if n > head => {
                return Err(RpcError::BeyondHead { requested: n, head });
            }
            tag => self.number_of(tag).min(head),
        };
        let count = count.min(MAX_FEE_HISTORY_BLOCKS).min(newest + 1);
        let oldest = newest + 1 - count;
        let mut history = FeeHistory { oldest_block: oldest, ..Default::default() };
        let mut rewards = Vec::new();
        let mut last_header = None;
        for number in oldest..=newest {
            let header = blocks.header(number)?.ok_or(RpcError::HeaderNotFound)?;
            history.base_fee_per_gas.push(u128::from(header.base_fee_per_gas.unwrap_or(0)));
            history.gas_used_ratio.push(header.gas_used as f64 / header.gas_limit.max(1) as f64);
            history.base_fee_per_blob_gas.push(MIN_BLOB_BASE_FEE);
            history.blob_gas_used_ratio.push(0.0);
            if let Some(percentiles) = &percentiles {
                let block = blocks.block(number)?.ok_or(RpcError::HeaderNotFound)?;
                rewards.push(block_rewards(&block, percentiles));
            }
            last_header = Some(header);
        }
        if let Some(header) = last_header {
            history.base_fee_per_gas.push(u128::from(self.node.spec.next_base_fee(&header)));
            history.base_fee_per_blob_gas.push(MIN_BLOB_BASE_FEE);
        }
        history.reward = percentiles.map(|_| rewards);
        Ok(history)
    }
}

/// Refuses reward percentiles geth refuses: more than [`MAX_REWARD_PERCENTILES`], or not
/// strictly increasing values in `0..=100` (each block's rewards take one entry per percentile,
/// so the count bounds the response).
fn check_reward_percentiles(percentiles: &[f64]) -> RpcResult<()> {
    if percentiles.len() > MAX_REWARD_PERCENTILES {
        return Err(RpcError::InvalidParams(format!(
            "invalid reward percentile: over the query limit {MAX_REWARD_PERCENTILES}"
        )));
    }
    for (i, &p) in percentiles.iter().enumerate() {
        if !(0.0..=100.0).contains(&p) {
            return Err(RpcError::InvalidParams(format!("invalid reward percentile: {p}")));
        }
        if i > 0 && p <= percentiles[i - 1] {
            return Err(RpcError::InvalidParams(format!(
                "invalid reward percentile: #{}:{} >= #{i}:{p}",
                i - 1,
                percentiles[i - 1]
            )));
        }
    }
    Ok(())
}

/// Tips at the given percentiles of a block's gas (geth's weighting).
fn block_rewards(block: &StoredBlock, percentiles: &[f64]) -> Vec<u128> {
    let base_fee = block.header.base_fee_per_gas.unwrap_or(0);
    if block.transactions.is_empty() {
        return vec![0; percentiles.len()];
    }
    let mut previous = 0;
    let mut txs: Vec<(u128, u64)> = block
        .transactions
        .iter()
        .zip(&block.receipts)
        .map(|(tx, receipt)| {
            let gas = receipt.cumulative_gas_used() - previous;
            previous = receipt.cumulative_gas_used();
            (tx.effective_tip_per_gas(base_fee).unwrap_or(0), gas)
        })
        .collect();
    txs.sort_unstable_by_key(|(tip, _)| *tip);
    let total: u64 = txs.iter().map(|(_, gas)| gas).sum();
    percentiles
        .iter()
        .map(|p| {
            let threshold = (total as f64 * p / 100.0) as u64;
            let mut cumulative = 0;
            for (tip, gas) in &txs {
                cumulative += gas;
                if cumulative >= threshold {
                    return *tip;
                }
            }
            txs.last().map_or(0, |(tip, _)| *tip)
        })
        .collect()
}

#[async_trait]
impl EthApiServer for EthRpc {
    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> JsonRpcResult<Bytes> {
        self.expensive(move |this| this.call_blocking(request, block, overrides, block_overrides))
            .await
    }

    async fn simulate_v1(
        &self,
        payload: SimulatePayload,
        block: Option<BlockId>,
    ) -> JsonRpcResult<Vec<SimulatedBlock<Block>>> {
        self.expensive(move |this| Ok(this.simulate_blocking(payload, block)?)).await
    }

    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> JsonRpcResult<U64> {
        self.expensive(move |this| {
            this.estimate_gas_blocking(request, block, overrides, block_overrides)
        })
        .await
    }

    async fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> JsonRpcResult<AccessListResult> {
        self.expensive(move |this| this.create_access_list_blocking(request, block)).await
    }

    async fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> JsonRpcResult<FeeHistory> {
        self.expensive(move |this| {
            this.fee_history_blocking(block_count, newest, reward_percentiles)
        })
        .await
    }

    async fn get_logs(&self, filter: Filter) -> JsonRpcResult<Vec<Log>> {
        self.expensive(move |this| this.logs_blocking(filter)).await
    }

    async fn get_filter_changes(&self, id: U256) -> JsonRpcResult<FilterChanges> {
        self.expensive(move |this| this.filter_changes_blocking(id)).await
    }

    async fn get_filter_logs(&self, id: U256) -> JsonRpcResult<Vec<Log>> {
        self.expensive(move |this| this.filter_logs_blocking(id)).await
    }

    async fn get_proof(
        &self,
        address: Address,
        keys: Vec<B256>,
        block: Option<BlockId>,
    ) -> JsonRpcResult<EIP1186AccountProofResponse> {
        if keys.len() > MAX_PROOF_KEYS {
            return Err(RpcError::InvalidParams(format!(
                "too many storage keys requested (max {MAX_PROOF_KEYS}, got {})",
                keys.len()
            ))
            .into());
        }
        self.expensive(move |this| this.proof_blocking(address, keys, block)).await
    }

    fn chain_id(&self) -> JsonRpcResult<U64> {
        Ok(U64::from(self.node.spec.chain_id))
    }

    fn block_number(&self) -> JsonRpcResult<U64> {
        Ok(U64::from(self.head()))
    }

    fn syncing(&self) -> JsonRpcResult<SyncStatus> {
        Ok(SyncStatus::None)
    }

    fn coinbase(&self) -> JsonRpcResult<Address> {
        Ok(self.node.config.beneficiary())
    }

    fn get_balance(&self, address: Address, block: Option<BlockId>) -> JsonRpcResult<U256> {
        let (state, _) = self.state(block)?;
        let account = state.account(address).map_err(RpcError::from)?;
        Ok(account.map(|a| a.balance).unwrap_or_default())
    }

    fn get_transaction_count(
        &self,
        address: Address,
        block: Option<BlockId>,
    ) -> JsonRpcResult<U64> {
        if matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending))) {
            return Ok(U64::from(self.pending_nonce(address)?));
        }
        let (state, _) = self.state(block)?;
        Ok(U64::from(state.account(address).map_err(RpcError::from)?.map_or(0, |a| a.nonce)))
    }

    fn get_code(&self, address: Address, block: Option<BlockId>) -> JsonRpcResult<Bytes> {
        let (state, _) = self.state(block)?;
        let Some(account) = state.account(address).map_err(RpcError::from)? else {
            return Ok(Bytes::new());
        };
        if account.code_hash == KECCAK_EMPTY {
            return Ok(Bytes::new());
        }
        Ok(state.code(account.code_hash).map_err(RpcError::from)?.unwrap_or_default())
    }

    fn get_storage_at(
        &self,
        address: Address,
        slot: U256,
        block: Option<BlockId>,
    ) -> JsonRpcResult<B256> {
        let (state, _) = self.state(block)?;
        Ok(B256::from(state.storage(address, slot).map_err(RpcError::from)?))
    }

    fn gas_price(&self) -> JsonRpcResult<U256> {
        Ok(U256::from(u128::from(self.next_base_fee()) + self.suggested_tip()?))
    }

    fn max_priority_fee_per_gas(&self) -> JsonRpcResult<U256> {
        Ok(U256::from(self.suggested_tip()?))
    }

    fn blob_base_fee(&self) -> JsonRpcResult<U256> {
        Ok(U256::from(MIN_BLOB_BASE_FEE))
    }

    async fn send_raw_transaction(&self, raw: Bytes) -> JsonRpcResult<B256> {
        if self.node.config.replica {
            return Err(RpcError::ReadOnly.into());
        }
        let outcome = self.node.submit(raw).await.map_err(RpcError::from)?;
        Ok(outcome.hash)
    }

    async fn send_raw_transaction_sync(
        &self,
        raw: Bytes,
        timeout: Option<U64>,
    ) -> JsonRpcResult<TransactionReceipt> {
        // Submitted exactly as eth_sendRawTransaction submits (a replica refuses it there).
        let hash = self.send_raw_transaction(raw).await?;
        Ok(self.wait_for_receipt(hash, timeout).await?)
    }

    fn get_transaction_by_hash(&self, hash: B256) -> JsonRpcResult<Option<Transaction>> {
        Ok(self.locate_transaction(&hash)?.map(|located| match located {
            Located::Included(block, index) => {
                convert::transaction(&block, index, &block.transactions[index])
            }
            Located::Pooled(pooled) => convert::pending_transaction(&pooled.tx),
        }))
    }

    fn get_raw_transaction_by_hash(&self, hash: B256) -> JsonRpcResult<Option<Bytes>> {
        Ok(self.raw_transaction(&hash)?)
    }

    fn get_raw_transaction_by_block_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: Index,
    ) -> JsonRpcResult<Option<Bytes>> {
        let Some(stored) = self.stored_block(self.number_of(block))? else { return Ok(None) };
        Ok(raw_at(&stored, index.0))
    }

    fn get_raw_transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> JsonRpcResult<Option<Bytes>> {
        let Some(stored) = self.block_by_hash(&hash)? else { return Ok(None) };
        Ok(raw_at(&stored, index.0))
    }

    fn get_header_by_number(
        &self,
        block: BlockNumberOrTag,
    ) -> JsonRpcResult<Option<alloy::rpc::types::Header>> {
        Ok(self.rpc_header(self.number_of(block))?)
    }

    fn get_header_by_hash(&self, hash: B256) -> JsonRpcResult<Option<alloy::rpc::types::Header>> {
        let blocks = self.node.store.blocks().map_err(RpcError::from)?;
        let Some(number) = blocks.number(&hash).map_err(RpcError::from)? else { return Ok(None) };
        // Read in the same view as the number, and only if it still has that hash.
        Ok(header_in(&blocks, number)?.filter(|header| header.hash == hash))
    }

    fn get_transaction_receipt(&self, hash: B256) -> JsonRpcResult<Option<TransactionReceipt>> {
        Ok(self.receipt(hash)?)
    }

    fn get_block_by_number(
        &self,
        block: BlockNumberOrTag,
        full: bool,
    ) -> JsonRpcResult<Option<Block>> {
        Ok(self.block_by_number(block, full)?)
    }

    fn get_block_by_hash(&self, hash: B256, full: bool) -> JsonRpcResult<Option<Block>> {
        Ok(self.block_by_hash(&hash)?.map(|b| convert::block(&b, full)))
    }

    fn get_block_receipts(&self, block: BlockId) -> JsonRpcResult<Option<Vec<TransactionReceipt>>> {
        Ok(self.block_at(block)?.map(|b| convert::receipts(&b)))
    }

    fn get_block_transaction_count_by_number(
        &self,
        block: BlockNumberOrTag,
    ) -> JsonRpcResult<Option<U64>> {
        let number = self.number_of(block);
        let txs = self
            .node
            .store
            .blocks()
            .map_err(RpcError::from)?
            .transactions(number)
            .map_err(RpcError::from)?;
        Ok(txs.map(|t| U64::from(t.len())))
    }

    fn get_block_transaction_count_by_hash(&self, hash: B256) -> JsonRpcResult<Option<U64>> {
        let blocks = self.node.store.blocks().map_err(RpcError::from)?;
        let Some(number) = blocks.number(&hash).map_err(RpcError::from)? else { return Ok(None) };
        Ok(blocks.transactions(number).map_err(RpcError::from)?.map(|t| U64::from(t.len())))
    }

    fn get_transaction_by_block_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: Index,
    ) -> JsonRpcResult<Option<Transaction>> {
        let Some(stored) = self.stored_block(self.number_of(block))? else { return Ok(None) };
        let i = index.0;
        Ok(stored.transactions.get(i).map(|tx| convert::transaction(&stored, i, tx)))
    }

    fn get_transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> JsonRpcResult<Option<Transaction>> {
        let Some(stored) = self.block_by_hash(&hash)? else { return Ok(None) };
        let i = index.0;
        Ok(stored.transactions.get(i).map(|tx| convert::transaction(&stored, i, tx)))
    }

    fn get_uncle_count_by_block_number(
        &self,
        block: BlockNumberOrTag,
    ) -> JsonRpcResult<Option<U64>> {
        Ok((self.number_of(block) <= self.head()).then_some(U64::ZERO))
    }

    fn get_uncle_count_by_block_hash(&self, hash: B256) -> JsonRpcResult<Option<U64>> {
        let blocks = self.node.store.blocks().map_err(RpcError::from)?;
        Ok(blocks.number(&hash).map_err(RpcError::from)?.map(|_| U64::ZERO))
    }

    fn get_uncle_by_block_number_and_index(
        &self,
        _block: BlockNumberOrTag,
        _index: Index,
    ) -> JsonRpcResult<Option<Block>> {
        Ok(None)
    }

    fn get_uncle_by_block_hash_and_index(
        &self,
        _hash: B256,
        _index: Index,
    ) -> JsonRpcResult<Option<Block>> {
        Ok(None)
    }

    fn new_filter(&self, filter: Filter) -> JsonRpcResult<U256> {
        self.install_filter(FilterKind::Logs(Box::new(filter)))
    }

    fn new_block_filter(&self) -> JsonRpcResult<U256> {
        self.install_filter(FilterKind::Blocks)
    }

    fn new_pending_transaction_filter(&self) -> JsonRpcResult<U256> {
        self.install_filter(FilterKind::PendingTransactions)
    }

    fn uninstall_filter(&self, id: U256) -> JsonRpcResult<bool> {
        Ok(self.filters.uninstall(id))
    }
}

/// The bodies of the methods [`EthRpc::expensive`] runs.
impl EthRpc {
    fn call_blocking(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> JsonRpcResult<Bytes> {
        let mut ctx = self.call_context(block)?;
        if let Some(block_overrides) = &block_overrides {
            apply_block_overrides(&mut ctx.env, block_overrides)?;
        }
        let gas_cap = self.node.config.rpc.gas_cap;
        let output = self.with_overrides(&ctx.state, overrides, |state, codes| {
            Ok(executor::call(state, codes, &ctx.env, &request, gas_cap)?.output)
        })?;
        Ok(output)
    }

    pub(crate) fn estimate_gas_blocking(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> JsonRpcResult<U64> {
        let mut ctx =
            self.call_context(block.or(Some(BlockId::Number(BlockNumberOrTag::Pending))))?;
        if let Some(block_overrides) = &block_overrides {
            apply_block_overrides(&mut ctx.env, block_overrides)?;
        }
        let gas_cap = self.node.config.rpc.gas_cap;
        let gas = self.with_overrides(&ctx.state, overrides, |state, codes| {
            Ok(executor::estimate_gas(state, codes, &ctx.env, &request, gas_cap)?)
        })?;
        Ok(U64::from(gas))
    }

    fn create_access_list_blocking(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> JsonRpcResult<AccessListResult> {
        let ctx = self.call_context(block)?;
        let (access_list, gas_used, error) = executor::create_access_list(
            ctx.state.as_ref(),
            &self.node.codes,
            &ctx.env,
            &request,
            self.node.config.rpc.gas_cap,
        )
        .map_err(RpcError::from)?;
        Ok(AccessListResult { access_list, gas_used: U256::from(gas_used), error })
    }

    fn fee_history_blocking(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> JsonRpcResult<FeeHistory> {
        Ok(Self::fee_history(self, block_count.to(), newest, reward_percentiles)?)
    }

    fn logs_blocking(&self, filter: Filter) -> JsonRpcResult<Vec<Log>> {
        let blocks = self.node.store.blocks().map_err(RpcError::from)?;
        let (from, to) = self.log_range(&blocks, &filter)?;
        Ok(self.logs_in(&blocks, &filter, from, to)?)
    }

    fn filter_changes_blocking(&self, id: U256) -> JsonRpcResult<FilterChanges> {
        // One reader for the whole poll, and its head is what the poll marks as reported.
        let blocks = self.node.store.blocks().map_err(RpcError::from)?;
        let head = blocks.head();
        let poll = self.filters.poll(id, head).ok_or(RpcError::FilterNotFound)?;
        Ok(match poll.kind {
            FilterKind::Blocks => {
                let mut hashes = Vec::new();
                for number in poll.from_block..=head {
                    if let Some(hash) = blocks.hash(number).map_err(RpcError::from)? {
                        hashes.push(hash);
                    }
                }
                FilterChanges::Hashes(hashes)
            }
            FilterKind::PendingTransactions => FilterChanges::Hashes(poll.pending),
            FilterKind::Logs(filter) => {
                // `blocks` ends at the head the poll marked as reported, so a block sealed since
                // is left for the next poll instead of being reported now and again then.
                let logs = self.log_range(&blocks, &filter).and_then(|(_, to)| {
                    let from = poll.from_block.max(filter.get_from_block().unwrap_or(0));
                    self.logs_in(&blocks, &filter, from, to)
                });
                match logs {
                    Ok(logs) => FilterChanges::Logs(logs),
                    Err(e) => {
                        self.filters.rewind(id, poll.from_block);
                        return Err(e.into());
                    }
                }
            }
        })
    }

    fn filter_logs_blocking(&self, id: U256) -> JsonRpcResult<Vec<Log>> {
        match self.filters.log_filter(id) {
            None => Err(RpcError::FilterNotFound.into()),
            Some(None) => Err(RpcError::InvalidParams("filter is not a log filter".into()).into()),
            Some(Some(filter)) => self.logs_blocking(filter),
        }
    }

    fn proof_blocking(
        &self,
        address: Address,
        keys: Vec<B256>,
        block: Option<BlockId>,
    ) -> JsonRpcResult<EIP1186AccountProofResponse> {
        let (state, _) = self.state(block)?;
        let account = state.account_with_root(&keccak256(address)).map_err(RpcError::from)?;
        let (account_proof, storage) = state.proofs(address, &keys).map_err(RpcError::from)?;
        let (info, storage_hash) = account.unwrap_or((Default::default(), EMPTY_ROOT_HASH));
        Ok(EIP1186AccountProofResponse {
            address,
            balance: info.balance,
            code_hash: info.code_hash,
            nonce: info.nonce,
            storage_hash,
            account_proof,
            storage_proof: keys
                .into_iter()
                .zip(storage)
                .map(|(key, (value, proof))| EIP1186StorageProof {
                    key: JsonStorageKey::from(key),
                    value,
                    proof,
                })
                .collect(),
        })
    }
}

/// The `net_` API.
#[derive(Debug, Clone)]
pub(crate) struct NetRpc {
    pub(crate) chain_id: u64,
}

impl NetApiServer for NetRpc {
    fn version(&self) -> JsonRpcResult<String> {
        Ok(self.chain_id.to_string())
    }

    fn listening(&self) -> JsonRpcResult<bool> {
        Ok(true)
    }

    fn peer_count(&self) -> JsonRpcResult<U64> {
        Ok(U64::ZERO)
    }
}

/// The `web3_` API.
#[derive(Debug, Clone)]
pub(crate) struct Web3Rpc;

impl Web3ApiServer for Web3Rpc {
    fn client_version(&self) -> JsonRpcResult<String> {
        Ok(format!(
            "rollup-sequencer/v{}/{}-{}",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
    }

    fn sha3(&self, input: Bytes) -> JsonRpcResult<B256> {
        Ok(keccak256(input))
    }
}

/// Where a transaction was found.
enum Located {
    /// In this stored block, at this index (within its transactions).
    Included(Box<StoredBlock>, usize),
    /// In the pool.
    Pooled(Arc<PooledTx>),
}

/// The RPC header of block `number` as `blocks` holds it, if it exists.
fn header_in(blocks: &BlockReader, number: u64) -> RpcResult<Option<alloy::rpc::types::Header>> {
    let (Some(header), Some(hash)) = (blocks.header(number)?, blocks.hash(number)?) else {
        return Ok(None);
    };
    Ok(Some(convert::header(header, hash)))
}

/// The EIP-2718 encoding of the transaction at `index` of `block`, if there is one.
fn raw_at(block: &StoredBlock, index: usize) -> Option<Bytes> {
    block.transactions.get(index).map(|tx| tx.inner().encoded_2718().into())
}
