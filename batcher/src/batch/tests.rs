//! The batch format's contract: round trips over random batches of every transaction type,
//! total decoding of hostile input, pinned golden bytes, and the layout measurement.

use std::{io::Write as _, sync::LazyLock, time::Instant};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEip7702, TxEnvelope, TxLegacy},
    eips::{
        eip2718::Encodable2718,
        eip2930::{AccessList, AccessListItem},
        eip7702::{Authorization, SignedAuthorization},
    },
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256, hex};
use proptest::{collection::vec, prelude::*};
use sequencer::test_utils::{
    sign,
    workload::{self, WorkloadConfig},
};

use super::*;
use crate::test_utils::workload_batch;

const LAYOUTS: [Layout; 2] = [Layout::Rlp, Layout::Columnar];

/// Four fixed signing keys.
static KEYS: LazyLock<Vec<PrivateKeySigner>> =
    LazyLock::new(|| (0..4).map(workload::account_key).collect());

/// Signs `tx` with one of the fixed keys, or attaches an arbitrary (unrecoverable) signature
/// to exercise extreme `r`/`s` values: the format must carry both exactly.
fn finish<T>(tx: T, how: &SignWith) -> TxEnvelope
where
    T: SignableTransaction<Signature>,
    TxEnvelope: From<alloy::consensus::Signed<T>>,
{
    match how {
        SignWith::Key(i) => sign(&KEYS[*i], tx),
        SignWith::Raw(r, s, y) => TxEnvelope::from(tx.into_signed(Signature::new(*r, *s, *y))),
    }
}

#[derive(Debug, Clone)]
enum SignWith {
    Key(usize),
    Raw(U256, U256, bool),
}

fn arb_u256() -> impl Strategy<Value = U256> {
    prop_oneof![
        Just(U256::ZERO),
        any::<u64>().prop_map(U256::from),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
        Just(U256::MAX),
    ]
}

fn arb_address() -> impl Strategy<Value = Address> {
    prop_oneof![Just(workload::TOKEN), any::<[u8; 20]>().prop_map(Address::new)]
}

fn arb_kind() -> impl Strategy<Value = TxKind> {
    prop_oneof![1 => Just(TxKind::Create), 4 => arb_address().prop_map(TxKind::Call)]
}

fn arb_input() -> impl Strategy<Value = Bytes> {
    prop_oneof![Just(Bytes::new()), vec(any::<u8>(), 0..200).prop_map(Bytes::from)]
}

fn arb_access_list() -> impl Strategy<Value = AccessList> {
    vec(
        (arb_address(), vec(any::<[u8; 32]>().prop_map(B256::new), 0..3))
            .prop_map(|(address, storage_keys)| AccessListItem { address, storage_keys }),
        0..3,
    )
    .prop_map(AccessList)
}

fn arb_authorizations() -> impl Strategy<Value = Vec<SignedAuthorization>> {
    vec(
        (arb_u256(), arb_address(), any::<u64>(), 0u8..=1, arb_u256(), arb_u256()).prop_map(
            |(chain_id, address, nonce, y, r, s)| {
                SignedAuthorization::new_unchecked(
                    Authorization { chain_id, address, nonce },
                    y,
                    r,
                    s,
                )
            },
        ),
        0..3,
    )
}

fn arb_sign() -> impl Strategy<Value = SignWith> {
    prop_oneof![
        3 => (0usize..4).prop_map(SignWith::Key),
        1 => (arb_u256(), arb_u256(), any::<bool>()).prop_map(|(r, s, y)| SignWith::Raw(r, s, y)),
    ]
}

/// Fields shared by the transaction types: nonce, gas limit, fee, tip, value, calldata.
fn arb_common() -> impl Strategy<Value = (u64, u64, u128, u128, U256, Bytes)> {
    (
        prop_oneof![Just(0u64), any::<u64>()],
        prop_oneof![Just(21_000u64), any::<u64>()],
        any::<u128>(),
        any::<u128>(),
        arb_u256(),
        arb_input(),
    )
}

