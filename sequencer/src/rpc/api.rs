//! The JSON-RPC methods this node serves, as jsonrpsee traits: the server implements them and
//! tests get typed clients for free. Subscriptions live in their own trait so the HTTP client
//! does not need subscription support.

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    rpc::types::{
        AccessListResult, Block, BlockOverrides, EIP1186AccountProofResponse, FeeHistory, Filter,
        FilterChanges, Header, Index, Log, SyncStatus, Transaction, TransactionReceipt,
        TransactionRequest,
        pubsub::{Params, SubscriptionKind},
        simulate::{SimulatePayload, SimulatedBlock},
        state::StateOverride,
        trace::{
            common::TraceResult,
            geth::{GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace},
        },
    },
};
use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U64, U256};
use jsonrpsee::{
    core::{RpcResult, SubscriptionResult},
    proc_macros::rpc,
};

/// The `eth_` namespace. The `async` methods are those whose cost a caller controls (EVM
/// runs, log scans, proofs): the server runs them on blocking threads, a bounded number at
/// once, so they never occupy the async workers the producer and other requests need.
#[rpc(server, client, namespace = "eth")]
pub trait EthApi {
    /// The chain id (EIP-155).
    #[method(name = "chainId")]
    fn chain_id(&self) -> RpcResult<U64>;

    /// The head block number.
    #[method(name = "blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;

    /// Always `false`: the sequencer is the source of its chain.
    #[method(name = "syncing")]
    fn syncing(&self) -> RpcResult<SyncStatus>;

    /// The beneficiary of the blocks this node seals (`--fee-recipient`, else the genesis
    /// coinbase).
    #[method(name = "coinbase")]
    fn coinbase(&self) -> RpcResult<Address>;

    /// Balance at a block.
    #[method(name = "getBalance")]
    fn get_balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;

    /// Nonce at a block; `pending` counts the txpool.
    #[method(name = "getTransactionCount")]
    fn get_transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;

    /// Code at a block.
    #[method(name = "getCode")]
    fn get_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;

    /// A storage slot at a block.
    #[method(name = "getStorageAt")]
    fn get_storage_at(
        &self,
        address: Address,
        slot: U256,
        block: Option<BlockId>,
    ) -> RpcResult<B256>;

    /// Executes a call without a transaction, optionally with state and block overrides.
    #[method(name = "call")]
    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<Bytes>;

    /// Simulates calls in a chain of made-up blocks on top of `block` (`eth_simulateV1`):
    /// block and state overrides per block, each call's result and the sealed blocks.
    #[method(name = "simulateV1")]
    async fn simulate_v1(
        &self,
        payload: SimulatePayload,
        block: Option<BlockId>,
    ) -> RpcResult<Vec<SimulatedBlock<Block>>>;

    /// Estimates the gas a transaction needs (state and block overrides as for `eth_call`).
    #[method(name = "estimateGas")]
    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<U64>;

    /// The access list a transaction would use and its gas with that list.
    #[method(name = "createAccessList")]
    async fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult>;

    /// A gas price that gets a legacy transaction into the next block.
    #[method(name = "gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;

    /// A priority fee that gets an EIP-1559 transaction into the next block.
    #[method(name = "maxPriorityFeePerGas")]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;

    /// The blob base fee of the next block. This chain carries no blobs, so its excess blob
    /// gas stays 0 and the fee stays at the EIP-4844 minimum, 1 wei.
    #[method(name = "blobBaseFee")]
    fn blob_base_fee(&self) -> RpcResult<U256>;

    /// Base fees, gas use and reward percentiles of recent blocks.
    #[method(name = "feeHistory")]
    async fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;

    /// Submits a signed transaction.
    #[method(name = "sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;

    /// Submits a signed transaction and answers with its receipt once the block including it
    /// is committed (EIP-7966, as geth serves it). `timeout` is the most milliseconds to wait,
    /// a number or hex quantity; absent or 0 means the node's default, and more than the
    /// node's maximum means that maximum. Past it, error 4 with the hash in `data`: the
    /// transaction stays in the pool.
    #[method(name = "sendRawTransactionSync")]
    async fn send_raw_transaction_sync(
        &self,
        raw: Bytes,
        timeout: Option<U64>,
    ) -> RpcResult<TransactionReceipt>;

