//! Assembles the node from its parts: store, txpool, executor, block producer and RPC server.
//!
//! [`spawn`] starts everything and returns a [`NodeHandle`]; tests, the devnet and the batcher
//! use the handle, the binary only parses flags into a [`NodeConfig`] and calls [`spawn`].

use std::{
    collections::VecDeque,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::consensus::Transaction as _;
use alloy_primitives::{Address, B256, Bytes};
use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;
use tokio::sync::{Notify, broadcast, oneshot, watch};

use std::time::{SystemTime, UNIX_EPOCH};

mod inclusions;

pub(crate) use inclusions::{Included, Inclusions};

use crate::{
    chain::{BlockAttributes, ChainSpec, PendingHeader},
    executor::{self, BlockEnv, BlockExecutor, CodeCache, ParallelExecutor, SequentialExecutor},
    genesis::Genesis,
    rpc::{self, RpcConfig},
    state::StateReader,
    store::{GenesisBlock, StateView, Store, StoreConfig, StoreError, StoredBlock},
    txpool::{
        AddOutcome, CheckedTx, PoolConfig, PoolError, PooledTx, SenderUpdate, TxPool,
        ValidationRules,
    },
};

/// Default HTTP/WebSocket port.
pub const DEFAULT_HTTP_PORT: u16 = 9545;

/// When blocks are sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockTime {
    /// Every interval, with or without transactions.
    Interval(Duration),
    /// As soon as transactions are pending (for tests and demos).
    OnDemand,
}

/// Which executor builds blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecMode {
    /// Parallel execution by access-set partitioning.
    #[default]
    Parallel,
    /// One transaction after another (the reference).
    Sequential,
}

/// Everything the node needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// Where the database lives.
    pub datadir: PathBuf,
    /// The genesis (`--dev` or a file).
    pub genesis: Genesis,
    /// Address the RPC server binds.
    pub http_addr: IpAddr,
    /// Port of the RPC server (HTTP and WebSocket); 0 picks a free one.
    pub http_port: u16,
    /// Origins allowed by CORS (`*` for any); empty disables CORS headers.
    pub cors_domains: Vec<String>,
    /// When blocks are sealed.
    pub block_time: BlockTime,
    /// Receiver of priority fees; the genesis coinbase when unset.
    pub fee_recipient: Option<Address>,
    /// Extra data written into every header (at most 32 bytes).
    pub extra_data: Bytes,
    /// Most transactions per block.
    pub max_block_txs: usize,
    /// Txpool limits.
    pub pool: PoolConfig,
    /// Lowest max fee per gas admitted.
    pub min_fee: u128,
    /// Store settings (history window, cache).
    pub store: StoreConfig,
    /// Executor choice.
    pub exec: ExecMode,
    /// RPC limits.
    pub rpc: RpcConfig,
    /// Where Prometheus metrics are served (`None`: not served).
    pub metrics_addr: Option<SocketAddr>,
    /// Where the admin RPC (batcher back-pressure, L1 heads) is served (`None`: not served).
    pub admin_addr: Option<SocketAddr>,
    /// Serve a datadir that another process writes (`derivation sync`) read-only: no block
    /// production, no transaction submission, new blocks picked up as they are committed.
    pub replica: bool,
    /// Private keys of the accounts the node signs for (`eth_accounts`, `eth_sendTransaction`,
    /// `eth_sign`, `personal_sign`, `eth_signTypedData_v4`): the ten dev accounts under
    /// `--dev`, none otherwise.
    pub unlocked: Vec<B256>,
}

impl NodeConfig {
    /// The beneficiary of the blocks this node seals: `fee_recipient`, else the genesis
    /// coinbase.
    pub fn beneficiary(&self) -> Address {
        self.fee_recipient.unwrap_or(self.genesis.coinbase)
    }

    /// A `--dev` node with the defaults of the binary, storing in `datadir`.
    pub fn dev(datadir: PathBuf) -> Self {
        Self {
            datadir,
            genesis: Genesis::dev(),
            http_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            http_port: DEFAULT_HTTP_PORT,
            cors_domains: Vec::new(),
            block_time: BlockTime::Interval(Duration::from_secs(1)),
            fee_recipient: None,
            extra_data: Bytes::new(),
            max_block_txs: 100_000,
            pool: PoolConfig::default(),
            min_fee: 1,
            store: StoreConfig::default(),
            exec: ExecMode::default(),
            rpc: RpcConfig::default(),
            metrics_addr: None,
            admin_addr: None,
            replica: false,
            unlocked: crate::genesis::dev_keys(),
        }
    }

