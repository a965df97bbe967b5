#!/usr/bin/env bash
# Validates crates/server/src/openapi.json against the OpenAPI 3.1 meta-schema
# with openapi-spec-validator (PyPI), in a throwaway virtualenv. Not part of
# `cargo test` (it needs Python and the network for pip); tests/api/openapi.rs
# checks the document against the router.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
doc="$here/../src/openapi.json"
venv="$(mktemp -d)"
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet openapi-spec-validator
"$venv/bin/openapi-spec-validator" "$doc"
