//! The admin server: a separate JSON-RPC listener (off by default, loopback by default) for the
//! batcher's back-pressure and L1 progress reports.

use std::{net::SocketAddr, sync::Arc};

use alloy_primitives::U64;
use jsonrpsee::{
    core::{RpcResult, async_trait},
    server::{Server, ServerHandle},
};

use super::{api::AdminApiServer, error::RpcError};
use crate::node::{Node, NodeError};

/// The admin API implementation.
#[derive(Debug, Clone)]
struct AdminRpc {
    node: Arc<Node>,
}

#[async_trait]
impl AdminApiServer for AdminRpc {
    fn set_max_block_bytes(&self, max: Option<U64>) -> RpcResult<bool> {
        let bytes =
            max.map_or(usize::MAX, |m| usize::try_from(m.to::<u64>()).unwrap_or(usize::MAX));
        let previous = self.node.max_block_bytes.swap(bytes, std::sync::atomic::Ordering::AcqRel);
        // The batcher repeats its cap every few seconds (so a restarted node gets it back):
        // only a change is news.
        let max_block_bytes = max.map(|m| m.to::<u64>());
        if previous == bytes {
            tracing::debug!(target: "sequencer::admin", ?max_block_bytes, "block size cap unchanged");
        } else {
            tracing::info!(target: "sequencer::admin", ?max_block_bytes, "block size cap set");
        }
        Ok(true)
    }

    async fn set_l1_heads(&self, safe: U64, finalized: U64) -> RpcResult<bool> {
        // Recording them is a database write, which may wait for a block's commit.
        let node = self.node.clone();
        tokio::task::spawn_blocking(move || node.set_l1_heads(safe.to(), finalized.to()))
            .await
            .map_err(|e| RpcError::Internal(format!("recording the L1 heads: {e}")))?
            .map_err(RpcError::from)?;
        Ok(true)
    }
}

/// Starts the admin server on `addr`.
pub(crate) async fn start(
    node: Arc<Node>,
    addr: SocketAddr,
) -> Result<(ServerHandle, SocketAddr), NodeError> {
    let server =
        Server::builder().build(addr).await.map_err(|source| NodeError::Rpc { addr, source })?;
    let local = server.local_addr().map_err(|source| NodeError::Rpc { addr, source })?;
    Ok((server.start(AdminRpc { node }.into_rpc()), local))
}
