#!/usr/bin/env bash
# The process-level restart campaign: installs hedgebot with its test extras into .venv (pinned
# by constraints.txt), then runs `hedgebot run` processes on the simulated exchange through
# kill -9 and restarts, second instances, crashes while halted and signal stops, and prints the
# table per kind. Exit status non-zero if any invariant was violated.
# Usage: bash scripts/process_campaign.sh [--scenarios 300] [--seed 1] [--jobs 2] [--kinds ...]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
exec .venv/bin/python -m tests.e2e.process_campaign --scenarios 300 --seed 1 --jobs 2 "$@"
