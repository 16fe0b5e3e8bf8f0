#!/usr/bin/env bash
# Checks the API contract against a real Souk (`souk serve --demo` on a temp data dir and a free
# loopback port):
#   1. /v1/openapi.json is a valid OpenAPI document (openapi-spec-validator), and each of its
#      examples matches its own schema (scripts/contract/examples.py);
#   2. schemathesis fuzzes every operation of it as the operator, the seller and the buyer, with
#      every check on: a 5xx, a status the document does not declare, a response that does not
#      match its schema, a valid request refused or an invalid one accepted all fail the run.
# Prints per role: requests, 5xx, violations. Exits non-zero on any of them.
# A few operations are kept out of the single check positive_data_acceptance because some of their
# rules are between fields or depend on stored state: scripts/contract/schemathesis.toml lists
# them with the reason (and docs/API.md, "Exclusions").
# SOUK_FUZZ_EXAMPLES (default 20) sets schemathesis' --max-examples per operation and phase.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(bash scripts/contract/venv.sh)
cargo build --quiet -p souk
examples=${SOUK_FUZZ_EXAMPLES:-20}
work=$(mktemp -d)
# Port 0: Souk binds a free port itself and prints "… listening on http://ADDR …".
target/debug/souk serve --demo --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # Kept for a look after a failure: the reports (with each failing request) and Souk's log.
    mkdir -p target/api-contract
    cp "$work"/*.ndjson "$work"/*.txt "$work/serve.log" target/api-contract/ 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# Wait for the demo's keys: tail follows the log (inotify) and ends if Souk exits first.
if ! timeout 120 grep -q -m1 '^buyer key:' <(tail -F -n +1 --pid="$pid" "$work/serve.log" 2>/dev/null); then
    cat "$work/serve.log"
    echo "souk did not start" >&2
    exit 1
fi
base=$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" | head -n1 | awk '{print $3}')
key() { grep "^$1 key:" "$work/serve.log" | awk '{print $3}'; }

passed=0
failed=0
started=$SECONDS
curl -sf "$base/v1/openapi.json" -o "$work/openapi.json"
if "$venv/bin/openapi-spec-validator" "$work/openapi.json"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi
# Every example of the document matches its own schema (examples are part of the contract).
if "$venv/bin/python" scripts/contract/examples.py "$work/openapi.json"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

for role in operator seller buyer; do
    # One worker: schemathesis' generator is not reliably thread-safe, and CI has two cores.
    "$venv/bin/schemathesis" --config-file scripts/contract/schemathesis.toml run "$base/v1/openapi.json" \
        --header "Authorization: Bearer $(key "$role")" \
        --max-examples "$examples" --seed 20261125 --workers 1 \
        --phases examples,coverage,fuzzing --generation-database none \
        --request-timeout 20 --no-color --output-truncate true \
        --report ndjson --report-ndjson-path "$work/$role.ndjson" >"$work/$role.txt" 2>&1 || true
    if python3 scripts/contract/figures.py "$role" "$work/$role.ndjson"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        [[ -s "$work/$role.ndjson" ]] || tail -40 "$work/$role.txt"
    fi
done
if grep -q "panicked" "$work/serve.log"; then
    grep -B2 -A5 "panicked" "$work/serve.log" | head -40
    echo "souk panicked during the fuzz run" >&2
    failed=$((failed + 1))
fi
echo "api contract: $((SECONDS - started))s with --max-examples $examples"
echo "contract: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
