//! L1, seen from the batcher: the `Rollup` contract's view of what is committed, and the
//! batcher's own transactions — signed locally (so their hash can be persisted before they are
//! sent), sent, watched, and replaced with higher fees when they are stuck.

pub mod contract;
pub mod reader;

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718},
    network::TxSignerSync,
    providers::{Provider, ProviderBuilder, RootProvider},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};

use crate::error::{BatcherError, BatcherResult};
pub use contract::{Rollup, data_commitment, previous_hashes};
pub use reader::{BatchReader, PostedBatch};

/// Gas the contract's work takes on top of calldata: storage writes, the event, hashing.
const EXECUTION_GAS_ALLOWANCE: u64 = 400_000;

/// The outcome of a mined transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mined {
    /// It succeeded (did not revert).
    pub success: bool,
    /// The L1 block it is in.
    pub block: u64,
    /// Gas it used.
    pub gas_used: u64,
}

/// Why sending a raw transaction did not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted (or already known to the node).
    Accepted,
    /// The nonce is already used by a mined transaction.
    NonceUsed,
    /// Anything else (underpriced, pool full, …), with the node's message.
    Rejected(String),
}

/// The L1 endpoint, the contract and the batcher's key.
#[derive(Debug, Clone)]
pub struct L1 {
    provider: RootProvider,
    signer: PrivateKeySigner,
    chain_id: u64,
    rollup: Address,
}

fn l1_error(e: impl std::fmt::Display) -> BatcherError {
    BatcherError::Unreachable { endpoint: "L1", reason: e.to_string() }
}

impl L1 {
    /// Connects to L1 and learns its chain id.
    ///
    /// # Errors
    /// When L1 does not answer or the URL does not parse.
    pub async fn connect(
        url: &str,
        rollup: Address,
        signer: PrivateKeySigner,
    ) -> BatcherResult<Self> {
        let parsed = url.parse().map_err(|e| BatcherError::Rpc {
            endpoint: "L1",
            reason: format!("bad URL {url}: {e}"),
        })?;
        let provider = ProviderBuilder::default().connect_http(parsed);
        let chain_id = provider.get_chain_id().await.map_err(l1_error)?;
        Ok(Self { provider, signer, chain_id, rollup })
    }

