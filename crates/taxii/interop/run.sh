#!/usr/bin/env bash
# Runs the taxii2-client interop suite against a running detente TAXII server.
#
# usage: run.sh VENV_DIR BASE_URL COLLECTION_ID WRITER:PASS READER:PASS OUTSIDER:PASS [pytest args...]
#
# BASE_URL is the server root (discovery at BASE_URL/taxii2/). The writer must
# be able to read and write COLLECTION_ID, the reader only read it, and the
# outsider must have no access to it. VENV_DIR is created if needed.
set -euo pipefail

if [ $# -lt 6 ]; then
  sed -n '2,9p' "$0" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$1"
export TAXII_URL="$2" TAXII_COLLECTION="$3" TAXII_WRITER="$4" TAXII_READER="$5" TAXII_OUTSIDER="$6"
shift 6

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q "taxii2-client>=2.3" "stix2-validator>=3.1" pytest requests >/dev/null
cd "$here"
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider test_taxii2_client.py "$@"
