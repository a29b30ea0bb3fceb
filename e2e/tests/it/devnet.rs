//! README's first command, as a newcomer runs it: the real `devnet` binary comes up on free
//! ports, describes itself in `devnet.json`, settles a wallet's transfer on L1 where
//! `derivation verify` checks it, stops everything on Ctrl-C or a closed terminal, resumes the
//! same chain and contract with `--keep`, and refuses to start beside a devnet still running.

use std::{
    ffi::OsString,
    path::Path,
    time::{Duration, Instant},
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    providers::{Provider, ProviderBuilder, RootProvider},
    rpc::types::{TransactionReceipt, TransactionRequest},
};
use alloy_primitives::{Address, U256, address};
use batcher::test_utils::free_port;
use e2e::{
    devnet::DevnetInfo,
    processes::{Process, binary},
};
use sequencer::{
    genesis::{DEV_ACCOUNTS, DEV_CHAIN_ID, Genesis},
    store::GenesisBlock,
    test_utils::dev_signer,
};

use crate::cluster::{derivation, wait_committed};

const RECIPIENT: Address = address!("000000000000000000000000000000000000bEEF");

/// A running devnet, stopped with SIGTERM (so that it takes its anvil down) if the test
/// panics before stopping it.
struct Running(Process);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.signal_and_wait("TERM", Duration::from_secs(30));
    }
}