fn arb_tx(chain_id: u64) -> impl Strategy<Value = TxEnvelope> {
    let legacy = (arb_common(), arb_kind(), arb_sign()).prop_map(
        move |((nonce, gas_limit, gas_price, _, value, input), to, how)| {
            let tx = TxLegacy {
                chain_id: Some(chain_id),
                nonce,
                gas_price,
                gas_limit,
                to,
                value,
                input,
            };
            finish(tx, &how)
        },
    );
    let eip2930 = (arb_common(), arb_kind(), arb_access_list(), arb_sign()).prop_map(
        move |((nonce, gas_limit, gas_price, _, value, input), to, access_list, how)| {
            let tx =
                TxEip2930 { chain_id, nonce, gas_price, gas_limit, to, value, access_list, input };
            finish(tx, &how)
        },
    );
    let eip1559 = (arb_common(), arb_kind(), arb_access_list(), arb_sign()).prop_map(
        move |((nonce, gas_limit, max_fee, tip, value, input), to, access_list, how)| {
            let tx = TxEip1559 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: tip,
                to,
                value,
                access_list,
                input,
            };
            finish(tx, &how)
        },
    );
    let eip7702 =
        (arb_common(), arb_address(), arb_access_list(), arb_authorizations(), arb_sign())
            .prop_map(
                move |(
                    (nonce, gas_limit, max_fee, tip, value, input),
                    to,
                    access_list,
                    authorization_list,
                    how,
                )| {
                    let tx = TxEip7702 {
                        chain_id,
                        nonce,
                        gas_limit,
                        max_fee_per_gas: max_fee,
                        max_priority_fee_per_gas: tip,
                        to,
                        value,
                        access_list,
                        authorization_list,
                        input,
                    };
                    finish(tx, &how)
                },
            );
    prop_oneof![legacy, eip2930, eip1559, eip7702]
}

/// A batch of 1 to 4 blocks of 0 to 5 random transactions, and its chain id.
fn arb_batch() -> impl Strategy<Value = (u64, Batch)> {
    (prop_oneof![Just(42_069u64), 1..u64::MAX / 4], any::<[u8; 32]>(), 0..u64::MAX / 2)
        .prop_flat_map(|(chain_id, parent, first)| {
            let block = (
                1u64..5_000,
                prop_oneof![Just(workload::BENEFICIARY), arb_address()],
                prop_oneof![Just(Bytes::new()), vec(any::<u8>(), 0..=32).prop_map(Bytes::from)],
                vec(arb_tx(chain_id), 0..5),
            );
            (Just(chain_id), Just(parent), Just(first), 0..u64::MAX / 2, vec(block, 1..4))
        })
        .prop_map(|(chain_id, parent, first, start, blocks)| {
            let mut timestamp = start;
            let blocks = blocks
                .into_iter()
                .zip(first..)
                .map(|((delta, beneficiary, extra_data, transactions), number)| {
                    timestamp += delta;
                    BatchBlock { number, timestamp, beneficiary, extra_data, transactions }
                })
                .collect();
            (chain_id, Batch { parent_hash: B256::new(parent), blocks })
        })
}

/// A payload mutation: flip a byte, truncate, insert or delete a byte.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Delete(usize),
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let at = |i: &usize| i % bytes.len();
    match mutation {
        Mutation::Flip(i, mask) => {
            let i = at(i);
            bytes[i] ^= (*mask).max(1);
        }
        Mutation::Truncate(i) => bytes.truncate(at(i)),
        Mutation::Insert(i, byte) => bytes.insert(at(i), *byte),
        Mutation::Delete(i) => {
            bytes.remove(at(i));
        }
    }
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, m)| Mutation::Flip(i, m)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
    ]
}

fn frame(layout: Layout, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![layout.version()];
    bytes.extend(zstd::bulk::compress(payload, 1).expect("compresses"));
    bytes
}

