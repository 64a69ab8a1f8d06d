#!/usr/bin/env bash
# The main job: a trust domain on this machine, on the embedded defaults (SQLite, keys on disk,
# Unix sockets in a temporary directory, nothing to install). It starts `spiffe-server` and
# `spiffe-agent` with SPIRE's config layout, attests the agent with a join token, registers two
# workloads told apart by their binaries (`unix:path`), runs them (the mTLS + JWT-SVID echo
# example): each takes its identity from the agent's Workload API and checks the other's SPIFFE
# ID. Their SVIDs live 20 s, so the agent rotates them while you watch, and the same echo
# server keeps authenticating the client with its new SVIDs. Then it prints what to try next.
#
# Environment: DEMO_DIR=dir keeps everything there (default: a temporary directory, removed at
# the end); DEMO_KEEP=1 leaves the daemons running and prints how to stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "building spiffe-server, spiffe-agent, spiffe and the examples (cargo build)"
cargo build -q -p spiffe-server -p spiffe-agent -p spiffe-cli -p spiffe-examples
bin=$repo/target/debug
export PATH=$bin:$PATH

work=${DEMO_DIR:-$(mktemp -d)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
pids=()
cleanup() {
    if [[ ${DEMO_KEEP:-0} == 1 ]]; then
        printf '\nLeft running (pids %s); stop with: kill %s\n' "${pids[*]}" "${pids[*]}"
        return
    fi
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ -z ${DEMO_DIR:-} ]] && rm -rf "$work"
    return 0
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # wait_for SECONDS CMD...: retries CMD until it succeeds
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS > deadline)); then echo "timed out waiting for: $*" >&2; return 1; fi
        sleep 0.2
    done
}

server_port=$(free_port)
server_sock=$work/server/private/api.sock
agent_sock=$work/agent/public/api.sock
mkdir -p "$work/server" "$work/agent" "$work/bin"

step "a server: SQLite datastore, disk key manager, join_token attestation ($work/server/server.conf)"
cat >"$work/server/server.conf" <<EOF
server {
    bind_address = "127.0.0.1"
    bind_port = "$server_port"
    socket_path = "$server_sock"
    trust_domain = "example.org"
    data_dir = "$work/server/data"
    log_level = "INFO"
    default_x509_svid_ttl = "1h"
}

plugins {
    DataStore "sql" {
        plugin_data {
            database_type = "sqlite3"
            connection_string = "$work/server/data/datastore.sqlite3"
        }
    }
    KeyManager "disk" {
        plugin_data {
            keys_path = "$work/server/data/keys.json"
        }
    }
    NodeAttestor "join_token" {
        plugin_data {}
    }
}
EOF
spiffe-server run -config "$work/server/server.conf" >"$work/server/server.log" 2>&1 &
pids+=($!)
wait_for 30 spiffe-server healthcheck -socketPath "$server_sock"
show spiffe-server healthcheck -socketPath "$server_sock"

step "the agent's bootstrap bundle and a join token"
spiffe-server bundle show -socketPath "$server_sock" >"$work/agent/bootstrap.crt"
echo "$ spiffe-server bundle show > $work/agent/bootstrap.crt"
token_line=$(spiffe-server token generate -socketPath "$server_sock" -spiffeID spiffe://example.org/host)
echo "$ spiffe-server token generate -spiffeID spiffe://example.org/host"
echo "$token_line"
token=${token_line#Token: }

step "an agent attested with the token; its Workload API on $agent_sock"
cat >"$work/agent/agent.conf" <<EOF
agent {
    data_dir = "$work/agent/data"
    log_level = "INFO"
    server_address = "127.0.0.1"
    server_port = "$server_port"
    socket_path = "$agent_sock"
    trust_bundle_path = "$work/agent/bootstrap.crt"
    trust_domain = "example.org"
}

plugins {
    NodeAttestor "join_token" {
        plugin_data {}
    }
    KeyManager "disk" {
        plugin_data {
            directory = "$work/agent/data"
        }
    }
    WorkloadAttestor "unix" {
        plugin_data {
            discover_workload_path = true
        }
    }
}
EOF
spiffe-agent run -config "$work/agent/agent.conf" -joinToken "$token" >"$work/agent/agent.log" 2>&1 &
pids+=($!)
wait_for 30 test -S "$agent_sock"
show spiffe-server agent list -socketPath "$server_sock"

step "two workloads, told apart by their binaries (unix:path), with 20 s SVIDs"
cp "$bin/mtls_jwt_echo" "$work/bin/echo-server"
cp "$bin/mtls_jwt_echo" "$work/bin/echo-client"
for who in server client; do
    show spiffe-server entry create -socketPath "$server_sock" \
        -parentID spiffe://example.org/host -spiffeID "spiffe://example.org/echo-$who" \
        -selector "unix:path:$work/bin/echo-$who" -x509SVIDTTL 20
done

step "the echo server and client, each with the identity the agent gives it"
export SPIFFE_ENDPOINT_SOCKET=unix://$agent_sock
echo_port=$(free_port)
"$work/bin/echo-server" serve --listen "127.0.0.1:$echo_port" \
    --client spiffe://example.org/echo-client --audience echo >"$work/echo-server.log" 2>&1 &
pids+=($!)
wait_for 60 grep -q "listening on" "$work/echo-server.log"
call() {
    "$work/bin/echo-client" call --connect "127.0.0.1:$echo_port" \
        --server spiffe://example.org/echo-server --audience echo "$@"
}
wait_for 60 call "ready?"
show call "hello from the client"
echo "(the server's log: $(tail -n 1 "$work/echo-server.log"))"

step "rotation: the agent renews the 20 s SVIDs at half-life; the same server keeps going"
server_cert() { # the echo server's certificate, as any TLS client sees it first
    openssl s_client -connect "127.0.0.1:$echo_port" </dev/null 2>/dev/null \
        | openssl x509 -noout -serial -enddate 2>/dev/null | tr '\n' ' ' || true
}
if command -v openssl >/dev/null 2>&1; then
    before=$(server_cert)
    echo "the echo server presents: $before"
    printf 'waiting for the agent to rotate it'
    deadline=$((SECONDS + 40))
    while [[ $(server_cert) == "$before" ]] && ((SECONDS < deadline)); do sleep 1; printf '.'; done
    echo
    echo "the echo server presents: $(server_cert)"
else
    printf 'waiting 15 s for the rotation (install openssl to see the certificates)'
    for _ in $(seq 15); do sleep 1; printf '.'; done
    echo
fi
show call "hello again, after the rotation"
grep -c "authenticated by mTLS and JWT-SVID" "$work/echo-server.log" | xargs printf 'the echo server authenticated the client %s times, without a restart\n'

step "what to try next"
cat <<EOF
Everything lives in $work (configs, logs, SQLite, keys). With DEMO_KEEP=1 the daemons stay up and:
  spiffe-server entry show -socketPath $server_sock
  spiffe-agent api fetch x509 -socketPath $agent_sock -write /tmp/
  SPIFFE_ENDPOINT_SOCKET=unix://$agent_sock spiffe workload watch
  spiffe conformance workload-api --endpoint unix://$agent_sock
docs/quickstart.md walks the same path by hand; docs/server.md and docs/agent.md are the references.
EOF
