//! Embeds spiffe-core's checked-in vectors (`spiffe-core/tests/data/{id,x509,jwt,bundle}`) into
//! the binary, so `spiffe conformance vectors` works from an installed `spiffe` too: writes
//! `$OUT_DIR/vector_files.rs`, a table of `(relative path, bytes)`.

use std::fmt::Write as _;
use std::path::Path;

const KINDS: [&str; 4] = ["id", "x509", "jwt", "bundle"];

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let data = Path::new(&manifest).join("../../spiffe-core/tests/data");
    let mut table = String::from("/// The vector files: (path under `tests/data`, bytes).\n");
    table.push_str("pub(crate) static VECTOR_FILES: &[(&str, &[u8])] = &[\n");
    for kind in KINDS {
        let dir = data.join(kind);
        println!("cargo::rerun-if-changed={}", dir.display());
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name).canonicalize().expect("vector file path");
            writeln!(
                table,
                "    ({:?}, include_bytes!({:?})),",
                format!("{kind}/{name}"),
                path
            )
            .expect("writing to a String");
        }
    }
    table.push_str("];\n");
    let out =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("vector_files.rs");
    std::fs::write(out, table).expect("writing vector_files.rs");
}
