#!/usr/bin/env bash
# wrangler's [build] command: builds the wasm Worker into build/. Set MEMGATE_SKIP_BUILD=1
# when the build is already fresh (the test harness builds once, then starts workerd).
set -euo pipefail
source "$(dirname "$0")/tools.sh"
if [ "${MEMGATE_SKIP_BUILD:-}" = "1" ] && [ -f "$ROOT/build/worker/shim.mjs" ]; then
  exit 0
fi
ensure_rust
ensure_node
build_worker
