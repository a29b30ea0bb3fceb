//! `batcher deploy`: deploys the L1 `Rollup` contract for the chain a genesis describes, checks
//! what the deployed contract holds, and prints how to point the batcher and `derivation` at it.
//!
//! The chain id, genesis block hash and state root are computed here from the genesis file the
//! sequencer runs, not typed in, so the contract cannot be deployed for a genesis other than
//! the sequencer's (the batcher would then refuse to post: its first block would not extend the
//! contract's genesis).

use alloy::{
    network::EthereumWallet,
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use batcher::l1::{
    Rollup,
    contract::{Deployment, RollupParams, deploy},
};
use sequencer::store::GenesisBlock;

use crate::cli::DeployArgs;

/// Deploys the contract and prints the result (progress on stderr, the result on stdout).
pub(crate) async fn run(args: DeployArgs) -> Result<(), String> {
    let genesis = args.genesis()?;
    let genesis_block = GenesisBlock::new(&genesis).map_err(|e| format!("genesis: {e}"))?;
    let deployer: PrivateKeySigner =
        args.deployer_key.trim().parse().map_err(|e| format!("--deployer.key: {e}"))?;
    let url = args.l1_rpc_url.parse().map_err(|e| format!("--l1.rpc-url: {e}"))?;
    let params = RollupParams {
        owner: args.owner.unwrap_or_else(|| deployer.address()),
        batcher: args.batcher,
        l2_chain_id: genesis.chain_id,
        genesis_hash: genesis_block.hash,
        genesis_state_root: genesis_block.state_root(),
    };
    // The constructor refuses these (ZeroAddress); say which flag before paying for an estimate.
    if params.batcher.is_zero() {
        return Err("--batcher.address is the zero address".into());
    }
    if params.owner.is_zero() {
        return Err("--owner is the zero address".into());
    }
    let deployer_address = deployer.address();
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(deployer)).connect_http(url);
    let l1_chain = provider
        .get_chain_id()
        .await
        .map_err(|e| format!("L1 at {} did not answer: {e}", args.l1_rpc_url))?;
    eprintln!(
        "deploying Rollup on L1 chain {l1_chain} from {deployer_address} for L2 chain {} \
         (genesis block {})",
        params.l2_chain_id, params.genesis_hash
    );
    let deployment = deploy(&provider, &params, args.receipt_timeout(), |transaction| {
        eprintln!("sent {transaction}; waiting for it to be mined");
    })
    .await
    .map_err(|e| e.to_string())?;
    // Deployed and paid for: whatever the read-back finds, say where the contract is.
    check(&provider, &deployment, &params).await.map_err(|e| {
        format!(
            "{e} (the contract was deployed at {} in L1 block {}, transaction {})",
            deployment.rollup, deployment.l1_block, deployment.transaction
        )
    })?;
    report(&args, l1_chain, &deployment, &params);
    Ok(())
}

/// Prints the deployment, as JSON or as text with the commands that use it.
#[allow(clippy::disallowed_macros)] // the binary's output
fn report(args: &DeployArgs, l1_chain: u64, deployment: &Deployment, params: &RollupParams) {
    if args.json {
        let json = serde_json::json!({
            "rollup": deployment.rollup,
            "transaction": deployment.transaction,
            "l1_chain_id": l1_chain,
            "l1_block": deployment.l1_block,
            "gas_used": deployment.gas_used,
            "owner": params.owner,
            "batcher": params.batcher,
            "l2_chain_id": params.l2_chain_id,
            "genesis_hash": params.genesis_hash,
            "genesis_state_root": params.genesis_state_root,
        });
        println!("{json:#}");
        return;
    }
    let chain_flag = match &args.genesis {
        Some(path) => format!("--genesis {}", shell_word(&path.display().to_string())),
        None => "--dev".to_string(),
    };
    let l1 = &shell_word(&args.l1_rpc_url);
    let rollup = deployment.rollup;
    println!("Rollup deployed at {rollup}");
    println!(
        "  L1 chain {l1_chain}, block {}, transaction {}, gas used {}",
        deployment.l1_block, deployment.transaction, deployment.gas_used
    );
    println!(
        "  L2 chain {}, genesis block {}, state root {}",
        params.l2_chain_id, params.genesis_hash, params.genesis_state_root
    );
    println!("  owner {}, batcher {}", params.owner, params.batcher);
    println!();
    println!(
        "Post the chain (the sequencer started with {chain_flag} --admin.addr 127.0.0.1:9546):"
    );
    println!(
        "  batcher --l1.rpc-url {l1} --rollup {rollup} --batcher.key <key of {}> \\\n    \
         --l2.rpc-url http://127.0.0.1:9545 --l2.admin-url http://127.0.0.1:9546",
        params.batcher
    );
    println!("Check it from L1:");
    println!(
        "  derivation --l1.rpc-url {l1} --rollup {rollup} --l1.from-block {} verify {chain_flag}",
        deployment.l1_block
    );
}

/// Reads back what the contract holds at its deployment block: the code runs on this L1, and
/// holds the chain, genesis and accounts it was deployed with.
async fn check(
    provider: &impl Provider,
    deployment: &Deployment,
    expected: &RollupParams,
) -> Result<(), String> {
    let contract = Rollup::new(deployment.rollup, provider);
    let at = deployment.l1_block.into();
    let read = |what: &str, e: alloy::contract::Error| {
        format!("reading {what} back from the contract at {}: {e}", deployment.rollup)
    };
    let held = RollupParams {
        owner: contract.owner().block(at).call().await.map_err(|e| read("owner", e))?,
        batcher: contract.batcher().block(at).call().await.map_err(|e| read("batcher", e))?,
        l2_chain_id: contract
            .l2ChainId()
            .block(at)
            .call()
            .await
            .map_err(|e| read("l2ChainId", e))?,
        genesis_hash: contract
            .genesisBlockHash()
            .block(at)
            .call()
            .await
            .map_err(|e| read("genesisBlockHash", e))?,
        genesis_state_root: contract
            .genesisStateRoot()
            .block(at)
            .call()
            .await
            .map_err(|e| read("genesisStateRoot", e))?,
    };
    if held != *expected {
        return Err(format!(
            "the contract at {} holds {held:?}, not what it was deployed with ({expected:?})",
            deployment.rollup
        ));
    }
    Ok(())
}

/// `word` as one shell word: as it is when it holds no character a shell treats specially,
/// else in single quotes (a URL with `&` in its query, a path with spaces).
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:@,=+%".contains(c));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn printed_commands_quote_what_a_shell_would_split() {
        assert_eq!(shell_word("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(shell_word("genesis.json"), "genesis.json");
        assert_eq!(
            shell_word("https://l1.example/rpc?key=a&b=c"),
            "'https://l1.example/rpc?key=a&b=c'"
        );
        assert_eq!(shell_word("my chain/genesis.json"), "'my chain/genesis.json'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
