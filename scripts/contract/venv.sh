#!/usr/bin/env bash
# Creates (or refreshes) .venv-tools/ with the pinned tools of requirements.txt; prints its path.
# Reinstalls only when requirements.txt changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-tools
req=scripts/contract/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv" >&2
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
    echo "$want" >"$stamp"
fi
echo "$PWD/$venv"
