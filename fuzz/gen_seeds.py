#!/usr/bin/env python3
"""Writes the seed corpora of the x509_svid, jwt and bundle_json fuzz targets from the
checked-in test data (spiffe-core/tests/data/{x509,jwt,bundle}/). Deterministic: rerunning it
on unchanged test data changes no seed. The id_parse seeds come from a test instead (see
docs/FUZZING.md).

    python3 fuzz/gen_seeds.py
"""
import base64
import json
import re
import shutil
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
DATA = FUZZ.parent / "spiffe-core" / "tests" / "data"
PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----\r?\n(.*?)-----END \1-----", re.S)


def pem_ders(pem: bytes, label: bytes) -> list[bytes]:
    """The DER of every PEM block with this label."""
    return [base64.b64decode(body) for kind, body in PEM_BLOCK.findall(pem) if kind == label]


def fresh(target: str) -> Path:
    """The seed directory of `target`, emptied of generated seeds (`regress-*` seeds, the
    crashes found so far, are kept)."""
    out = FUZZ / "seeds" / target
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if not old.name.startswith("regress-"):
            old.unlink()
    return out


def x509_svid() -> int:
    """2-byte big-endian split point, then chain DER + PKCS#8 key DER (the target's layout);
    the PEM form of a few chains too, for the PEM branch of parse_certificates."""
    out = fresh("x509_svid")
    vectors = json.loads((DATA / "x509" / "vectors.json").read_text())["vectors"]
    count = 0
    for vector in vectors:
        chain_pem = (DATA / "x509" / vector["chain"]).read_bytes()
        key_pem = (DATA / "x509" / vector["key"]).read_bytes()
        chain = b"".join(pem_ders(chain_pem, b"CERTIFICATE"))
        keys = pem_ders(key_pem, b"PRIVATE KEY")
        key = keys[0] if keys else b""
        if len(chain) > 0xFFFF:
            continue
        (out / f"der-{vector['id']}").write_bytes(len(chain).to_bytes(2, "big") + chain + key)
        count += 1
    for name in ["36-chain.pem", "36i-chain.pem", "root-td.pem", "alg-rsa-chain.pem"]:
        pem = (DATA / "x509" / name).read_bytes()
        (out / f"pem-{name.removesuffix('.pem')}").write_bytes(b"\0\0" + pem)
        count += 1
    return count


def jwt() -> int:
    """Every token of the JWT test vectors, as it is."""
    out = fresh("jwt")
    cases = json.loads((DATA / "jwt" / "vectors.json").read_text())["cases"]
    for case in cases:
        (out / f"token-{case['id']}").write_text(case["token"])
    return len(cases)


def bundle_json() -> int:
    """Every bundle document, JWK Set and CA file of the bundle and JWT test data."""
    out = fresh("bundle_json")
    files = sorted((DATA / "bundle").glob("*.json")) + sorted((DATA / "bundle").glob("*.pem"))
    files += sorted((DATA / "jwt").glob("*.jwks.json"))
    count = 0
    for path in files:
        if path.name == "expectations.json":
            continue
        shutil.copyfile(path, out / path.name)
        count += 1
    return count


if __name__ == "__main__":
    for name, gen in [("x509_svid", x509_svid), ("jwt", jwt), ("bundle_json", bundle_json)]:
        print(f"{name}: {gen()} seeds")
