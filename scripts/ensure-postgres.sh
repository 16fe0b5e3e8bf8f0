#!/usr/bin/env bash
# Makes sure the local PostgreSQL the tests use is running (127.0.0.1:5432, user postgres,
# trust auth), starting it — or, on a machine without it, installing it — when it is not.
# Skipped when SOUK_TEST_POSTGRES=skip or SOUK_TEST_DATABASE_URL points elsewhere.
set -euo pipefail

if [[ "${SOUK_TEST_POSTGRES:-}" == "skip" || -n "${SOUK_TEST_DATABASE_URL:-}" ]]; then
  exit 0
fi

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ready; then exit 0; fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "PostgreSQL is not installed; installing it from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  conf="/etc/postgresql/$version/main/pg_hba.conf"
  # Tests connect as postgres over TCP without a password, as on the project's machines.
  sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/; s/^(local\s+all\s+postgres\s+)\S+/\1trust/' "$conf"
fi

version=$(ls /etc/postgresql | sort -V | tail -n1)
echo "starting PostgreSQL $version" >&2
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 60); do
  if ready; then exit 0; fi
  sleep 0.5
done
echo "PostgreSQL did not become ready on 127.0.0.1:5432" >&2
exit 1
