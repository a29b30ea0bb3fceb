//! Bindings of the workload contracts the load tool deploys (`contracts/src/workloads`), from
//! the committed Foundry artifacts (rebuilt and checked by CI).

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

/// Storage slot of `TestToken.balanceOf`.
pub const TOKEN_BALANCES_SLOT: u64 = 1;
/// Storage slot of `Counter.count`.
pub const COUNTER_COUNT_SLOT: u64 = 0;
/// Storage slot of `Counter.byCaller`.
pub const COUNTER_BY_CALLER_SLOT: u64 = 1;

/// The storage slot of `mapping(address => …)` entry `key` at mapping slot `slot`.
pub fn mapping_slot(key: alloy_primitives::Address, slot: u64) -> alloy_primitives::B256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(key.as_slice());
    preimage[56..].copy_from_slice(&slot.to_be_bytes());
    alloy_primitives::keccak256(preimage)
}
