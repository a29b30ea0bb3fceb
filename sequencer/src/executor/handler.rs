//! A revm handler that does everything the mainnet handler does except pay the block's
//! beneficiary. Paying it from every transaction would make every pair of transactions
//! conflict on one account; the parallel executor credits the fees itself, in block order.

use std::marker::PhantomData;

use revm::{
    context::{ContextSetters, ContextTr, JournalTr, TxEnv, result::HaltReason},
    handler::{EvmTr, EvmTrError, FrameResult, FrameTr, Handler},
    interpreter::interpreter_action::FrameInit,
    state::EvmState,
};

/// The mainnet handler minus the beneficiary reward.
#[derive(Debug)]
pub(crate) struct NoRewardHandler<EVM, ERROR, FRAME>(PhantomData<(EVM, ERROR, FRAME)>);

impl<EVM, ERROR, FRAME> Default for NoRewardHandler<EVM, ERROR, FRAME> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<EVM, ERROR, FRAME> Handler for NoRewardHandler<EVM, ERROR, FRAME>
where
    EVM: EvmTr<Context: ContextTr<Journal: JournalTr<State = EvmState>>, Frame = FRAME>,
    ERROR: EvmTrError<EVM>,
    FRAME: FrameTr<FrameResult = FrameResult, FrameInit = FrameInit>,
{
    type Evm = EVM;
    type Error = ERROR;
    type HaltReason = HaltReason;

    fn reward_beneficiary(&self, _: &mut EVM, _: &mut FrameResult) -> Result<(), ERROR> {
        Ok(())
    }
}

/// Executes `tx` without paying the beneficiary and returns its result and state changes
/// (the journal is finalised either way, as `transact` does).
pub(crate) fn transact_without_reward<EVM, ERROR>(
    evm: &mut EVM,
    tx: TxEnv,
) -> Result<(revm::context::result::ExecutionResult, EvmState), ERROR>
where
    EVM: EvmTr<
            Context: ContextTr<Journal: JournalTr<State = EvmState>, Tx = TxEnv> + ContextSetters,
            Frame: FrameTr<FrameResult = FrameResult, FrameInit = FrameInit>,
        >,
    ERROR: EvmTrError<EVM>,
{
    evm.ctx().set_tx(tx);
    let result = NoRewardHandler::<EVM, ERROR, EVM::Frame>::default().run(evm);
    let state = evm.ctx().journal_mut().finalize();
    result.map(|r| (r, state))
}