/// Starts `devnet` with `args` and waits until it has printed its whole banner for the
/// `starts`-th time in its log (the log is appended to across starts).
async fn start_devnet(args: Vec<OsString>, log: &Path, starts: usize) -> Running {
    let binary = binary("devnet").unwrap_or_else(|e| panic!("{e}"));
    let mut devnet = Process::start("devnet", binary, args, log.to_path_buf()).unwrap();
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.matches("Ctrl-C stops the devnet").count() >= starts {
            return Running(devnet);
        }
        assert!(!devnet.exited(), "devnet exited while starting:\n{}", devnet.log_tail(40));
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "devnet not up within 120 s:\n{}",
            devnet.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn client(url: &str) -> RootProvider {
    ProviderBuilder::default().connect_http(url.parse().unwrap())
}

/// Sends 1 wei from dev key `key` and waits for the receipt.
async fn transfer(info: &DevnetInfo, key: usize) -> TransactionReceipt {
    let wallet = ProviderBuilder::new()
        .wallet(EthereumWallet::from(dev_signer(key)))
        .connect_http(info.l2_rpc.parse().unwrap());
    let request = TransactionRequest::default().with_to(RECIPIENT).with_value(U256::from(1));
    let receipt = tokio::time::timeout(Duration::from_secs(30), async {
        wallet.send_transaction(request).await.unwrap().get_receipt().await.unwrap()
    })
    .await
    .expect("a receipt within 30 s");
    assert!(receipt.status());
    receipt
}

/// Waits until the contract has committed L2 block `number`.
async fn wait_settled(info: &DevnetInfo, number: u64, devnet: &Running) {
    let l1 = client(&info.l1_rpc);
    wait_committed(&l1, info.rollup, number, Duration::from_secs(60), &devnet.0).await;
}

/// Runs `derivation verify --dev` as the devnet's banner prints it.
fn verify(info: &DevnetInfo) {
    let from = info.rollup_l1_block.to_string();
    let (code, out) =
        derivation(&info.l1_rpc, info.rollup, &["--l1.from-block", &from, "verify", "--dev"]);
    assert_eq!(code, 0, "derivation verify failed:\n{out}");
}

/// Stops the devnet as a user does (`INT`: Ctrl-C; `HUP`: the terminal closed) and checks
/// that it exited cleanly, taking L1 and L2 with it.
async fn stop(devnet: &mut Running, signal: &str, info: &DevnetInfo) {
    let devnet = &mut devnet.0;
    let status =
        devnet.signal_and_wait(signal, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "devnet exited with {status}:\n{}", devnet.log_tail(40));
    assert!(client(&info.l2_rpc).get_block_number().await.is_err(), "L2 still answers");
    assert!(client(&info.l1_rpc).get_block_number().await.is_err(), "L1 still answers");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_devnet_settles_a_transfer_stops_on_signals_and_resumes_with_keep() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("devnet");
    let log = dir.path().join("devnet.log");
    let (l1_port, l2_port) = (free_port(), free_port());
    let mut args: Vec<OsString> = vec![
        "--datadir".into(),
        datadir.clone().into(),
        "--l1.port".into(),
        l1_port.to_string().into(),
        "--l2.port".into(),
        l2_port.to_string().into(),
        "--block-time".into(),
        "200".into(),
    ];

    // Up: devnet.json says what the banner says.
    let mut devnet = start_devnet(args.clone(), &log, 1).await;
    let info = DevnetInfo::load(&datadir).unwrap();
    assert_eq!(info.chain_id, DEV_CHAIN_ID);
    assert_eq!(info.l2_rpc, format!("http://127.0.0.1:{l2_port}"));
    assert_eq!(info.l1_rpc, format!("http://127.0.0.1:{l1_port}"));
    assert_eq!(info.dev_keys.len(), DEV_ACCOUNTS.len());
    assert!(info.dev_keys.iter().zip(DEV_ACCOUNTS).all(|(key, (address, private_key))| {
        key.address == address && key.private_key == private_key
    }));
    let genesis = GenesisBlock::new(&Genesis::dev()).unwrap();
    assert_eq!((info.genesis.hash, info.genesis.state_root), (genesis.hash, genesis.state_root()));
    assert_eq!(client(&info.l2_rpc).get_chain_id().await.unwrap(), DEV_CHAIN_ID);
    let l1 = client(&info.l1_rpc);
    let deployed_in = info.rollup_l1_block;
    assert!(!l1.get_code_at(info.rollup).number(deployed_in).await.unwrap().is_empty());
    assert!(l1.get_code_at(info.rollup).number(deployed_in - 1).await.unwrap().is_empty());
    let banner = std::fs::read_to_string(&log).unwrap();
    assert!(banner.contains(&format!("--l1.from-block {deployed_in} verify --dev")), "{banner}");

    // A wallet's transfer settles on L1 and verifies from L1 alone.
    let first = transfer(&info, 2).await;
    let first_block = first.block_number.unwrap();
    wait_settled(&info, first_block, &devnet).await;
    verify(&info);

    // Ctrl-C stops everything; --keep resumes the same chain on the same contract.
    stop(&mut devnet, "INT", &info).await;
    args.push("--keep".into());
    let mut devnet = start_devnet(args, &log, 2).await;
    let resumed = DevnetInfo::load(&datadir).unwrap();
    assert_eq!((resumed.rollup, resumed.rollup_l1_block), (info.rollup, info.rollup_l1_block));
    let kept =
        client(&resumed.l2_rpc).get_transaction_receipt(first.transaction_hash).await.unwrap();
    assert_eq!(kept.map(|r| r.block_hash), Some(first.block_hash), "the served receipt is kept");
    let second = transfer(&resumed, 3).await;
    assert!(second.block_number.unwrap() > first_block);
    wait_settled(&resumed, second.block_number.unwrap(), &devnet).await;
    verify(&resumed);
    // Something else on its port: a second devnet refuses to start, naming the flag.
    let clash = std::process::Command::new(binary("devnet").unwrap_or_else(|e| panic!("{e}")))
        .args(["--datadir", &dir.path().join("other").display().to_string()])
        .args(["--l1.port", &l1_port.to_string(), "--l2.port", &free_port().to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&clash.stderr);
    assert!(!clash.status.success() && stderr.contains("--l1.port"), "{stderr}");
    assert_eq!(client(&resumed.l1_rpc).get_chain_id().await.unwrap(), resumed.l1_chain_id);
    stop(&mut devnet, "HUP", &resumed).await;
}
