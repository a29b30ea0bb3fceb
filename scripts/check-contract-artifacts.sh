#!/usr/bin/env bash
# Fails when the committed contract artifacts (contracts/artifacts/*.json) differ from what the
# current sources compile to. Fix by running scripts/export-contract-artifacts.sh and committing.
set -euo pipefail

repo_root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
committed="$repo_root/contracts/artifacts"
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT

bash "$repo_root/scripts/export-contract-artifacts.sh" "$fresh" > /dev/null

status=0
for file in "$fresh"/*.json; do
  name=$(basename "$file")
  if [[ ! -f "$committed/$name" ]]; then
    echo "check-contract-artifacts: contracts/artifacts/$name is missing" >&2
    status=1
  elif ! cmp -s "$file" "$committed/$name"; then
    echo "check-contract-artifacts: contracts/artifacts/$name is stale:" >&2
    diff -u "$committed/$name" "$file" | head -n 40 >&2 || true
    status=1
  fi
done
for file in "$committed"/*.json; do
  [[ -e "$file" ]] || continue
  if [[ ! -f "$fresh/$(basename "$file")" ]]; then
    echo "check-contract-artifacts: contracts/artifacts/$(basename "$file") has no source contract" >&2
    status=1
  fi
done

if [[ $status -ne 0 ]]; then
  echo "check-contract-artifacts: run scripts/export-contract-artifacts.sh and commit the result" >&2
  exit 1
fi
echo "check-contract-artifacts: contracts/artifacts is up to date"
