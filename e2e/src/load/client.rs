//! A small JSON-RPC client for load: plain calls, and batches of `eth_sendRawTransaction`
//! (or `eth_sendRawTransactionSync`) written straight into one request body, over a pooled
//! HTTP client (one connection per request in flight).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcFailure {
    /// The endpoint could not be reached or answered with something that is not JSON-RPC.
    #[error("transport: {0}")]
    Transport(String),
    /// The endpoint answered with an error object.
    #[error("{message} (code {code})")]
    Rpc {
        /// The error code.
        code: i64,
        /// The message.
        message: String,
    },
}

/// A JSON-RPC endpoint.
#[derive(Debug)]
pub struct RpcClient {
    http: reqwest::Client,
    url: String,
    ids: AtomicU64,
}

fn transport(e: impl std::fmt::Display) -> RpcFailure {
    RpcFailure::Transport(e.to_string())
}

fn failure(error: &Value) -> RpcFailure {
    RpcFailure::Rpc {
        code: error["code"].as_i64().unwrap_or_default(),
        message: error["message"].as_str().unwrap_or("(no message)").to_string(),
    }
}

impl RpcClient {
    /// A client of `url`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(url: &str) -> Result<Self, RpcFailure> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .map_err(transport)?;
        Ok(Self { http, url: url.to_string(), ids: AtomicU64::new(1) })
    }

    async fn post(&self, body: String) -> Result<Value, RpcFailure> {
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            RpcFailure::Transport(format!(
                "HTTP {status}, not JSON-RPC ({e}): {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ))
        })
    }

    /// Calls `method` with `params` and decodes the result.
    ///
    /// # Errors
    /// Transport failures and error objects.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, RpcFailure> {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let body =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let answer = self.post(body.to_string()).await?;
        if let Some(error) = answer.get("error") {
            return Err(failure(error));
        }
        serde_json::from_value(answer["result"].clone())
            .map_err(|e| transport(format!("{method}: {e}")))
    }

    /// Sends raw transactions (EIP-2718 bytes) in one batch request; one outcome per
    /// transaction, in order. An "already known" answer counts as accepted.
    ///
    /// # Errors
    /// When the whole request fails (transport); per-transaction rejections are in the result.
    pub async fn send_raw_batch(
        &self,
        raws: &[&[u8]],
    ) -> Result<Vec<Result<(), RpcFailure>>, RpcFailure> {
        self.raw_batch("eth_sendRawTransaction", raws).await
    }

    /// [`Self::send_raw_batch`] with `eth_sendRawTransactionSync` (EIP-7966): each answer comes
    /// once its transaction is in a block, or is an error once the endpoint stops waiting.
    ///
    /// # Errors
    /// When the whole request fails (transport); per-transaction rejections are in the result.
    pub async fn send_raw_sync_batch(
        &self,
        raws: &[&[u8]],
    ) -> Result<Vec<Result<(), RpcFailure>>, RpcFailure> {
        self.raw_batch("eth_sendRawTransactionSync", raws).await
    }

    async fn raw_batch(
        &self,
        method: &str,
        raws: &[&[u8]],
    ) -> Result<Vec<Result<(), RpcFailure>>, RpcFailure> {
        let first = self.ids.fetch_add(raws.len() as u64, Ordering::Relaxed);
        let mut body = String::with_capacity(raws.iter().map(|r| r.len() * 2 + 80).sum());
        body.push('[');
        for (i, raw) in raws.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"jsonrpc":"2.0","id":{},"method":"{method}","params":["0x{}"]}}"#,
                first + i as u64,
                alloy_primitives::hex::encode(raw)
            ));
        }
        body.push(']');
        let answer = self.post(body).await?;
        let Some(answers) = answer.as_array() else {
            // A batch refused as a whole answers with one error object.
            let error =
                answer.get("error").map_or_else(|| transport("not a batch answer"), failure);
            return Ok(raws.iter().map(|_| Err(error.clone())).collect());
        };
        let mut outcomes: Vec<Result<(), RpcFailure>> =
            raws.iter().map(|_| Err(transport("no answer for this request"))).collect();
        for item in answers {
            let Some(index) = item["id"].as_u64().and_then(|id| id.checked_sub(first)) else {
                continue;
            };
            let Some(slot) = outcomes.get_mut(index as usize) else { continue };
            *slot = match item.get("error") {
                Some(error) => {
                    let failure = failure(error);
                    match &failure {
                        RpcFailure::Rpc { message, .. }
                            if message.to_lowercase().contains("already known") =>
                        {
                            Ok(())
                        }
                        _ => Err(failure),
                    }
                }
                None => Ok(()),
            };
        }
        Ok(outcomes)
    }
}
