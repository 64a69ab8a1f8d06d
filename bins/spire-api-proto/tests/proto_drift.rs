//! Regenerates the SPIRE API code from `proto/` into a temp dir and fails if it differs from
//! the checked-in `src/generated/` (needs `protoc`, from Debian's `protobuf-compiler`). Set
//! `SPIRE_API_PROTO_REGEN=1` to rewrite the checked-in files instead.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Every `.proto` file of the crate, in SPIRE's layout under `proto/`.
const PROTOS: &[&str] = &[
    "spire/api/types/agent.proto",
    "spire/api/types/attestation.proto",
    "spire/api/types/bundle.proto",
    "spire/api/types/entry.proto",
    "spire/api/types/federateswith.proto",
    "spire/api/types/federationrelationship.proto",
    "spire/api/types/jointoken.proto",
    "spire/api/types/jwtsvid.proto",
    "spire/api/types/logger.proto",
    "spire/api/types/selector.proto",
    "spire/api/types/spiffeid.proto",
    "spire/api/types/status.proto",
    "spire/api/types/witsvid.proto",
    "spire/api/types/x509svid.proto",
    "spire/api/server/agent/v1/agent.proto",
    "spire/api/server/bundle/v1/bundle.proto",
    "spire/api/server/debug/v1/debug.proto",
    "spire/api/server/entry/v1/entry.proto",
    "spire/api/server/localauthority/v1/localauthority.proto",
    "spire/api/server/logger/v1/logger.proto",
    "spire/api/server/svid/v1/svid.proto",
    "spire/api/server/trustdomain/v1/trustdomain.proto",
    "spire/api/agent/debug/v1/debug.proto",
    "spire/api/agent/delegatedidentity/v1/delegatedidentity.proto",
    "spire/api/agent/logger/v1/logger.proto",
];

/// Messages holding a credential (a token, a private key, a join token, attestation
/// evidence): generated without `Debug`; `src/secret_debug.rs` gives them one that redacts it.
const SECRET_MESSAGES: &[&str] = &[
    ".spire.api.types.JWTSVID",
    ".spire.api.types.WITSVID",
    ".spire.api.types.JoinToken",
    ".spire.api.types.AttestationData",
    ".spire.api.server.agent.v1.CreateJoinTokenRequest",
    ".spire.api.agent.delegatedidentity.v1.X509SVIDWithKey",
];

/// Stand-ins for the two well-known-type files SPIRE imports, so protoc resolves the imports
/// without the protobuf include files installed. Their content never reaches the output: prost
/// maps `Empty` to `()` and the wrappers to `Option<bool>` / `Option<String>`.
const STUBS: &[(&str, &str)] = &[
    (
        "empty.proto",
        "syntax = \"proto3\";\npackage google.protobuf;\nmessage Empty {}\n",
    ),
    (
        "wrappers.proto",
        "syntax = \"proto3\";\npackage google.protobuf;\n\
         message BoolValue { bool value = 1; }\nmessage StringValue { string value = 1; }\n",
    ),
];

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Generates the code into `out_dir`; returns file name -> content.
fn generate(out_dir: &Path, include_dir: &Path) -> BTreeMap<String, String> {
    let stub_dir = include_dir.join("google").join("protobuf");
    fs::create_dir_all(&stub_dir).expect("create stub dir");
    for (name, text) in STUBS {
        fs::write(stub_dir.join(name), text).expect("write stub");
    }
    let proto_dir = manifest().join("proto");
    let protos: Vec<PathBuf> = PROTOS.iter().map(|p| proto_dir.join(p)).collect();
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        // RPCs a daemon does not implement answer UNIMPLEMENTED without a line of code.
        .generate_default_stubs(true)
        .skip_debug(SECRET_MESSAGES)
        .out_dir(out_dir)
        .compile_protos(&protos, &[proto_dir.clone(), include_dir.to_path_buf()])
        .expect("protoc + tonic-prost-build");
    read_dir(out_dir)
}

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    fs::read_dir(dir)
        .expect("read generated dir")
        .map(|entry| {
            let path = entry.expect("dir entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("utf-8 file name")
                .to_owned();
            (name, fs::read_to_string(&path).expect("generated file"))
        })
        .filter(|(name, _)| name.starts_with("spire.") && name.ends_with(".rs"))
        .collect()
}

#[test]
fn checked_in_code_matches_the_protos() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    fs::create_dir_all(&out).expect("out dir");
    let generated = generate(&out, &tmp.path().join("include"));
    let checked_in_dir = manifest().join("src").join("generated");
    if std::env::var_os("SPIRE_API_PROTO_REGEN").is_some() {
        for stale in read_dir(&checked_in_dir).keys() {
            if !generated.contains_key(stale) {
                fs::remove_file(checked_in_dir.join(stale)).expect("remove stale file");
            }
        }
        for (name, text) in &generated {
            fs::write(checked_in_dir.join(name), text).expect("write checked-in code");
        }
    }
    let checked_in = read_dir(&checked_in_dir);
    assert_eq!(
        checked_in.keys().collect::<Vec<_>>(),
        generated.keys().collect::<Vec<_>>(),
        "src/generated/ holds other files than protoc generates; rerun with SPIRE_API_PROTO_REGEN=1"
    );
    for (name, text) in &generated {
        assert!(
            checked_in[name] == *text,
            "src/generated/{name} is out of date with proto/; rerun with SPIRE_API_PROTO_REGEN=1"
        );
    }
    // One file per package: the types, eight server services, three agent services.
    assert_eq!(generated.len(), 12);
}

/// Every proto is compiled, and every file under `proto/` is in the list.
#[test]
fn every_proto_file_is_compiled() {
    fn walk(dir: &Path, root: &Path, found: &mut Vec<String>) {
        for entry in fs::read_dir(dir).expect("read proto dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, root, found);
            } else if path.extension().is_some_and(|e| e == "proto") {
                let relative = path.strip_prefix(root).expect("under proto/");
                found.push(relative.to_str().expect("utf-8 path").to_owned());
            }
        }
    }
    let root = manifest().join("proto");
    let mut found = Vec::new();
    walk(&root, &root, &mut found);
    found.sort();
    let mut listed: Vec<String> = PROTOS.iter().map(|p| (*p).to_owned()).collect();
    listed.sort();
    assert_eq!(found, listed);
}
