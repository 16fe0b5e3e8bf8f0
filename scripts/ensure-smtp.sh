#!/usr/bin/env bash
# Makes sure `aiosmtpd` (PyPI) is installed: the e-mail tests start a real SMTP server on a
# loopback port with it (scripts/smtp-sink.py).
set -euo pipefail
if python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  exit 0
fi
echo "installing aiosmtpd for the e-mail tests" >&2
python3 -m pip install --quiet 'aiosmtpd==1.4.6'
