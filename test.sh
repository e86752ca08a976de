#!/usr/bin/env bash
# Run the test suite (unit + integration); arguments go to pytest, e.g. ./test.sh -m "not integration".
set -euo pipefail
cd "$(dirname "$0")"
tools/setup_env.sh
exec .venv/bin/python -m pytest "$@"
