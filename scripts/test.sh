#!/usr/bin/env bash
# Installs hedgebot with its test extras into .venv (pinned by constraints.txt) and runs
# ruff, mypy --strict, the import contracts (lint-imports) and the default pytest suite.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
.venv/bin/ruff check hedgebot hedgebot_localvenues tests benchmarks
.venv/bin/ruff format --check hedgebot hedgebot_localvenues tests benchmarks
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"
