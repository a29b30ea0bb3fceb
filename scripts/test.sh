#!/usr/bin/env bash
# Every check of the project, as README documents it: installs the L1 toolchain (Foundry, solcjs,
# and the viem and ethers libraries the tests drive the node with, from npm into .tools/), then
# formatting, lints, all tests (Rust and forge), docs and benchmark builds. Assumes only the Rust
# toolchain, Node and npm.
set -euo pipefail

repo_root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
step() { printf '\n==> %s\n' "$*"; }

step "L1 toolchain"
bash scripts/setup-tools.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build (the binaries the end-to-end tests run)"
cargo build --workspace --bins --locked

step "cargo test"
cargo test --workspace --locked

step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "cargo bench --no-run"
cargo bench --workspace --no-run --locked

step "contracts (forge fmt, build, test, gas snapshot, artifacts)"
bash scripts/contracts-check.sh

step "all checks passed"