proptest! {
    #[test]
    fn round_trips_every_layout((chain_id, batch) in arb_batch()) {
        for layout in LAYOUTS {
            let bytes = batch.encode(&EncodeOptions { zstd_level: 1, layout })?;
            prop_assert_eq!(bytes[0], layout.version());
            let decoded = Batch::decode(&bytes, chain_id)?;
            // `TxEnvelope` equality includes the hash, so this checks the exact 2718 bytes.
            prop_assert_eq!(&decoded, &batch);
            let decoded_txs = decoded.blocks.iter().flat_map(|b| &b.transactions);
            let originals = batch.blocks.iter().flat_map(|b| &b.transactions);
            for (tx, original) in decoded_txs.zip(originals) {
                prop_assert_eq!(tx.tx_hash(), original.tx_hash());
                prop_assert_eq!(tx.encoded_2718(), original.encoded_2718());
            }
        }
    }

    #[test]
    fn rejects_a_batch_for_another_chain((chain_id, batch) in arb_batch()) {
        prop_assume!(batch.transaction_count() > 0);
        for layout in LAYOUTS {
            let bytes = batch.encode(&EncodeOptions { zstd_level: 1, layout })?;
            let result = Batch::decode(&bytes, chain_id ^ 1);
            prop_assert!(
                matches!(
                    result,
                    Err(BatchError::Transaction { reason: TxError::WrongChainId { .. }, .. })
                ),
                "{:?}",
                result
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_024))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        version in prop_oneof![Just(1u8), Just(2u8), any::<u8>()],
        body in vec(any::<u8>(), 0..512),
    ) {
        let mut bytes = vec![version];
        bytes.extend(body);
        let _ = Batch::decode(&bytes, 42_069);
    }

    #[test]
    fn decoding_compressed_garbage_never_panics(
        layout in prop_oneof![Just(Layout::Rlp), Just(Layout::Columnar)],
        garbage in vec(any::<u8>(), 0..2_048),
    ) {
        let _ = Batch::decode(&frame(layout, &garbage), 42_069);
    }

    /// Mutated payloads either fail to decode or decode to a batch that encodes back to
    /// exactly the mutated payload: every batch has one payload per layout.
    #[test]
    fn mutated_payloads_fail_or_are_canonical(
        (chain_id, batch) in arb_batch(),
        mutations in vec(arb_mutation(), 1..4),
    ) {
        for layout in LAYOUTS {
            let mut payload = batch.payload(layout)?;
            for mutation in &mutations {
                mutate(&mut payload, mutation);
            }
            if let Ok(decoded) = Batch::decode(&frame(layout, &payload), chain_id) {
                prop_assert_eq!(decoded.payload(layout)?, payload);
            }
        }
    }

    /// Flipped, truncated or extended encodings (compressed bytes) never panic.
    #[test]
    fn mutated_encodings_never_panic(
        (chain_id, batch) in arb_batch(),
        mutation in arb_mutation(),
    ) {
        for layout in LAYOUTS {
            let mut bytes = batch.encode(&EncodeOptions { zstd_level: 1, layout })?;
            mutate(&mut bytes, &mutation);
            let _ = Batch::decode(&bytes, chain_id);
        }
    }
}

#[test]
fn from_blocks_takes_the_chosen_fields_and_checks_links() {
    let stored = |parent_hash: B256, number: u64, txs: Vec<TxEnvelope>| {
        let header = alloy::consensus::Header {
            parent_hash,
            number,
            timestamp: 1_000 + number,
            beneficiary: workload::BENEFICIARY,
            extra_data: Bytes::from_static(b"x"),
            base_fee_per_gas: Some(7),
            ..Default::default()
        };
        let transactions = txs
            .into_iter()
            .map(|tx| alloy::consensus::transaction::Recovered::new_unchecked(tx, Address::ZERO))
            .collect();
        StoredBlock { hash: header.hash_slow(), header, transactions, receipts: vec![] }
    };
    let tx = sign(&KEYS[0], TxEip1559 { chain_id: 5, gas_limit: 21_000, ..Default::default() });
    let first = stored(B256::repeat_byte(0xaa), 10, vec![tx.clone()]);
    let second = stored(first.hash, 11, vec![]);
    let batch = Batch::from_blocks(&[first.clone(), second]).expect("linked blocks");
    assert_eq!(batch.parent_hash, B256::repeat_byte(0xaa));
    assert_eq!(batch.transaction_count(), 1);
    assert_eq!(
        batch.blocks[0],
        BatchBlock {
            number: 10,
            timestamp: 1_010,
            beneficiary: workload::BENEFICIARY,
            extra_data: Bytes::from_static(b"x"),
            transactions: vec![tx],
        }
    );

    let stranger = stored(B256::repeat_byte(0xcc), 11, vec![]);
    let result = Batch::from_blocks(&[first, stranger]);
    assert!(matches!(result, Err(BatchError::BrokenLink { number: 11, .. })), "{result:?}");
    assert!(matches!(Batch::from_blocks(&[]), Err(BatchError::NoBlocks)));
}

