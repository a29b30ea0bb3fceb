//! Signing with keys the node holds: the ten `--dev` accounts, unlocked as anvil, hardhat and
//! `geth --dev` unlock theirs, so that tools which let the node sign — hardhat's default
//! signers, Remix's local-node providers, `cast send --unlocked`, ethers' `JsonRpcSigner`,
//! viem's JSON-RPC accounts — work against a devnet unchanged. A node started without such
//! keys lists no accounts and answers the signing methods with geth's "unknown account".
//!
//! `eth_sendTransaction` fills what the request leaves out as geth does (the pending nonce,
//! the suggested tip, a fee cap of twice the next block's base fee plus the tip — geth doubles
//! the head's —, an estimate for gas, the chain id), signs, and submits through the same
//! admission path as `eth_sendRawTransaction`, so the same checks and errors apply;
//! `eth_sendTransactionSync` then waits for the receipt as `eth_sendRawTransactionSync` does.
//! `eth_signTransaction` returns the signed transaction's bytes (as anvil and hardhat answer,
//! and as ethers and viem read it; geth wraps them in an object).

use std::sync::Arc;

use alloy::{
    consensus::SignableTransaction,
    dyn_abi::TypedData,
    eips::eip2718::Encodable2718,
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::{SignerSync, local::PrivateKeySigner},
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, hex};
use jsonrpsee::core::{RpcResult as JsonRpcResult, async_trait};

use super::{
    api::{EthSigningApiServer, PersonalApiServer},
    error::{RpcError, RpcResult},
    eth::EthRpc,
};

/// The keys the node signs with, in the order `eth_accounts` lists them.
#[derive(Debug, Default)]
pub(crate) struct Keyring {
    accounts: Vec<Unlocked>,
}

/// One account the node signs for.
#[derive(Debug)]
struct Unlocked {
    signer: PrivateKeySigner,
    /// Held from choosing a nonce until the transaction is in the pool (geth's `nonceLock`):
    /// concurrent sends from one account (`Promise.all` of contract calls, a script's
    /// transactions) get consecutive nonces, not the same one.
    nonce_lock: tokio::sync::Mutex<()>,
}

impl Keyring {
    /// The signers of `keys`.
    ///
    /// # Errors
    /// When a key is not a valid secp256k1 private key.
    pub(crate) fn new(keys: &[B256]) -> Result<Self, String> {
        let accounts = keys
            .iter()
            .map(|key| {
                let signer = PrivateKeySigner::from_bytes(key)
                    .map_err(|e| format!("invalid unlocked key: {e}"))?;
                Ok(Unlocked { signer, nonce_lock: tokio::sync::Mutex::default() })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { accounts })
    }

    fn addresses(&self) -> Vec<Address> {
        self.accounts.iter().map(|a| a.signer.address()).collect()
    }

    fn account(&self, address: Address) -> RpcResult<&Unlocked> {
        self.accounts.iter().find(|a| a.signer.address() == address).ok_or(RpcError::UnknownAccount)
    }

    fn signer(&self, address: Address) -> RpcResult<&PrivateKeySigner> {
        Ok(&self.account(address)?.signer)
    }
}

/// The `eth_` signing methods and `personal_sign`.
#[derive(Debug, Clone)]
pub(crate) struct SigningRpc {
    pub(crate) eth: EthRpc,
    pub(crate) keys: Arc<Keyring>,
}

impl SigningRpc {
    pub(crate) fn new(eth: EthRpc, keys: Keyring) -> Self {
        Self { eth, keys: Arc::new(keys) }
    }

