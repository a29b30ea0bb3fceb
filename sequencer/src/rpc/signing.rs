//! Signing with keys the node holds: the ten `--dev` accounts, unlocked as anvil, hardhat and
//! `geth --dev` unlock theirs, so that tools which let the node sign — hardhat's default
//! signers, Remix's local-node providers, `cast send --unlocked`, ethers' `JsonRpcSigner`,
//! viem's JSON-RPC accounts — work against a devnet unchanged. A node started without such
//! keys lists no accounts and answers the signing methods with geth's "unknown account".
//!
//! `eth_sendTransaction` fills what the request leaves out as geth does (the pending nonce,
//! the suggested tip, a fee cap of twice the next base fee plus the tip, an estimate for gas,
//! the chain id), signs, and submits through the same admission path as
//! `eth_sendRawTransaction`, so the same checks and errors apply. `eth_signTransaction`
//! returns the signed transaction's bytes (as anvil and hardhat answer, and as ethers and viem
//! read it; geth wraps them in an object).

use std::sync::Arc;

use alloy::{
    consensus::SignableTransaction,
    dyn_abi::TypedData,
    eips::eip2718::Encodable2718,
    rpc::types::TransactionRequest,
    signers::{SignerSync, local::PrivateKeySigner},
};
use alloy_primitives::{Address, B256, Bytes, TxKind, hex};
use jsonrpsee::core::{RpcResult as JsonRpcResult, async_trait};

use super::{
    api::{EthSigningApiServer, PersonalApiServer},
    error::{RpcError, RpcResult},
    eth::EthRpc,
};

/// The keys the node signs with, in the order `eth_accounts` lists them.
#[derive(Debug, Default)]
pub(crate) struct Keyring {
    signers: Vec<PrivateKeySigner>,
}

impl Keyring {
    /// The signers of `keys`.
    ///
    /// # Errors
    /// When a key is not a valid secp256k1 private key.
    pub(crate) fn new(keys: &[B256]) -> Result<Self, String> {
        let signers = keys
            .iter()
            .map(|key| {
                PrivateKeySigner::from_bytes(key).map_err(|e| format!("invalid unlocked key: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { signers })
    }

    fn addresses(&self) -> Vec<Address> {
        self.signers.iter().map(PrivateKeySigner::address).collect()
    }

    fn signer(&self, address: Address) -> RpcResult<&PrivateKeySigner> {
        self.signers.iter().find(|s| s.address() == address).ok_or(RpcError::UnknownAccount)
    }
}

/// The `eth_` signing methods and `personal_sign`.
#[derive(Debug, Clone)]
pub(crate) struct SigningRpc {
    pub(crate) eth: EthRpc,
    pub(crate) keys: Arc<Keyring>,
}

impl SigningRpc {
    /// Completes `request` as geth's `setDefaults` does, signs it with `from`'s key and
    /// returns the EIP-2718 bytes.
    async fn sign_request(&self, mut request: TransactionRequest) -> JsonRpcResult<Bytes> {
        let from = request.from.ok_or_else(|| {
            RpcError::InvalidParams("missing \"from\": one of eth_accounts".into())
        })?;
        let signer = self.keys.signer(from)?.clone();
        if request.sidecar.is_some()
            || request.blob_versioned_hashes.is_some()
            || request.max_fee_per_blob_gas.is_some()
        {
            return Err(RpcError::InvalidParams(
                "blob transactions are not supported: this chain has no blob space".into(),
            )
            .into());
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
        // No recipient is a creation (an EIP-7702 transaction then lacks its `to`).
        if request.to.is_none() && request.authorization_list.is_none() {
            request.to = Some(TxKind::Create);
        }
        let tx = request.build_typed_tx().map_err(|request| {
            let missing = match request.preferred_type() {
                alloy::consensus::TxType::Eip7702 => request.complete_7702(),
                alloy::consensus::TxType::Eip2930 => request.complete_2930(),
                alloy::consensus::TxType::Legacy => request.complete_legacy(),
                _ => request.complete_1559(),
            }
            .err()
            .unwrap_or_default();
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
                return Err(RpcError::InvalidParams(
                    "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified".into(),
                ));
            }
            return Ok(());
        }
        let base_fee = u128::from(self.eth.next_base_fee());
        if matches!(request.transaction_type, Some(0 | 1)) {
            request.gas_price = Some(base_fee + self.eth.suggested_tip()?);
            return Ok(());
        }
        let tip = match request.max_priority_fee_per_gas {
            Some(tip) => tip,
            None => self.eth.suggested_tip()?,
        };
        let cap = request.max_fee_per_gas.unwrap_or(2 * base_fee + tip);
        if cap < tip {
            return Err(RpcError::InvalidParams(format!(
                "maxFeePerGas ({cap}) < maxPriorityFeePerGas ({tip})"
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
        let raw = self.sign_request(request).await?;
        let outcome = self.eth.node.submit(raw).await.map_err(RpcError::from)?;
        Ok(outcome.hash)
    }

    async fn sign_transaction(&self, request: TransactionRequest) -> JsonRpcResult<Bytes> {
        self.sign_request(request).await
    }

    fn sign(&self, address: Address, message: Bytes) -> JsonRpcResult<Bytes> {
        Ok(self.sign_message(address, &message)?)
    }

    fn sign_typed_data_v4(
        &self,
        address: Address,
        data: serde_json::Value,
    ) -> JsonRpcResult<Bytes> {
        // Wallet libraries send the typed data as JSON text (MetaMask's convention); accept
        // the object too.
        let parsed = match data {
            serde_json::Value::String(text) => serde_json::from_str::<TypedData>(&text),
            other => serde_json::from_value::<TypedData>(other),
        }
        .map_err(|e| RpcError::InvalidParams(format!("invalid typed data: {e}")))?;
        let signer = self.keys.signer(address)?;
        let signature = signer
            .sign_dynamic_typed_data_sync(&parsed)
            .map_err(|e| RpcError::InvalidParams(format!("invalid typed data: {e}")))?;
        Ok(Bytes::copy_from_slice(&signature.as_bytes()))
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
