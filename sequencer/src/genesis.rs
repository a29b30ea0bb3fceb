//! The chain's starting point: a geth-style genesis file, or the built-in `--dev` genesis.
//!
//! Parsing is lenient in the ways real genesis files differ (quantities as JSON numbers, hex or
//! decimal strings; addresses with or without `0x`; missing optional fields) and strict about
//! everything else: a malformed field is an error naming the field.

use std::{collections::BTreeMap, path::Path};

use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use serde_json::Value;

use crate::state::{AccountDiff, AccountInfo, StateDiff};

/// Chain id of the `--dev` chain: distinct from mainnet (1), anvil/hardhat (31337) and the
/// other common L1 devnet ids (1337, 1338).
pub const DEV_CHAIN_ID: u64 = 42_069;

/// Block gas limit of the `--dev` chain: room for ~47,000 ETH transfers per block.
pub const DEV_GAS_LIMIT: u64 = 1_000_000_000;

/// Base fee of the `--dev` genesis block (1 gwei); EIP-1559 moves it from there.
pub const DEV_BASE_FEE: u64 = 1_000_000_000;

/// Balance of each `--dev` account: 10,000 ETH.
pub const DEV_BALANCE: U256 = U256::from_limbs([0x19e0_c9ba_b240_0000, 0x21e, 0, 0]);

