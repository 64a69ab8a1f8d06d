//! Regenerates the Workload API code from `proto/workload.proto` into a temp dir and fails if it
//! differs from the checked-in `src/proto/generated/workload.rs` (needs `protoc`, from Debian's
//! `protobuf-compiler`). Set `SPIFFE_WORKLOAD_REGEN=1` to rewrite the checked-in file instead.

use std::fs;
use std::path::{Path, PathBuf};

/// A stand-in for `google/protobuf/struct.proto` so protoc can resolve the import without the
/// protobuf include files installed. Its content never reaches the output: prost maps
/// `.google.protobuf.Struct` to `prost_types::Struct`.
const STRUCT_STUB: &str = r#"syntax = "proto3";
package google.protobuf;
message Struct { map<string, Value> fields = 1; }
message Value { oneof kind { Struct struct_value = 5; } }
"#;

fn generate(out_dir: &Path, include_dir: &Path) -> String {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let stub_dir = include_dir.join("google").join("protobuf");
    fs::create_dir_all(&stub_dir).expect("create stub dir");
    fs::write(stub_dir.join("struct.proto"), STRUCT_STUB).expect("write stub");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        // A smaller per-stream encode buffer than tonic's 8 KiB (see `SmallBufferCodec`).
        .codec_path("crate::proto::SmallBufferCodec")
        .out_dir(out_dir)
        .compile_protos(
            &[manifest.join("proto").join("workload.proto")],
            &[manifest.join("proto"), include_dir.to_path_buf()],
        )
        .expect("protoc + tonic-prost-build");
    // No `package` line, so prost names the file `_`.
    fs::read_to_string(out_dir.join("_.rs")).expect("generated file")
}

#[test]
fn checked_in_code_matches_the_proto() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    fs::create_dir_all(&out).expect("out dir");
    let generated = generate(&out, &tmp.path().join("include"));
    let checked_in_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join("proto")
        .join("generated")
        .join("workload.rs");
    if std::env::var_os("SPIFFE_WORKLOAD_REGEN").is_some() {
        fs::write(&checked_in_path, &generated).expect("write checked-in code");
    }
    let checked_in = fs::read_to_string(&checked_in_path).expect("checked-in code");
    assert!(
        generated == checked_in,
        "src/proto/generated/workload.rs is out of date with proto/workload.proto; \
         rerun with SPIFFE_WORKLOAD_REGEN=1"
    );
    // WAPI-4: no package, so the paths are /SpiffeWorkloadAPI/<Method>.
    assert!(generated.contains("\"/SpiffeWorkloadAPI/FetchX509SVID\""));
    assert!(!generated.contains("package"));
}

/// WAPI-3: `SpiffeWorkloadAPI` has exactly the standard's RPCs (the X.509, JWT and WIT ones),
/// with their streaming shapes; WEP-18: these are what every endpoint exposes.
#[test]
fn the_service_is_exactly_the_standards() {
    let proto =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/workload.proto"))
            .expect("the checked-in proto");
    let rpcs: Vec<String> = proto
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("rpc "))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        rpcs,
        [
            "rpc FetchX509SVID(X509SVIDRequest) returns (stream X509SVIDResponse);",
            "rpc FetchX509Bundles(X509BundlesRequest) returns (stream X509BundlesResponse);",
            "rpc FetchJWTSVID(JWTSVIDRequest) returns (JWTSVIDResponse);",
            "rpc FetchJWTBundles(JWTBundlesRequest) returns (stream JWTBundlesResponse);",
            "rpc ValidateJWTSVID(ValidateJWTSVIDRequest) returns (ValidateJWTSVIDResponse);",
            "rpc FetchWITSVID(WITSVIDRequest) returns (stream WITSVIDResponse);",
            "rpc FetchWITBundles(WITBundlesRequest) returns (stream WITBundlesResponse);",
        ]
    );
    let starting = |word: &str| proto.lines().filter(|l| l.starts_with(word)).count();
    assert_eq!(starting("service "), 1, "one service only");
    assert_eq!(starting("package "), 0, "no package line");
}
