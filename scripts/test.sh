#!/usr/bin/env bash
# Installs everything needed (first run only) and runs every test: format, lints, native
# core tests, the wasm build, end-to-end tests against the built Worker in workerd, and a
# deploy dry run with the bundle size. Extra arguments go to pytest (e.g. -k memories).
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"
start=$(date +%s)

ensure_rust
ensure_node
ensure_python
ensure_browser

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy (native and wasm32) -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --target wasm32-unknown-unknown --quiet -- -D warnings
log "cargo test (platform-free core, native)"
cargo test --quiet

build_worker

log "end-to-end tests (workerd via wrangler dev)"
"$MEMGATE_VENV/bin/python" -m pytest tests/e2e -q -p no:cacheprovider "$@"

log "wrangler deploy --dry-run"
out="$(mktemp -d)"
MEMGATE_SKIP_BUILD=1 wrangler deploy --dry-run --outdir "$out/dist" 2>&1 | tee "$out/deploy.log" | grep -E "Total Upload|Your Worker has access|--dry-run" || true
grep -q "Total Upload" "$out/deploy.log" || { cat "$out/deploy.log"; log "deploy dry run failed"; exit 1; }
rm -rf "$out"
log "all checks passed in $(( $(date +%s) - start )) s"
