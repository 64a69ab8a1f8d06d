#!/usr/bin/env python3
"""Summarise criterion results as the table in docs/performance.md and check the targets.

Reads target/criterion/<group>/<function>/new/estimates.json (mean time per iteration) and
prints, per group, each function's time and rate, then each target as a ratio with PASS/FAIL.
Then, if present, target/workload-server/results.json (written by
`cargo bench -p spiffe-workload --bench workload_server`): its figures and absolute targets.
Exit status 1 if a target is missed (only with --check).
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
WORKLOAD_SERVER = ROOT.parent / "workload-server" / "results.json"

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
    failed |= workload_server()
    return 1 if (check and failed) else 0


def workload_server():
    """Figures and targets of the Workload API server bench; True if a target is missed."""
    if not WORKLOAD_SERVER.exists():
        print()
        print("| Workload API server target | figure | required | verdict |")
        print("|---|---:|---:|---|")
        for desc, required in (("FetchX509SVID first response p99, 100 streams", "< 1 ms"),
                               ("rotation pushed to 10,000 streams (slowest round)", "< 1 s"),
                               ("server memory per idle stream (10,000 streams)", "< 16 KiB")):
            print(f"| {desc} | n/a | {required} | not measured |")
        return False
    r = json.loads(WORKLOAD_SERVER.read_text())
    print()
    print("| Workload API server | figure |")
    print("|---|---:|")
    for n, f in sorted(r["x509_first_response"].items(), key=lambda kv: int(kv[0])):
        print(f"| FetchX509SVID first response, {int(n):,} open streams: p50 / p99 | "
              f"{f['p50_us']:.0f} µs / {f['p99_us']:.0f} µs |")
    jwt = r["jwt_fetch"]
    print(f"| FetchJWTSVID, {jwt['concurrent_callers']} concurrent callers | {jwt['per_second']:,.0f} req/s |")
    print(f"| (reference) ES256 mint, one thread, no RPC | {r['jwt_mint_one_thread_per_second']:,.0f} /s |")
    rot = r["rotation"]
    print(f"| rotation to {rot['streams']:,} streams ({rot['connections']} connections): "
          f"median / slowest of {rot['rounds']} | {rot['median_ms']:.0f} ms / {rot['max_ms']:.0f} ms |")
    mem = r["memory"]
    print(f"| server RSS per stream at {mem['streams']:,}: idle / after the rotations | "
          f"{mem['per_idle_stream_bytes'] / 1024:.1f} KiB / "
          f"{mem['per_stream_after_rotations_bytes'] / 1024:.1f} KiB |")
    print()
    print("| Workload API server target | figure | required | verdict |")
    print("|---|---:|---:|---|")
    p99 = r["x509_first_response"].get("100", {}).get("p99_us")
    checks = [
        ("FetchX509SVID first response p99, 100 streams",
         p99, 1000.0, lambda v: f"{v:.0f} µs", "< 1 ms"),
        ("rotation pushed to 10,000 streams (slowest round)",
         rot["max_ms"] if rot["streams"] >= 10_000 else None, 1000.0,
         lambda v: f"{v:.0f} ms", "< 1 s"),
        ("server memory per idle stream (10,000 streams)",
         mem["per_idle_stream_bytes"] if mem["streams"] >= 10_000 else None, 16 * 1024.0,
         lambda v: f"{v / 1024:.1f} KiB", "< 16 KiB"),
    ]
    failed = False
    for desc, value, limit, show, required in checks:
        if value is None:
            print(f"| {desc} | n/a | {required} | not measured |")
            continue
        ok = value < limit
        failed |= not ok
        print(f"| {desc} | {show(value)} | {required} | {'PASS' if ok else 'FAIL'} |")
    return failed


if __name__ == "__main__":
    sys.exit(main())