/// The ten accounts of the standard test mnemonic
/// (`test test test test test test test test test test test junk`, derivation path
/// `m/44'/60'/0'/0/i`): the same keys anvil and hardhat fund, as (address, private key).
pub const DEV_ACCOUNTS: [(Address, &str); 10] = [
    (
        address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    ),
    (
        address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    ),
    (
        address!("3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
        "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    ),
    (
        address!("90F79bf6EB2c4f870365E785982E1f101E93b906"),
        "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    ),
    (
        address!("15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
        "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    ),
    (
        address!("9965507D1a55bcC2695C58ba16FB37d819B0A4dc"),
        "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    ),
    (
        address!("976EA74026E726554dB657fA54763abd0C3a0aa9"),
        "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    ),
    (
        address!("14dC79964da2C08b23698B3D3cc7Ca32193d9955"),
        "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    ),
    (
        address!("23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f"),
        "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    ),
    (
        address!("a0Ee7A142d267C1f36714E4a8F75612F20a79720"),
        "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
    ),
];

/// The private keys of [`DEV_ACCOUNTS`], in order: the accounts a `--dev` node signs for.
pub fn dev_keys() -> Vec<B256> {
    DEV_ACCOUNTS
        .iter()
        .map(|(_, key)| key.parse().expect("DEV_ACCOUNTS keys are 32-byte hex constants"))
        .collect()
}

/// Address of the deterministic deployment proxy (Arachnid's CREATE2 factory) that Foundry's
/// `forge script`/`forge create --salt` and many deploy tools expect at the same address on
/// every chain. Mainnet and anvil have it; the `--dev` genesis places it too.
pub const CREATE2_DEPLOYER: Address = address!("4e59b44847b379578588920cA78FbF26c0B4956C");

/// Runtime code of [`CREATE2_DEPLOYER`]: calldata is `salt ‖ initcode`; it `CREATE2`s the
/// initcode with that salt and returns the new address (20 bytes), reverting if creation fails.
pub const CREATE2_DEPLOYER_CODE: Bytes = Bytes::from_static(&alloy_primitives::hex!(
    "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf3"
));

/// Address of Multicall3, the call-batching contract deployed at this address on mainnet and
/// hundreds of other chains. viem's `multicall` (and wagmi's batched reads), alloy's
/// `Provider::multicall` and ethers' multicall plugins send batched reads to it; OP Stack chains
/// predeploy it. The `--dev` genesis places it too.
pub const MULTICALL3: Address = alloy::providers::MULTICALL3_ADDRESS;

/// Runtime code of [`MULTICALL3`]: the code of the canonical deployment (solc 0.8.12), cut from
/// the creation code alloy's `IMulticall3` binding carries. That creation code is solc's 32-byte
/// constructor, which returns the code after it unchanged, followed by that code; a node test
/// deploys the creation code and checks the result equals this.
pub fn multicall3_code() -> Bytes {
    /// Length of solc's constructor prefix in the creation code (`…6000396000f3fe`).
    const CONSTRUCTOR_LEN: usize = 0x20;
    alloy::providers::bindings::IMulticall3::BYTECODE.slice(CONSTRUCTOR_LEN..)
}

/// One account of the genesis allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GenesisAccount {
    /// Balance in wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: u64,
    /// Runtime code (empty for an externally owned account).
    pub code: Bytes,
    /// Storage slots and values.
    pub storage: BTreeMap<U256, U256>,
}

/// A parsed genesis: chain id, allocation and the genesis header's chosen fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genesis {
    /// `config.chainId`.
    pub chain_id: u64,
    /// The initial accounts.
    pub alloc: BTreeMap<Address, GenesisAccount>,
    /// Block gas limit of the genesis block (and the chain).
    pub gas_limit: u64,
    /// Base fee of the genesis block.
    pub base_fee_per_gas: u64,
    /// Timestamp of the genesis block (seconds).
    pub timestamp: u64,
    /// Beneficiary of the genesis block.
    pub coinbase: Address,
    /// Extra data of the genesis block.
    pub extra_data: Bytes,
    /// `mixHash` of the genesis block.
    pub mix_hash: B256,
    /// Difficulty of the genesis block.
    pub difficulty: U256,
    /// Header nonce of the genesis block.
    pub nonce: u64,
}

/// Errors reading a genesis file.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read.
    #[error("cannot read genesis file {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("genesis is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A field is missing or malformed.
    #[error("genesis field `{field}`: {reason}")]
    Field {
        /// Path of the field, e.g. `alloc.0xabc….balance`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A binary was given neither `--dev` nor `--genesis FILE`.
    #[error("choose the chain: --dev, or --genesis <FILE>")]
    NotChosen,
}

impl Genesis {
    /// The built-in development genesis: [`DEV_CHAIN_ID`], the ten [`DEV_ACCOUNTS`] with
    /// 10,000 ETH each, the [`CREATE2_DEPLOYER`] and [`MULTICALL3`], a 1 Ggas block gas limit
    /// and a 1 gwei starting base fee.
    pub fn dev() -> Self {
        let mut alloc: BTreeMap<_, _> = DEV_ACCOUNTS
            .iter()
            .map(|(address, _)| {
                (*address, GenesisAccount { balance: DEV_BALANCE, ..Default::default() })
            })
            .collect();
        alloc.insert(
            CREATE2_DEPLOYER,
            GenesisAccount { code: CREATE2_DEPLOYER_CODE, ..Default::default() },
        );
        alloc.insert(MULTICALL3, GenesisAccount { code: multicall3_code(), ..Default::default() });
        Self {
            chain_id: DEV_CHAIN_ID,
            alloc,
            gas_limit: DEV_GAS_LIMIT,
            base_fee_per_gas: DEV_BASE_FEE,
            timestamp: 0,
            coinbase: Address::ZERO,
            extra_data: Bytes::new(),
            mix_hash: B256::ZERO,
            difficulty: U256::ZERO,
            nonce: 0,
        }
    }

    /// The chain the `--dev` and `--genesis FILE` flags of the sequencer, the batcher and
    /// `derivation` name: the file when given, else the dev genesis when `dev`.
    ///
    /// # Errors
    /// [`GenesisError::NotChosen`] when neither is given; the file's errors otherwise.
    pub fn from_flags(file: Option<&Path>, dev: bool) -> Result<Self, GenesisError> {
        match (file, dev) {
            (Some(path), _) => Self::from_file(path),
            (None, true) => Ok(Self::dev()),
            (None, false) => Err(GenesisError::NotChosen),
        }
    }

    /// Reads a geth-style genesis file.
    ///
    /// # Errors
    /// When the file cannot be read or a field is malformed.
    pub fn from_file(path: &Path) -> Result<Self, GenesisError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| GenesisError::Io { path: path.display().to_string(), source })?;
        Self::from_json(&text)
    }

    /// Parses geth-style genesis JSON. `config.chainId` defaults to 1 when there is no
    /// `config` (as in the historical mainnet file); `baseFeePerGas` to 1 gwei.
    ///
    /// # Errors
    /// When the text is not JSON or a field is malformed.
    pub fn from_json(text: &str) -> Result<Self, GenesisError> {
        let root: Value = serde_json::from_str(text)?;
        let obj = root.as_object().ok_or_else(|| field_err("", "not an object"))?;
        let get = |name: &str| obj.get(name).or_else(|| obj.get(&name.to_ascii_lowercase()));

        let chain_id = match obj.get("config").and_then(|c| c.get("chainId")) {
            Some(v) => quantity_u64(v, "config.chainId")?,
            None => 1,
        };
        let mut alloc = BTreeMap::new();
        if let Some(entries) = obj.get("alloc") {
            let entries = entries.as_object().ok_or_else(|| field_err("alloc", "not an object"))?;
            for (key, account) in entries {
                let name = format!("alloc.{key}");
                let address: Address =
                    key.parse().map_err(|e| field_err(&name, &format!("bad address: {e}")))?;
                alloc.insert(address, parse_account(account, &name)?);
            }
        }
        Ok(Self {
            chain_id,
            alloc,
            gas_limit: opt(get("gasLimit"), "gasLimit", quantity_u64)?.unwrap_or(30_000_000),
            base_fee_per_gas: opt(get("baseFeePerGas"), "baseFeePerGas", quantity_u64)?
                .unwrap_or(DEV_BASE_FEE),
            timestamp: opt(get("timestamp"), "timestamp", quantity_u64)?.unwrap_or(0),
            coinbase: opt(get("coinbase"), "coinbase", parse_str)?.unwrap_or_default(),
            extra_data: opt(get("extraData"), "extraData", hex_bytes)?.unwrap_or_default(),
            mix_hash: opt(get("mixHash"), "mixHash", parse_str)?.unwrap_or_default(),
            difficulty: opt(get("difficulty"), "difficulty", quantity_u256)?.unwrap_or_default(),
            nonce: opt(get("nonce"), "nonce", quantity_u64)?.unwrap_or(0),
        })
    }

    /// The allocation as a state diff applied to an empty state.
    pub fn state_diff(&self) -> StateDiff {
        let mut diff = StateDiff::default();
        for (address, account) in &self.alloc {
            let code_hash = if account.code.is_empty() {
                alloy_trie::KECCAK_EMPTY
            } else {
                let hash = keccak256(&account.code);
                diff.codes.insert(hash, account.code.clone());
                hash
            };
            let info = AccountInfo { nonce: account.nonce, balance: account.balance, code_hash };
            let storage =
                account.storage.iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (*k, *v));
            diff.accounts.insert(
                *address,
                AccountDiff {
                    info: Some(info),
                    storage_cleared: false,
                    storage: storage.collect(),
                },
            );
        }
        diff
    }
}

fn field_err(field: &str, reason: &str) -> GenesisError {
    GenesisError::Field { field: field.to_string(), reason: reason.to_string() }
}

fn opt<T>(
    value: Option<&Value>,
    field: &str,
    parse: impl Fn(&Value, &str) -> Result<T, GenesisError>,
) -> Result<Option<T>, GenesisError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse(v, field).map(Some),
    }
}

fn parse_account(value: &Value, name: &str) -> Result<GenesisAccount, GenesisError> {
    let obj = value.as_object().ok_or_else(|| field_err(name, "not an object"))?;
    let balance = opt(obj.get("balance"), &format!("{name}.balance"), quantity_u256)?;
    let nonce = opt(obj.get("nonce"), &format!("{name}.nonce"), quantity_u64)?;
    let code = opt(obj.get("code"), &format!("{name}.code"), hex_bytes)?;
    let mut storage = BTreeMap::new();
    if let Some(slots) = obj.get("storage") {
        let field = format!("{name}.storage");
        let slots = slots.as_object().ok_or_else(|| field_err(&field, "not an object"))?;
        for (slot, value) in slots {
            let slot_field = format!("{field}.{slot}");
            let key = word(slot, &slot_field)?;
            storage.insert(key, quantity_u256(value, &slot_field)?);
        }
    }
    Ok(GenesisAccount {
        balance: balance.unwrap_or_default(),
        nonce: nonce.unwrap_or(0),
        code: code.unwrap_or_default(),
        storage,
    })
}

/// A 32-byte word written as hex (storage keys and values are left-padded hex).
fn word(text: &str, field: &str) -> Result<U256, GenesisError> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    U256::from_str_radix(if digits.is_empty() { "0" } else { digits }, 16)
        .map_err(|e| field_err(field, &format!("bad hex word: {e}")))
}

fn quantity_u256(value: &Value, field: &str) -> Result<U256, GenesisError> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| field_err(field, "number is not a non-negative integer")),
        Value::String(s) => match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(hex) => word(hex, field),
            None if s.is_empty() => Ok(U256::ZERO),
            None => s.parse::<U256>().map_err(|e| field_err(field, &format!("bad number: {e}"))),
        },
        _ => Err(field_err(field, "expected a number or a string")),
    }
}

