//! `sync` and `sequencer --replica`: the replica built from L1 alone answers like the
//! sequencer for every posted block, follows new batches, and undoes batches an L1 reorg
//! removes.

use std::{path::Path, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    providers::{Provider, ProviderBuilder, RootProvider},
};
use alloy_primitives::{Address, B256};
use batcher::test_utils::stack::{SENDER, Stack, wait_for};
use derivation::{
    StoreLocation, open_replayer,
    source::L1Source,
    sync::{ScannedBlock, SyncOptions, SyncState, Syncer},
};
use sequencer::{
    genesis::Genesis,
    node::{ExecMode, NodeConfig, NodeHandle, spawn},
    test_utils::dev_signer,
};
use tokio::sync::oneshot;

use crate::common::{honest_data, mixed_traffic, post_batch, syncer};

/// A syncer following L1 in the background.
struct Following {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<derivation::DerivationResult<()>>,
}

impl Following {
    async fn start(stack: &Stack, dir: &Path) -> Self {
        let source = L1Source::new(&stack.anvil.url(), stack.rollup).unwrap();
        let replayer = open_replayer(
            &source,
            &Genesis::dev(),
            StoreLocation::Datadir(dir),
            ExecMode::Parallel,
        )
        .await
        .unwrap();
        let options = SyncOptions {
            confirmations: 1,
            finality_depth: 3,
            follow: true,
            poll: Duration::from_millis(100),
        };
        let mut syncer = Syncer::new(source, replayer, dir.to_path_buf(), options).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            syncer
                .run(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Self { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

async fn replica(dir: &Path) -> NodeHandle {
    let mut config = NodeConfig::for_tests(dir.to_path_buf());
    config.replica = true;
    spawn(config).await.unwrap()
}

fn client(url: &str) -> RootProvider {
    ProviderBuilder::default().connect_http(url.parse().unwrap())
}

async fn wait_head(replica: &RootProvider, head: u64) {
    wait_for(&format!("the replica at block {head}"), Duration::from_secs(60), || async {
        replica.get_block_number().await.is_ok_and(|n| n == head)
    })
    .await;
}

/// Compares the answers of both nodes for every block up to `head`: full blocks, receipts,
/// balances and nonces of the accounts the traffic touches, code and storage.
async fn assert_same_answers(sequencer: &RootProvider, replica: &RootProvider, head: u64) {
    let mut accounts: Vec<Address> = vec![dev_signer(SENDER).address(), Address::ZERO];
    accounts.extend((1..=20u8).map(Address::with_last_byte));
    for number in 0..=head {
        let tag = BlockNumberOrTag::Number(number);
        let ours: serde_json::Value =
            sequencer.raw_request("eth_getBlockByNumber".into(), (tag, true)).await.unwrap();
        let theirs: serde_json::Value =
            replica.raw_request("eth_getBlockByNumber".into(), (tag, true)).await.unwrap();
        assert_eq!(ours, theirs, "block {number}");
        let ours: serde_json::Value =
            sequencer.raw_request("eth_getBlockReceipts".into(), (tag,)).await.unwrap();
        let theirs: serde_json::Value =
            replica.raw_request("eth_getBlockReceipts".into(), (tag,)).await.unwrap();
        assert_eq!(ours, theirs, "receipts of block {number}");
        for account in &accounts {
            let id = number.into();
            assert_eq!(
                sequencer.get_balance(*account).block_id(id).await.unwrap(),
                replica.get_balance(*account).block_id(id).await.unwrap(),
                "balance of {account} at block {number}"
            );
            assert_eq!(
                sequencer.get_transaction_count(*account).block_id(id).await.unwrap(),
                replica.get_transaction_count(*account).block_id(id).await.unwrap(),
                "nonce of {account} at block {number}"
            );
        }
    }
    let contract = dev_signer(SENDER).address().create(0);
    assert_eq!(
        sequencer.get_code_at(contract).await.unwrap(),
        replica.get_code_at(contract).await.unwrap()
    );
    assert_eq!(
        sequencer.get_storage_at(contract, alloy_primitives::U256::ZERO).await.unwrap(),
        replica.get_storage_at(contract, alloy_primitives::U256::ZERO).await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replica_answers_like_the_sequencer_and_follows_l1() {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let (head, _) = mixed_traffic(&mut stack).await;
    stack.wait_committed(head, Duration::from_secs(60)).await;

    let dir = tempfile::tempdir().unwrap();
    let following = Following::start(&stack, dir.path()).await;
    let node = replica(dir.path()).await;
    let (sequencer, replica) = (client(&stack.node.http_url()), client(&node.http_url()));
    wait_head(&replica, head).await;
    assert_same_answers(&sequencer, &replica, head).await;

    // Every derived block is safe; they turn final once their batches are 3 L1 blocks deep.
    let tag = |tag: BlockNumberOrTag| {
        let replica = replica.clone();
        async move { replica.get_block_by_number(tag).await.unwrap().map(|b| b.header.number) }
    };
    wait_for("the replica's blocks safe, not yet final", Duration::from_secs(30), || async {
        tag(BlockNumberOrTag::Safe).await == Some(head)
            && tag(BlockNumberOrTag::Finalized).await < Some(head)
    })
    .await;
    stack.anvil.mine(3).await;
    wait_for("the replica's blocks final", Duration::from_secs(30), || async {
        tag(BlockNumberOrTag::Finalized).await == Some(head)
    })
    .await;

    // A replica takes no transactions.
    let error = replica.send_raw_transaction(&[0x02, 0xc0]).await.unwrap_err().to_string();
    assert!(error.contains("read-only replica"), "{error}");

    // It follows new batches as they land.
    let head = stack.send_transfers(12).await;
    stack.wait_committed(head, Duration::from_secs(60)).await;
    wait_head(&replica, head).await;
    assert_same_answers(&sequencer, &replica, head).await;

    following.stop().await;
    node.stop().await;
    batcher.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_reorg_is_undone_and_derived_again() {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let head = stack.send_transfers(10).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;
    batcher.stop().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let following = Following::start(&stack, dir.path()).await;
    let node = replica(dir.path()).await;
    let (sequencer, replica) = (client(&stack.node.http_url()), client(&node.http_url()));
    wait_head(&replica, head).await;
    let before: B256 = replica.get_block_by_number(head.into()).await.unwrap().unwrap().header.hash;

    // L1 drops every block since the contract's deployment: the batches are gone.
    let l1_head = stack.l1().get_block_number().await.unwrap();
    stack.anvil.reorg(l1_head - 1).await;
    assert_eq!(stack.committed().await, 0);
    wait_head(&replica, 0).await;

    // The batcher posts the range again; the replica derives it again, identically.
    let batcher = stack.spawn_batcher();
    stack.wait_committed(head, Duration::from_secs(30)).await;
    wait_head(&replica, head).await;
    let after: B256 = replica.get_block_by_number(head.into()).await.unwrap().unwrap().header.hash;
    assert_eq!(before, after);
    assert_same_answers(&sequencer, &replica, head).await;

    following.stop().await;
    node.stop().await;
    batcher.stop().await.unwrap();
}

/// Takes an anvil snapshot of L1 (`evm_snapshot`).
async fn snapshot(l1: &RootProvider) -> serde_json::Value {
    l1.raw_request("evm_snapshot".into(), ()).await.unwrap()
}

/// Drops every L1 block since `snapshot` (`evm_revert`).
async fn revert(l1: &RootProvider, snapshot: serde_json::Value) {
    let reverted: bool = l1.raw_request("evm_revert".into(), (snapshot,)).await.unwrap();
    assert!(reverted, "anvil reverted to the snapshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_an_l1_reorg_moves_into_scanned_blocks_is_applied() {
    let mut stack = Stack::start().await;
    let l1 = stack.l1();
    let dir = tempfile::tempdir().unwrap();
    let mut syncer = syncer(&stack, dir.path(), 0).await;
    let mut applied = 0;
    for round in 0..2 {
        let head = stack.send_transfers(4).await;
        // The syncer scans empty L1 blocks; an L1 reorg then replaces them with a chain whose
        // batch lands in one of them.
        syncer.step().await.unwrap();
        let before = snapshot(&l1).await;
        stack.anvil.mine(5).await;
        syncer.step().await.unwrap();
        let scanned = l1.get_block_number().await.unwrap();
        assert_eq!(SyncState::load(dir.path()).unwrap().next_l1_block, scanned + 1);
        revert(&l1, before).await;
        let (data, root, hash) = honest_data(&stack, applied + 1, head);
        post_batch(&stack, applied + 1, head, root, hash, data).await;
        if round == 1 {
            // L1 grows past the block scanned last: it exists again, with another hash.
            stack.anvil.mine(10).await;
        }
        let source = L1Source::new(&stack.anvil.url(), stack.rollup).unwrap();
        assert!(source.batch_l1_block(round).await.unwrap() <= scanned, "lands in a scanned block");
        syncer.step().await.unwrap();
        assert_eq!(syncer.store().head_number(), head, "round {round}: the batch is applied");
        applied = head;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_whose_batches_the_store_lacks_scans_from_the_first_block() {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let head = stack.send_transfers(6).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;
    batcher.stop().await.unwrap();
    let head = stack.committed().await;

    let synced = tempfile::tempdir().unwrap();
    let mut first = syncer(&stack, synced.path(), 0).await;
    first.step().await.unwrap();
    assert_eq!(first.store().head_number(), head);

    // A fresh store next to the first one's state file: none of its batches are held.
    let fresh = tempfile::tempdir().unwrap();
    let file = "derivation-sync.json";
    std::fs::copy(synced.path().join(file), fresh.path().join(file)).unwrap();
    let mut second = syncer(&stack, fresh.path(), 0).await;
    second.step().await.unwrap();
    assert_eq!(second.store().head_number(), head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_scanned_again_after_a_crash_remembers_each_batch_once() {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let first = stack.send_transfers(3).await;
    stack.wait_committed(first, Duration::from_secs(30)).await;
    let second = stack.send_transfers(3).await;
    stack.wait_committed(second, Duration::from_secs(30)).await;
    batcher.stop().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut synced = syncer(&stack, dir.path(), 0).await;
    synced.step().await.unwrap();
    drop(synced);
    let mut state = SyncState::load(dir.path()).unwrap();
    let batches = state.applied.len() as u64;
    assert!(batches >= 2, "{state:?}");

    // A crash after the batches were applied and remembered, before the window they landed in
    // was finished: the file still points at that window's start.
    let start = state.applied[0].l1_block;
    let before = stack.l1().get_block_by_number((start - 1).into()).await.unwrap().unwrap();
    state.next_l1_block = start;
    state.scan_tip = Some(ScannedBlock { number: start - 1, hash: before.header.hash });
    state.save(dir.path()).unwrap();

    let mut resumed = syncer(&stack, dir.path(), 0).await;
    resumed.step().await.unwrap();
    assert_eq!(resumed.store().head_number(), second);
    drop(resumed);
    let state = SyncState::load(dir.path()).unwrap();
    let indexes: Vec<u64> = state.applied.iter().map(|batch| batch.index).collect();
    assert_eq!(indexes, (0..batches).collect::<Vec<_>>(), "each batch remembered once");
}
