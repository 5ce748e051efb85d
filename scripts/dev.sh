#!/usr/bin/env bash
# Installs everything needed (first run only), applies migrations to the local D1 and starts
# memgate in workerd on http://127.0.0.1:8787 with local stand-ins for Vectorize and
# Workers AI (the vector index over D1, the built-in hashing embedder).
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"
ensure_rust
ensure_node
build_worker
PORT="${PORT:-8787}"
log "applying migrations to the local D1 (.wrangler/state)"
CI=1 wrangler d1 migrations apply DB --local --env local
log "memgate: http://127.0.0.1:$PORT  (admin panel: http://127.0.0.1:$PORT/ , API: /v1, /api, /mcp)"
MEMGATE_SKIP_BUILD=1 exec wrangler dev --env local --ip 127.0.0.1 --port "$PORT" --test-scheduled