    /// A `--dev` node for tests: port 0, blocks sealed on demand.
    pub fn for_tests(datadir: PathBuf) -> Self {
        Self { http_port: 0, block_time: BlockTime::OnDemand, ..Self::dev(datadir) }
    }
}

/// Errors starting the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The RPC server could not start.
    #[error("cannot start the RPC server on {addr}: {source}")]
    Rpc {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// The L2 block heights known to be posted to L1 (`safe`) and final there (`finalized`).
#[derive(Debug, Default)]
pub(crate) struct L1Heads {
    safe: AtomicU64,
    finalized: AtomicU64,
    /// Whether a batcher reports heights; without one, `safe` and `finalized` follow the head.
    reported: AtomicBool,
}

impl L1Heads {
    /// The reported `(safe, finalized)`, if any were. (A reader racing a report may see one
    /// height old and one new: each is a height some report gave.)
    fn get(&self) -> Option<(u64, u64)> {
        self.reported
            .load(Ordering::Acquire)
            .then(|| (self.safe.load(Ordering::Acquire), self.finalized.load(Ordering::Acquire)))
    }

    fn set(&self, safe: u64, finalized: u64) {
        self.safe.store(safe, Ordering::Release);
        self.finalized.store(finalized, Ordering::Release);
        self.reported.store(true, Ordering::Release);
    }
}

/// The running node's shared state.
#[derive(Debug)]
pub struct Node {
    pub(crate) store: Arc<Store>,
    pub(crate) spec: ChainSpec,
    pub(crate) pool: Mutex<TxPool>,
    pub(crate) executor: Arc<dyn BlockExecutor>,
    pub(crate) codes: Arc<CodeCache>,
    /// The next block's plan (and the state after the head), shared by admission, the
    /// producer and RPC reads.
    next: Arc<RwLock<Arc<NextBlock>>>,
    pub(crate) blocks: broadcast::Sender<Arc<StoredBlock>>,
    pub(crate) pending_txs: broadcast::Sender<Arc<PooledTx>>,
    /// Callers of `eth_send(Raw)TransactionSync` waiting for their transaction's block.
    pub(crate) inclusions: Arc<Inclusions>,
    pub(crate) tx_arrived: Notify,
    pub(crate) l1: L1Heads,
    pub(crate) max_block_bytes: AtomicUsize,
    pub(crate) metrics: crate::metrics::Metrics,
    pub(crate) config: NodeConfig,
    recovery: std::sync::mpsc::SyncSender<RecoveryJob>,
}

type RecoveryJob = (Bytes, oneshot::Sender<Result<AddOutcome, PoolError>>);

/// The next block as planned right after the last commit: its attributes, its execution
/// environment, and the state it builds on. Admission pre-executes transactions in exactly
/// this environment, so the producer can reuse those results.
#[derive(Debug)]
pub(crate) struct NextBlock {
    pub(crate) attributes: BlockAttributes,
    pub(crate) env: BlockEnv,
    pub(crate) parent_state: Arc<StateView>,
}

impl NextBlock {
    fn plan(spec: &ChainSpec, config: &NodeConfig, store: &Store) -> Result<Self, StoreError> {
        let head = store.head();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let attributes = BlockAttributes {
            number: head.0.number + 1,
            timestamp: now.max(head.0.timestamp + 1),
            beneficiary: config.beneficiary(),
            extra_data: config.extra_data.clone(),
        };
        let pending = PendingHeader::child_of(spec, &head.0, head.1, attributes.clone());
        Ok(Self {
            env: BlockEnv::for_pending(spec, &pending),
            attributes,
            parent_state: Arc::new(store.latest()?),
        })
    }
}

impl Node {
    fn new(config: NodeConfig) -> Result<Arc<Self>, NodeError> {
        if config.extra_data.len() > 32 {
            return Err(NodeError::Config("extra data is longer than 32 bytes".into()));
        }
        let genesis = GenesisBlock::new(&config.genesis)?;
        let store = Arc::new(if config.replica {
            Store::open_read_only(&config.datadir, &genesis, config.store.clone())?
        } else {
            Store::open(&config.datadir, &genesis, config.store.clone())?
        });
        let spec = ChainSpec::from_genesis(&config.genesis);
        let rules = ValidationRules {
            chain_id: spec.chain_id,
            hardfork: spec.hardfork,
            block_gas_limit: spec.gas_limit,
            min_fee: config.min_fee,
            max_tx_bytes: crate::txpool::MAX_TX_BYTES,
        };
        let codes = Arc::new(CodeCache::default());
        let executor: Arc<dyn BlockExecutor> = match config.exec {
            ExecMode::Sequential => Arc::new(SequentialExecutor::with_code_cache(codes.clone())),
            ExecMode::Parallel => Arc::new(ParallelExecutor::with_code_cache(codes.clone())),
        };
        let next = Arc::new(RwLock::new(Arc::new(NextBlock::plan(&spec, &config, &store)?)));
        let (recovery, jobs) = std::sync::mpsc::sync_channel::<RecoveryJob>(65_536);
        let l1 = L1Heads::default();
        if let Some((safe, finalized)) = store.l1_heads()? {
            l1.set(safe, finalized);
        }
        let node = Arc::new(Self {
            pool: Mutex::new(TxPool::new(config.pool.clone())),
            store,
            spec,
            executor,
            codes,
            next,
            blocks: broadcast::channel(1024).0,
            pending_txs: broadcast::channel(16_384).0,
            inclusions: Arc::default(),
            tx_arrived: Notify::new(),
            l1,
            max_block_bytes: AtomicUsize::new(usize::MAX),
            metrics: crate::metrics::Metrics::default(),
            config,
            recovery,
        });
        let worker = RecoveryWorker {
            rules,
            next: node.next.clone(),
            codes: node.codes.clone(),
            node: Arc::downgrade(&node),
        };
        std::thread::Builder::new()
            .name("sender-recovery".into())
            .spawn(move || worker.run(&jobs))
            .map_err(|e| NodeError::Config(format!("cannot start the recovery thread: {e}")))?;
        Ok(node)
    }

    /// The node's counters.
    pub const fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// The state after the head block.
    pub fn latest_state(&self) -> Arc<StateView> {
        self.next.read().parent_state.clone()
    }

    /// The plan of the next block.
    pub(crate) fn next_block(&self) -> Arc<NextBlock> {
        self.next.read().clone()
    }

    /// The plan of the child of `head`: the one made when `head` was committed, or a new one
    /// when making that one failed (the head's state could not be opened then), so a
    /// transient failure delays one block instead of leaving the producer on a stale plan.
    ///
    /// # Errors
    /// When the head's state still cannot be opened.
    pub(crate) fn plan_child_of(&self, head: u64) -> Result<Arc<NextBlock>, StoreError> {
        let next = self.next_block();
        if next.attributes.number == head + 1 {
            return Ok(next);
        }
        let _pool = self.pool.lock();
        let planned = Arc::new(NextBlock::plan(&self.spec, &self.config, &self.store)?);
        *self.next.write() = planned.clone();
        Ok(planned)
    }

    /// Submits a raw transaction: the recovery worker decodes and checks it and recovers its
    /// sender (transactions arriving together in parallel on all cores), then admits it into
    /// the pool — in arrival order, so a batch of one sender's consecutive nonces is never
    /// seen with gaps.
    pub(crate) async fn submit(&self, raw: Bytes) -> Result<AddOutcome, PoolError> {
        let (reply, answer) = oneshot::channel();
        // Never wait for room: this runs on an async worker, and a full queue means the node
        // is already behind, so the sender hears "txpool is full" and may retry.
        if self.recovery.try_send((raw, reply)).is_err() {
            return Err(PoolError::PoolFull);
        }
        answer.await.unwrap_or(Err(PoolError::PoolFull))
    }

    /// Admits checked transactions into the pool against the latest state (their senders'
    /// `accounts`, read beforehand), in order, under one lock; then announces them.
    fn admit_batch(
        &self,
        checked: Vec<Result<CheckedTx, PoolError>>,
        mut accounts: SenderAccounts,
    ) -> Vec<Result<AddOutcome, PoolError>> {
        let mut arrived = Vec::new();
        let outcomes: Vec<_> = {
            let mut pool = self.pool.lock();
            accounts.update(&self.latest_state(), &checked);
            checked
                .into_iter()
                .map(|checked| {
                    let checked = checked?;
                    let account = accounts.get(&checked.tx.signer()).ok_or(PoolError::PoolFull)?;
                    let outcome = pool.add(checked, account)?;
                    // Announced once executable, as geth announces them: now, or when a
                    // later transaction fills the gap before it.
                    if outcome.pending {
                        arrived.extend(pool.get(&outcome.hash));
                    }
                    arrived.extend(outcome.promoted.iter().filter_map(|hash| pool.get(hash)));
                    Ok(outcome)
                })
                .collect()
        };
        if !arrived.is_empty() {
            for tx in arrived {
                let _ = self.pending_txs.send(tx);
            }
            self.tx_arrived.notify_one();
        }
        outcomes
    }

    /// Publishes a committed block: swaps the latest state, updates the pool, wakes watchers.
    pub(crate) fn on_committed(
        &self,
        block: Arc<StoredBlock>,
        senders: Vec<SenderUpdate>,
        drop: &[B256],
    ) {
        let next = NextBlock::plan(&self.spec, &self.config, &self.store);
        {
            let mut pool = self.pool.lock();
            match next {
                Ok(next) => *self.next.write() = Arc::new(next),
                Err(e) => {
                    tracing::error!(target: "sequencer::node", error = %e, "cannot open the new head state")
                }
            }
            for hash in drop {
                pool.remove(hash);
            }
            let unaffordable = pool.on_block(senders);
            if !unaffordable.is_empty() {
                tracing::info!(
                    target: "sequencer::txpool",
                    block = block.header.number,
                    dropped = unaffordable.len(),
                    "dropped transactions their senders' balances no longer cover"
                );
            }
        }
        self.inclusions.on_block(&block);
        let _ = self.blocks.send(block);
    }

    /// Publishes a block another process committed (a replica following its writer), or just
    /// the new head state when `block` is `None`. Nobody waits in `inclusions` here: a
    /// replica refuses `eth_sendRawTransactionSync`.
    fn on_committed_elsewhere(&self, block: Option<Arc<StoredBlock>>) {
        match NextBlock::plan(&self.spec, &self.config, &self.store) {
            Ok(next) => *self.next.write() = Arc::new(next),
            Err(e) => {
                tracing::error!(target: "sequencer::replica", error = %e, "cannot open the new head state");
            }
        }
        if let Some(block) = block {
            let _ = self.blocks.send(block);
        }
    }

    /// Records the L2 heights posted to L1 (`safe`) and final there (`finalized`): durably
    /// first (a restarted node answers those tags as last reported, not with its head), then
    /// for readers. A report that changes nothing writes nothing.
    ///
    /// # Errors
    /// When the store cannot record them (a replica's store is read-only: its writer reports).
    pub(crate) fn set_l1_heads(&self, safe: u64, finalized: u64) -> Result<(), StoreError> {
        if self.l1.get() == Some((safe, finalized)) {
            return Ok(());
        }
        self.store.set_l1_heads(safe, finalized)?;
        self.l1.set(safe, finalized);
        Ok(())
    }

    /// Re-reads the recorded L1 heads (a replica, whose writer records them).
    fn reload_l1_heads(&self) -> Result<(), StoreError> {
        if let Some((safe, finalized)) = self.store.l1_heads()? {
            self.l1.set(safe, finalized);
        }
        Ok(())
    }

    /// The `safe` and `finalized` block numbers: as last reported (no higher than the head),
    /// or the head when nothing ever reported (a sequencer without a batcher).
    pub(crate) fn l1_heads(&self) -> (u64, u64) {
        let head = self.store.head_number();
        let (safe, finalized) = self.l1.get().unwrap_or((head, head));
        (safe.min(head), finalized.min(head))
    }
}

/// Most transactions of a sender pre-executed as one chain: each link re-applies the changes
/// of all those before it, so a chain costs quadratic time in its length.
const MAX_CHAIN: usize = 64;

/// Checks raw transactions and recovers their senders on all cores, and pre-executes contract
/// calls in the planned next block to learn what they touch (each sender's on top of its
/// earlier ones, see [`executor::infer_chains`]).
struct RecoveryWorker {
    rules: ValidationRules,
    next: Arc<RwLock<Arc<NextBlock>>>,
    codes: Arc<CodeCache>,
    /// The node it admits into (it ends with the node).
    node: std::sync::Weak<Node>,
}

impl RecoveryWorker {
    fn run(&self, jobs: &std::sync::mpsc::Receiver<RecoveryJob>) {
        while let Ok(first) = jobs.recv() {
            let mut batch = vec![first];
            while batch.len() < 4096 {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let mut checked: Vec<Result<CheckedTx, PoolError>> = batch
                .par_iter()
                .map(|(raw, _)| crate::txpool::check_raw(raw, &self.rules))
                .collect();
            let Some(node) = self.node.upgrade() else { return };
            let mut accounts = SenderAccounts::read(node.latest_state(), &checked);
            self.infer(&node, &mut checked, &mut accounts);
            let outcomes = node.admit_batch(checked, accounts);
            drop(node);
            for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
    }

    /// Pre-executes the contract calls among `checked` in the planned next block. Each
    /// sender's calls run in nonce order on top of the pre-executions of its pooled
    /// transactions just below them, so that a block holding several of a sender's
    /// transactions can reuse every one of their results.
    fn infer(
        &self,
        node: &Node,
        checked: &mut [Result<CheckedTx, PoolError>],
        accounts: &mut SenderAccounts,
    ) {
        let calls: Vec<usize> = (0..checked.len())
            .filter(|&i| {
                checked[i].as_ref().is_ok_and(|tx| executor::worth_inferring(tx.tx.inner()))
            })
            .collect();
        if calls.is_empty() {
            return;
        }
        let mut chains: Vec<executor::Chain<'_>> = Vec::new();
        let mut chained: Vec<Vec<usize>> = Vec::new();
        // The plan and the pool's view of each sender's nonce change together, under the
        // pool's lock, when a block is committed.
        let pool = node.pool.lock();
        let next = self.next.read().clone();
        accounts.update(&next.parent_state, checked);
        // A call the pool would refuse (known, stale nonce, unaffordable, underpriced
        // replacement) gets its refusal now instead of an EVM run; a copy of a call earlier in
        // the batch is not run twice. A sender whose account cannot be read is left to
        // admission, which reports that.
        let mut seen = std::collections::HashSet::new();
        let mut by_sender: std::collections::HashMap<Address, Vec<usize>> =
            std::collections::HashMap::new();
        for i in calls {
            let Ok(tx) = &checked[i] else { continue };
            if !seen.insert(tx.hash) {
                continue;
            }
            let sender = tx.tx.signer();
            let Some(account) = accounts.get(&sender) else { continue };
            if let Err(refused) = pool.check_admissible(tx, &account.unwrap_or_default()) {
                checked[i] = Err(refused);
                continue;
            }
            by_sender.entry(sender).or_default().push(i);
        }
        let tx_at = |i: usize| &checked[i].as_ref().expect("grouped on Ok").tx;
        for (sender, mut members) in by_sender {
            members.sort_by_key(|&i| tx_at(i).nonce());
            let first = tx_at(members[0]).nonce();
            let before = pool
                .inferences_below(&sender, first)
                .filter(|before| {
                    before.len() < MAX_CHAIN && before.iter().all(|b| b.chains_onto(&next.env))
                })
                .unwrap_or_default();
            let mut chain = executor::Chain { before, txs: Vec::new() };
            let mut indices = Vec::new();
            let mut expected = first;
            for i in members {
                let tx = tx_at(i);
                let full = chain.before.len() + chain.txs.len() >= MAX_CHAIN;
                if tx.nonce() != expected || full {
                    // Not the next nonce of the chain (a gap or a replacement), or the
                    // chain is long enough: the rest starts anew, on the state alone.
                    let cut = std::mem::replace(
                        &mut chain,
                        executor::Chain { before: Vec::new(), txs: Vec::new() },
                    );
                    if !cut.txs.is_empty() {
                        chains.push(cut);
                        chained.push(std::mem::take(&mut indices));
                    }
                }
                chain.txs.push(tx);
                indices.push(i);
                expected = tx.nonce() + 1;
            }
            chains.push(chain);
            chained.push(indices);
        }
        drop(pool);
        let (env, state) = (&next.env, next.parent_state.as_ref());
        let inferred = executor::infer_chains(state, &self.codes, env, &chains);
        for (indices, results) in chained.into_iter().zip(inferred) {
            for (i, inference) in indices.into_iter().zip(results) {
                if let Ok(tx) = &mut checked[i] {
                    tx.inference = inference;
                }
            }
        }
    }
}

/// The accounts of a batch's senders, each read once, and the state they were read from.
/// They are read before the pool is locked (RPC readers and the producer wait on that lock)
/// and serve both the pre-check and admission; under the lock, [`Self::update`] reads them
/// again only if a block was committed in between.
struct SenderAccounts {
    state: Arc<StateView>,
    /// `None` for a sender whose account could not be read.
    accounts: std::collections::HashMap<Address, Option<Option<crate::state::AccountInfo>>>,
}

impl SenderAccounts {
    /// The accounts of the senders of `checked` in `state`.
    fn read(state: Arc<StateView>, checked: &[Result<CheckedTx, PoolError>]) -> Self {
        let mut accounts = std::collections::HashMap::new();
        for sender in checked.iter().filter_map(|c| c.as_ref().ok()).map(|c| c.tx.signer()) {
            accounts.entry(sender).or_insert_with(|| state.account(sender).ok());
        }
        Self { state, accounts }
    }

    /// Makes these the accounts in `state` (the current plan's, read under the pool lock):
    /// reads them again when they were read from another.
    fn update(&mut self, state: &Arc<StateView>, checked: &[Result<CheckedTx, PoolError>]) {
        if !Arc::ptr_eq(&self.state, state) {
            *self = Self::read(state.clone(), checked);
        }
    }

    /// The sender's account (`Some(None)`: it has none yet), or `None` when it could not be
    /// read.
    fn get(&self, sender: &Address) -> Option<Option<crate::state::AccountInfo>> {
        self.accounts.get(sender).copied().flatten()
    }
}

/// A running node.
#[derive(Debug)]
pub struct NodeHandle {
    node: Arc<Node>,
    rpc_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    admin: Option<jsonrpsee::server::ServerHandle>,
    server: jsonrpsee::server::ServerHandle,
    producer: tokio::task::JoinHandle<()>,
    feeder: tokio::task::JoinHandle<()>,
    /// Loads the stored trie into the trie cache after start-up; stopped by `stop_warming`.
    warming: tokio::task::JoinHandle<()>,
    stop_warming: Arc<AtomicBool>,
    shutdown: watch::Sender<bool>,
}

impl NodeHandle {
    /// The HTTP URL of the RPC server.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.rpc_addr)
    }

    /// The WebSocket URL of the RPC server (same port).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.rpc_addr)
    }

    /// The RPC server's address.
    pub const fn rpc_addr(&self) -> SocketAddr {
        self.rpc_addr
    }

    /// Where metrics are served, if they are.
    pub const fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.node.store
    }

    /// The chain spec.
    pub fn chain_spec(&self) -> &ChainSpec {
        &self.node.spec
    }

    /// The node's shared state.
    pub const fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// New blocks as they are committed.
    pub fn subscribe_blocks(&self) -> broadcast::Receiver<Arc<StoredBlock>> {
        self.node.blocks.subscribe()
    }

    /// Records the L2 heights posted to L1 (`safe`) and final there (`finalized`).
    ///
    /// # Errors
    /// When the store cannot record them.
    pub fn set_l1_heads(&self, safe: u64, finalized: u64) -> Result<(), StoreError> {
        self.node.set_l1_heads(safe, finalized)
    }

    /// Where the admin RPC is served, if it is.
    pub const fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Caps the encoded transaction bytes of future blocks (batcher back-pressure); `None`
    /// lifts the cap.
    pub fn set_max_block_bytes(&self, max: Option<usize>) {
        self.node.max_block_bytes.store(max.unwrap_or(usize::MAX), Ordering::Release);
    }

    /// The cap on encoded transaction bytes per block that back-pressure set, if any.
    pub fn max_block_bytes(&self) -> Option<usize> {
        Some(self.node.max_block_bytes.load(Ordering::Acquire)).filter(|max| *max != usize::MAX)
    }

    /// Stops the producer and the RPC server and closes the store, waiting for all of them.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        self.stop_warming.store(true, Ordering::Relaxed);
        let _ = self.warming.await;
        let _ = self.producer.await;
        let _ = self.feeder.await;
        let _ = self.server.stop();
        self.server.stopped().await;
        if let Some(admin) = self.admin {
            let _ = admin.stop();
            admin.stopped().await;
        }
        // Subscription tasks end as their connections close; the store closes with the last
        // reference, and a restart on the same datadir needs it closed.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while Arc::strong_count(&self.node) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        if Arc::strong_count(&self.node) > 1 {
            tracing::warn!(target: "sequencer::node", "node still referenced after stop; the store stays open");
        }
    }
}