fn empty_block(number: u64, timestamp: u64) -> BatchBlock {
    BatchBlock {
        number,
        timestamp,
        beneficiary: workload::BENEFICIARY,
        extra_data: Bytes::new(),
        transactions: vec![],
    }
}

#[test]
fn rejects_a_frame_declaring_more_than_the_limit() {
    let bomb = frame(Layout::Columnar, &vec![0; MAX_DECOMPRESSED_BYTES + 1]);
    assert!(bomb.len() < 10_000, "a zip bomb is small: {} bytes", bomb.len());
    let result = Batch::decode(&bomb, 1);
    assert!(matches!(result, Err(BatchError::TooLarge { .. })), "{result:?}");
}

#[test]
fn rejects_a_frame_without_content_size() {
    let mut encoder =
        zstd::stream::Encoder::new(vec![Layout::Columnar.version()], 1).expect("encoder");
    encoder.include_contentsize(false).expect("parameter");
    encoder.write_all(&vec![0; 1 << 20]).expect("compresses");
    let bytes = encoder.finish().expect("compresses");
    let result = Batch::decode(&bytes, 1);
    assert!(
        matches!(result, Err(BatchError::Frame("the frame does not declare its content size"))),
        "{result:?}"
    );
}

#[test]
fn rejects_a_frame_that_decompresses_past_its_declared_size() {
    let mut bytes = frame(Layout::Columnar, &[0; 200]);
    // Frame header: 4 magic bytes, the descriptor, then (single segment, 1-byte size field)
    // the content size.
    let descriptor = bytes[5];
    assert_eq!((descriptor & 0x20, descriptor >> 6), (0x20, 0), "single segment, 1-byte size");
    assert_eq!(bytes[6], 200);
    bytes[6] = 100;
    let result = Batch::decode(&bytes, 1);
    assert!(matches!(result, Err(BatchError::Decompress(_))), "{result:?}");
}

#[test]
fn rejects_bytes_after_the_frame() {
    let batch = Batch { parent_hash: B256::ZERO, blocks: vec![empty_block(1, 1)] };
    let mut bytes = batch.encode(&EncodeOptions::default()).expect("encodes");
    let second = zstd::bulk::compress(&[1, 2, 3], 1).expect("compresses");
    bytes.extend_from_slice(&second);
    let result = Batch::decode(&bytes, 1);
    assert!(matches!(result, Err(BatchError::Frame("bytes follow the frame"))), "{result:?}");
}

#[test]
fn encoding_checks_the_batch() {
    let options = EncodeOptions::default();
    let empty = Batch { parent_hash: B256::ZERO, blocks: vec![] };
    assert!(matches!(empty.encode(&options), Err(BatchError::NoBlocks)));

    let gap = Batch { parent_hash: B256::ZERO, blocks: vec![empty_block(1, 1), empty_block(3, 2)] };
    assert!(matches!(
        gap.encode(&options),
        Err(BatchError::NotContiguous { position: 1, expected: 2, got: 3 })
    ));

    let same_time =
        Batch { parent_hash: B256::ZERO, blocks: vec![empty_block(1, 5), empty_block(2, 5)] };
    assert!(matches!(
        same_time.encode(&options),
        Err(BatchError::TimestampNotIncreasing { number: 2, .. })
    ));

    let mut long_extra = empty_block(1, 1);
    long_extra.extra_data = Bytes::from(vec![0; 33]);
    let long_extra = Batch { parent_hash: B256::ZERO, blocks: vec![long_extra] };
    assert!(matches!(long_extra.encode(&options), Err(BatchError::ExtraDataTooLong { .. })));

    let key = &KEYS[0];
    let mut pre_155 = empty_block(1, 1);
    pre_155.transactions.push(sign(key, TxLegacy { chain_id: None, ..Default::default() }));
    let pre_155 = Batch { parent_hash: B256::ZERO, blocks: vec![pre_155] };
    assert!(matches!(
        pre_155.encode(&options),
        Err(BatchError::Transaction { block: 1, index: 0, reason: TxError::NotEip155 })
    ));

    let mut mixed = empty_block(1, 1);
    mixed.transactions.push(sign(key, TxEip1559 { chain_id: 7, ..Default::default() }));
    mixed.transactions.push(sign(key, TxEip1559 { chain_id: 8, ..Default::default() }));
    let mixed = Batch { parent_hash: B256::ZERO, blocks: vec![mixed] };
    assert!(matches!(
        mixed.encode(&options),
        Err(BatchError::Transaction {
            index: 1,
            reason: TxError::WrongChainId { expected: 7, got: 8 },
            ..
        })
    ));
}

