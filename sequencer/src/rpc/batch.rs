//! Runs the calls of a JSON-RPC batch concurrently instead of one after another, so a batch of
//! `eth_sendRawTransaction` reaches the recovery pool together and its senders are recovered
//! in parallel on all cores. Responses keep the batch's order; their size is counted as they
//! complete, and a batch is refused as soon as its answers pass the response limit.

use jsonrpsee::server::BatchResponseBuilder;
use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, MethodResponse, Notification, Request, RpcServiceT,
};

/// The middleware; wraps the server's RPC service.
#[derive(Debug, Clone)]
pub(crate) struct ConcurrentBatch<S> {
    pub(crate) inner: S,
    pub(crate) max_response_bytes: usize,
}

impl<S> RpcServiceT for ConcurrentBatch<S>
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
        self.inner.call(request)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let service = self.inner.clone();
        let limit = self.max_response_bytes;
        async move {
            use futures::StreamExt;
            let mut calls: futures::stream::FuturesUnordered<_> = batch
                .into_iter()
                .enumerate()
                .map(|(index, entry)| {
                    let service = service.clone();
                    async move {
                        let response = match entry {
                            Ok(BatchEntry::Call(request)) => Some(service.call(request).await),
                            Ok(BatchEntry::Notification(n)) => {
                                service.notification(n).await;
                                None
                            }
                            Err(err) => {
                                let (err, id) = err.into_parts();
                                Some(MethodResponse::error(id, err))
                            }
                        };
                        (index, response)
                    }
                })
                .collect();
            // Responses are counted as they complete, so a batch whose answers exceed the
            // limit is refused as soon as they do, not after all of them were held at once.
            let mut responses: Vec<(usize, Option<MethodResponse>)> =
                Vec::with_capacity(calls.len());
            let mut bytes = 0usize;
            while let Some((index, response)) = calls.next().await {
                bytes =
                    bytes.saturating_add(response.as_ref().map_or(0, |r| r.as_json().get().len()));
                responses.push((index, response));
                if bytes > limit {
                    drop(calls);
                    break;
                }
            }
            responses.sort_unstable_by_key(|(index, _)| *index);
            let mut got_notification = false;
            let mut builder = BatchResponseBuilder::new_with_limit(limit);
            for (_, response) in responses {
                match response {
                    Some(response) => {
                        if let Err(too_big) = builder.append(response) {
                            return too_big;
                        }
                    }
                    None => got_notification = true,
                }
            }
            if builder.is_empty() && got_notification {
                MethodResponse::notification()
            } else {
                MethodResponse::from_batch(builder.finish())
            }
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }
}
