#!/usr/bin/env bash
# Builds contracts/ with forge and writes the artifacts the Rust crates compile against:
#   contracts/artifacts/Rollup.json  (Foundry artifact shape: abi, bytecode.object,
#   deployedBytecode.object, methodIdentifiers, plus the compiler version and settings)
# alloy reads it with `sol!(Rollup, "contracts/artifacts/Rollup.json")` (path from the crate's
# manifest dir: "../contracts/artifacts/Rollup.json").
#
# Usage: scripts/export-contract-artifacts.sh [OUT_DIR]   (default: contracts/artifacts)
# The output is byte-for-byte deterministic; scripts/check-contract-artifacts.sh relies on that.
set -euo pipefail

repo_root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
out_dir=$(mkdir -p "${1:-$repo_root/contracts/artifacts}" && cd "${1:-$repo_root/contracts/artifacts}" && pwd)
contracts=(Rollup TestToken Counter Pair Factory Probe)

bash "$repo_root/scripts/setup-tools.sh" > /dev/null
export PATH="$repo_root/.tools/bin:$PATH"

# forge resolves `solc = "../.tools/bin/solc"` against the working directory: run it in contracts/.
(cd "$repo_root/contracts" && forge build --quiet)

for name in "${contracts[@]}"; do
  node - "$repo_root/contracts/out/$name.sol/$name.json" "$out_dir/$name.json" << 'JS'
const fs = require('fs');
const [src, dst] = process.argv.slice(2);
const a = JSON.parse(fs.readFileSync(src, 'utf8'));
const meta = JSON.parse(a.rawMetadata);
const sorted = (o) => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
const artifact = {
  abi: a.abi,
  bytecode: { object: a.bytecode.object },
  deployedBytecode: { object: a.deployedBytecode.object },
  methodIdentifiers: sorted(a.methodIdentifiers),
  compiler: {
    version: meta.compiler.version,
    evmVersion: meta.settings.evmVersion,
    optimizer: meta.settings.optimizer,
  },
};
if (!/^0x[0-9a-f]+$/.test(artifact.bytecode.object)) throw new Error(`${src}: no bytecode`);
fs.writeFileSync(dst, JSON.stringify(artifact, null, 2) + '\n');
JS
  echo "export-contract-artifacts: wrote ${out_dir#"$repo_root"/}/$name.json"
done
