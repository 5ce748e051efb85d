# Sourced by the other scripts: installs (once, pinned, outside the checkout where slow)
# everything memgate needs to build and run, and exports the paths the build uses.
# Idempotent: a second run only checks versions.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/memgate"
WORKER_BUILD_VERSION="0.8.7"
# Must equal the wasm-bindgen version in Cargo.lock.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock")"

export CI="${CI:-}"
export WRANGLER_SEND_METRICS=false
export WRANGLER_HIDE_BANNER=true

log() { printf '\033[1;34m[memgate]\033[0m %s\n' "$*" >&2; }

ensure_rust() {
  command -v cargo >/dev/null || { log "cargo is required (rustup)"; exit 1; }
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  local wb="$CACHE/tools/worker-build-$WORKER_BUILD_VERSION"
  if [ ! -x "$wb/bin/worker-build" ]; then
    log "installing worker-build $WORKER_BUILD_VERSION (first run only, ~6 min)"
    cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --root "$wb.tmp"
    rm -rf "$wb" && mv "$wb.tmp" "$wb"
  fi
  local bg="$CACHE/tools/wasm-bindgen-$WASM_BINDGEN_VERSION"
  if [ ! -x "$bg/bin/wasm-bindgen" ]; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (first run only, ~4 min)"
    # Not --locked: its lockfile pins a crate version the registry no longer serves.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$bg.tmp"
    rm -rf "$bg" && mv "$bg.tmp" "$bg"
  fi
  export PATH="$wb/bin:$bg/bin:$PATH"
  export WASM_BINDGEN_BIN="$bg/bin/wasm-bindgen"
}

ensure_node() {
  local stamp="$ROOT/node_modules/.memgate-lock-hash"
  local want
  want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing npm tools (wrangler, node 22, binaryen, esbuild)"
    (cd "$ROOT" && npm install --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
  export PATH="$ROOT/node_modules/.bin:$PATH"
  export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
  export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
}

ensure_python() {
  local req="$ROOT/tests/requirements.txt"
  local hash
  hash="$(cat "$req" | sha256sum | cut -c1-16)"
  export MEMGATE_VENV="$CACHE/venv-$hash"
  if [ ! -x "$MEMGATE_VENV/bin/pytest" ]; then
    log "creating the test virtualenv"
    rm -rf "$MEMGATE_VENV.tmp"
    python3 -m venv "$MEMGATE_VENV.tmp"
    "$MEMGATE_VENV.tmp/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    rm -rf "$MEMGATE_VENV" && mv "$MEMGATE_VENV.tmp" "$MEMGATE_VENV"
    # venv scripts embed their path: recreate the activation paths after the move.
    python3 -m venv --upgrade "$MEMGATE_VENV" >/dev/null
  fi
}

ensure_browser() {
  # Debian's Chromium and ChromeDriver, for the admin panel's browser tests.
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    log "installing chromium + chromium-driver (Debian packages)"
    local sudo=""
    [ "$(id -u)" = "0" ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}

build_worker() {
  log "building the Worker (wasm, release)"
  (cd "$ROOT" && worker-build --release)
}
