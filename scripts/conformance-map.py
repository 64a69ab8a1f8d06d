#!/usr/bin/env python3
"""Map every requirement id of spec §1.1–1.6 to where the code enforces it and where a test names it.

Reads ../shared/spec/SPIFFE-CONFORMANCE.md (beside the checkout) for the ids (ID, X509, JWT,
BUNDLE, WAPI, WEP), greps the library sources (enforcement: comments naming the id) and the
tests (each crate's tests/**, unit tests in src, and bins/*/tests) for the id or a test function
named after it (`x509_24_…`). Ids that no test can exercise (deployment advice, options we do not
take) are listed in NOT_TESTABLE with the reason, which the table shows.
Prints a markdown table; with --check, exits 1 if an id has no test naming it; with
--write FILE, replaces the table between the markers `<!-- conformance-table:begin -->` and
`<!-- conformance-table:end -->` in FILE.
"""
import pathlib
import re
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
SPEC = REPO.parent / "shared" / "spec" / "SPIFFE-CONFORMANCE.md"
ROW = re.compile(r"^\| ((?:ID|X509|JWT|BUNDLE|WAPI|WEP)-\d+) \| [^|]* \| (.*) \|\s*$")
SOURCES = ["spiffe-core/src", "spiffe-workload/src", "spiffe-tls/src"]
TESTS = ["spiffe-core/tests", "spiffe-workload/tests", "spiffe-tls/tests"]
NOT_TESTABLE = {
    "WAPI-8": "optional server splay; we push a change to every stream at once",
    "WEP-1": "deployment advice (a local endpoint per host)",
    "WEP-17": "we add no extra gRPC services to the endpoint",
}


def requirement_ids():
    ids = []
    for line in SPEC.read_text().splitlines():
        m = ROW.match(line)
        if m:
            ids.append((m.group(1), m.group(2)))
    return ids


def files(root, patterns):
    for pat in patterns:
        yield from sorted((REPO / root).glob(pat))


def split_src(path):
    """Returns (code, tests) text of a source file: everything after `#[cfg(test)]` counts as tests."""
    text = path.read_text()
    i = text.find("#[cfg(test)]")
    return (text, "") if i < 0 else (text[:i], text[i:])


def main():
    check = "--check" in sys.argv
    code, tests = {}, {}
    for root in SOURCES:
        for p in files(root, ["**/*.rs"]):
            c, t = split_src(p)
            code[p] = c
            if t:
                tests[p] = t
    for root in TESTS:
        for p in files(root, ["**/*.rs", "**/*.json"]):
            tests[p] = p.read_text()
    for p in files("bins", ["*/tests/**/*.rs"]):
        tests[p] = p.read_text()
    rows, missing = [], []
    for rid, text in requirement_ids():
        prefix, num = rid.split("-")
        token = re.compile(rf"\b{re.escape(rid)}\b(?!\d)")
        fname = re.compile(rf"\bfn {prefix.lower()}_{num}_\w*")
        where = sorted({str(p.relative_to(REPO)) for p, t in code.items() if token.search(t)})
        tested = sorted({str(p.relative_to(REPO)) for p, t in tests.items() if token.search(t) or fname.search(t)})
        tested_cell = ", ".join(f"`{w}`" for w in tested)
        if not tested:
            if rid in NOT_TESTABLE:
                tested_cell = f"n/a: {NOT_TESTABLE[rid]}"
            else:
                missing.append(rid)
                tested_cell = "**none**"
        short = text if len(text) < 90 else text[:87] + "…"
        rows.append(f"| {rid} | {short} | {', '.join(f'`{w}`' for w in where) or '—'} | {tested_cell} |")
    table = "\n".join(["| id | requirement (paraphrased) | enforced in | tested in |", "|---|---|---|---|", *rows])
    if "--write" in sys.argv:
        target = pathlib.Path(sys.argv[sys.argv.index("--write") + 1])
        text = target.read_text()
        begin, end = "<!-- conformance-table:begin -->", "<!-- conformance-table:end -->"
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        target.write_text(f"{head}{begin}\n{table}\n{end}{tail}")
    else:
        print(table)
    if missing:
        print(f"\n{len(missing)} requirement ids without a test naming them: {' '.join(missing)}", file=sys.stderr)
    return 1 if (check and missing) else 0


if __name__ == "__main__":
    sys.exit(main())
