//! Bindings of the workload contracts compiled by Foundry (`contracts/src/workloads`), from the
//! committed artifacts (`contracts/artifacts`, rebuilt and checked by CI).

#![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)] // generated code

alloy::sol!(
    #[derive(Debug)]
    TestToken,
    "../contracts/artifacts/TestToken.json"
);
alloy::sol!(
    #[derive(Debug)]
    Counter,
    "../contracts/artifacts/Counter.json"
);
alloy::sol!(
    #[derive(Debug)]
    Pair,
    "../contracts/artifacts/Pair.json"
);
alloy::sol!(
    #[derive(Debug)]
    Factory,
    "../contracts/artifacts/Factory.json"
);
alloy::sol!(
    #[derive(Debug)]
    Probe,
    "../contracts/artifacts/Probe.json"
);

/// Storage slot of `TestToken.balanceOf`.
pub const TOKEN_BALANCES_SLOT: u64 = 1;
/// Storage slot of `Counter.count`.
pub const COUNTER_COUNT_SLOT: u64 = 0;
/// Storage slot of `Counter.byCaller`.
pub const COUNTER_BY_CALLER_SLOT: u64 = 1;
/// Storage slots of `Pair.balance0` and `Pair.balance1`.
pub const PAIR_BALANCE_SLOTS: (u64, u64) = (4, 5);
