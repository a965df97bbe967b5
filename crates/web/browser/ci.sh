#!/usr/bin/env bash
# Browser tests of the web interface. Installs what it needs (Debian's
# chromium, the two npm packages; never a browser download), builds the
# `detente` binary, and runs the tests with `node --test`.
# Screenshots of the main screens land in crates/web/browser/screenshots/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

if ! command -v chromium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cd "$here"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent
(cd "$root" && cargo build -q --bin detente)

export DETENTE_BIN="${DETENTE_BIN:-$root/target/debug/detente}"
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
node --test --test-concurrency=1 "$here"/tests/*.test.mjs
