#!/usr/bin/env python3
"""Summarise criterion results as the table in docs/performance.md and check the targets.

Reads target/criterion/<group>/<function>/new/estimates.json (mean time per iteration) and
prints, per group, each function's time and rate, then each target as a ratio with PASS/FAIL.
Exit status 1 if a target is missed (only with --check).
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"

# (description, group, numerator fn, denominator fn, minimum ratio of rates)
TARGETS = [
    ("X.509-SVID parse vs the spiffe crate", "x509_svid_parse", "ours", "spiffe_crate", 2.0),
    ("X.509-SVID verify vs raw P-256 verify", "x509_svid_verify", "ours", "raw_verify", 0.9),
    ("X.509-SVID parse+verify vs raw P-256 verify", "x509_svid_verify", "parse_and_verify", "raw_verify", 0.9),
    ("JWT-SVID validate ES256 vs raw verify", "jwt_validate_es256", "ours", "raw_verify", 0.9),
    ("JWT-SVID validate RS256 vs raw verify", "jwt_validate_rs256", "ours", "raw_verify", 0.9),
    ("X.509-SVID mint from a public key vs raw P-256 sign", "mint", "x509_from_public_key", "raw_sign_p256", 0.7),
    ("JWT-SVID mint ES256 vs raw P-256 sign", "mint", "jwt_es256", "raw_sign_p256", 0.8),
    ("mTLS handshake, SPIFFE verifiers vs plain rustls WebPKI", "mtls_handshake", "ours", "plain_rustls", 0.95),
    ("mTLS handshake, SPIFFE verifiers vs spiffe-rustls", "mtls_handshake", "ours", "spiffe_rustls", 1.0),
    ("mTLS handshake over loopback TCP vs plain rustls WebPKI", "mtls_handshake_tcp", "ours", "plain_rustls", 0.95),
    ("mTLS handshake over loopback TCP vs spiffe-rustls", "mtls_handshake_tcp", "ours", "spiffe_rustls", 1.0),
    # A CSR costs a verify and a sign: the reference time is their sum.
    ("X.509-SVID mint from a CSR vs raw sign + verify", "mint", "x509_from_csr", ("raw_sign_p256", "raw_verify_p256"), 0.8),
]


def mean_ns(group, fn):
    p = ROOT / group / fn / "new" / "estimates.json"
    if not p.exists():
        return None
    return json.loads(p.read_text())["mean"]["point_estimate"]


def fmt_time(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def main():
    check = "--check" in sys.argv
    groups = sorted(p.name for p in ROOT.iterdir() if p.is_dir() and p.name != "report") if ROOT.exists() else []
    print("| benchmark | implementation | time / op | ops/s |")
    print("|---|---|---:|---:|")
    for g in groups:
        for fn in sorted(p.name for p in (ROOT / g).iterdir() if (p / "new").exists()):
            ns = mean_ns(g, fn)
            print(f"| {g} | {fn} | {fmt_time(ns)} | {1e9 / ns:,.0f} |")
    print()
    print("| target | ratio | required | verdict |")
    print("|---|---:|---:|---|")
    failed = False
    for desc, g, num, den, minimum in TARGETS:
        a = mean_ns(g, num)
        parts = [mean_ns(g, d) for d in (den if isinstance(den, tuple) else (den,))]
        b = None if None in parts else sum(parts)
        if a is None or b is None:
            print(f"| {desc} | n/a | {minimum} | not measured |")
            continue
        ratio = b / a  # ratio of rates = inverse ratio of times
        ok = ratio >= minimum
        failed |= not ok
        print(f"| {desc} | {ratio:.2f} | ≥ {minimum} | {'PASS' if ok else 'FAIL'} |")
    return 1 if (check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
