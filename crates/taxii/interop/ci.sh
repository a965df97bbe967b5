#!/usr/bin/env bash
# The TAXII interoperability suite against the real `detente` binary, for .ci/run:
# builds the binary, makes a Python venv with taxii2-client and stix2-validator,
# starts a throw-away node and drives it with the OASIS client.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$root"
cargo build --bin detente
venv="${INTEROP_VENV:-$root/target/interop-venv}"
bash crates/taxii/interop/local.sh "$root/target/debug/detente" "$venv"