    /// A transaction by hash (pending ones included).
    #[method(name = "getTransactionByHash")]
    fn get_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;

    /// A transaction's EIP-2718 encoding by hash (pending ones included); `null` when unknown.
    #[method(name = "getRawTransactionByHash")]
    fn get_raw_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Bytes>>;

    /// The EIP-2718 encoding of the transaction at `index` of a block, by number or tag;
    /// `null` when there is none.
    #[method(name = "getRawTransactionByBlockNumberAndIndex")]
    fn get_raw_transaction_by_block_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Bytes>>;

    /// The EIP-2718 encoding of the transaction at `index` of a block, by block hash; `null`
    /// when there is none.
    #[method(name = "getRawTransactionByBlockHashAndIndex")]
    fn get_raw_transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<Bytes>>;

    /// A receipt by transaction hash.
    #[method(name = "getTransactionReceipt")]
    fn get_transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>>;

    /// A block by number or tag.
    #[method(name = "getBlockByNumber")]
    fn get_block_by_number(&self, block: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>>;

    /// A block by hash.
    #[method(name = "getBlockByHash")]
    fn get_block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>>;

    /// A block's header (the block without its transactions and size), by number or tag.
    #[method(name = "getHeaderByNumber")]
    fn get_header_by_number(&self, block: BlockNumberOrTag) -> RpcResult<Option<Header>>;

    /// A block's header by hash.
    #[method(name = "getHeaderByHash")]
    fn get_header_by_hash(&self, hash: B256) -> RpcResult<Option<Header>>;

    /// All receipts of a block.
    #[method(name = "getBlockReceipts")]
    fn get_block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>>;

    /// Number of transactions in a block, by number.
    #[method(name = "getBlockTransactionCountByNumber")]
    fn get_block_transaction_count_by_number(
        &self,
        block: BlockNumberOrTag,
    ) -> RpcResult<Option<U64>>;

    /// Number of transactions in a block, by hash.
    #[method(name = "getBlockTransactionCountByHash")]
    fn get_block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;

    /// A transaction by block number and index.
    #[method(name = "getTransactionByBlockNumberAndIndex")]
    fn get_transaction_by_block_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Transaction>>;

    /// A transaction by block hash and index.
    #[method(name = "getTransactionByBlockHashAndIndex")]
    fn get_transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<Transaction>>;

    /// Uncles: this chain has none (0 for a block that exists, `null` otherwise).
    #[method(name = "getUncleCountByBlockNumber")]
    fn get_uncle_count_by_block_number(&self, block: BlockNumberOrTag) -> RpcResult<Option<U64>>;

    /// Uncles by block hash: 0 for a block that exists, `null` otherwise.
    #[method(name = "getUncleCountByBlockHash")]
    fn get_uncle_count_by_block_hash(&self, hash: B256) -> RpcResult<Option<U64>>;

    /// An uncle by block number and index: always `null`, as geth answers for an index past
    /// a block's uncles.
    #[method(name = "getUncleByBlockNumberAndIndex")]
    fn get_uncle_by_block_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Block>>;

    /// An uncle by block hash and index: always `null`.
    #[method(name = "getUncleByBlockHashAndIndex")]
    fn get_uncle_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<Block>>;

    /// Logs matching a filter.
    #[method(name = "getLogs")]
    async fn get_logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;

    /// Installs a log filter.
    #[method(name = "newFilter")]
    fn new_filter(&self, filter: Filter) -> RpcResult<U256>;

    /// Installs a new-block filter.
    #[method(name = "newBlockFilter")]
    fn new_block_filter(&self) -> RpcResult<U256>;

    /// Installs a pending-transaction filter.
    #[method(name = "newPendingTransactionFilter")]
    fn new_pending_transaction_filter(&self) -> RpcResult<U256>;

    /// What a filter matched since the last poll.
    #[method(name = "getFilterChanges")]
    async fn get_filter_changes(&self, id: U256) -> RpcResult<FilterChanges>;

    /// All logs a log filter matches.
    #[method(name = "getFilterLogs")]
    async fn get_filter_logs(&self, id: U256) -> RpcResult<Vec<Log>>;

    /// Removes a filter.
    #[method(name = "uninstallFilter")]
    fn uninstall_filter(&self, id: U256) -> RpcResult<bool>;

    /// EIP-1186 account and storage proofs. At an older block it first rebuilds that block's
    /// tries from the history, which may take a while.
    #[method(name = "getProof")]
    async fn get_proof(
        &self,
        address: Address,
        keys: Vec<B256>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse>;
}

/// Signing with the keys the node holds (the dev accounts under `--dev`; none otherwise).
#[rpc(server, client, namespace = "eth")]
pub trait EthSigningApi {
    /// The accounts the node signs for.
    #[method(name = "accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;

    /// Fills a transaction's missing fields (nonce, fees, gas, chain id), signs it with
    /// `from`'s key and submits it; returns its hash.
    #[method(name = "sendTransaction")]
    async fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256>;

    /// [`Self::send_transaction`], answered with the receipt once the block including it is
    /// committed, as `eth_sendRawTransactionSync` answers (the same `timeout`, in milliseconds,
    /// and the same error 4 with the hash past it). anvil serves it; `cast send --unlocked
    /// --sync` and alloy's `send_transaction_sync` call it.
    #[method(name = "sendTransactionSync")]
    async fn send_transaction_sync(
        &self,
        request: TransactionRequest,
        timeout: Option<U64>,
    ) -> RpcResult<TransactionReceipt>;

    /// [`Self::send_transaction`] without submitting: the signed transaction's EIP-2718 bytes.
    #[method(name = "signTransaction")]
    async fn sign_transaction(&self, request: TransactionRequest) -> RpcResult<Bytes>;

    /// An EIP-191 personal-message signature of `message` by `address` (65 bytes, v 27/28).
    #[method(name = "sign")]
    fn sign(&self, address: Address, message: Bytes) -> RpcResult<Bytes>;

    /// An EIP-712 signature of typed data (an object, or the JSON text of one) by `address`.
    /// `eth_signTypedData_v3` is the same method, as anvil serves it: complete v3 data (v3 has
    /// no arrays) hashes the same under v4's rules; v4 refuses a missing field v3 would skip.
    #[method(name = "signTypedData_v4", aliases = ["eth_signTypedData_v3"])]
    async fn sign_typed_data_v4(
        &self,
        address: Address,
        data: serde_json::Value,
    ) -> RpcResult<Bytes>;
}

/// The `personal_` namespace: only `personal_sign`, which ethers and viem use for messages.
#[rpc(server, client, namespace = "personal")]
pub trait PersonalApi {
    /// `eth_sign` with the arguments swapped: the message (hex, or plain text) first.
    #[method(name = "sign")]
    fn sign(&self, message: String, address: Address, password: Option<String>)
    -> RpcResult<Bytes>;
}

/// The `eth_subscribe` pub/sub methods (WebSocket only).
#[rpc(server, namespace = "eth")]
pub trait EthPubSubApi {
    /// Subscribes to `newHeads`, `logs` or `newPendingTransactions`.
    #[subscription(name = "subscribe" => "subscription", unsubscribe = "unsubscribe", item = serde_json::Value)]
    async fn subscribe(&self, kind: SubscriptionKind, params: Option<Params>)
    -> SubscriptionResult;
}

/// How many transactions wait in the pool (`txpool_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TxpoolStatus {
    /// Executable transactions.
    pub pending: U64,
    /// Transactions behind a nonce gap.
    pub queued: U64,
}

/// Pooled transactions by sender and nonce (decimal, as geth writes it), pending and queued:
/// `txpool_content` (`T` a transaction) and `txpool_inspect` (`T` a one-line summary).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(bound(serialize = "T: serde::Serialize", deserialize = "T: serde::de::DeserializeOwned"))]
pub struct TxpoolContent<T> {
    /// Executable transactions.
    pub pending: BTreeMap<Address, BTreeMap<String, T>>,
    /// Transactions behind a nonce gap.
    pub queued: BTreeMap<Address, BTreeMap<String, T>>,
}

/// One sender's pooled transactions by nonce (`txpool_contentFrom`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TxpoolContentFrom {
    /// Executable transactions.
    pub pending: BTreeMap<String, Transaction>,
    /// Transactions behind a nonce gap.
    pub queued: BTreeMap<String, Transaction>,
}

