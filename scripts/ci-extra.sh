#!/usr/bin/env bash
# What CI checks after `npm test` (which built dist/ and extracted the doc examples): the size budget, the public
# API report, and the runtimes (Chromium, Bun, Deno, Node 22 and 24; see scripts/ci-runtimes.sh). Each step prints
# its time. Usage: scripts/ci-extra.sh [parts for ci-runtimes.sh]
set -euo pipefail
cd "$(dirname "$0")/.."
step() {
  local start=$SECONDS
  echo "::: $*"
  "$@"
  echo "::: $* took $((SECONDS - start)) s"
}
step npm run size --silent
step npm run api --silent
step bash scripts/ci-runtimes.sh "$@"
