#!/usr/bin/env bash
# Build every cargo-fuzz target once and run each for ${FUZZ_SECONDS:-15}s on a
# temporary copy of its committed seed corpus. Fails naming the target on a crash.
set -euo pipefail
cd "$(dirname "$0")"
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
export RUSTC_BOOTSTRAP=1
SAN="${FUZZ_SANITIZER:-none}"
cargo fuzz build -s "$SAN" -O
secs="${FUZZ_SECONDS:-15}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for t in $(cargo fuzz list); do
  mkdir -p "$tmp/$t"
  if [ -d "corpus/$t" ]; then cp -r "corpus/$t/." "$tmp/$t/"; fi
  echo "-- fuzz target $t (${secs}s)"
  if ! cargo fuzz run -s "$SAN" -O "$t" "$tmp/$t" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 \
      -artifact_prefix="$tmp/$t-" >"$tmp/$t.log" 2>&1; then
    tail -40 "$tmp/$t.log"
    echo "FUZZ CRASH in target $t" >&2
    exit 1
  fi
  grep -E '^#[0-9]+' "$tmp/$t.log" | tail -1 || true
done
