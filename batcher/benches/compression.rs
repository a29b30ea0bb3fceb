//! Bytes per L2 transaction of our batch encoding against what other rollups post, measured
//! side by side on the same batches in one run:
//!
//! - `zlib-9`: the plain RLP transaction list through zlib at its best level (OP Stack's
//!   default channel compression),
//! - `brotli-11`: the same list through brotli at quality 11, window 2^22 (Arbitrum),
//! - `rlp zstd-L`: our version-1 batch (RLP blocks) at zstd level `L`,
//! - `columnar zstd-L`: our version-2 batch (the default) at zstd level `L`.
//!
//! The "plain RLP transaction list" is `rlp([tx, …])` with each transaction in its network
//! encoding, as in a block body. Workloads: the sequencer's generators (1,000 transactions in
//! ten blocks of 100) and real mainnet transactions (the replay corpus, cut into batches of
//! about 1,000). CPU times are per batch, one core, release build.
//!
//! Run: `cargo bench -p batcher --bench compression`.

#![allow(clippy::disallowed_macros)] // it prints its table

use std::{
    io::Write,
    time::{Duration, Instant},
};

use alloy::{consensus::TxEnvelope, eips::eip2718::Encodable2718};
use alloy_primitives::B256;
use batcher::{
    batch::{Batch, BatchBlock, EncodeOptions, Layout},
    test_utils::workload_batch,
};
use sequencer::test_utils::{
    mainnet,
    workload::{self, AccessLists, Workload, WorkloadConfig},
};

/// A named set of batches of one workload.
struct Corpus {
    name: String,
    chain_id: u64,
    batches: Vec<Batch>,
}

impl Corpus {
    fn txs(&self) -> usize {
        self.batches.iter().map(Batch::transaction_count).sum()
    }
}

fn generated(name: &str, workload: Workload) -> Corpus {
    Corpus {
        name: name.into(),
        chain_id: workload::CHAIN_ID,
        batches: vec![workload_batch(&workload)],
    }
}

/// Mainnet blocks as batches of about 1,000 transactions. Blob transactions (never on our L2)
/// and pre-EIP-155 legacy transactions (no chain id; our L2 rejects them) are left out.
fn mainnet_corpus() -> Corpus {
    let mut batches = Vec::new();
    let mut blocks: Vec<BatchBlock> = Vec::new();
    let mut txs = 0;
    for block in mainnet::load_blocks() {
        let transactions: Vec<TxEnvelope> = block
            .txs
            .iter()
            .map(|tx| tx.tx.inner().clone())
            .filter(|tx| match tx {
                TxEnvelope::Legacy(tx) => tx.tx().chain_id.is_some(),
                TxEnvelope::Eip4844(_) => false,
                _ => true,
            })
            .collect();
        if blocks.last().is_some_and(|b| b.number + 1 != block.number()) {
            batches.push(Batch { parent_hash: B256::ZERO, blocks: std::mem::take(&mut blocks) });
            txs = 0;
        }
        txs += transactions.len();
        blocks.push(BatchBlock {
            number: block.number(),
            timestamp: block.header.timestamp,
            beneficiary: block.header.beneficiary,
            extra_data: block.header.extra_data.clone(),
            transactions,
        });
        if txs >= 1_000 {
            batches.push(Batch {
                parent_hash: block.header.parent_hash,
                blocks: std::mem::take(&mut blocks),
            });
            txs = 0;
        }
    }
    if !blocks.is_empty() {
        batches.push(Batch { parent_hash: B256::ZERO, blocks });
    }
    Corpus { name: "mainnet (68 real blocks)".into(), chain_id: 1, batches }
}

fn rlp_tx_list(batch: &Batch) -> Vec<u8> {
    let txs: Vec<&TxEnvelope> = batch.blocks.iter().flat_map(|b| &b.transactions).collect();
    let mut out = Vec::new();
    alloy::rlp::encode_list::<&TxEnvelope, TxEnvelope>(&txs, &mut out);
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).expect("in memory");
    out
}

