//! Background traffic for the crash and bad-input tests: several senders keep sending
//! batches of signed transfers, re-reading their nonces whenever the node was unreachable
//! (a crash empties its txpool); and a watcher that records every receipt the node serves.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use alloy_primitives::{Address, B256, U256};
use e2e::load::RpcClient;
use parking_lot::Mutex;
use sequencer::{
    genesis::DEV_CHAIN_ID,
    test_utils::{dev_signer, raw, sign, transfer},
};
use serde_json::{Value, json};

/// What the traffic saw.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Transactions the node accepted.
    pub(crate) accepted: Vec<B256>,
    /// Receipts the node served, by transaction.
    pub(crate) receipts: HashMap<B256, Value>,
}

pub(crate) struct Traffic {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub(crate) seen: Arc<Mutex<Seen>>,
}

/// A plain account (not a precompile) receiving sender `key`'s transfers.
fn recipient(key: usize) -> Address {
    let mut bytes = [0xc0; 20];
    bytes[19] = key as u8;
    Address::from(bytes)
}

async fn pending_nonce(client: &RpcClient, address: Address) -> Option<u64> {
    let value: Value =
        client.call("eth_getTransactionCount", json!([address, "pending"])).await.ok()?;
    u64::from_str_radix(value.as_str()?.trim_start_matches("0x"), 16).ok()
}

impl Traffic {
    /// Starts one sender task per dev key in `keys`, each sending `per_batch` transfers at a
    /// time, and a receipt watcher.
    pub(crate) fn start(url: &str, keys: std::ops::Range<usize>, per_batch: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut tasks = Vec::new();
        for key in keys {
            let (client, stop, seen) = (RpcClient::new(url).unwrap(), stop.clone(), seen.clone());
            tasks.push(tokio::spawn(async move {
                let signer = dev_signer(key);
                let mut nonce = None;
                while !stop.load(Ordering::Relaxed) {
                    let Some(next) = nonce.or(pending_nonce(&client, signer.address()).await)
                    else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let txs: Vec<_> = (next..next + per_batch)
                        .map(|n| {
                            sign(
                                &signer,
                                transfer(DEV_CHAIN_ID, n, recipient(key), U256::from(n + 1)),
                            )
                        })
                        .collect();
                    let raws: Vec<_> = txs.iter().map(raw).collect();
                    let refs: Vec<&[u8]> = raws.iter().map(|r| r.as_ref()).collect();
                    match client.send_raw_batch(&refs).await {
                        Ok(outcomes) if outcomes.iter().all(Result::is_ok) => {
                            seen.lock().accepted.extend(txs.iter().map(|tx| *tx.tx_hash()));
                            nonce = Some(next + per_batch);
                        }
                        Ok(outcomes) => {
                            let mut seen = seen.lock();
                            for (tx, outcome) in txs.iter().zip(outcomes) {
                                if outcome.is_ok() {
                                    seen.accepted.push(*tx.tx_hash());
                                }
                            }
                            nonce = None; // re-read after a refusal
                        }
                        Err(_) => nonce = None, // the node is down: re-read when it is back
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
        let (client, watcher_stop, watcher_seen) =
            (RpcClient::new(url).unwrap(), stop.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            while !watcher_stop.load(Ordering::Relaxed) {
                // The newest accepted transactions without a receipt yet (one lost in a crash
                // drops out of this window as newer ones arrive).
                let wanted: Vec<B256> = {
                    let seen = watcher_seen.lock();
                    seen.accepted
                        .iter()
                        .rev()
                        .filter(|h| !seen.receipts.contains_key(*h))
                        .take(400)
                        .copied()
                        .collect()
                };
                for hash in wanted {
                    if let Ok(receipt) =
                        client.call::<Value>("eth_getTransactionReceipt", json!([hash])).await
                        && !receipt.is_null()
                    {
                        watcher_seen.lock().receipts.insert(hash, receipt);
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
        Self { stop, tasks, seen }
    }

    /// Stops sending and watching.
    pub(crate) async fn stop(self) -> Arc<Mutex<Seen>> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        self.seen
    }
}
