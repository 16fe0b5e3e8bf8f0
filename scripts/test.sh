#!/usr/bin/env bash
# Runs Souk's whole test suite, on SQLite and on PostgreSQL. Extra arguments go to cargo test
# (e.g. scripts/test.sh -- key_lifecycle).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole run: cargo prints a result per test binary, the last of which
# is often a doc-test binary with nothing in it.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
