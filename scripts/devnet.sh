#!/usr/bin/env bash
# README's first command: a local rollup devnet. Installs the L1 toolchain (Foundry and solc
# from npm, into .tools/) if missing, builds the binaries in release mode, and runs the e2e
# crate's `devnet` binary: anvil as L1, the Rollup contract, the sequencer and the batcher.
# Arguments go to `devnet` (see `--help`): e.g. --keep to resume, --l2.port, --datadir.
set -euo pipefail

repo_root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

bash scripts/setup-tools.sh
cargo build --release --locked -p e2e -p derivation -p sequencer -p batcher --bins
exec "${CARGO_TARGET_DIR:-target}/release/devnet" "$@"