    /// Completes `request` as geth's `setDefaults` does, signs it with `from`'s key and
    /// returns the EIP-2718 bytes.
    async fn sign_request(&self, mut request: TransactionRequest) -> JsonRpcResult<Bytes> {
        let from = request
            .from
            .ok_or_else(|| RpcError::CallFailed("missing \"from\": one of eth_accounts".into()))?;
        let signer = self.keys.signer(from)?;
        if request.sidecar.is_some()
            || request.blob_versioned_hashes.is_some()
            || request.max_fee_per_blob_gas.is_some()
        {
            return Err(RpcError::CallFailed(
                "blob transactions are not supported: this chain has no blob space".into(),
            )
            .into());
        }
        let input = std::mem::take(&mut request.input).try_into_unique_input().map_err(|_| {
            RpcError::CallFailed(
                "both \"data\" and \"input\" are set and not equal. Please use \"input\" to pass transaction call data".into(),
            )
        })?;
        request.input = input.into();
        match (&request.to, &request.authorization_list) {
            (None | Some(TxKind::Create), Some(_)) => {
                return Err(RpcError::CallFailed(
                    "missing \"to\": an EIP-7702 transaction calls an account".into(),
                )
                .into());
            }
            (None | Some(TxKind::Create), None)
                if request.input.input().is_none_or(|data| data.is_empty()) =>
            {
                return Err(RpcError::CallFailed(
                    "contract creation without any data provided".into(),
                )
                .into());
            }
            _ => {}
        }
        if request.transaction_type == Some(1) && request.access_list.is_none() {
            request.access_list = Some(Default::default());
        }
        let chain_id = self.eth.node.spec.chain_id;
        match request.chain_id {
            Some(have) if have != chain_id => {
                return Err(RpcError::CallFailed(format!(
                    "chainId does not match node's (have={have}, want={chain_id})"
                ))
                .into());
            }
            _ => request.chain_id = Some(chain_id),
        }
        if request.nonce.is_none() {
            request.nonce = Some(self.eth.pending_nonce(from)?);
        }
        self.fill_fees(&mut request)?;
        if request.gas.is_none() {
            let estimate = request.clone();
            let gas = self
                .eth
                .expensive(move |this| this.estimate_gas_blocking(estimate, None, None, None))
                .await?;
            request.gas = Some(gas.to());
        }
        // No recipient is a creation.
        if request.to.is_none() {
            request.to = Some(TxKind::Create);
        }
        let tx = request.build_typed_tx().map_err(|request| {
            let missing = request.missing_keys().err().map(|(_, keys)| keys).unwrap_or_default();
            RpcError::InvalidParams(format!(
                "incomplete transaction: missing {}",
                missing.join(", ")
            ))
        })?;
        let signature = signer
            .sign_hash_sync(&tx.signature_hash())
            .map_err(|e| RpcError::Internal(format!("signing failed: {e}")))?;
        Ok(tx.into_envelope(signature).encoded_2718().into())
    }

    /// Fees as geth fills them: a legacy price (`type` 0 or 1 asked without one) is the
    /// next base fee plus the suggested tip; otherwise the tip defaults to the suggestion and
    /// the fee cap to twice the next base fee plus the tip.
    fn fill_fees(&self, request: &mut TransactionRequest) -> RpcResult<()> {
        if request.gas_price.is_some() {
            if request.max_fee_per_gas.is_some() || request.max_priority_fee_per_gas.is_some() {
                return Err(RpcError::CallFailed(
                    "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified".into(),
                ));
            }
            return Ok(());
        }
        let base_fee = u128::from(self.eth.next_base_fee());
        if matches!(request.transaction_type, Some(0 | 1)) {
            request.gas_price = Some(base_fee.saturating_add(self.eth.suggested_tip()?));
            return Ok(());
        }
        let tip = match request.max_priority_fee_per_gas {
            Some(tip) => tip,
            None => self.eth.suggested_tip()?,
        };
        let cap = request.max_fee_per_gas.unwrap_or(base_fee.saturating_mul(2).saturating_add(tip));
        if cap < tip {
            return Err(RpcError::CallFailed(format!(
                "maxFeePerGas ({cap:#x}) < maxPriorityFeePerGas ({tip:#x})"
            )));
        }
        request.max_priority_fee_per_gas = Some(tip);
        request.max_fee_per_gas = Some(cap);
        Ok(())
    }

    /// The EIP-191 signature of `message` by `address`.
    fn sign_message(&self, address: Address, message: &[u8]) -> RpcResult<Bytes> {
        let signature = self
            .keys
            .signer(address)?
            .sign_message_sync(message)
            .map_err(|e| RpcError::Internal(format!("signing failed: {e}")))?;
        Ok(Bytes::copy_from_slice(&signature.as_bytes()))
    }
}

#[async_trait]
impl EthSigningApiServer for SigningRpc {
    fn accounts(&self) -> JsonRpcResult<Vec<Address>> {
        Ok(self.keys.addresses())
    }

