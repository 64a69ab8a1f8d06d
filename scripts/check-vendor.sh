#!/usr/bin/env bash
# Checks that each crate under vendor/ is exactly its crates.io release plus the patch kept
# beside it (vendor/<name>.patch), so that what the workspace builds instead of the registry
# copy is reviewable as that patch alone. See vendor/README.md.
#
# Usage: scripts/check-vendor.sh    (from anywhere; needs curl or Cargo's download cache, patch)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# name version sha256-of-the-.crate (crates.io's checksum, as a Cargo.lock records it)
crates=(
    "h2 0.4.20 7d29020232d6aa3fb1daca64c1127cf662cf97f254ae16c18c05b8ab635fc118"
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

status=0
for line in "${crates[@]}"; do
    read -r name version sum <<<"$line"
    archive="$work/$name-$version.crate"
    cached="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name-$version.crate" 2>/dev/null | head -1 || true)"
    if [[ -n "$cached" ]]; then
        cp "$cached" "$archive"
    else
        curl -sSfL --retry 3 -o "$archive" "https://static.crates.io/crates/$name/$name-$version.crate"
    fi
    if [[ "$(sha256sum "$archive" | cut -d' ' -f1)" != "$sum" ]]; then
        echo "vendor/$name: $name-$version.crate does not have the recorded checksum $sum" >&2
        status=1
        continue
    fi
    tar -xzf "$archive" -C "$work"
    upstream="$work/$name-$version"
    (cd "$upstream" && patch -s -p1 <"$root/vendor/$name.patch")
    # Every vendored file must equal upstream + patch; files upstream has and vendor/ leaves
    # out (benches, examples, changelog) are not built and are not compared.
    while IFS= read -r file; do
        if ! cmp -s "$root/vendor/$name/$file" "$upstream/$file"; then
            echo "vendor/$name/$file differs from $name $version + vendor/$name.patch" >&2
            diff -u "$upstream/$file" "$root/vendor/$name/$file" | head -20 >&2 || true
            status=1
        fi
    done < <(cd "$root/vendor/$name" && find . -type f | sed 's|^\./||' | sort)
    if [[ "$status" == 0 ]]; then
        echo "vendor/$name: $name $version from crates.io + vendor/$name.patch ($(grep -c '^@@' "$root/vendor/$name.patch") hunks)"
    fi
done
exit "$status"
