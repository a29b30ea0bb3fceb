#!/usr/bin/env bash
# The L1 side's whole check, as CI runs it: install the pinned tools, then format, build, test,
# gas snapshot and committed-artifact checks for contracts/. Works offline once the tools are in
# .tools/ (the first run needs the npm registry).
set -euo pipefail

repo_root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
step() { printf '\n==> %s\n' "$*"; }

step "setup tools"
bash "$repo_root/scripts/setup-tools.sh"
export PATH="$repo_root/.tools/bin:$PATH"

# forge resolves `solc = "../.tools/bin/solc"` against the working directory: run it in contracts/.
cd "$repo_root/contracts"

step "forge fmt --check"
forge fmt --check

step "forge build"
forge build

step "forge test"
forge test

step "forge snapshot --check (contracts/.gas-snapshot; refresh with: cd contracts && forge snapshot --match-contract RollupGasTest)"
forge snapshot --match-contract RollupGasTest --check > "$repo_root/.tools/forge-snapshot.log" 2>&1 || {
  cat "$repo_root/.tools/forge-snapshot.log" >&2
  echo "contracts-check: gas snapshot differs; run 'forge snapshot --match-contract RollupGasTest' in contracts/ and commit" >&2
  exit 1
}
echo "gas snapshot matches"

step "contract artifacts"
bash "$repo_root/scripts/check-contract-artifacts.sh"

step "contracts-check: all passed"