/// Wraps already encoded items in an RLP list.
fn rlp_list(items: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    alloy::rlp::Header { list: true, payload_length: items.len() }.encode(&mut out);
    out.extend_from_slice(items);
    out
}

/// A version-1 payload of one block (number 1, timestamp 1) holding the given raw
/// transaction bytes.
fn rlp_payload(txs: &[&[u8]]) -> Vec<u8> {
    use alloy::rlp::Encodable;
    let mut tx_items = Vec::new();
    for tx in txs {
        tx.encode(&mut tx_items);
    }
    let mut block = Vec::new();
    1u64.encode(&mut block);
    workload::BENEFICIARY.encode(&mut block);
    Bytes::new().encode(&mut block);
    block.extend(rlp_list(&tx_items));
    let mut fields = Vec::new();
    B256::ZERO.encode(&mut fields);
    1u64.encode(&mut fields);
    fields.extend(rlp_list(&rlp_list(&block)));
    rlp_list(&fields)
}

#[test]
fn rlp_layout_rejects_blob_unknown_and_non_canonical_transactions() {
    let batch = Batch { parent_hash: B256::ZERO, blocks: vec![empty_block(1, 1)] };
    assert_eq!(rlp_payload(&[]), batch.payload(Layout::Rlp).expect("encodes"));
    let decode = |tx: &[u8]| Batch::decode(&frame(Layout::Rlp, &rlp_payload(&[tx])), 1);

    let blob = decode(&[0x03, 0xc0]);
    assert!(matches!(blob, Err(BatchError::Transaction { reason: TxError::Blob, .. })), "{blob:?}");
    let unknown = decode(&[0x05, 0xc0]);
    assert!(
        matches!(unknown, Err(BatchError::Transaction { reason: TxError::UnknownType(5), .. })),
        "{unknown:?}"
    );

    let tx = sign(&KEYS[0], TxEip1559 { chain_id: 1, ..Default::default() });
    let good = tx.encoded_2718();
    assert!(decode(&good).is_ok());
    // Re-encode the signature's y parity as 27 instead of 0 or 1: some decoders accept it,
    // but it is not the canonical encoding and would change the transaction hash.
    let mut odd = good.clone();
    let parity_at = odd.len() - 2 * 33 - 1;
    assert!(odd[parity_at] <= 1 || odd[parity_at] == 0x80, "y parity byte");
    odd[parity_at] = 27;
    let odd = decode(&odd);
    assert!(matches!(odd, Err(BatchError::Transaction { .. })), "{odd:?}");

    let mut trailing = good;
    trailing.push(0);
    let trailing = decode(&trailing);
    assert!(
        matches!(trailing, Err(BatchError::Transaction { reason: TxError::Rlp(_), .. })),
        "{trailing:?}"
    );
}

#[test]
fn columnar_layout_rejects_blob_and_unknown_types() {
    let key = &KEYS[0];
    let mut block = empty_block(1, 1);
    block.transactions.push(sign(key, TxEip1559 { chain_id: 1, ..Default::default() }));
    let batch = Batch { parent_hash: B256::ZERO, blocks: vec![block] };
    let payload = batch.payload(Layout::Columnar).expect("encodes");
    // Parent hash, chain id, first number, block count, timestamp, one beneficiary, one
    // (empty) extra data and one transaction count come before the type column.
    let types_at = 32 + 1 + 1 + 1 + 1 + (1 + 20) + (1 + 1) + 1;
    assert_eq!(payload[types_at], 2);
    for (ty, expected) in [(3, TxError::Blob), (9, TxError::UnknownType(9))] {
        let mut payload = payload.clone();
        payload[types_at] = ty;
        let result = Batch::decode(&frame(Layout::Columnar, &payload), 1);
        assert!(
            matches!(
                &result,
                Err(BatchError::Transaction { block: 1, index: 0, reason }) if *reason == expected
            ),
            "{result:?}"
        );
    }
}

