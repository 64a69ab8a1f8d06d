#!/usr/bin/env bash
# The main job, for now: the `spiffe` tool on the checked-in examples. Builds the release
# binary, then checks SPIFFE IDs, verifies an X.509-SVID against its trust bundle, validates a
# JWT-SVID, and inspects a SPIFFE bundle. Every answer printed should say VALID except the one
# deliberately broken ID.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p spiffe-cli
spiffe=target/release/spiffe
D=spiffe-core/tests/data

run() {
    printf '\n$ spiffe %s\n' "$*"
    "$spiffe" "$@" || true
}

run id check spiffe://example.org/ns/prod/sa/web spiffe://Example.org/web
run x509 verify --bundle td=$D/x509/root-td.pem $D/x509/36-chain.pem
token=$(python3 -c 'import json,sys; print(next(c["token"] for c in json.load(open(sys.argv[1]))["cases"] if c["id"] == "70"))' $D/jwt/vectors.json)
run jwt validate --bundle td=$D/jwt/td.jwks.json --audience svc "$token"
run bundle inspect --trust-domain example.com $D/bundle/full.json

# The demo fails only if a valid example stops verifying.
"$spiffe" x509 verify --bundle td=$D/x509/root-td.pem $D/x509/36-chain.pem >/dev/null
"$spiffe" jwt validate --bundle td=$D/jwt/td.jwks.json --audience svc "$token" >/dev/null
