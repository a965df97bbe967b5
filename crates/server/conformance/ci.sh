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
# The fuzzer sends thousands of bad credentials from one address, which the
# login throttles (per address, per user and address) rightly answer with 429; lift it for this node
# so each operation's own answer to bad credentials (401/403) is what is checked.
sed -i -e 's/^login_failures_per_address = .*/login_failures_per_address = 1000000/' \
  -e 's/^login_failures_per_user = .*/login_failures_per_user = 1000000/' "$dir/a/config.toml"
grep -q '^login_failures_per_user = 1000000$' "$dir/a/config.toml"
printf 'admin-password-1\n' | "$bin" user add --dir "$dir/a" admin --role admin --password-stdin >/dev/null
# B never runs: deliveries to it fail and are retried, as for any peer that is down.
"$bin" peer add --dir "$dir/a" cert-b.example --url http://127.0.0.1:9 \
  --key "$("$bin" key --dir "$dir/b")" --country FR >/dev/null

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
RUST_LOG=error "$bin" serve --dir "$dir/a" --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
server="$!"
# Python's standard library rather than curl: python3 is on every CI machine.
request_id="$(python3 - "$base" <<'PY'
import base64, json, sys, time, urllib.request
base = sys.argv[1]
for _ in range(100):
    try:
        urllib.request.urlopen(base + "/healthz", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
body = {"type": "consultation", "reference": "REF-1", "issuing_authority": "National CERT",
        "facts": "Which hosting provider operates the address block in the annex?",
        "urgency": "normal", "tlp": "green", "recipient": "cert-b.example"}
auth = base64.b64encode(b"admin:admin-password-1").decode()
req = urllib.request.Request(base + "/api/v1/requests", data=json.dumps(body).encode(),
                             headers={"content-type": "application/json", "authorization": "Basic " + auth})
print(json.load(urllib.request.urlopen(req, timeout=10))["id"])
PY
)"

REQUEST_ID="$request_id" "$venv/bin/schemathesis" --no-color --config-file "$here/schemathesis.toml" \
  run "$base/api/v1/openapi.json" --url "$base" --auth admin:admin-password-1 \
  --max-examples "${CONFORMANCE_EXAMPLES:-50}" --seed "${CONFORMANCE_SEED:-20261129}"
if grep -q panicked "$dir/server.log"; then
  echo "the node panicked during the run:" >&2
  grep -A5 panicked "$dir/server.log" >&2
  exit 1
fi
