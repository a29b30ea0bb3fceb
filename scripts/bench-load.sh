#!/usr/bin/env bash
# End-to-end throughput, ours vs anvil, in one run: the same pre-signed transactions (same
# seed, chain id 42069 on both, funded from the same dev key) sent by the `load` tool to a
# fresh anvil in its best throughput configuration and to a fresh `sequencer --dev`, for each
# workload. Prints a markdown table (and leaves each run's JSON report in $OUT).
#
#   bash scripts/bench-load.sh [N] [K]      (default N=20000 transactions over K=1000 accounts)
#
# Env: WORKLOADS (default "eth erc20 hot mixed"), BLOCK_TIME (sequencer, default 250ms),
# LOAD_ARGS (extra `load` flags, default "--connections 2 --batch 1000", the same for both),
# RAYON_NUM_THREADS / TOKIO_WORKER_THREADS to pin the sequencer's threads.
set -euo pipefail

repo_root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
N=${1:-20000}
K=${2:-1000}
WORKLOADS=${WORKLOADS:-"eth erc20 hot mixed"}
BLOCK_TIME=${BLOCK_TIME:-250ms}
LOAD_ARGS=${LOAD_ARGS:-"--connections 2 --batch 1000"}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
BIN="${CARGO_TARGET_DIR:-target}/release"

bash scripts/setup-tools.sh >/dev/null
cargo build --release --locked -p sequencer -p e2e --bins >&2

port=18645
wait_rpc() {
  for _ in $(seq 1 400); do
    if node -e 'fetch(process.argv[1], {method: "POST", headers: {"content-type": "application/json"},
        body: JSON.stringify({jsonrpc: "2.0", id: 1, method: "eth_chainId", params: []})})
        .then(() => process.exit(0), () => process.exit(1))' "http://127.0.0.1:$port" 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  echo "endpoint on port $port did not come up" >&2
  return 1
}

field() { node -e "const r=require(process.argv[1]); console.log(r[process.argv[2]])" "$1" "$2"; }

run_anvil() {
  "$repo_root/.tools/bin/anvil" --port "$port" --chain-id 42069 --block-time 1 \
    --gas-limit 1000000000 --quiet --no-request-size-limit --prune-history \
    >"$OUT/anvil-$1.log" 2>&1 &
  local pid=$!
  wait_rpc
  # shellcheck disable=SC2086 # LOAD_ARGS is a list of flags
  "$BIN/load" --rpc-url "http://127.0.0.1:$port" --workload "$1" -n "$N" -k "$K" $LOAD_ARGS --json \
    >"$OUT/anvil-$1.json" 2>"$OUT/anvil-$1.load.log" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_ours() {
  local datadir="$OUT/sequencer-$1"
  RUST_LOG=warn "$BIN/sequencer" --dev --datadir "$datadir" --http.port "$port" \
    --block-time "$BLOCK_TIME" >"$OUT/ours-$1.log" 2>&1 &
  local pid=$!
  wait_rpc
  # shellcheck disable=SC2086
  "$BIN/load" --rpc-url "http://127.0.0.1:$port" --workload "$1" -n "$N" -k "$K" $LOAD_ARGS --json \
    >"$OUT/ours-$1.json" 2>"$OUT/ours-$1.load.log" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$datadir"
}

echo "| workload | endpoint | inclusion TPS | per core | ingest tx/s | Mgas/s | p50 ms | p99 ms | refused | never included |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for workload in $WORKLOADS; do
  run_anvil "$workload"
  run_ours "$workload"
  for who in anvil ours; do
    json="$OUT/$who-$workload.json"
    if [ ! -s "$json" ]; then
      echo "| $workload | $who | (failed: see $OUT/$who-$workload.load.log) | | | | | | | |"
      continue
    fi
    printf '| %s | %s | %.0f | %.0f | %.0f | %.1f | %.0f | %.0f | %s | %s |\n' "$workload" "$who" \
      "$(field "$json" inclusion_tps)" "$(field "$json" inclusion_tps_per_core)" "$(field "$json" ingest_tps)" \
      "$(node -e "console.log(require('$json').gas_per_second/1e6)")" \
      "$(field "$json" p50_ms)" "$(field "$json" p99_ms)" "$(field "$json" failed)" "$(field "$json" lost)"
  done
done
echo
echo "reports: $OUT" >&2
