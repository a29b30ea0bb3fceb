//! Running a plan against an endpoint: the setup (sent and waited for, untimed), then the load,
//! sent as fast as the endpoint accepts it over several connections in batches, while a
//! tracker follows new blocks and notes when each transaction is included.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256};
use parking_lot::Mutex;
use serde_json::json;

use super::{
    client::{RpcClient, RpcFailure},
    plan::{Plan, Signed},
    report::{Report, percentile},
};

/// EIP-7966's code for "accepted, but not included within the wait".
const SYNC_TIMEOUT_CODE: i64 = 4;

/// How the load is sent.
#[derive(Debug, Clone, Copy)]
pub struct SendConfig {
    /// Requests in flight at once (each on its own connection).
    pub connections: usize,
    /// Transactions per JSON-RPC batch request.
    pub batch: usize,
    /// Give up waiting for inclusion after this long without progress.
    pub stall_timeout: Duration,
    /// Send with `eth_sendRawTransactionSync`: each request is answered once its transactions
    /// are in blocks, so a connection sends its next batch only then, and the time to receipt
    /// is what the caller waited for the answer.
    pub sync: bool,
}

impl Default for SendConfig {
    fn default() -> Self {
        Self { connections: 4, batch: 250, stall_timeout: Duration::from_secs(60), sync: false }
    }
}

/// Live counters, for progress output.
#[derive(Debug, Default)]
pub struct Counters {
    /// Transactions sent (accepted or not).
    pub sent: AtomicU64,
    /// Transactions the endpoint refused.
    pub failed: AtomicU64,
    /// Transactions seen in blocks.
    pub included: AtomicU64,
}

/// Why a run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The endpoint failed a call the run depends on.
    #[error("{what}: {source}")]
    Rpc {
        /// What was being done.
        what: &'static str,
        /// The failure.
        source: RpcFailure,
    },
    /// The setup did not complete.
    #[error("setup: {0}")]
    Setup(String),
}

fn rpc(what: &'static str) -> impl FnOnce(RpcFailure) -> LoadError {
    move |source| LoadError::Rpc { what, source }
}

fn quantity(value: &serde_json::Value) -> u64 {
    value
        .as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or_default()
}

/// The account's nonce at `tag`.
///
/// # Errors
/// When the endpoint does not answer.
pub async fn nonce(client: &RpcClient, account: Address, tag: &str) -> Result<u64, LoadError> {
    let value: serde_json::Value = client
        .call("eth_getTransactionCount", json!([account, tag]))
        .await
        .map_err(rpc("eth_getTransactionCount"))?;
    Ok(quantity(&value))
}

