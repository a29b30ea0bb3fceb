//! The JSON-RPC server: HTTP and WebSocket on one port (jsonrpsee), with CORS for browser dapps,
//! request size and batch limits, polling filters and `eth_subscribe`.
//!
//! Protocol errors come from jsonrpsee with the standard codes: an unparsable body is -32700,
//! an unknown method -32601, bad parameters -32602, an oversized body -32007 (HTTP 413).
//! Application errors go through [`error::RpcError`].

mod admin;
pub mod api;
mod batch;
mod convert;
mod debug;
pub mod error;
mod eth;
mod filters;
mod http_pubsub;
pub mod namespaces;
mod overrides;
mod pubsub;
mod signing;
mod simulate;
mod txpool;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use jsonrpsee::{
    RpcModule,
    server::{BatchRequestConfig, IdProvider, Server, ServerConfig, ServerHandle},
    types::SubscriptionId,
};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::node::{Node, NodeError};

/// RPC limits and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcConfig {
    /// Largest request body in bytes.
    pub max_request_bytes: u32,
    /// Largest response body in bytes.
    pub max_response_bytes: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
    /// Most calls in one batch request.
    pub max_batch: u32,
    /// Most blocks one `eth_getLogs` may scan.
    pub max_logs_range: u64,
    /// Most logs one `eth_getLogs` may return.
    pub max_logs: usize,
    /// Gas limit of `eth_call`, the ceiling of `eth_estimateGas`, and the gas all calls of one
    /// `eth_simulateV1` request may use together.
    pub gas_cap: u64,
    /// Most calls whose cost the caller controls (`eth_call`, `eth_estimateGas`,
    /// `eth_createAccessList`, log queries, `eth_feeHistory`, `eth_getProof`, `debug_trace*`)
    /// run at once; the rest wait their turn.
    pub max_concurrent_calls: usize,
    /// Bounds of `debug_trace*` requests (time, struct-log steps, recorded bytes).
    pub trace: crate::executor::TraceBounds,
    /// How long `eth_sendRawTransactionSync` and `eth_sendTransactionSync` wait for the
    /// receipt when the caller names no timeout (geth's default: 20 s).
    pub tx_sync_timeout: Duration,
    /// The longest wait a caller of either may ask for (geth: 1 min).
    pub tx_sync_max_timeout: Duration,
    /// The namespaces served (`--http.api`); the others' methods are unknown.
    pub namespaces: namespaces::Namespaces,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            max_request_bytes: 10 * 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            max_connections: 1_000,
            max_batch: 10_000,
            max_logs_range: 10_000,
            max_logs: 20_000,
            gas_cap: 50_000_000,
            max_concurrent_calls: std::thread::available_parallelism().map_or(2, |n| n.get()),
            trace: crate::executor::TraceBounds::default(),
            tx_sync_timeout: Duration::from_secs(20),
            tx_sync_max_timeout: Duration::from_secs(60),
            namespaces: namespaces::Namespaces::default(),
        }
    }
}

/// Subscription ids as geth writes them: random 128-bit hex strings.
#[derive(Debug)]
struct HexIdProvider;

impl IdProvider for HexIdProvider {
    fn next_id(&self) -> SubscriptionId<'static> {
        let id: u128 = rand_u128();
        SubscriptionId::Str(format!("0x{id:032x}").into())
    }
}

fn rand_u128() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    u128::from_be_bytes(
        alloy_primitives::keccak256([seed.to_be_bytes(), u128::from(n).to_be_bytes()].concat())
            [..16]
            .try_into()
            .expect("16 bytes"),
    )
}

/// The CORS layer for the allowed origins (`*` for any).
fn cors(domains: &[String]) -> Option<CorsLayer> {
    if domains.is_empty() {
        return None;
    }
    let layer = CorsLayer::new().allow_methods(Any).allow_headers(Any);
    if domains.iter().any(|d| d == "*") {
        return Some(layer.allow_origin(Any));
    }
    let origins = domains.iter().filter_map(|d| d.parse().ok()).collect::<Vec<_>>();
    Some(layer.allow_origin(AllowOrigin::list(origins)))
}