/// A fixed batch: two blocks (the second with other extra data), a legacy EIP-155 transfer,
/// an EIP-2930 contract creation, an EIP-1559 call and an EIP-7702 delegation.
fn golden_batch() -> Batch {
    let (alice, bob) = (&KEYS[0], &KEYS[1]);
    let chain_id = 42_069;
    let legacy = sign(
        alice,
        TxLegacy {
            chain_id: Some(chain_id),
            nonce: 0,
            gas_price: 1_000_000_000,
            gas_limit: 21_000,
            to: TxKind::Call(Address::repeat_byte(0x11)),
            value: U256::from(10u64).pow(U256::from(18)),
            input: Bytes::new(),
        },
    );
    let create = sign(
        alice,
        TxEip2930 {
            chain_id,
            nonce: 1,
            gas_price: 1_000_000_000,
            gas_limit: 100_000,
            to: TxKind::Create,
            value: U256::ZERO,
            access_list: AccessList::default(),
            input: sequencer::test_utils::storage_contract_init(),
        },
    );
    let call = sign(
        bob,
        TxEip1559 {
            chain_id,
            nonce: 0,
            gas_limit: 60_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000,
            to: TxKind::Call(workload::TOKEN),
            value: U256::ZERO,
            access_list: AccessList(vec![AccessListItem {
                address: workload::TOKEN,
                storage_keys: vec![B256::repeat_byte(0x01)],
            }]),
            input: sequencer::test_utils::storage_contract_set(U256::from(7)),
        },
    );
    let authorization = Authorization {
        chain_id: U256::from(chain_id),
        address: Address::repeat_byte(0xde),
        nonce: 1,
    };
    let auth_signature =
        alloy::signers::SignerSync::sign_hash_sync(bob, &authorization.signature_hash())
            .expect("local signing");
    let delegate = sign(
        bob,
        TxEip7702 {
            chain_id,
            nonce: 1,
            gas_limit: 80_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000,
            to: bob.address(),
            value: U256::ZERO,
            access_list: AccessList::default(),
            authorization_list: vec![authorization.into_signed(auth_signature)],
            input: Bytes::new(),
        },
    );
    Batch {
        parent_hash: B256::repeat_byte(0xab),
        blocks: vec![
            BatchBlock {
                number: 100,
                timestamp: 1_700_000_000,
                beneficiary: workload::BENEFICIARY,
                extra_data: Bytes::new(),
                transactions: vec![legacy, create],
            },
            BatchBlock {
                number: 101,
                timestamp: 1_700_000_002,
                beneficiary: workload::BENEFICIARY,
                extra_data: Bytes::from_static(b"rollup"),
                transactions: vec![call, delegate],
            },
        ],
    }
}

