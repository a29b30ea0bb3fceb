//! Hostile input while the node is under load: malformed JSON, garbage and wrong-chain raw
//! transactions, oversized bodies and a nonce-gap flood each get their error; the node keeps
//! serving, its memory stays bounded, and every transaction it accepted is included.

use std::time::Duration;

use alloy::providers::Provider;
use alloy_primitives::{Address, U256};
use e2e::load::{RpcClient, client::RpcFailure};
use sequencer::{
    genesis::DEV_CHAIN_ID,
    test_utils::{dev_signer, raw, sign, transfer},
};
use serde_json::json;

use crate::{
    cluster::{Cluster, wait_until},
    traffic::Traffic,
};

async fn post(url: &str, body: Vec<u8>) -> (u16, String) {
    // Small bodies only: the server answers them whole.
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

/// Announces a body of `bytes` bytes, sends the first megabyte of it, and returns the
/// response's status line.
async fn oversized(url: &str, bytes: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {bytes}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(&vec![b' '; 1 << 20]).await;
    let mut response = vec![0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut response))
        .await
        .unwrap()
        .unwrap_or(0);
    String::from_utf8_lossy(&response[..read]).lines().next().unwrap_or_default().to_string()
}

async fn refusal(client: &RpcClient, raw: &[u8]) -> (i64, String) {
    let hex = format!("0x{}", alloy_primitives::hex::encode(raw));
    match client.call::<serde_json::Value>("eth_sendRawTransaction", json!([hex])).await {
        Err(RpcFailure::Rpc { code, message }) => (code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_under_load_is_refused_and_nothing_accepted_is_lost() {
    let cluster = Cluster::start().await;
    let traffic = Traffic::start(&cluster.l2_url, 4..7, 10);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = cluster.sequencer.rss_kib().expect("the sequencer runs");
    let client = RpcClient::new(&cluster.l2_url).unwrap();
    let attacker = dev_signer(8);

    for round in 0..20u64 {
        let (_, body) = post(&cluster.l2_url, b"{not json".to_vec()).await;
        assert!(body.contains("-32700"), "parse error: {body}");
        let (_, body) = post(
            &cluster.l2_url,
            br#"[{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":[42]}]"#
                .to_vec(),
        )
        .await;
        assert!(body.contains("-32602"), "invalid params: {body}");

        let (code, message) = refusal(&client, &[0xde, 0xad, 0xbe, 0xef, round as u8]).await;
        assert!(
            code == -32602
                || message.starts_with("rlp:")
                || message.starts_with("transaction type not supported"),
            "{code} {message}"
        );
        let (_, message) =
            refusal(&client, &raw(&sign(&attacker, transfer(1, round, Address::ZERO, U256::ZERO))))
                .await;
        assert_eq!(message, "invalid chain id for signer");

        // 11 MiB: over the 10 MiB request limit, refused before it is read.
        let status = oversized(&cluster.l2_url, 11 << 20).await;
        assert!(status.contains(" 413 "), "an oversized body is refused with 413: {status}");

        // A flood of nonce-gapped transactions: a few queue, the rest are refused.
        let flood: Vec<_> = (0..100)
            .map(|i| {
                raw(&sign(
                    &attacker,
                    transfer(DEV_CHAIN_ID, 1_000 + round * 100 + i, Address::ZERO, U256::from(1)),
                ))
            })
            .collect();
        let refs: Vec<&[u8]> = flood.iter().map(|r| r.as_ref()).collect();
        let outcomes = client.send_raw_batch(&refs).await.unwrap();
        let refused = outcomes.iter().filter(|o| o.is_err()).count();
        if round > 0 {
            assert!(refused > 0, "a nonce-gap flood is bounded per sender");
        }
        for outcome in outcomes.iter().filter_map(|o| o.as_ref().err()) {
            assert!(matches!(outcome, RpcFailure::Rpc { .. }), "{outcome}");
        }
        // Still serving.
        let _: serde_json::Value = client.call("eth_blockNumber", json!([])).await.unwrap();
    }

    let rss_after = cluster.sequencer.rss_kib().expect("still running");
    assert!(
        rss_after < rss_before + 256 * 1024,
        "memory stays bounded: {rss_before} KiB before, {rss_after} KiB after"
    );
    let seen = traffic.stop().await;
    let accepted = seen.lock().accepted.clone();
    assert!(accepted.len() > 100, "the load went on ({} accepted)", accepted.len());
    let l2 = cluster.l2();
    wait_until("every accepted transaction to be included", Duration::from_secs(30), || async {
        for hash in &accepted {
            if l2.get_transaction_receipt(*hash).await.ok().flatten().is_none() {
                return false;
            }
        }
        true
    })
    .await;
}
