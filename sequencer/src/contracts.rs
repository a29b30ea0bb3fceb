//! Bindings of the workload contracts compiled by Foundry (`contracts/src/workloads`), from the
//! committed artifacts (`contracts/artifacts`, rebuilt and checked by CI), with the storage
//! layout their access lists need. Not test-only: the e2e load tool deploys and calls them,
//! and the tests and benchmarks build their workloads from the same bindings.

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

/// The storage slot of `mapping[key]` for a mapping at `slot`.
pub fn mapping_slot(key: alloy_primitives::Address, slot: u64) -> alloy_primitives::U256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(key.as_slice());
    preimage[56..].copy_from_slice(&slot.to_be_bytes());
    alloy_primitives::U256::from_be_bytes(alloy_primitives::keccak256(preimage).0)
}
