#!/usr/bin/env bash
# Runs Souk's whole test suite, on SQLite and on PostgreSQL. Extra arguments go to cargo test
# (e.g. scripts/test.sh -- key_lifecycle).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
bash scripts/ensure-s3.sh
bash scripts/ensure-smtp.sh
# Chromium and chromedriver for the console's browser tests.
bash scripts/ensure-browser.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?
# The API contract: the OpenAPI document validated, then fuzzed per role (scripts/api-contract.sh).
# Skipped when a filter was given (a targeted run), or with SOUK_CONTRACT=skip.
if [[ $# -eq 0 && "${SOUK_CONTRACT:-}" != skip ]]; then
    bash scripts/api-contract.sh 2>&1 | tee -a "$log" || status=$?
fi
# One closing line for the whole run: cargo prints a result per test binary, the last of which
# is often a doc-test binary with nothing in it.
awk '/^(test result|contract):/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
