#!/usr/bin/env bash
# Generates the quickstart's dummy upstream CA (a self-signed EC P-256 CA, 10 years), as
# SPIRE's conf/server ships one: for trying the server out, never for production.
set -euo pipefail
cd "$(dirname "$0")"
openssl ecparam -name prime256v1 -genkey -noout -out dummy_upstream_ca.key.sec1
openssl pkcs8 -topk8 -nocrypt -in dummy_upstream_ca.key.sec1 -out dummy_upstream_ca.key
rm dummy_upstream_ca.key.sec1
openssl req -x509 -new -key dummy_upstream_ca.key -sha256 -days 3650 \
    -subj "/C=US/O=SPIFFE/CN=dummy upstream CA" \
    -addext "basicConstraints=critical,CA:true" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out dummy_upstream_ca.crt
