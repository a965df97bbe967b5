#!/usr/bin/env bash
# Runs the TAXII benchmark workload (bench/load.py, the same as
# `detente bench taxii`) against medallion, the OASIS reference TAXII 2.1
# server, with its memory backend on loopback; with --detente BIN, also against
# a detente server started from BIN (the `detente` binary or the
# `taxii_server` example), with the same Python client, for a side-by-side
# comparison.
#
# usage: medallion.sh [--venv DIR] [--objects N] [--samples N]
#                     [--concurrency N] [--detente BIN] [--no-medallion] [--json]
#
# medallion's memory backend scans every stored object on each request, so its
# reads take seconds at 1,000 objects and minutes at 10,000: compare at
# --objects 1000 --samples 20, and measure detente alone at larger sizes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${TMPDIR:-/tmp}/detente-medallion-venv"
objects=10000
samples=500
concurrency=4
detente=""
json=""
medallion=1

while [ $# -gt 0 ]; do
  case "$1" in
    --venv) venv="$2"; shift 2 ;;
    --objects) objects="$2"; shift 2 ;;
    --samples) samples="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --detente) detente="$2"; shift 2 ;;
    --json) json="--json"; shift ;;
    --no-medallion) medallion=""; shift ;;
    *) echo "medallion.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q "medallion==3.0.0" requests >/dev/null
py="$venv/bin/python"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls until the discovery endpoint answers (any HTTP status) or 30 s pass.
wait_for() {
  local url="$1"
  for _ in $(seq 1 300); do
    if "$py" -c 'import sys, requests; requests.get(sys.argv[1], timeout=1)' "$url" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "medallion.sh: server at $url did not start" >&2
  exit 1
}

run_medallion() {
  local port collection
  port="$(free_port)"
  collection="$("$py" -c 'import uuid; print(uuid.uuid4())')"
  cat >"$work/medallion.json" <<EOF
{
  "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
              "filename": "$work/medallion-data.json"},
  "users": {"bench": "bench-password"},
  "taxii": {"max_page_size": 100}
}
EOF
  cat >"$work/medallion-data.json" <<EOF
{
  "/discovery": {"title": "bench", "default": "http://127.0.0.1:$port/api1/",
                 "api_roots": ["http://127.0.0.1:$port/api1/"]},
  "api1": {
    "information": {"title": "bench", "versions": ["application/taxii+json;version=2.1"],
                    "max_content_length": 104857600},
    "status": [],
    "collections": [{"id": "$collection", "title": "bench", "can_read": true, "can_write": true,
                     "media_types": ["application/stix+json;version=2.1"],
                     "objects": [], "manifest": []}]
  }
}
EOF
  "$venv/bin/medallion" --host 127.0.0.1 --port "$port" --log-level ERROR "$work/medallion.json" \
    >"$work/medallion.log" 2>&1 &
  pids+=("$!")
  wait_for "http://127.0.0.1:$port/taxii2/"
  "$py" "$here/load.py" --name medallion --api-root "http://127.0.0.1:$port/api1/" \
    --collection "$collection" --user bench --password bench-password \
    --objects "$objects" --samples "$samples" --concurrency "$concurrency" $json
}

run_detente() {
  local port dir collection
  port="$(free_port)"
  dir="$work/detente"
  mkdir -p "$dir"
  printf 'bench-password\n' | "$detente" user add --dir "$dir" bench --password-stdin --role admin >/dev/null
  collection="$("$detente" collection add --dir "$dir" --title bench --read '*' --write '*')"
  "$detente" serve --dir "$dir" --listen "127.0.0.1:$port" >"$work/detente.log" 2>&1 &
  pids+=("$!")
  wait_for "http://127.0.0.1:$port/taxii2/"
  "$py" "$here/load.py" --name detente --api-root "http://127.0.0.1:$port/taxii2/api/" \
    --collection "$collection" --user bench --password bench-password \
    --objects "$objects" --samples "$samples" --concurrency "$concurrency" $json
}

if [ -n "$medallion" ]; then
  run_medallion
fi
if [ -n "$detente" ]; then
  run_detente
fi