/// Starts a node: opens (or initialises) the store, starts the producer and the RPC server.
///
/// # Errors
/// When the store cannot be opened, the genesis does not match the datadir, or the RPC port
/// cannot be bound.
pub async fn spawn(config: NodeConfig) -> Result<NodeHandle, NodeError> {
    let node = Node::new(config)?;
    let (shutdown, stop_rx) = watch::channel(false);
    let (server, rpc_addr, feeder) = rpc::start(node.clone(), stop_rx.clone()).await?;
    let mut metrics_addr = None;
    if let Some(addr) = node.config.metrics_addr {
        let listener =
            crate::metrics::bind(addr).await.map_err(|source| NodeError::Rpc { addr, source })?;
        let bound = listener.local_addr().unwrap_or(addr);
        tracing::info!(target: "sequencer::node", addr = %bound, "metrics served");
        metrics_addr = Some(bound);
        tokio::spawn(crate::metrics::serve(Arc::downgrade(&node), listener, stop_rx.clone()));
    }
    let producer = if node.config.replica {
        tokio::spawn(follow_writer(node.clone(), stop_rx))
    } else {
        tokio::spawn(crate::producer::run(node.clone(), stop_rx))
    };
    let head = node.store.head();
    tracing::info!(
        target: "sequencer::node",
        chain_id = node.spec.chain_id,
        head = head.0.number,
        head_hash = %head.1,
        rpc = %rpc_addr,
        exec = node.executor.name(),
        replica = node.config.replica,
        "sequencer started"
    );
    let (admin, admin_addr) = match node.config.admin_addr {
        Some(addr) => {
            let (handle, bound) = rpc::start_admin(node.clone(), addr).await?;
            tracing::info!(target: "sequencer::node", addr = %bound, "admin RPC served");
            (Some(handle), Some(bound))
        }
        None => (None, None),
    };
    let stop_warming = Arc::new(AtomicBool::new(false));
    let warming = tokio::task::spawn_blocking({
        let (store, stop) = (node.store.clone(), stop_warming.clone());
        move || warm_trie_cache(&store, &stop)
    });
    Ok(NodeHandle {
        node,
        rpc_addr,
        metrics_addr,
        admin_addr,
        admin,
        server,
        producer,
        feeder,
        warming,
        stop_warming,
        shutdown,
    })
}

