#!/usr/bin/env bash
# A bounded mixed load (store/search/chat) against memgate in workerd; prints percentiles,
# throughput and acknowledged-vs-stored writes. Exits non-zero on any error or lost write.
set -euo pipefail
source "$(dirname "$0")/../scripts/tools.sh"
cd "$ROOT"
ensure_rust
ensure_node
ensure_python
build_worker
exec "$MEMGATE_VENV/bin/python" bench/load.py "$@"
