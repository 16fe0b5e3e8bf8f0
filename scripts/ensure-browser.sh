#!/usr/bin/env bash
# Installs the headless browser the console's browser tests drive (crates/souk/tests/api/
# browser.rs): Debian's chromium, its WebDriver chromium-driver, and a CJK font. Idempotent; called by
# scripts/test.sh. Set SOUK_TEST_BROWSER=skip to run without a browser (the browser tests then
# say so and pass without running; CI never sets it).
set -euo pipefail
if [[ "${SOUK_TEST_BROWSER:-}" == skip ]]; then
    exit 0
fi
# A CJK font too: the pages (and the screenshots in docs/) show Chinese.
if command -v chromium >/dev/null && command -v chromedriver >/dev/null \
    && fc-list :lang=zh 2>/dev/null | grep -q .; then
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "ensure-browser: chromium and chromium-driver are missing; install them as root:" >&2
    echo "  apt-get install -y chromium chromium-driver fonts-wqy-zenhei" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver fonts-wqy-zenhei >/dev/null
chromedriver --version
