#!/usr/bin/env bash
# The main job: the `spiffe` tool on the checked-in examples, then a local CA serving a
# Workload API. Builds the release binary, checks SPIFFE IDs, verifies an X.509-SVID against its
# trust bundle, validates a JWT-SVID, inspects a SPIFFE bundle; then creates a CA in a temp dir,
# mints an X.509-SVID, serves it on a Unix socket with `spiffe workload serve`
# and fetches it back as a workload would. Every answer printed should say VALID except the
# one deliberately broken ID.
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

# A local CA and a static Workload API (a test fake), on the embedded defaults: files only.
work=$(mktemp -d)
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
run ca init --trust-domain example.org --dir "$work/ca"
run x509 mint --ca "$work/ca" --id spiffe://example.org/web --ttl 1h --out "$work/web"
printf '\n$ spiffe workload serve --socket unix://%s/agent.sock ... &\n' "$work"
"$spiffe" workload serve --socket "unix://$work/agent.sock" --svid "$work/web/svid.pem" \
    --key "$work/web/svid.key" --bundle "$work/web/bundle.pem" &
server_pid=$!
for _ in $(seq 50); do [[ -S $work/agent.sock ]] && break; sleep 0.1; done
export SPIFFE_ENDPOINT_SOCKET="unix://$work/agent.sock"
run workload fetch x509 --write "$work/fetched"
run x509 verify --bundle "example.org=$work/fetched/bundle.pem" "$work/fetched/svid.0.pem"

# The demo fails only if a valid example stops verifying.
"$spiffe" x509 verify --bundle td=$D/x509/root-td.pem $D/x509/36-chain.pem >/dev/null
"$spiffe" jwt validate --bundle td=$D/jwt/td.jwks.json --audience svc "$token" >/dev/null
"$spiffe" x509 verify --bundle "example.org=$work/fetched/bundle.pem" "$work/fetched/svid.0.pem" >/dev/null
