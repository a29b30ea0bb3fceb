//! The load tool: pre-signs transactions of a workload over many funded accounts, sends them
//! to any Ethereum JSON-RPC endpoint as fast as it accepts them (batched requests over several
//! connections), follows new blocks until every accepted transaction is included, and reports
//! ingest rate, inclusion TPS, gas per second, refusals by error and time to inclusion.
//!
//! It uses only standard methods (`eth_chainId`, `eth_gasPrice`, `eth_getTransactionCount`,
//! `eth_sendRawTransaction`, `eth_blockNumber`, `eth_getBlockByNumber`), so it runs unchanged
//! against anvil or any node, and the same pre-signed transactions can be replayed against
//! each (give them the same chain id).

pub mod client;
pub mod plan;
pub mod report;
pub mod run;

use std::{sync::Arc, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use serde_json::json;

pub use client::RpcClient;
pub use plan::{Fees, Plan, PlanConfig, Workload};
pub use report::Report;
pub use run::{Counters, LoadError, SendConfig};

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The endpoint.
    pub rpc_url: String,
    /// The workload.
    pub workload: Workload,
    /// Transactions.
    pub txs: usize,
    /// Accounts.
    pub accounts: usize,
    /// Declare exact access lists.
    pub access_lists: bool,
    /// Seed of accounts and recipients.
    pub seed: u64,
    /// The funded key that funds the accounts.
    pub funder: PrivateKeySigner,
    /// How to send.
    pub send: SendConfig,
}

/// Reads the chain id and fee level, signs the setup and the load, runs the setup, then the
/// load. `on_ready` is called once the load is signed and the setup mined (to start progress
/// output).
///
/// # Errors
/// When the endpoint cannot be read or the setup fails.
pub async fn run(
    config: &LoadConfig,
    counters: Arc<Counters>,
    on_ready: impl FnOnce(&Plan),
) -> Result<Report, LoadError> {
    let client = Arc::new(
        RpcClient::new(&config.rpc_url)
            .map_err(|source| LoadError::Rpc { what: "client", source })?,
    );
    let chain: serde_json::Value = client
        .call("eth_chainId", json!([]))
        .await
        .map_err(|source| LoadError::Rpc { what: "eth_chainId", source })?;
    let chain_id = chain
        .as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(1);
    let gas_price: serde_json::Value = client
        .call("eth_gasPrice", json!([]))
        .await
        .map_err(|source| LoadError::Rpc { what: "eth_gasPrice", source })?;
    let gas_price = gas_price
        .as_str()
        .and_then(|s| u128::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(1_000_000_000);
    // Room for the base fee to climb under load; the tip orders nothing here.
    let fees = Fees { max_fee: (gas_price * 20).max(100_000_000_000), tip: 1_000_000_000 };
    let funder_nonce = run::nonce(&client, config.funder.address(), "pending").await?;
    let plan_config = PlanConfig {
        chain_id,
        workload: config.workload,
        txs: config.txs,
        accounts: config.accounts.clamp(1, config.txs.max(1)),
        access_lists: config.access_lists,
        seed: config.seed,
        fees,
    };
    let plan =
        tokio::task::block_in_place(|| plan::plan(&plan_config, &config.funder, funder_nonce));
    run::run_setup(
        &client,
        config.funder.address(),
        funder_nonce,
        &plan.setup,
        Duration::from_secs(300),
    )
    .await?;
    on_ready(&plan);
    let mut report = run::run_load(client, &plan, config.send, counters).await?;
    report.rpc_url = config.rpc_url.clone();
    report.workload = Some(config.workload);
    report.accounts = plan.accounts.len() as u64;
    report.access_lists = config.access_lists;
    report.cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    report.inclusion_tps_per_core = report.inclusion_tps / report.cores as f64;
    Ok(report)
}