    /// The batcher's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    fn contract(&self) -> Rollup::RollupInstance<&RootProvider> {
        Rollup::new(self.rollup, &self.provider)
    }

    /// The newest L1 block number.
    ///
    /// # Errors
    /// When L1 does not answer.
    pub async fn head(&self) -> BatcherResult<u64> {
        self.provider.get_block_number().await.map_err(l1_error)
    }

    /// The last L2 block the contract had committed as of L1 block `at` (latest when `None`).
    ///
    /// # Errors
    /// When L1 does not answer.
    pub async fn committed(&self, at: Option<u64>) -> BatcherResult<u64> {
        let block = at.map_or(BlockId::Number(BlockNumberOrTag::Latest), BlockId::number);
        self.contract().latestBlock().block(block).call().await.map_err(l1_error)
    }

    /// The L2 block hash the contract holds for a committed batch boundary.
    ///
    /// # Errors
    /// When L1 does not answer, or `l2_block` is not a committed boundary.
    pub async fn committed_hash(&self, l2_block: u64) -> BatcherResult<B256> {
        self.contract().blockHashAt(l2_block).call().await.map_err(l1_error)
    }

    /// The contract's batcher and L2 chain id.
    ///
    /// # Errors
    /// When L1 does not answer (or there is no contract at the address).
    pub async fn contract_setup(&self) -> BatcherResult<(Address, u64)> {
        let batcher = self.contract().batcher().call().await.map_err(|e| BatcherError::Rpc {
            endpoint: "L1",
            reason: format!("no Rollup contract answers at {}: {e}", self.rollup),
        })?;
        let chain = self.contract().l2ChainId().call().await.map_err(l1_error)?;
        Ok((batcher, chain))
    }

    /// The next nonce of the batcher, counting its pending transactions.
    ///
    /// # Errors
    /// When L1 does not answer.
    pub async fn pending_nonce(&self) -> BatcherResult<u64> {
        self.provider.get_transaction_count(self.address()).pending().await.map_err(l1_error)
    }

    /// The nonce after the batcher's last mined transaction.
    ///
    /// # Errors
    /// When L1 does not answer.
    pub async fn mined_nonce(&self) -> BatcherResult<u64> {
        self.provider.get_transaction_count(self.address()).latest().await.map_err(l1_error)
    }

    /// Fees for a new transaction: (max fee, priority fee).
    ///
    /// # Errors
    /// When L1 does not answer.
    pub async fn fees(&self) -> BatcherResult<(u128, u128)> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(l1_error)?
            .ok_or_else(|| BatcherError::Rpc {
                endpoint: "L1",
                reason: "no latest block".into(),
            })?;
        let base = u128::from(block.header.base_fee_per_gas.unwrap_or(1_000_000_000));
        let tip =
            self.provider.get_max_priority_fee_per_gas().await.map_err(l1_error)?.max(1_000_000);
        Ok((2 * base + tip, tip))
    }

    /// How many frames of a batch the contract holds pending (0: none). A one-frame batch
    /// must then go as frame 0 of 1, which replaces them: `submitBatch` is refused.
    ///
    /// # Errors
    /// When L1 cannot be read.
    pub async fn pending_frames(&self) -> BatcherResult<u16> {
        Ok(self.contract().pendingBatch().call().await.map_err(l1_error)?.nextFrame)
    }

    /// Calldata of `submitFrame`, also for a one-frame batch (which then replaces any pending
    /// frames). `previous_hash` chains the frame to the frames before it: zero for frame 0, the
    /// running hash over frames `0..frame` otherwise ([`previous_hashes`] gives it for each
    /// frame of a batch); the contract rejects any other value.
    #[allow(clippy::too_many_arguments)] // the contract's arguments
    pub fn frame_calldata(
        first: u64,
        last: u64,
        state_root: B256,
        block_hash: B256,
        frame: u16,
        frames: u16,
        previous_hash: B256,
        data: Bytes,
    ) -> Vec<u8> {
        Rollup::submitFrameCall {
            firstBlock: first,
            lastBlock: last,
            stateRoot: state_root,
            blockHash: block_hash,
            frameIndex: frame,
            frameCount: frames,
            previousHash: previous_hash,
            data,
        }
        .abi_encode()
    }

    /// Calldata of `submitBatch` (one frame; `previous_hash` is then zero and unused) or
    /// `submitFrame` (see [`L1::frame_calldata`]).
    #[allow(clippy::too_many_arguments)] // the contract's arguments
    pub fn calldata(
        first: u64,
        last: u64,
        state_root: B256,
        block_hash: B256,
        frame: u16,
        frames: u16,
        previous_hash: B256,
        data: Bytes,
    ) -> Vec<u8> {
        if frames == 1 {
            Rollup::submitBatchCall {
                firstBlock: first,
                lastBlock: last,
                stateRoot: state_root,
                blockHash: block_hash,
                data,
            }
            .abi_encode()
        } else {
            Self::frame_calldata(
                first,
                last,
                state_root,
                block_hash,
                frame,
                frames,
                previous_hash,
                data,
            )
        }
    }

    /// Signs a call to the contract; returns its hash and raw bytes.
    ///
    /// # Panics
    /// Never for a local key.
    pub fn sign(&self, nonce: u64, input: Vec<u8>, max_fee: u128, tip: u128) -> (B256, Bytes) {
        let zeros = input.iter().filter(|b| **b == 0).count() as u64;
        let non_zeros = input.len() as u64 - zeros;
        let standard = 21_000 + 16 * non_zeros + 4 * zeros + EXECUTION_GAS_ALLOWANCE;
        let floor = 21_000 + 40 * non_zeros + 10 * zeros;
        let mut tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce,
            gas_limit: standard.max(floor + EXECUTION_GAS_ALLOWANCE / 4),
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(self.rollup),
            value: U256::ZERO,
            input: input.into(),
            ..Default::default()
        };
        let signature = self.signer.sign_transaction_sync(&mut tx).expect("local keys sign");
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        (*envelope.tx_hash(), envelope.encoded_2718().into())
    }

    /// Sends a signed transaction.
    ///
    /// # Errors
    /// When L1 does not answer at all.
    pub async fn send(&self, raw: &Bytes) -> BatcherResult<SendOutcome> {
        match self.provider.send_raw_transaction(raw).await {
            Ok(_) => Ok(SendOutcome::Accepted),
            Err(e) => {
                let Some(rpc) = e.as_error_resp() else { return Err(l1_error(e)) };
                let message = rpc.message.to_lowercase();
                Ok(if message.contains("already known") || message.contains("already imported") {
                    SendOutcome::Accepted
                } else if message.contains("nonce too low") {
                    SendOutcome::NonceUsed
                } else {
                    SendOutcome::Rejected(rpc.message.to_string())
                })
            }
        }
    }

    /// The outcome of transaction `hash`, if it is mined.
    ///
    /// # Errors
    /// When L1 does not answer.
    pub async fn mined(&self, hash: B256) -> BatcherResult<Option<Mined>> {
        let receipt = self.provider.get_transaction_receipt(hash).await.map_err(l1_error)?;
        Ok(receipt.map(|r| Mined {
            success: r.status(),
            block: r.block_number.unwrap_or_default(),
            gas_used: r.gas_used,
        }))
    }
}
