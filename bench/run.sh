#!/usr/bin/env bash
# Builds memgate, starts it locally in workerd and prints figures (table + bench/results.json).
# Usage: bash bench/run.sh [--sizes 1000,10000,100000] [--n 300]
set -euo pipefail
source "$(dirname "$0")/../scripts/tools.sh"
cd "$ROOT"
ensure_rust
ensure_node
ensure_python
build_worker
exec "$MEMGATE_VENV/bin/python" bench/bench.py "$@"
