//! The whole settlement path for tests, real parts only: anvil as L1 with the `Rollup`
//! contract deployed, a sequencer node in this process serving JSON-RPC on a socket, and the
//! batcher following it; plus the check batcher tests end with: what L1 holds, read back with
//! the decoder, is exactly what the sequencer sealed.

use std::time::{Duration, Instant};

use crate::{
    BatcherConfig, BatcherHandle,
    batch::Batch,
    l1::{
        BatchReader, L1, PostedBatch, Rollup, SendOutcome,
        contract::{RollupParams, deploy},
    },
    test_utils::Anvil,
};
use alloy::{
    network::EthereumWallet,
    providers::{Provider, ProviderBuilder, RootProvider},
};
use alloy_primitives::{Address, U256};
use sequencer::{
    genesis::DEV_CHAIN_ID,
    node::{NodeConfig, NodeHandle, spawn},
    test_utils::{dev_signer, raw, sign, transfer},
};

/// Index of the dev key that owns the contract (and deploys it).
pub const OWNER: usize = 0;
/// Index of the dev key that the contract accepts batches from.
pub const BATCHER: usize = 1;
/// Index of the dev key that sends the L2 load.
pub const SENDER: usize = 2;

/// anvil with the contract, a sequencer and (once spawned) batchers.
#[derive(Debug)]
pub struct Stack {
    /// L1.
    pub anvil: Anvil,
    /// The sequencer.
    pub node: NodeHandle,
    _node_dir: tempfile::TempDir,
    /// The batchers' datadir.
    pub batcher_dir: tempfile::TempDir,
    /// The `Rollup` contract.
    pub rollup: Address,
    l2: RootProvider,
    nonce: u64,
}