fn quantity_u64(value: &Value, field: &str) -> Result<u64, GenesisError> {
    let big = quantity_u256(value, field)?;
    u64::try_from(big).map_err(|_| field_err(field, "does not fit in 64 bits"))
}

fn hex_bytes(value: &Value, field: &str) -> Result<Bytes, GenesisError> {
    let text = value.as_str().ok_or_else(|| field_err(field, "expected a hex string"))?;
    if text.is_empty() {
        return Ok(Bytes::new());
    }
    text.parse().map_err(|e| field_err(field, &format!("bad hex: {e}")))
}

fn parse_str<T: std::str::FromStr>(value: &Value, field: &str) -> Result<T, GenesisError>
where
    T::Err: std::fmt::Display,
{
    let text = value.as_str().ok_or_else(|| field_err(field, "expected a string"))?;
    text.parse().map_err(|e| field_err(field, &format!("{e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multicall3_code_is_the_canonical_deployments() {
        // The canonical deployment's code hash (0xcA11…CA11 on mainnet and the chains that
        // carry it): a recompiled binding in a newer alloy fails here instead of deploying
        // other code.
        assert_eq!(
            keccak256(multicall3_code()),
            alloy_primitives::b256!(
                "d5c15df687b16f2ff992fc8d767b4216323184a2bbc6ee2f9c398c318e770891"
            )
        );
        assert_eq!(Genesis::dev().alloc[&MULTICALL3].code, multicall3_code());
    }

    #[test]
    fn dev_balance_is_ten_thousand_ether() {
        assert_eq!(DEV_BALANCE, U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18)));
    }

    #[test]
    fn dev_keys_derive_their_addresses() {
        for (address, key) in DEV_ACCOUNTS {
            let signer: alloy::signers::local::PrivateKeySigner = key.parse().unwrap();
            assert_eq!(signer.address(), address);
        }
    }

    #[test]
    fn parses_lenient_quantities() {
        let genesis = Genesis::from_json(
            r#"{"config":{"chainId":"0x10"},"gasLimit":"30000000","timestamp":12,
                "alloc":{"00000000000000000000000000000000000000aa":{"balance":"0x10","nonce":"2",
                "storage":{"0x01":"0x02"},"code":"0x6000"}}}"#,
        )
        .unwrap();
        assert_eq!(genesis.chain_id, 16);
        assert_eq!(genesis.gas_limit, 30_000_000);
        assert_eq!(genesis.timestamp, 12);
        let account = &genesis.alloc[&Address::with_last_byte(0xaa)];
        assert_eq!(account.balance, U256::from(16));
        assert_eq!(account.nonce, 2);
        assert_eq!(account.storage[&U256::from(1)], U256::from(2));
        assert_eq!(account.code.as_ref(), &[0x60, 0]);
    }

    #[test]
    fn malformed_fields_name_themselves() {
        let err = Genesis::from_json(r#"{"alloc":{"0x01":{"balance":"x"}}}"#).unwrap_err();
        assert!(err.to_string().contains("alloc.0x01"), "{err}");
        let err = Genesis::from_json(
            r#"{"alloc":{"0x0000000000000000000000000000000000000001":{"balance":"zz"}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains(".balance"), "{err}");
    }
}
