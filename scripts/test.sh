#!/usr/bin/env bash
# Runs Souk's whole test suite, on SQLite and on PostgreSQL. Extra arguments go to cargo test
# (e.g. scripts/test.sh -- key_lifecycle).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
cargo test --workspace "$@"
