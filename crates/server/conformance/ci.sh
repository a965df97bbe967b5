#!/usr/bin/env bash
# API conformance for .ci/run: validates crates/server/src/openapi.json against
# the OpenAPI 3.1 meta-schema (openapi-spec-validator), then fuzzes a real
# node's API from that document with schemathesis: no 5xx, every status,
# content type, header and body as documented, and schema-violating input
# refused. The node has a peer and an outbound request, so the request
# operations reach the lifecycle, not just a 404.
#
# usage: ci.sh [BIN]   (default: builds target/debug/detente)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="${1:-}"
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --bin detente)
  bin="$root/target/debug/detente"
fi

venv="${CONFORMANCE_VENV:-$root/target/conformance-venv}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
"$venv/bin/openapi-spec-validator" "$root/crates/server/src/openapi.json"

dir="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

"$bin" init --dir "$dir/a" --origin cert-a.example --country DE >/dev/null
"$bin" init --dir "$dir/b" --origin cert-b.example --country FR >/dev/null
printf 'admin-password-1\n' | "$bin" user add --dir "$dir/a" admin --role admin --password-stdin >/dev/null
# B never runs: deliveries to it fail and are retried, as for any peer that is down.
"$bin" peer add --dir "$dir/a" cert-b.example --url http://127.0.0.1:9 \
  --key "$("$bin" key --dir "$dir/b")" --country FR >/dev/null

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
RUST_LOG=error "$bin" serve --dir "$dir/a" --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
server="$!"
for _ in $(seq 1 100); do
  if curl -sf "$base/healthz" >/dev/null 2>&1; then break; fi
  sleep 0.1
done

request_id="$(curl -sf -u admin:admin-password-1 -H 'content-type: application/json' \
  -d '{"type":"consultation","reference":"REF-1","issuing_authority":"National CERT","facts":"Which hosting provider operates the address block in the annex?","urgency":"normal","tlp":"green","recipient":"cert-b.example"}' \
  "$base/api/v1/requests" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"

REQUEST_ID="$request_id" "$venv/bin/schemathesis" --no-color --config-file "$here/schemathesis.toml" \
  run "$base/api/v1/openapi.json" --url "$base" --auth admin:admin-password-1 \
  --max-examples "${CONFORMANCE_EXAMPLES:-50}" --seed "${CONFORMANCE_SEED:-20261129}"
if grep -q panicked "$dir/server.log"; then
  echo "the node panicked during the run:" >&2
  grep -A5 panicked "$dir/server.log" >&2
  exit 1
fi
