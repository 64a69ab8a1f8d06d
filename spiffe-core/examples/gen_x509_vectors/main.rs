//! Generates the X.509-SVID test vectors of SPIFFE-CONFORMANCE §4.2 (#36–#65) into
//! `spiffe-core/tests/data/x509/`: PEM chains, keys, roots, and `vectors.json`, the table
//! `tests/x509_vectors.rs` runs. Validity windows and the verification time are fixed, so
//! verdicts never depend on today's date.
//!
//! Run: `cargo run -p spiffe-core --example gen_x509_vectors` (keys are random, so every run
//! changes the files; commit the result).

//!
//! Layout: `pki.rs` builds certificates and writes the files, `leaf_cases.rs` and
//! `chain_cases.rs` hold the case table (leaves under the root; intermediates, keys,
//! algorithms and rotation), in the order the vectors appear in `vectors.json`.

mod chain_cases;
mod leaf_cases;
mod pki;

use std::fs;
use std::path::PathBuf;

use serde_json::json;

use pki::{ca_params, p256, Ca, Gen};

/// 2027-01-15T08:00:00Z: inside the normal validity window (2025..2035).
const VERIFY_TIME: u64 = 1_800_000_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/x509");
    fs::create_dir_all(&dir)?;
    let mut g = Gen {
        dir,
        vectors: Vec::new(),
    };
    g.run()?;
    let table = json!({ "verify_time": VERIFY_TIME, "vectors": g.vectors });
    fs::write(
        g.dir.join("vectors.json"),
        serde_json::to_string_pretty(&table)? + "\n",
    )?;
    Ok(())
}

/// The trust-domain roots most cases issue under.
struct Roots {
    td: Ca,
    td_a: Ca,
    td_b: Ca,
    td_y: Ca,
}

impl Gen {
    fn run(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        let td = self.root(
            "root-td.pem",
            ca_params("td root", Some("spiffe://td")),
            p256(),
        );
        let td_a = self.root(
            "root-td-a.pem",
            ca_params("td-a root", Some("spiffe://td-a")),
            p256(),
        );
        let td_b = self.root(
            "root-td-b.pem",
            ca_params("td-b root", Some("spiffe://td-b")),
            p256(),
        );
        let td_y = self.root(
            "root-td-y.pem",
            ca_params("td-y root", Some("spiffe://td-y")),
            p256(),
        );
        let roots = Roots {
            td,
            td_a,
            td_b,
            td_y,
        };
        self.leaf_cases(&roots)?;
        self.chain_cases(&roots)
    }
}
