//! `batcher deploy`, the real binary, as an operator of a new chain runs it: deploy the contract
//! for a genesis file, start the sequencer on that file and the batcher on the printed address,
//! and the chain's blocks land on L1.

use std::{path::Path, time::Duration};

use alloy::{
    providers::{Provider, ProviderBuilder, RootProvider},
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{Address, B256, U256};
use batcher::{
    BatcherConfig,
    l1::Rollup,
    test_utils::{Anvil, batcher_command, stack::wait_for},
};
use sequencer::{
    genesis::Genesis,
    node::{NodeConfig, spawn},
    store::GenesisBlock,
    test_utils::{dev_signer, raw, sign, transfer},
};

/// The L2 chain of the test's genesis file.
const CHAIN_ID: u64 = 777;

/// Runs the `batcher` binary; returns (success, stdout, stderr).
async fn batcher(args: Vec<String>) -> (bool, String, String) {
    let output = tokio::task::spawn_blocking(move || {
        batcher_command(env!("CARGO_BIN_EXE_batcher")).args(&args).output()
    })
    .await
    .unwrap()
    .expect("the batcher binary runs");
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// `batcher deploy` against `l1`, paid by `deployer`, for `batcher`, then `extra`.
fn deploy_args(
    l1: &str,
    deployer: &PrivateKeySigner,
    batcher: Address,
    extra: &[&str],
) -> Vec<String> {
    let (key, batcher) = (deployer.to_bytes().to_string(), batcher.to_string());
    let mut args: Vec<String> =
        ["deploy", "--l1.rpc-url", l1, "--deployer.key", &key, "--batcher.address", &batcher]
            .map(String::from)
            .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// A genesis file of a chain other than `--dev`: its own chain id and one funded account.
fn write_genesis(dir: &Path, funded: Address) -> std::path::PathBuf {
    let path = dir.join("genesis.json");
    let json = serde_json::json!({
        "config": { "chainId": CHAIN_ID },
        "gasLimit": "0x1c9c380",
        "timestamp": "0x6759af19",
        "extraData": "0x6e657720636861696e",
        "alloc": { funded.to_string(): { "balance": "0x3635c9adc5dea00000" } },
    });
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_for_a_genesis_file_then_the_chain_lands_on_l1() {
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let user = dev_signer(5);
    let genesis_path = write_genesis(dir.path(), user.address());
    let (deployer, owner, batcher_key) = (dev_signer(0), dev_signer(2), dev_signer(1));

    let genesis_flag = ["--genesis", genesis_path.to_str().unwrap()];
    let owner_flag = owner.address().to_string();
    let (ok, stdout, stderr) = batcher(deploy_args(
        &anvil.url(),
        &deployer,
        batcher_key.address(),
        &[&genesis_flag[..], &["--owner", &owner_flag, "--json"]].concat(),
    ))
    .await;
    assert!(ok, "deploy failed: {stderr}");
    assert!(stderr.contains("waiting for it to be mined"), "progress on stderr: {stderr}");
    let deployed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");

    // What it printed is the genesis the sequencer computes from the same file.
    let genesis = Genesis::from_file(&genesis_path).unwrap();
    let genesis_block = GenesisBlock::new(&genesis).unwrap();
    assert_eq!(deployed["l2_chain_id"], CHAIN_ID);
    assert_eq!(deployed["l1_chain_id"], 31337);
    assert_eq!(
        deployed["genesis_hash"].as_str().unwrap().parse::<B256>().unwrap(),
        genesis_block.hash
    );
    assert_eq!(
        deployed["genesis_state_root"].as_str().unwrap().parse::<B256>().unwrap(),
        genesis_block.state_root()
    );
    assert_eq!(deployed["owner"].as_str().unwrap().parse::<Address>().unwrap(), owner.address());
    let rollup: Address = deployed["rollup"].as_str().unwrap().parse().unwrap();
    let l1_block = deployed["l1_block"].as_u64().unwrap();

    // Without --json: the address and the commands that use it, ready to paste.
    let (ok, text, stderr) =
        batcher(deploy_args(&anvil.url(), &deployer, batcher_key.address(), &genesis_flag)).await;
    assert!(ok, "{stderr}");
    let second = text.lines().next().unwrap().strip_prefix("Rollup deployed at ").unwrap();
    assert!(
        text.contains(&format!("batcher --l1.rpc-url {} --rollup {second}", anvil.url())),
        "{text}"
    );
    assert!(text.contains(&format!("--rollup {second} --l1.from-block ")), "{text}");
    assert!(text.contains(&format!("verify --genesis {}", genesis_path.display())), "{text}");
    assert!(
        text.contains(&format!("owner {}", deployer.address())),
        "the deployer owns it: {text}"
    );

    // The contract holds it, from the printed L1 block on.
    let l1: RootProvider = ProviderBuilder::default().connect_http(anvil.url().parse().unwrap());
    let receipt = l1
        .get_transaction_receipt(deployed["transaction"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .expect("the deployment's receipt");
    assert_eq!(receipt.block_number, Some(l1_block));
    assert_eq!(receipt.contract_address, Some(rollup));
    let contract = Rollup::new(rollup, l1.clone());
    assert_eq!(contract.l2ChainId().call().await.unwrap(), CHAIN_ID);
    assert_eq!(contract.genesisBlockHash().call().await.unwrap(), genesis_block.hash);
    assert_eq!(contract.batcher().call().await.unwrap(), batcher_key.address());
    assert_eq!(contract.owner().call().await.unwrap(), owner.address());

    // The sequencer on the same file, and the batcher on the printed address: blocks land.
    let node_dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::for_tests(node_dir.path().to_path_buf());
    config.genesis = genesis;
    let node = spawn(config).await.unwrap();
    assert_eq!(node.store().head().1, genesis_block.hash, "the sequencer's block 0");
    let batcher_dir = tempfile::tempdir().unwrap();
    let mut batcher_config = BatcherConfig::new(
        anvil.url(),
        node.http_url(),
        rollup,
        batcher_key,
        batcher_dir.path().to_path_buf(),
    );
    batcher_config.poll_interval = Duration::from_millis(50);
    batcher_config.max_batch_age = Duration::from_millis(300);
    let batcher = batcher::spawn(batcher_config);

    let l2: RootProvider =
        ProviderBuilder::default().connect_http(node.http_url().parse().unwrap());
    let tx = sign(&user, transfer(CHAIN_ID, 0, Address::with_last_byte(9), U256::from(1)));
    let receipt = l2
        .send_raw_transaction(&raw(&tx))
        .await
        .unwrap()
        .with_timeout(Some(Duration::from_secs(30)))
        .get_receipt()
        .await
        .unwrap();
    let block = receipt.block_number.unwrap();
    wait_for("the transfer's block committed on L1", Duration::from_secs(60), || async {
        contract.latestBlock().call().await.is_ok_and(|latest| latest >= block)
    })
    .await;
    batcher.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_refuses_what_it_cannot_do_with_a_clear_error() {
    let base = |extra: &[&str]| {
        deploy_args("http://127.0.0.1:1", &dev_signer(0), dev_signer(1).address(), extra)
    };
    let zero = Address::ZERO.to_string();
    let cases: [(&[&str], &str); 5] = [
        (&[], "choose the chain: --dev, or --genesis <FILE>"),
        (
            &["--genesis", "/nonexistent/genesis.json"],
            "cannot read genesis file /nonexistent/genesis.json: ",
        ),
        (&["--dev"], "L1 at http://127.0.0.1:1 did not answer"),
        (&["--dev", "--genesis", "x.json"], "cannot be used with"),
        (&["--dev", "--owner", &zero], "--owner is the zero address"),
    ];
    for (extra, expected) in cases {
        let (ok, stdout, stderr) = batcher(base(extra)).await;
        assert!(!ok, "{extra:?} succeeded: {stdout}");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
    }
    let mut bad_key = base(&["--dev"]);
    bad_key[4] = "0x1234".into();
    let (ok, _, stderr) = batcher(bad_key).await;
    assert!(!ok);
    assert!(stderr.contains("--deployer.key"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_not_mined_in_time_fails_naming_its_transaction() {
    // An L1 that mines nothing until told to.
    let anvil = Anvil::spawn_with(&["--no-mining"]).await;
    let args = deploy_args(
        &anvil.url(),
        &dev_signer(0),
        dev_signer(1).address(),
        &["--dev", "--timeout", "2"],
    );
    let (ok, stdout, stderr) = tokio::time::timeout(Duration::from_secs(120), batcher(args))
        .await
        .expect("--timeout 2 ends the command");
    assert!(!ok, "deployed on an L1 that mines nothing: {stdout}");
    let sent = stderr
        .lines()
        .find_map(|line| line.strip_prefix("sent ")?.split(';').next())
        .unwrap_or_else(|| panic!("no transaction reported: {stderr}"));
    assert!(
        stderr.contains(&format!("deployment {sent} was not mined within 2s"))
            && stderr.contains("look it up before deploying again"),
        "{stderr}"
    );

    // What the error says holds: the transaction is still pending, and mining it deploys.
    let l1: RootProvider = ProviderBuilder::default().connect_http(anvil.url().parse().unwrap());
    let hash: B256 = sent.parse().unwrap();
    let _: serde_json::Value = l1.raw_request("evm_mine".into(), ()).await.unwrap();
    let receipt = l1.get_transaction_receipt(hash).await.unwrap().expect("mined now");
    assert!(receipt.status() && receipt.contract_address.is_some());
}