/// One way of posting a batch: its name and the bytes it posts.
type Encoder = Box<dyn Fn(&Batch) -> Vec<u8>>;
type Codec = (&'static str, Encoder);

fn codecs() -> Vec<Codec> {
    let ours = |layout: Layout, level: i32| -> Encoder {
        Box::new(move |batch: &Batch| {
            batch.encode(&EncodeOptions { zstd_level: level, layout }).expect("encodes")
        })
    };
    vec![
        ("plain RLP list, uncompressed", Box::new(rlp_tx_list)),
        ("zlib-9 of RLP list (OP Stack)", Box::new(|b: &Batch| zlib(&rlp_tx_list(b)))),
        ("brotli-11 of RLP list (Arbitrum)", Box::new(|b: &Batch| brotli(&rlp_tx_list(b)))),
        ("ours v1 rlp, zstd-9", ours(Layout::Rlp, 9)),
        ("ours v2 columnar, zstd-3", ours(Layout::Columnar, 3)),
        ("ours v2 columnar, zstd-9 (default)", ours(Layout::Columnar, 9)),
        ("ours v2 columnar, zstd-15", ours(Layout::Columnar, 15)),
        ("ours v2 columnar, zstd-19", ours(Layout::Columnar, 19)),
    ]
}

/// Bytes per transaction that no encoder can remove: 64 bytes of `r` and `s` per signature.
const SIGNATURE_FLOOR: f64 = 64.0;

fn measure(corpus: &Corpus, codecs: &[Codec]) {
    let txs = corpus.txs() as f64;
    let eip2718: usize = corpus
        .batches
        .iter()
        .flat_map(|b| &b.blocks)
        .flat_map(|b| &b.transactions)
        .map(|t| t.encode_2718_len())
        .sum();
    println!(
        "\n### {} — {} transactions in {} batch(es), {:.1} B/tx as EIP-2718\n",
        corpus.name,
        txs,
        corpus.batches.len(),
        eip2718 as f64 / txs
    );
    println!(
        "| encoding | bytes/tx | vs brotli-11 | over the 64 B signature floor | CPU per batch |"
    );
    println!("| --- | --- | --- | --- | --- |");
    let mut brotli_per_tx = None;
    for (name, codec) in codecs {
        let mut bytes = 0usize;
        let mut spent = Duration::ZERO;
        for batch in &corpus.batches {
            let started = Instant::now();
            let encoded = codec(batch);
            spent += started.elapsed();
            bytes += encoded.len();
            if name.starts_with("ours") {
                let decoded = Batch::decode(&encoded, corpus.chain_id).expect("decodes");
                assert!(decoded == *batch, "{name} round-trips");
            }
        }
        let per_tx = bytes as f64 / txs;
        if name.starts_with("brotli") {
            brotli_per_tx = Some(per_tx);
        }
        let versus =
            brotli_per_tx.map_or("".into(), |b| format!("{:+.1}%", (per_tx / b - 1.0) * 100.0));
        println!(
            "| {name} | {per_tx:.1} | {versus} | {:.1} | {:.2} ms |",
            per_tx - SIGNATURE_FLOOR,
            spent.as_secs_f64() * 1e3 / corpus.batches.len() as f64
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects corpora by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let config = WorkloadConfig { txs: 1_000, accounts: 1_000, ..WorkloadConfig::default() };
    let without_lists = WorkloadConfig { access_lists: AccessLists::None, ..config };
    let corpora: Vec<Box<dyn Fn() -> Corpus>> = vec![
        Box::new(move || generated("ETH transfers", workload::eth_transfers(config))),
        Box::new(move || {
            generated(
                "ERC-20 transfers, no access lists (as wallets send them)",
                workload::erc20_transfers(without_lists),
            )
        }),
        Box::new(move || {
            generated("ERC-20 transfers with exact access lists", workload::erc20_transfers(config))
        }),
        Box::new(move || {
            generated(
                "mixed: 50% counter calls, 50% ETH transfers, no access lists",
                workload::mixed(without_lists, 50),
            )
        }),
        Box::new(move || generated("mixed with exact access lists", workload::mixed(config, 50))),
        Box::new(mainnet_corpus),
    ];
    let codecs = codecs();
    println!("# Batch compression (bytes per L2 transaction)");
    for corpus in corpora {
        let corpus = corpus();
        if filter.as_ref().is_some_and(|f| !corpus.name.contains(f.as_str())) {
            continue;
        }
        measure(&corpus, &codecs);
    }
}
