#!/usr/bin/env bash
# The fault campaign: installs hedgebot with its test extras into .venv (pinned by
# constraints.txt), then runs the seeded scenarios against the local exchange and prints the
# table per fault kind. Exit status non-zero if any invariant was violated.
# --venue binanceusdm|bybit|okx: options on the local Deribit exchange, the hedge perpetual on
# that venue's local exchange (default deribit: both on the local Deribit exchange).
# Usage: bash scripts/campaign.sh [--venue deribit] [--scenarios 200] [--seed 1] [--jobs 2]
#        [--kinds ...] [--json PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
exec .venv/bin/python -m tests.e2e.chaos --scenarios 200 --seed 1 --jobs 2 "$@"