/// The golden batch's payloads. If a test below fails, the format changed: if that was
/// intended, bump the layout's version byte when old batches must stay readable, re-run
/// `cargo test -p batcher golden -- --nocapture`, and paste the printed hex here (and the
/// printed encoding into `GOLDEN_ENCODED`).
const GOLDEN_PAYLOADS: [(Layout, &str); 2] = [
    (
        Layout::Rlp,
        concat!(
            "f90323a0abababababababababababababababababababababababababababababababab64f902fe",
            "f90136846553f10094bebebebebebebebebebebebebebebebebebebebe80f90118b870f86e80843b",
            "9aca00825208941111111111111111111111111111111111111111880de0b6b3a764000080830148",
            "cea0f0344510d93d6e8904bb2ea3e9c957155713f15a9c0398825c0827c68143539fa01f912abfea",
            "3c2c6e7e64fd965597a2c870a27391bca243ce3220a09926a253acb8a401f8a182a45501843b9aca",
            "00830186a08080b84c604180600b6000396000f336600f5760005460005260206000f35b60043580",
            "6000556000527fdf7a95aebff315db1b7716215d602ab537373cdb769232aae6055c06e798425b60",
            "206000a100c001a09a8142f5b3d0e9eceb98e0ff58863ef04cee1c28d809cfe2f18bfec2a9e3224c",
            "a0383742a58de6c336c44efdfdc2b2733764d8836575374587ca3219d09cc28b8ff901c2846553f1",
            "0294bebebebebebebebebebebebebebebebebebebebe86726f6c6c7570f9019eb8cb02f8c882a455",
            "80830f4240847735940082ea6094707070707070707070707070707070707070707080a460fe47b1",
            "0000000000000000000000000000000000000000000000000000000000000007f838f79470707070",
            "70707070707070707070707070707070e1a001010101010101010101010101010101010101010101",
            "0101010101010101010180a0de482c48ff84a7e6a5e496c7b6432079a9b41118e97a4b5d5e88ac51",
            "58eb4eaaa03092096c7cc0f5c95318761eb8e977fb4e71f82764151d01684062f1592a9f84b8cf04",
            "f8cc82a45501830f42408477359400830138809450cdae31b5ff896413ee399eb1ef25608df03306",
            "8080c0f85ef85c82a45594dededededededededededededededededededede0180a05e143ab7e190",
            "26abf20e4e3596b6ca7d3a6e6cc52edff768793d3e4ebad1da15a0747cfcaa1dd341211db5163152",
            "89f5b6046a02f8c90a6529325fd79eaabb12ec01a0c89adba1cc06bd8f862f41e3fc83c824114f31",
            "1972196baa329ce68c422ecffda0630d7e6bbb7e1fb6e7652d7f28060c19ba8ba4b9cd3e1213e87c",
            "e708fcc6c331",
        ),
    ),
    (
        Layout::Columnar,
        concat!(
            "ababababababababababababababababababababababababababababababababd5c802640280e2cf",
            "aa060201bebebebebebebebebebebebebebebebebebebebe020006726f6c6c757000010202000102",
            "040001000188a401a08d06e0d40380f1040211111111111111111111111111111111111111117070",
            "70707070707070707070707070707070707050cdae31b5ff896413ee399eb1ef25608df03306080d",
            "e0b6b3a76400000000008094ebdc038094ebdc0380a8d6b90780a8d6b907c0843dc0843d004c2400",
            "604180600b6000396000f336600f5760005460005260206000f35b600435806000556000527fdf7a",
            "95aebff315db1b7716215d602ab537373cdb769232aae6055c06e798425b60206000a10060fe47b1",
            "0000000000000000000000000000000000000000000000000000000000000007c0f838f794707070",
            "7070707070707070707070707070707070e1a0010101010101010101010101010101010101010101",
            "0101010101010101010101c0f85ef85c82a45594dededededededededededededededededededede",
            "0180a05e143ab7e19026abf20e4e3596b6ca7d3a6e6cc52edff768793d3e4ebad1da15a0747cfcaa",
            "1dd341211db516315289f5b6046a02f8c90a6529325fd79eaabb12ec0bf0344510d93d6e8904bb2e",
            "a3e9c957155713f15a9c0398825c0827c68143539f1f912abfea3c2c6e7e64fd965597a2c870a273",
            "91bca243ce3220a09926a253ac9a8142f5b3d0e9eceb98e0ff58863ef04cee1c28d809cfe2f18bfe",
            "c2a9e3224c383742a58de6c336c44efdfdc2b2733764d8836575374587ca3219d09cc28b8fde482c",
            "48ff84a7e6a5e496c7b6432079a9b41118e97a4b5d5e88ac5158eb4eaa3092096c7cc0f5c9531876",
            "1eb8e977fb4e71f82764151d01684062f1592a9f84c89adba1cc06bd8f862f41e3fc83c824114f31",
            "1972196baa329ce68c422ecffd630d7e6bbb7e1fb6e7652d7f28060c19ba8ba4b9cd3e1213e87ce7",
            "08fcc6c331",
        ),
    ),
];

