//! `eth_subscribe` and `eth_unsubscribe` over plain HTTP answer as geth does.
//!
//! Subscriptions need a connection the server can push on (WebSocket). jsonrpsee answers a
//! subscription call over HTTP with -32603 "Internal error" and logs a warning each time, which
//! tells a user nothing and fills the log. An HTTP layer marks every request that is not a
//! WebSocket upgrade with [`PlainHttp`] (by the test jsonrpsee itself routes upgrades with);
//! jsonrpsee hands the HTTP request's extensions to each call, where [`NoHttpSubscriptions`]
//! answers the two methods itself: -32601 "notifications not supported" for a subscription,
//! and "subscription not found" for an unsubscription (there can be none on HTTP).

use jsonrpsee::{
    server::{
        HttpRequest,
        middleware::rpc::{Batch, MethodResponse, Notification, Request, RpcServiceT},
        ws::is_upgrade_request,
    },
    types::ErrorObjectOwned,
};

use super::error::RpcError;

/// Marks a request that arrived over plain HTTP (not a WebSocket upgrade).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlainHttp;

/// The HTTP layer's function: marks `request` unless it upgrades to WebSocket.
pub(crate) fn mark_plain_http(mut request: HttpRequest) -> HttpRequest {
    if !is_upgrade_request(&request) {
        request.extensions_mut().insert(PlainHttp);
    }
    request
}

/// The RPC middleware; wraps the server's RPC service.
#[derive(Debug, Clone)]
pub(crate) struct NoHttpSubscriptions<S> {
    pub(crate) inner: S,
}

impl<S> RpcServiceT for NoHttpSubscriptions<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let refusal = match request.method_name() {
            _ if request.extensions().get::<PlainHttp>().is_none() => None,
            "eth_subscribe" => Some(RpcError::Unsupported("notifications not supported".into())),
            "eth_unsubscribe" => Some(RpcError::SubscriptionNotFound),
            _ => None,
        };
        let inner = self.inner.clone();
        async move {
            match refusal {
                Some(refusal) => {
                    MethodResponse::error(request.id().clone(), ErrorObjectOwned::from(refusal))
                }
                None => inner.call(request).await,
            }
        }
    }

    /// Never reached with a batch's calls: [`super::batch::ConcurrentBatch`] wraps this layer
    /// and sends each call of a batch through [`Self::call`].
    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }
}