/// The `txpool_` namespace, as geth serves it: what waits in the pool.
#[rpc(server, client, namespace = "txpool")]
pub trait TxpoolApi {
    /// Counts of pending and queued transactions.
    #[method(name = "status")]
    fn status(&self) -> RpcResult<TxpoolStatus>;

    /// Every pooled transaction (a large pool may exceed the response size limit).
    #[method(name = "content")]
    fn content(&self) -> RpcResult<TxpoolContent<Transaction>>;

    /// One sender's pooled transactions.
    #[method(name = "contentFrom")]
    fn content_from(&self, sender: Address) -> RpcResult<TxpoolContentFrom>;

    /// Every pooled transaction as one line: `to: value wei + gas gas × fee cap wei`.
    #[method(name = "inspect")]
    fn inspect(&self) -> RpcResult<TxpoolContent<String>>;
}

/// The `net_` namespace.
#[rpc(server, client, namespace = "net")]
pub trait NetApi {
    /// The chain id as a decimal string.
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;

    /// Always true.
    #[method(name = "listening")]
    fn listening(&self) -> RpcResult<bool>;

    /// Always zero: a sequencer has no peers.
    #[method(name = "peerCount")]
    fn peer_count(&self) -> RpcResult<U64>;
}

/// The `web3_` namespace.
#[rpc(server, client, namespace = "web3")]
pub trait Web3Api {
    /// Name and version of this node.
    #[method(name = "clientVersion")]
    fn client_version(&self) -> RpcResult<String>;