/// Sends the setup transactions (the funder's, from nonce `first_nonce`) and waits until the
/// last one is mined.
///
/// # Errors
/// When a setup transaction is refused or the setup does not complete within `timeout`.
pub async fn run_setup(
    client: &RpcClient,
    funder: Address,
    first_nonce: u64,
    setup: &[Signed],
    timeout: Duration,
) -> Result<(), LoadError> {
    for (c, chunk) in setup.chunks(200).enumerate() {
        let raws: Vec<&[u8]> = chunk.iter().map(|s| s.raw.as_ref()).collect();
        let outcomes = client.send_raw_batch(&raws).await.map_err(rpc("sending the setup"))?;
        if let Some((i, Err(e))) = outcomes.iter().enumerate().find(|(_, o)| o.is_err()) {
            let refused = outcomes.iter().filter(|o| o.is_err()).count();
            return Err(LoadError::Setup(format!(
                "setup transaction {} of {} (funder nonce {}) was refused: {e} ({refused} of that request's {} refused)",
                c * 200 + i,
                setup.len(),
                first_nonce + (c * 200 + i) as u64,
                chunk.len()
            )));
        }
    }
    let target = first_nonce + setup.len() as u64;
    let deadline = Instant::now() + timeout;
    while nonce(client, funder, "latest").await? < target {
        if Instant::now() > deadline {
            return Err(LoadError::Setup(format!("setup not mined within {timeout:?}")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Where each transaction is: its send time and inclusion.
#[derive(Debug, Default)]
struct Ledger {
    sent_at: HashMap<B256, Instant>,
    included_at: HashMap<B256, Instant>,
    /// When a synchronous send's receipt came back (with `SendConfig::sync`).
    answered_at: HashMap<B256, Instant>,
    /// Synchronous sends the endpoint accepted but answered with its timeout.
    sync_timeouts: u64,
    failures: HashMap<String, u64>,
    failed: u64,
    gas: u64,
    blocks: u64,
    first_send: Option<Instant>,
    last_ack: Option<Instant>,
    last_inclusion: Option<Instant>,
}

/// Sends the load and tracks it until every accepted transaction is included (or progress
/// stalls for `stall_timeout`).
///
/// # Errors
/// When the endpoint cannot be read at all.
pub async fn run_load(
    client: Arc<RpcClient>,
    plan: &Plan,
    config: SendConfig,
    counters: Arc<Counters>,
) -> Result<Report, LoadError> {
    let start_block = {
        let head: serde_json::Value =
            client.call("eth_blockNumber", json!([])).await.map_err(rpc("eth_blockNumber"))?;
        quantity(&head)
    };
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let wanted: Arc<HashMap<B256, ()>> = Arc::new(plan.load.iter().map(|s| (s.hash, ())).collect());
    let done_sending = Arc::new(AtomicBool::new(false));

    // Each account goes to one connection, so its nonces arrive in order.
    let connections = config.connections.max(1);
    let mut queues: Vec<Vec<Signed>> = vec![Vec::new(); connections];
    for signed in &plan.load {
        queues[signed.sender % connections].push(signed.clone());
    }
    let tracker = tokio::spawn(track(
        client.clone(),
        ledger.clone(),
        wanted.clone(),
        counters.clone(),
        done_sending.clone(),
        start_block,
        config.stall_timeout,
    ));
    ledger.lock().first_send = Some(Instant::now());
    let senders: Vec<_> = queues
        .into_iter()
        .map(|queue| {
            let (client, ledger, counters) = (client.clone(), ledger.clone(), counters.clone());
            tokio::spawn(async move {
                for chunk in queue.chunks(config.batch.max(1)) {
                    let raws: Vec<&[u8]> = chunk.iter().map(|s| s.raw.as_ref()).collect();
                    let sent = Instant::now();
                    {
                        let mut ledger = ledger.lock();
                        for signed in chunk {
                            ledger.sent_at.insert(signed.hash, sent);
                        }
                    }
                    let mut outcomes = None;
                    let mut retried = false;
                    for attempt in 0..3 {
                        retried = attempt > 0;
                        let answer = if config.sync {
                            client.send_raw_sync_batch(&raws).await
                        } else {
                            client.send_raw_batch(&raws).await
                        };
                        match answer {
                            Ok(o) => {
                                outcomes = Some(o);
                                break;
                            }
                            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                        }
                    }
                    let outcomes = outcomes.unwrap_or_else(|| {
                        raws.iter()
                            .map(|_| Err(RpcFailure::Transport("no answer after 3 tries".into())))
                            .collect()
                    });
                    let answered = Instant::now();
                    let mut ledger = ledger.lock();
                    ledger.last_ack = Some(answered);
                    for (signed, outcome) in chunk.iter().zip(outcomes) {
                        match outcome {
                            // A retried batch's "already known" is no receipt: the tracker's
                            // inclusion time stands in for those.
                            Ok(()) if config.sync && !retried => {
                                ledger.answered_at.insert(signed.hash, answered);
                            }
                            Ok(()) => {}
                            // The endpoint accepted it but stopped waiting (EIP-7966 code 4):
                            // not a refusal, and the tracker still sees its inclusion.
                            Err(RpcFailure::Rpc { code: SYNC_TIMEOUT_CODE, .. }) if config.sync => {
                                ledger.sync_timeouts += 1;
                            }
                            Err(e) => {
                                ledger.failed += 1;
                                *ledger.failures.entry(e.to_string()).or_default() += 1;
                                counters.failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    counters.sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for sender in senders {
        let _ = sender.await;
    }
    done_sending.store(true, Ordering::Release);
    let _ = tracker.await;

    let ledger = ledger.lock();
    let first_send = ledger.first_send.unwrap_or_else(Instant::now);
    // Sent to seen in a block by the tracker, or, for synchronous sends, to the receipt's
    // answer (the inclusion where no receipt came back: a timeout, a retried batch).
    let mut latencies: Vec<f64> = ledger
        .sent_at
        .iter()
        .filter_map(|(hash, sent)| {
            let answered = config.sync.then(|| ledger.answered_at.get(hash)).flatten();
            let at = answered.or_else(|| ledger.included_at.get(hash))?;
            Some(at.saturating_duration_since(*sent).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let included = ledger.included_at.len() as u64;
    let span =
        ledger.last_inclusion.map_or(0.0, |last| last.duration_since(first_send).as_secs_f64());
    let ingest = ledger.last_ack.map_or(0.0, |last| last.duration_since(first_send).as_secs_f64());
    let accepted = plan.load.len() as u64 - ledger.failed;
    Ok(Report {
        txs: plan.load.len() as u64,
        accepted,
        failed: ledger.failed,
        failures: ledger.failures.clone(),
        included,
        lost: accepted.saturating_sub(included),
        blocks: ledger.blocks,
        gas: ledger.gas,
        ingest_seconds: ingest,
        inclusion_seconds: span,
        ingest_tps: accepted as f64 / ingest.max(1e-9),
        inclusion_tps: included as f64 / span.max(1e-9),
        gas_per_second: ledger.gas as f64 / span.max(1e-9),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        sync: config.sync,
        sync_timeouts: ledger.sync_timeouts,
        ..Report::default()
    })
}

/// Follows new blocks and records when each wanted transaction appears.
async fn track(
    client: Arc<RpcClient>,
    ledger: Arc<Mutex<Ledger>>,
    wanted: Arc<HashMap<B256, ()>>,
    counters: Arc<Counters>,
    done_sending: Arc<AtomicBool>,
    start_block: u64,
    stall_timeout: Duration,
) {
    let mut next = start_block + 1;
    let mut progress_at = Instant::now();
    loop {
        let head = match client.call::<serde_json::Value>("eth_blockNumber", json!([])).await {
            Ok(head) => quantity(&head),
            Err(_) => next.saturating_sub(1),
        };
        while next <= head {
            let Ok(block) = client
                .call::<serde_json::Value>(
                    "eth_getBlockByNumber",
                    json!([format!("{next:#x}"), false]),
                )
                .await
            else {
                break;
            };
            let seen = Instant::now();
            let hashes: Vec<B256> = block["transactions"]
                .as_array()
                .map(|txs| txs.iter().filter_map(|h| h.as_str()?.parse().ok()).collect())
                .unwrap_or_default();
            let ours = hashes.iter().filter(|h| wanted.contains_key(*h)).count() as u64;
            if ours > 0 {
                let mut ledger = ledger.lock();
                for hash in hashes.iter().filter(|h| wanted.contains_key(*h)) {
                    ledger.included_at.insert(*hash, seen);
                }
                ledger.gas += quantity(&block["gasUsed"]);
                ledger.blocks += 1;
                ledger.last_inclusion = Some(seen);
                counters.included.fetch_add(ours, Ordering::Relaxed);
                progress_at = seen;
            }
            next += 1;
        }
        let (included, failed) = {
            let ledger = ledger.lock();
            (ledger.included_at.len(), ledger.failed as usize)
        };
        if done_sending.load(Ordering::Acquire) && included + failed >= wanted.len() {
            return;
        }
        if done_sending.load(Ordering::Acquire) && progress_at.elapsed() > stall_timeout {
            return;
        }
        if !done_sending.load(Ordering::Acquire) && progress_at.elapsed() > stall_timeout {
            progress_at = Instant::now(); // sending is slow, not stalled
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
