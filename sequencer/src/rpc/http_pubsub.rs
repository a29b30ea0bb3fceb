//! `eth_subscribe` over plain HTTP answers as geth does: -32601 "notifications not supported".
//!
//! Subscriptions need a connection the server can push on (WebSocket). jsonrpsee answers a
//! subscription call over HTTP with -32603 "Internal error" and logs a warning each time, which
//! tells a user nothing and fills the log. An HTTP layer marks every request that is not a
//! WebSocket upgrade with [`PlainHttp`]; jsonrpsee hands the HTTP request's extensions to each
//! call, where [`NoHttpSubscriptions`] answers the two pub/sub methods itself.

use jsonrpsee::{
    server::{
        HttpRequest,
        middleware::rpc::{Batch, MethodResponse, Notification, Request, RpcServiceT},
    },
    types::ErrorObject,
};

/// Marks a request that arrived over plain HTTP (not a WebSocket upgrade).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlainHttp;

/// The HTTP layer's function: marks `request` unless it upgrades to WebSocket.
pub(crate) fn mark_plain_http(mut request: HttpRequest) -> HttpRequest {
    let upgrade = request
        .headers()
        .get("upgrade")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        request.extensions_mut().insert(PlainHttp);
    }
    request
}

/// The RPC middleware; wraps the server's RPC service.
#[derive(Debug, Clone)]
pub(crate) struct NoHttpSubscriptions<S> {
    pub(crate) inner: S,
}

/// The methods that need a connection to push on.
const PUBSUB_METHODS: [&str; 2] = ["eth_subscribe", "eth_unsubscribe"];

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
        let refuse = request.extensions().get::<PlainHttp>().is_some()
            && PUBSUB_METHODS.contains(&request.method_name());
        let inner = self.inner.clone();
        async move {
            if refuse {
                let error = ErrorObject::owned(-32601, "notifications not supported", None::<()>);
                return MethodResponse::error(request.id().clone(), error);
            }
            inner.call(request).await
        }
    }

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