/// The golden batch encoded with [`EncodeOptions::default`] when the payloads were pinned.
/// Only decoding is pinned here: another zstd release may compress differently.
const GOLDEN_ENCODED: &str = concat!(
    "0228b52ffd60d5012d11008420ababd5c802640280e2cfaa060201be020006726f6c6c7570000102",
    "02000102040001000188a401a08d06e0d40380f10402117050cdae31b5ff896413ee399eb1ef2560",
    "8df03306080de0b6b3a764008094ebdc03a8d6b907c0843dc0843d004c2400604180600b60003960",
    "00f336600f5760005460005260206000f35b600435806000556000527fdf7a95aebff315db1b7716",
    "215d602ab537373cdb769232aae6055c06e798425ba10060fe47b10007c0f838f79470e1a001c0f8",
    "5ef85c82a45594de0180a05e143ab7e19026abf20e4e3596b6ca7d3a6e6cc52edff768793d3e4eba",
    "d1da15a0747cfcaa1dd341211db516315289f5b6046a02f8c90a6529325fd79eaabb12ec0bf03445",
    "10d93d6e8904bb2ea3e9c957155713f15a9c0398825c0827c68143539f1f912abfea3c2c6e7e64fd",
    "965597a2c870a27391bca243ce3220a09926a253ac9a8142f5b3d0e9eceb98e0ff58863ef04cee1c",
    "28d809cfe2f18bfec2a9e3224c383742a58de6c336c44efdfdc2b2733764d8836575374587ca3219",
    "d09cc28b8fde482c48ff84a7e6a5e496c7b6432079a9b41118e97a4b5d5e88ac5158eb4eaa309209",
    "6c7cc0f5c95318761eb8e977fb4e71f82764151d01684062f1592a9f84c89adba1cc06bd8f862f41",
    "e3fc83c824114f311972196baa329ce68c422ecffd630d7e6bbb7e1fb6e7652d7f28060c19ba8ba4",
    "b9cd3e1213e87ce708fcc6c3310c2080031907096a4627068841f4321719a31178722779922f6a2c",
);

#[test]
fn golden_payloads_are_pinned() {
    let batch = golden_batch();
    let payloads = GOLDEN_PAYLOADS.map(|(layout, pinned)| {
        let payload = hex::encode(batch.payload(layout).expect("encodes"));
        eprintln!("{layout:?} payload: {payload}");
        (layout, payload, pinned)
    });
    for (layout, payload, pinned) in payloads {
        assert_eq!(payload, pinned, "{layout:?} payload changed; see GOLDEN_PAYLOADS");
    }
}

#[test]
fn golden_encoding_decodes() {
    let batch = golden_batch();
    eprintln!(
        "encoded: {}",
        hex::encode(batch.encode(&EncodeOptions::default()).expect("encodes"))
    );
    let pinned = hex::decode(GOLDEN_ENCODED).expect("hex");
    assert_eq!(Batch::decode(&pinned, 42_069).expect("decodes"), batch);
}

/// 1,000 transactions of a workload in ten blocks of 100.
/// Measures both layouts on the sequencer's workloads (print with `--nocapture`) and checks
/// that the default layout is the smaller one at every level. Times are of this unoptimised
/// test build, an upper bound on release builds.
#[test]
fn default_layout_is_smallest_on_workloads() {
    let config = WorkloadConfig { txs: 1_000, accounts: 1_000, ..WorkloadConfig::default() };
    let workloads = [
        ("eth transfers", workload::eth_transfers(config)),
        ("erc20 transfers", workload::erc20_transfers(config)),
        ("mixed (50% counter calls)", workload::mixed(config, 50)),
    ];
    let default = EncodeOptions::default();
    for (name, workload) in &workloads {
        let batch = workload_batch(workload);
        let txs = batch.transaction_count() as f64;
        let rlp_2718: usize =
            batch.blocks.iter().flat_map(|b| &b.transactions).map(|tx| tx.encode_2718_len()).sum();
        eprintln!("{name}: {} txs, {:.1} bytes/tx as EIP-2718", txs, rlp_2718 as f64 / txs);
        for level in [1, 3, 9, 19] {
            let mut sizes = Vec::new();
            for layout in LAYOUTS {
                let options = EncodeOptions { zstd_level: level, layout };
                let started = Instant::now();
                let bytes = batch.encode(&options).expect("encodes");
                let encode = started.elapsed();
                let started = Instant::now();
                let decoded = Batch::decode(&bytes, workload::CHAIN_ID).expect("decodes");
                let decode = started.elapsed();
                assert_eq!(decoded, batch);
                let size = batch.encoded_size(&options).expect("encodes");
                assert_eq!(size.encoded, bytes.len());
                eprintln!(
                    "  {layout:?} level {level}: raw {} B = {:.1} B/tx, compressed {} B = {:.1} \
                     B/tx, encode {encode:.1?}, decode {decode:.1?}",
                    size.raw,
                    size.raw as f64 / txs,
                    size.encoded,
                    size.encoded as f64 / txs,
                );
                sizes.push((layout, bytes.len()));
            }
            let smallest = sizes.iter().min_by_key(|(_, len)| *len).map(|(layout, _)| *layout);
            assert_eq!(smallest, Some(default.layout), "{name} at level {level}: {sizes:?}");
        }
    }
}