    async fn send_transaction(&self, request: TransactionRequest) -> JsonRpcResult<B256> {
        if self.eth.node.config.replica {
            return Err(RpcError::ReadOnly.into());
        }
        // Hold the sender's nonce lock from choosing the nonce until the pool has the
        // transaction, when the node chooses it.
        let _guard = match (request.nonce, request.from.map(|from| self.keys.account(from))) {
            (None, Some(Ok(account))) => Some(account.nonce_lock.lock().await),
            _ => None,
        };
        let raw = self.sign_request(request).await?;
        let outcome = self.eth.node.submit(raw).await.map_err(RpcError::from)?;
        Ok(outcome.hash)
    }

    async fn send_transaction_sync(
        &self,
        request: TransactionRequest,
        timeout: Option<U64>,
    ) -> JsonRpcResult<TransactionReceipt> {
        let hash = self.send_transaction(request).await?;
        Ok(self.eth.wait_for_receipt(hash, timeout).await?)
    }

    async fn sign_transaction(&self, request: TransactionRequest) -> JsonRpcResult<Bytes> {
        self.sign_request(request).await
    }

    fn sign(&self, address: Address, message: Bytes) -> JsonRpcResult<Bytes> {
        Ok(self.sign_message(address, &message)?)
    }

    async fn sign_typed_data_v4(
        &self,
        address: Address,
        data: serde_json::Value,
    ) -> JsonRpcResult<Bytes> {
        let signer = self.keys.signer(address)?.clone();
        // Hashing typed data costs what the caller makes it cost (nested types, long
        // arrays): it runs with the other caller-priced work, off the async workers.
        self.eth
            .expensive(move |_| {
                // Wallet libraries send the typed data as JSON text (MetaMask's convention);
                // accept the object too.
                let parsed = match data {
                    serde_json::Value::String(text) => serde_json::from_str::<TypedData>(&text),
                    other => serde_json::from_value::<TypedData>(other),
                }
                .map_err(|e| RpcError::InvalidParams(format!("invalid typed data: {e}")))?;
                let signature = signer
                    .sign_dynamic_typed_data_sync(&parsed)
                    .map_err(|e| RpcError::InvalidParams(format!("invalid typed data: {e}")))?;
                Ok(Bytes::copy_from_slice(&signature.as_bytes()))
            })
            .await
    }
}

impl PersonalApiServer for SigningRpc {
    fn sign(
        &self,
        message: String,
        address: Address,
        _password: Option<String>,
    ) -> JsonRpcResult<Bytes> {
        Ok(self.sign_message(address, &message_bytes(&message))?)
    }
}

/// A `personal_sign` message: hex (`0x…`, as ethers and viem send it) is decoded, anything
/// else is signed as its UTF-8 text, as MetaMask does.
fn message_bytes(message: &str) -> Vec<u8> {
    match message.strip_prefix("0x").map(hex::decode) {
        Some(Ok(bytes)) => bytes,
        _ => message.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_messages_decode_hex_and_keep_text() {
        assert_eq!(message_bytes("0x68656c6c6f"), b"hello");
        assert_eq!(message_bytes("hello"), b"hello");
        assert_eq!(message_bytes("0xzz"), b"0xzz");
        assert_eq!(message_bytes("0x"), Vec::<u8>::new());
    }

    #[test]
    fn the_keyring_lists_its_accounts_in_order_and_refuses_others() {
        let keys = crate::genesis::dev_keys();
        let ring = Keyring::new(&keys).unwrap();
        let expected: Vec<Address> =
            crate::genesis::DEV_ACCOUNTS.iter().map(|(address, _)| *address).collect();
        assert_eq!(ring.addresses(), expected);
        assert!(matches!(ring.signer(Address::ZERO), Err(RpcError::UnknownAccount)));
        assert!(Keyring::new(&[B256::ZERO]).is_err(), "zero is not a private key");
    }
}
