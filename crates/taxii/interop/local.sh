#!/usr/bin/env bash
# Starts a throw-away detente TAXII server from BIN (the `detente` binary or
# the `taxii_server` example: both have `user add`, `collection add` and
# `serve`), creates the users and collection the interop suite needs, and
# runs run.sh against it.
#
# usage: local.sh BIN VENV_DIR [pytest args...]
set -euo pipefail

if [ $# -lt 2 ]; then
  sed -n '2,8p' "$0" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$1"
venv="$2"
shift 2

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

# The node binary needs `init` first; the example server has no such command.
if "$bin" init --help >/dev/null 2>&1; then
  "$bin" init --dir "$dir" --origin interop.example >/dev/null
fi
for user in writer reader outsider; do
  printf '%s-password\n' "$user" | "$bin" user add --dir "$dir" "$user" --password-stdin --role officer >/dev/null
done
collection="$("$bin" collection add --dir "$dir" --title interop --read writer,reader --write writer)"
"$bin" collection add --dir "$dir" --title outsider-only --read outsider --write outsider >/dev/null

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin" serve --dir "$dir" --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
server="$!"
for _ in $(seq 1 100); do
  if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

"$here/run.sh" "$venv" "http://127.0.0.1:$port" "$collection" \
  writer:writer-password reader:reader-password outsider:outsider-password "$@"