    /// keccak256 of the input.
    #[method(name = "sha3")]
    fn sha3(&self, input: Bytes) -> RpcResult<B256>;
}

/// The `debug_` methods: the chain's consensus encodings (as geth serves them to indexers and
/// tools that verify blocks themselves), and tracing with geth's built-in tracers.
#[rpc(server, client, namespace = "debug")]
pub trait DebugApi {
    /// Traces a transaction of the chain: its block replayed over the parent's state up to
    /// it, then it under the tracer the options name (the struct logger when none).
    #[method(name = "traceTransaction")]
    async fn trace_transaction(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace>;

    /// Traces every transaction of a block, by number or tag.
    #[method(name = "traceBlockByNumber")]
    async fn trace_block_by_number(
        &self,
        block: BlockNumberOrTag,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult<GethTrace, String>>>;

    /// Traces every transaction of a block, by hash.
    #[method(name = "traceBlockByHash")]
    async fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult<GethTrace, String>>>;

    /// Traces a call as `eth_call` would run it at `block` (default latest), with state
    /// overrides, block overrides, and `txIndex` (run after that many of the block's
    /// transactions, on the block's own environment).
    #[method(name = "traceCall")]
    async fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        options: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace>;

    /// The RLP encoding of a block's header.
    #[method(name = "getRawHeader")]
    fn get_raw_header(&self, block: BlockId) -> RpcResult<Bytes>;

    /// The RLP encoding of a block (header, transactions, no ommers, and the empty withdrawals
    /// list once Shanghai is active).
    #[method(name = "getRawBlock")]
    fn get_raw_block(&self, block: BlockId) -> RpcResult<Bytes>;

    /// The EIP-2718 encodings of a block's receipts, in block order.
    #[method(name = "getRawReceipts")]
    fn get_raw_receipts(&self, block: BlockId) -> RpcResult<Vec<Bytes>>;

    /// A transaction's EIP-2718 encoding by hash (pending ones included); `null` when unknown.
    #[method(name = "getRawTransaction")]
    fn get_raw_transaction(&self, hash: B256) -> RpcResult<Option<Bytes>>;
}

/// Administrative methods for the batcher, served only on the admin port (`--admin.port`),
/// never on the public one.
#[rpc(server, client, namespace = "sequencer")]
pub trait AdminApi {
    /// Caps the encoded transaction bytes of future blocks (the batcher's back-pressure when
    /// L1 accepts data slower than L2 produces it); `null` lifts the cap.
    #[method(name = "setMaxBlockBytes")]
    fn set_max_block_bytes(&self, max: Option<U64>) -> RpcResult<bool>;

    /// Records the newest L2 block posted to L1 (`safe`) and final there (`finalized`),
    /// durably: a restarted node answers those tags as last recorded.
    #[method(name = "setL1Heads")]
    async fn set_l1_heads(&self, safe: U64, finalized: U64) -> RpcResult<bool>;
}