impl Stack {
    /// anvil (automining) with the contract, and a sequencer sealing blocks on demand.
    ///
    /// # Panics
    /// When a part does not start (a test environment problem).
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`Self::start`] with extra anvil arguments.
    ///
    /// # Panics
    /// When a part does not start.
    pub async fn start_with(anvil_args: &[&str]) -> Self {
        Self::start_configured(anvil_args, |_| {}).await
    }

    /// [`Self::start_with`], and `configure` adjusts the sequencer's configuration.
    ///
    /// # Panics
    /// When a part does not start.
    pub async fn start_configured(
        anvil_args: &[&str],
        configure: impl FnOnce(&mut NodeConfig),
    ) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "batcher=info".into()),
            )
            .with_test_writer()
            .try_init();
        let anvil = Anvil::spawn_with(anvil_args).await;
        let node_dir = tempfile::tempdir().unwrap();
        let mut config = NodeConfig::for_tests(node_dir.path().to_path_buf());
        config.admin_addr = Some("127.0.0.1:0".parse().unwrap());
        configure(&mut config);
        let node = spawn(config).await.unwrap();
        let genesis = node.store().head();
        let (genesis_header, genesis_hash) = (&genesis.0, genesis.1);
        let deployer = ProviderBuilder::new()
            .wallet(EthereumWallet::from(dev_signer(OWNER)))
            .connect_http(anvil.url().parse().unwrap());
        let rollup = deploy(
            &deployer,
            &RollupParams {
                owner: dev_signer(OWNER).address(),
                batcher: dev_signer(BATCHER).address(),
                l2_chain_id: DEV_CHAIN_ID,
                genesis_hash,
                genesis_state_root: genesis_header.state_root,
            },
            None,
            |_| {},
        )
        .await
        .map(|deployed| deployed.rollup)
        .unwrap();
        let l2 = ProviderBuilder::default().connect_http(node.http_url().parse().unwrap());
        Self {
            anvil,
            node,
            _node_dir: node_dir,
            batcher_dir: tempfile::tempdir().unwrap(),
            rollup,
            l2,
            nonce: 0,
        }
    }

    /// A batcher configuration with test-speed timings.
    ///
    /// # Panics
    /// Never.
    pub fn batcher_config(&self) -> BatcherConfig {
        let mut config = BatcherConfig::new(
            self.anvil.url(),
            self.node.http_url(),
            self.rollup,
            dev_signer(BATCHER),
            self.batcher_dir.path().to_path_buf(),
        );
        config.l2_admin = self.node.admin_addr().map(|addr| format!("http://{addr}"));
        config.poll_interval = Duration::from_millis(50);
        config.max_batch_age = Duration::from_millis(300);
        config.resubmit_after = Duration::from_secs(1);
        config
    }

    /// Starts a batcher with [`Self::batcher_config`].
    pub fn spawn_batcher(&self) -> BatcherHandle {
        crate::spawn(self.batcher_config())
    }

    /// Sends `count` ETH transfers to the sequencer and waits until they are sealed; returns
    /// the L2 head then.
    ///
    /// # Panics
    /// When the sequencer refuses them or does not seal them within 30 s.
    pub async fn send_transfers(&mut self, count: usize) -> u64 {
        let signer = dev_signer(SENDER);
        let txs = (0..count)
            .map(|_| {
                let nonce = self.next_nonce();
                let to = Address::with_last_byte((nonce % 200) as u8 + 1);
                sign(&signer, transfer(DEV_CHAIN_ID, nonce, to, U256::from(1_000 + nonce)))
            })
            .collect();
        self.send_and_wait(txs).await
    }

    /// The next nonce of the [`SENDER`] key (the stack tracks it).
    pub const fn next_nonce(&mut self) -> u64 {
        self.nonce += 1;
        self.nonce - 1
    }

    /// Sends signed transactions to the sequencer and waits until the last is sealed; returns
    /// the L2 head then.
    ///
    /// # Panics
    /// When the sequencer refuses one or does not seal them within 30 s.
    pub async fn send_and_wait(&self, txs: Vec<alloy::consensus::TxEnvelope>) -> u64 {
        let mut last = None;
        for tx in txs {
            last = Some(*self.l2.send_raw_transaction(&raw(&tx)).await.unwrap().tx_hash());
        }
        if let Some(hash) = last {
            wait_for("L2 receipt", Duration::from_secs(30), || async {
                self.l2.get_transaction_receipt(hash).await.ok().flatten().is_some()
            })
            .await;
        }
        self.node.store().head_number()
    }

    /// A provider for L1.
    ///
    /// # Panics
    /// Never: the URL is well-formed.
    pub fn l1(&self) -> RootProvider {
        ProviderBuilder::default().connect_http(self.anvil.url().parse().unwrap())
    }

    /// The last L2 block the contract has committed.
    ///
    /// # Panics
    /// When L1 does not answer.
    pub async fn committed(&self) -> u64 {
        Rollup::new(self.rollup, self.l1()).latestBlock().call().await.unwrap()
    }

    /// Waits until the contract has committed L2 block `l2_block`.
    ///
    /// # Panics
    /// After `timeout`.
    pub async fn wait_committed(&self, l2_block: u64, timeout: Duration) {
        wait_for(&format!("L2 block {l2_block} committed on L1"), timeout, || async {
            Rollup::new(self.rollup, self.l1())
                .latestBlock()
                .call()
                .await
                .is_ok_and(|n| n >= l2_block)
        })
        .await;
    }

    /// Reads every batch back from L1 and checks it: contiguous from L2 block 1, each
    /// decoding to exactly the blocks the sequencer sealed, with their state root and hash.
    ///
    /// # Panics
    /// When they differ (the test fails).
    pub async fn assert_l1_matches_l2(&self) -> Vec<PostedBatch> {
        let reader = BatchReader::new(&self.anvil.url(), self.rollup).unwrap();
        let head = self.l1().get_block_number().await.unwrap();
        let posted: Vec<PostedBatch> =
            reader.batches(0, head).await.unwrap().into_iter().map(Result::unwrap).collect();
        let mut next = 1;
        for (i, batch) in posted.iter().enumerate() {
            assert_eq!(batch.index, i as u64, "batch indexes are contiguous");
            assert_eq!(batch.first_block, next, "batch {i} starts after the previous one");
            assert!(batch.last_block >= batch.first_block);
            let decoded = Batch::decode(&batch.data, DEV_CHAIN_ID).unwrap();
            let sealed: Vec<_> = (batch.first_block..=batch.last_block)
                .map(|n| {
                    self.node.store().blocks().unwrap().block(n).unwrap().expect("sealed block")
                })
                .collect();
            let expected = Batch::from_blocks(&sealed).unwrap();
            assert_eq!(decoded, expected, "batch {i} decodes to the blocks the sequencer sealed");
            let last = sealed.last().unwrap();
            assert_eq!(batch.state_root, last.header.state_root, "batch {i} state root");
            assert_eq!(batch.block_hash, last.hash, "batch {i} block hash");
            next = batch.last_block + 1;
        }
        assert_eq!(
            next - 1,
            self.committed().await,
            "the batches cover what the contract committed"
        );
        posted
    }

    /// Transactions the batcher's key has sent that reverted on L1.
    ///
    /// # Panics
    /// When L1 does not answer.
    pub async fn batcher_reverts(&self) -> usize {
        batcher_reverts(&self.l1()).await
    }

    /// Hands the batcher role to `batcher`, as the contract's owner, and waits for the receipt.
    ///
    /// # Panics
    /// When L1 does not answer or the call fails.
    pub async fn set_batcher(&self, batcher: Address) {
        let owner = ProviderBuilder::new()
            .wallet(EthereumWallet::from(dev_signer(OWNER)))
            .connect_http(self.anvil.url().parse().unwrap());
        let receipt = Rollup::new(self.rollup, &owner)
            .setBatcher(batcher)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status(), "setBatcher reverted");
    }

    /// Sends a call with `input` to the contract from the batcher's key, as a batcher (honest
    /// or not) would, and waits until it is mined; returns whether it succeeded.
    ///
    /// # Panics
    /// When L1 does not answer, refuses the transaction, or does not mine it within 5 s.
    pub async fn send_as_batcher(&self, input: Vec<u8>) -> bool {
        let l1 = L1::connect(&self.anvil.url(), self.rollup, dev_signer(BATCHER)).await.unwrap();
        let nonce = l1.pending_nonce().await.unwrap();
        let (max_fee, tip) = l1.fees().await.unwrap();
        let (hash, raw) = l1.sign(nonce, input, max_fee, tip);
        assert_eq!(l1.send(&raw).await.unwrap(), SendOutcome::Accepted);
        for _ in 0..200 {
            if let Some(mined) = l1.mined(hash).await.unwrap() {
                return mined.success;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the batcher's transaction was not mined");
    }
}

/// Transactions the batcher's dev key has sent that reverted on `l1`, over its whole chain.
///
/// # Panics
/// When L1 does not answer.
pub async fn batcher_reverts(l1: &RootProvider) -> usize {
    let head = l1.get_block_number().await.unwrap();
    let batcher = dev_signer(BATCHER).address();
    let mut reverts = 0;
    for number in 0..=head {
        let receipts = l1.get_block_receipts(number.into()).await.unwrap().unwrap_or_default();
        reverts += receipts.iter().filter(|r| r.from == batcher && !r.status()).count();
    }
    reverts
}

/// Polls `check` until it holds, or fails the test after `timeout`.
///
/// # Panics
/// After `timeout`.
pub async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
