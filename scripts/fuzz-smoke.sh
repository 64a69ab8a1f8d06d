#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/fuzz_targets/ for a short time (a smoke test: the
# targets build, start from their seed corpus, and find no crash quickly). Targets are found by
# listing fuzz/fuzz_targets/*.rs, so a new target is picked up without touching this script.
#
# Works on a stable toolchain: `--sanitizer none` needs no nightly flags (libFuzzer still
# catches panics, aborts, timeouts and OOMs; our crates forbid unsafe code). See
# docs/FUZZING.md for long runs and for AddressSanitizer via RUSTC_BOOTSTRAP=1.
#
# Environment:
#   FUZZ_SECONDS     seconds per target (default 15)
#   FUZZ_SANITIZER   cargo-fuzz --sanitizer value (default none)
#   FUZZ_TARGETS     space-separated subset of targets to run (default: all)
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${FUZZ_SECONDS:-15}
sanitizer=${FUZZ_SANITIZER:-none}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install --locked cargo-fuzz" >&2
    exit 1
fi

targets=()
if [[ -n "${FUZZ_TARGETS:-}" ]]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    for file in fuzz/fuzz_targets/*.rs; do
        [[ -e "$file" ]] || continue
        targets+=("$(basename "$file" .rs)")
    done
fi
if [[ ${#targets[@]} -eq 0 ]]; then
    echo "no fuzz targets in fuzz/fuzz_targets/" >&2
    exit 1
fi

# Every file in fuzz_targets/ must be a [[bin]] of fuzz/Cargo.toml, or it would never be built.
for target in "${targets[@]}"; do
    if ! grep -q "^name = \"$target\"\$" fuzz/Cargo.toml; then
        echo "fuzz/fuzz_targets/$target.rs has no [[bin]] entry in fuzz/Cargo.toml" >&2
        exit 1
    fi
done

echo "fuzz: building ${#targets[@]} target(s) (sanitizer: $sanitizer)"
(cd fuzz && cargo fuzz build --sanitizer "$sanitizer")

for target in "${targets[@]}"; do
    corpus="$root/fuzz/corpus/$target"
    mkdir -p "$corpus" "$root/fuzz/artifacts"
    if [[ -d "fuzz/seeds/$target" ]]; then
        cp -f "fuzz/seeds/$target"/* "$corpus"/ 2>/dev/null || true
    fi
    echo "fuzz: $target for ${seconds}s ($(find "$corpus" -type f | wc -l) corpus files)"
    if ! (cd fuzz && cargo fuzz run --sanitizer "$sanitizer" "$target" "$corpus" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$root/fuzz/artifacts/$target-smoke.log" 2>&1); then
        tail -n 40 "$root/fuzz/artifacts/$target-smoke.log" >&2
        echo "fuzz: $target FAILED; reproducer in fuzz/artifacts/$target/ (see docs/FUZZING.md)" >&2
        exit 1
    fi
    grep -E '^stat::number_of_executed_units' "$root/fuzz/artifacts/$target-smoke.log" | sed "s/^/fuzz: $target /" || true
    rm -f "$root/fuzz/artifacts/$target-smoke.log"
done
echo "fuzz: all ${#targets[@]} target(s) ran without a crash"
