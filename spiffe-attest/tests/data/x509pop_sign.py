#!/usr/bin/env python3
"""Answers an x509pop challenge the way a Go agent (SPIRE) does, with pyca/cryptography:
an independent implementation for the cross-check in tests/x509pop.rs.

usage: x509pop_sign.py KEY.pem < challenge.json > response.json
       x509pop_sign.py --verify CERT.der CHALLENGE.json RESPONSE.json   (exit status 0: valid)

Go signs the digest SHA-256(server nonce || agent nonce) itself: ecdsa.Sign(key, digest)
(r and s as minimal big-endian bytes) or rsa.SignPSS(key, SHA256, digest, nil), whose nil
options mean the maximum salt length.
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def minimal(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def verify(cert_path: str, challenge_path: str, response_path: str) -> None:
    """Checks a response as a Go server does: ecdsa.Verify on the digest, rsa.VerifyPSS with
    nil options (salt length detected)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    public = x509.load_der_x509_certificate(open(cert_path, "rb").read()).public_key()
    challenge = json.load(open(challenge_path))
    response = json.load(open(response_path))
    kind = "ecdsa_signature" if isinstance(public, ec.EllipticCurvePublicKey) else "rsa_signature"
    server_nonce = base64.b64decode(challenge[kind]["nonce"])
    agent_nonce = base64.b64decode(response[kind]["nonce"])
    assert len(server_nonce) == 32 and len(agent_nonce) == 32
    digest = hashlib.sha256(server_nonce + agent_nonce).digest()
    try:
        if kind == "ecdsa_signature":
            r = int.from_bytes(base64.b64decode(response[kind]["r"]), "big")
            s = int.from_bytes(base64.b64decode(response[kind]["s"]), "big")
            der = utils.encode_dss_signature(r, s)
            public.verify(der, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        else:
            public.verify(
                base64.b64decode(response[kind]["signature"]),
                digest,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                utils.Prehashed(hashes.SHA256()),
            )
    except InvalidSignature:
        raise SystemExit("invalid signature")


def main() -> None:
    if sys.argv[1] == "--verify":
        verify(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
    challenge = json.load(sys.stdin)
    agent_nonce = os.urandom(32)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        server_nonce = base64.b64decode(challenge["ecdsa_signature"]["nonce"])
        digest = hashlib.sha256(server_nonce + agent_nonce).digest()
        der = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        r, s = utils.decode_dss_signature(der)
        response = {"ecdsa_signature": {"nonce": b64(agent_nonce), "r": b64(minimal(r)), "s": b64(minimal(s))}}
    elif isinstance(key, rsa.RSAPrivateKey):
        server_nonce = base64.b64decode(challenge["rsa_signature"]["nonce"])
        digest = hashlib.sha256(server_nonce + agent_nonce).digest()
        sig = key.sign(
            digest,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
            utils.Prehashed(hashes.SHA256()),
        )
        response = {"rsa_signature": {"nonce": b64(agent_nonce), "signature": b64(sig)}}
    else:
        raise SystemExit("unsupported key")
    json.dump(response, sys.stdout)


main()