pub(crate) use admin::start as start_admin;

/// Starts the server for `node`; returns its handle and bound address.
pub(crate) async fn start(
    node: Arc<Node>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(ServerHandle, SocketAddr, tokio::task::JoinHandle<()>), NodeError> {
    let config = &node.config;
    let addr = SocketAddr::new(config.http_addr, config.http_port);
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.rpc.max_request_bytes)
        .max_response_body_size(config.rpc.max_response_bytes)
        .max_connections(config.rpc.max_connections)
        .set_batch_request_config(BatchRequestConfig::Limit(config.rpc.max_batch))
        .set_id_provider(HexIdProvider)
        .build();
    let middleware = tower::ServiceBuilder::new()
        .option_layer(cors(&config.cors_domains))
        .map_request(http_pubsub::mark_plain_http);
    let max_response_bytes = config.rpc.max_response_bytes as usize;
    // Batches run their calls concurrently, each through the pub/sub check.
    let rpc_middleware = jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new()
        .layer_fn(move |inner| batch::ConcurrentBatch { inner, max_response_bytes })
        .layer_fn(|inner| http_pubsub::NoHttpSubscriptions { inner });
    let server = Server::builder()
        .set_config(server_config)
        .set_http_middleware(middleware)
        .set_rpc_middleware(rpc_middleware)
        .build(addr)
        .await
        .map_err(|source| NodeError::Rpc { addr, source })?;
    let local = server.local_addr().map_err(|source| NodeError::Rpc { addr, source })?;

    let filters = Arc::new(filters::Filters::default());
    let mut module = RpcModule::new(());
    let merge = |module: &mut RpcModule<()>, methods: jsonrpsee::Methods| {
        module.merge(methods).map_err(|e| NodeError::Config(format!("rpc method clash: {e}")))
    };
    use api::{
        DebugApiServer, EthApiServer, EthPubSubApiServer, NetApiServer, TxpoolApiServer,
        Web3ApiServer,
    };
    use namespaces::Namespace;
    let served = node.config.rpc.namespaces.clone();
    let eth = eth::EthRpc::new(node.clone(), filters.clone());
    if served.contains(Namespace::Debug) {
        merge(&mut module, debug::DebugRpc { eth: eth.clone() }.into_rpc().into())?;
    }
    // A replica signs for nobody: it cannot send what it would sign.
    let keys = if node.config.replica {
        signing::Keyring::default()
    } else {
        signing::Keyring::new(&node.config.unlocked).map_err(NodeError::Config)?
    };
    let signing = signing::SigningRpc::new(eth.clone(), keys);
    if served.contains(Namespace::Personal) {
        merge(&mut module, api::PersonalApiServer::into_rpc(signing.clone()).into())?;
    }
    if served.contains(Namespace::Eth) {
        merge(&mut module, api::EthSigningApiServer::into_rpc(signing).into())?;
        merge(&mut module, eth.into_rpc().into())?;
        merge(&mut module, pubsub::PubSub::new(node.clone()).into_rpc().into())?;
    }
    if served.contains(Namespace::Net) {
        merge(&mut module, eth::NetRpc { chain_id: node.spec.chain_id }.into_rpc().into())?;
    }
    if served.contains(Namespace::Web3) {
        merge(&mut module, eth::Web3Rpc.into_rpc().into())?;
    }
    if served.contains(Namespace::Txpool) {
        merge(&mut module, txpool::TxpoolRpc { node: node.clone() }.into_rpc().into())?;
    }
    // geth's `rpc_modules`: what this endpoint serves, each at version "1.0", `rpc` included.
    let modules = serde_json::Value::Object(
        served
            .iter()
            .map(Namespace::name)
            .chain(["rpc"])
            .map(|ns| (ns.into(), "1.0".into()))
            .collect(),
    );
    module
        .register_method("rpc_modules", move |_, _, _| modules.clone())
        .map_err(|e| NodeError::Config(format!("rpc method clash: {e}")))?;
    let feeder = tokio::spawn(pubsub::feed_pending_filters(node.clone(), filters, stop));
    Ok((server.start(module), local, feeder))
}
