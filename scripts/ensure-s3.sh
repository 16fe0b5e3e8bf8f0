#!/usr/bin/env bash
# Makes sure `moto_server` (an S3-compatible server, PyPI package moto[server]) is installed:
# the attachment tests in S3 mode start one on a loopback port. Skipped when SOUK_TEST_S3=skip.
set -euo pipefail
if [[ "${SOUK_TEST_S3:-}" == "skip" ]] || command -v moto_server >/dev/null 2>&1; then
  exit 0
fi
echo "installing moto[server] for the S3-mode attachment tests" >&2
python3 -m pip install --quiet 'moto[server]==5.2.1'
