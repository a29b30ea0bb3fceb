//! The reference executor: revm, one transaction after another, each committed before the
//! next runs.

use std::sync::Arc;

use alloy::consensus::Transaction as _;
use revm::{ExecuteCommitEvm, context::result::EVMError};

use super::{
    BlockEnv, BlockExecution, BlockExecutor, ExecError, ExecStats, ExecTx, SkipReason, SkippedTx,
    evm::{self, CodeCache, StateDb},
    overlay::Overlay,
};
use crate::state::StateReader;

/// Executes transactions strictly in order: the definition of a block's correct result.
#[derive(Debug, Default, Clone)]
pub struct SequentialExecutor {
    codes: Arc<CodeCache>,
}

impl SequentialExecutor {
    /// An executor sharing `codes` (analysed contract code) with others.
    pub const fn with_code_cache(codes: Arc<CodeCache>) -> Self {
        Self { codes }
    }
}

impl BlockExecutor for SequentialExecutor {
    fn name(&self) -> &'static str {
        "sequential"
    }

    fn execute(
        &self,
        state: &dyn StateReader,
        env: &BlockEnv,
        txs: &[ExecTx],
    ) -> Result<(BlockExecution, ExecStats), ExecError> {
        let out = execute_in_order(state, &self.codes, env, txs)?;
        Ok((out, ExecStats { groups: 1, largest_group: txs.len(), ..Default::default() }))
    }
}

/// Runs `txs` in order over `state`, committing each, with the standard fee rules.
pub(crate) fn execute_in_order(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    txs: &[ExecTx],
) -> Result<BlockExecution, ExecError> {
    let spec = evm::spec_id(env.hardfork);
    let mut overlay = Overlay::new(StateDb { state, codes }, spec);
    let mut out = BlockExecution::with_capacity(txs.len());
    {
        let mut vm = evm::block_evm(&mut overlay, env);
        for (index, tx) in txs.iter().enumerate() {
            if out.gas_used + tx.tx.gas_limit() > env.gas_limit {
                out.skipped.push(SkippedTx { index, reason: SkipReason::GasLimitReached });
                continue;
            }
            match vm.transact_commit(evm::tx_env(&tx.tx)) {
                Ok(result) => {
                    let result = evm::tx_result(result);
                    out.gas_used += result.gas_used;
                    out.receipts.push(evm::receipt(tx.tx.inner(), &result, out.gas_used));
                    out.results.push(result);
                    out.included.push(index);
                }
                Err(EVMError::Transaction(invalid)) => {
                    let reason = evm::skip_reason(&invalid, tx.tx.signer());
                    out.skipped.push(SkippedTx { index, reason });
                }
                Err(EVMError::Database(e)) => return Err(ExecError::State(e.0)),
                Err(other) => return Err(ExecError::Environment(other.to_string())),
            }
        }
    }
    out.diff = overlay.into_diff();
    Ok(out)
}