/// Loads the stored tries into the trie cache, so that the first blocks' state roots do not
/// read every branch from the database; logs what it loaded.
fn warm_trie_cache(store: &Store, stop: &AtomicBool) {
    let started = Instant::now();
    match store.warm_trie_cache(stop) {
        Ok(stats) => tracing::info!(
            target: "sequencer::node",
            records = stats.records,
            mib = stats.bytes >> 20,
            ms = started.elapsed().as_millis() as u64,
            "trie cache loaded"
        ),
        Err(e) => {
            tracing::warn!(target: "sequencer::node", error = %e, "cannot load the trie cache")
        }
    }
}

/// How often a replica looks for blocks its writer committed.
const REPLICA_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// A replica's stand-in for the producer: picks up the blocks another process commits to the
/// datadir, and publishes them as the producer publishes its own (latest state, subscriptions,
/// filters). A head that moved back (the writer unwound an L1 reorg) is followed too.
async fn follow_writer(node: Arc<Node>, mut stop: watch::Receiver<bool>) {
    // The blocks announced most recently, to tell a replaced block from a new one.
    let head = node.store.head();
    let mut announced = VecDeque::from([(head.0.number, head.1)]);
    loop {
        tokio::select! {
            () = tokio::time::sleep(REPLICA_POLL) => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = node.reload_l1_heads() {
            tracing::warn!(target: "sequencer::replica", error = %e, "cannot read the L1 heads");
        }
        let head = match node.store.refresh() {
            Ok(Some(head)) => head,
            // Nothing new, unless an earlier poll failed to announce the head it read.
            Ok(None) => {
                let head = node.store.head();
                if announced.back() == Some(&(head.0.number, head.1)) {
                    continue;
                }
                head.0.number
            }
            Err(e) => {
                tracing::warn!(target: "sequencer::replica", error = %e, "cannot read the datadir's head");
                continue;
            }
        };
        if let Err(e) = announce_new_blocks(&node, &mut announced, head) {
            tracing::warn!(target: "sequencer::replica", error = %e, "cannot read new blocks");
        }
    }
}

/// How many announced blocks [`follow_writer`] remembers: a writer that replaced more than
/// this many has its new head announced, not every block before it.
const ANNOUNCED_KEPT: usize = 256;

/// Announces the writer's blocks up to `head` that readers have not seen: after the last
/// announced block the writer still has (an L1 reorg may have unwound or replaced the rest).
fn announce_new_blocks(
    node: &Node,
    announced: &mut VecDeque<(u64, B256)>,
    head: u64,
) -> Result<(), StoreError> {
    let blocks = node.store.blocks()?;
    let seen = announced.back().map_or(0, |(number, _)| *number);
    while let Some(&(number, hash)) = announced.back() {
        if number <= head && blocks.hash(number)? == Some(hash) {
            break;
        }
        announced.pop_back();
    }
    let from = announced.back().map_or(head, |(number, _)| number + 1);
    if from <= seen {
        tracing::warn!(target: "sequencer::replica", from = seen, to = from.saturating_sub(1), head, "the writer unwound or replaced blocks (L1 reorg)");
        node.on_committed_elsewhere(None);
    }
    for number in from..=head {
        let Some(block) = blocks.block(number)? else { break };
        announced.push_back((number, block.hash));
        if announced.len() > ANNOUNCED_KEPT {
            announced.pop_front();
        }
        node.on_committed_elsewhere(Some(Arc::new(block)));
    }
    tracing::debug!(target: "sequencer::replica", head, "followed the writer");
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;

    use super::*;
    use crate::{
        genesis::DEV_CHAIN_ID,
        test_utils::{deploy_storage_contract, dev_signer, raw, set_storage, sign},
    };

    #[tokio::test(flavor = "multi_thread")]
    async fn a_burst_of_each_senders_calls_is_pre_executed_in_order_and_reused_by_the_block() {
        // Senders each call their own contract 60 times, their transactions interleaved as a
        // load generator sends them. Pre-executed each on the head state alone, only a
        // sender's first call would see its own nonce; chained, the block reuses every one.
        const SENDERS: usize = 4;
        const CALLS: u64 = 60;
        let dir = tempfile::tempdir().unwrap();
        let node = Node::new(NodeConfig::for_tests(dir.path().to_path_buf())).unwrap();
        let threads = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        let signers: Vec<_> = (0..SENDERS).map(dev_signer).collect();
        let deploys = signers.iter().map(|signer| {
            node.submit(raw(&sign(signer, deploy_storage_contract(DEV_CHAIN_ID, 0))))
        });
        for outcome in futures::future::join_all(deploys).await {
            outcome.unwrap();
        }
        assert_eq!(threads.install(|| crate::producer::produce_block(&node)).unwrap(), SENDERS);

        let calls = (1..=CALLS).flat_map(|nonce| {
            signers.iter().map(move |signer| {
                let contract = signer.address().create(0);
                raw(&sign(signer, set_storage(DEV_CHAIN_ID, nonce, contract, U256::from(nonce))))
            })
        });
        for outcome in futures::future::join_all(calls.map(|call| node.submit(call))).await {
            outcome.unwrap();
        }
        let calls = SENDERS * CALLS as usize;
        assert_eq!(threads.install(|| crate::producer::produce_block(&node)).unwrap(), calls);
        assert_eq!(node.metrics().sealing_totals().reused, calls as u64);
    }
}
