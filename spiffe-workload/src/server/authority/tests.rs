//! The rewriter against hand-built client streams: what h2 reads is the same frames and headers
//! with `:authority` normalized, however the input is split and encoded.

use super::frames::{FrameRewriter, Mode, RewriteError, MAX_FRAME_SIZE, PREFACE};
use super::fuzzing::{check_rewrite, read_stream, Event};
use super::hpack::{encode_literal, HeaderField};

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn settings() -> Vec<u8> {
    frame(0x4, 0, 0, &[0, 3, 0, 0, 0, 100])
}

fn literal(name: &str, value: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_literal(
        &HeaderField {
            name: name.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            never_indexed: false,
        },
        &mut out,
    );
    out
}

/// A literal with incremental indexing and an indexed name (RFC 7541 §6.2.1).
fn indexed_name_with_indexing(index: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x40 | index, value.len() as u8];
    out.extend_from_slice(value);
    out
}

/// A grpc-core style request: POST, http, path, the percent-encoded socket path as authority
/// (added to the dynamic table), te, content-type, the security header.
fn grpc_core_request(stream: u32) -> Vec<u8> {
    let mut block = vec![0x83, 0x86]; // :method POST, :scheme http
    block.extend(literal(":path", "/SpiffeWorkloadAPI/FetchX509SVID"));
    block.extend(indexed_name_with_indexing(1, b"tmp%2Fdir%2Fapi.sock"));
    block.extend(literal("te", "trailers"));
    block.extend(literal("content-type", "application/grpc"));
    block.extend(literal("workload.spiffe.io", "true"));
    frame(0x1, 0x4, stream, &block)
}

fn rewrite(input: &[u8]) -> Result<Vec<u8>, RewriteError> {
    let mut rewriter = FrameRewriter::new(Mode::Rewrite);
    let mut out = Vec::new();
    rewriter.feed(input, &mut out)?;
    Ok(out)
}

fn authorities(stream: &[u8]) -> Vec<Vec<u8>> {
    read_stream(stream)
        .expect("reads")
        .0
        .into_iter()
        .filter_map(|e| match e {
            Event::Headers(_, _, fields) => fields
                .into_iter()
                .find(|(n, _)| n == b":authority")
                .map(|(_, v)| v),
            Event::Frame(_) => None,
        })
        .collect()
}

#[test]
fn authority_is_normalized_and_the_dynamic_table_reference_resolved() {
    let mut input = PREFACE.to_vec();
    input.extend(settings());
    input.extend(grpc_core_request(1));
    input.extend(frame(0x0, 0x1, 1, b"\0\0\0\0\0"));
    // The second request refers to the authority by dynamic index 62.
    let mut second = vec![0x83, 0x86, 0xbe];
    second.extend(literal(":path", "/SpiffeWorkloadAPI/FetchJWTSVID"));
    input.extend(frame(0x1, 0x5, 3, &second));
    assert!(check_rewrite(&input));
    let out = rewrite(&input).unwrap();
    assert_eq!(
        authorities(&out),
        [b"localhost".to_vec(), b"localhost".to_vec()]
    );
    // The DATA frame passed through byte for byte.
    let data = frame(0x0, 0x1, 1, b"\0\0\0\0\0");
    assert!(out.windows(data.len()).any(|w| w == data.as_slice()));
}

#[test]
fn any_split_of_the_input_gives_the_same_output() {
    let mut input = PREFACE.to_vec();
    input.extend(settings());
    input.extend(grpc_core_request(1));
    input.extend(frame(0x8, 0, 0, &[0, 0, 1, 0])); // WINDOW_UPDATE
    input.extend(grpc_core_request(3));
    let whole = rewrite(&input).unwrap();
    for split in 0..input.len() {
        let mut rewriter = FrameRewriter::new(Mode::Rewrite);
        let mut out = Vec::new();
        rewriter.feed(&input[..split], &mut out).unwrap();
        rewriter.feed(&input[split..], &mut out).unwrap();
        assert_eq!(out, whole, "split at {split}");
    }
    // Byte by byte.
    let mut rewriter = FrameRewriter::new(Mode::Rewrite);
    let mut out = Vec::new();
    for byte in &input {
        rewriter.feed(std::slice::from_ref(byte), &mut out).unwrap();
    }
    assert_eq!(out, whole);
}

#[test]
fn padding_priority_and_continuation_are_reframed() {
    let block = {
        let mut b = vec![0x83, 0x86];
        b.extend(literal(":path", "/p"));
        b.extend(literal(":authority", "/tmp/raw/path.sock"));
        b
    };
    // HEADERS (padded, with priority, END_STREAM) with half the block, then CONTINUATION.
    let (a, b) = block.split_at(block.len() / 2);
    let mut headers = vec![3]; // pad length
    headers.extend([0x80, 0, 0, 1, 15]); // exclusive dependency on 1, weight 15
    headers.extend(a);
    headers.extend([0, 0, 0]);
    let mut input = PREFACE.to_vec();
    input.extend(settings());
    input.extend(frame(0x1, 0x8 | 0x20 | 0x1, 5, &headers));
    input.extend(frame(0x9, 0x4, 5, b));
    assert!(check_rewrite(&input));
    let out = rewrite(&input).unwrap();
    let head = &out[PREFACE.len() + settings().len()..];
    // One HEADERS frame: END_STREAM | END_HEADERS | PRIORITY, no padding, priority kept.
    assert_eq!(head[3], 0x1);
    assert_eq!(head[4], 0x1 | 0x4 | 0x20);
    assert_eq!(&head[9..14], &[0x80, 0, 0, 1, 15]);
    assert_eq!(authorities(&out), [b"localhost".to_vec()]);
}

#[test]
fn a_block_larger_than_a_frame_is_split_into_continuations() {
    // Huffman-free literals of ~20 KiB re-encode to more than one 16 KiB frame.
    let mut block = vec![0x83, 0x86];
    block.extend(literal(":path", "/p"));
    block.extend(literal(":authority", "x"));
    let big = literal("x-big", &"v".repeat(10_000));
    let mut input = PREFACE.to_vec();
    input.extend(settings());
    // Sent as HEADERS + CONTINUATION within the frame size.
    block.extend(&big);
    block.extend(literal("x-big2", &"w".repeat(10_000)));
    let (a, b) = block.split_at(MAX_FRAME_SIZE);
    input.extend(frame(0x1, 0, 1, a));
    input.extend(frame(0x9, 0x4, 1, b));
    assert!(check_rewrite(&input));
    let out = rewrite(&input).unwrap();
    let mut rest = &out[PREFACE.len() + settings().len()..];
    let mut kinds = Vec::new();
    while !rest.is_empty() {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        assert!(len <= MAX_FRAME_SIZE);
        kinds.push((rest[3], rest[4]));
        rest = &rest[9 + len..];
    }
    assert_eq!(kinds, [(0x1, 0), (0x9, 0x4)]);
}

#[test]
fn violations_end_the_connection() {
    let mut base = PREFACE.to_vec();
    base.extend(settings());
    let cases: Vec<(Vec<u8>, RewriteError)> = vec![
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), RewriteError::BadPreface),
        (
            [PREFACE.to_vec(), grpc_core_request(1)].concat(),
            RewriteError::BadPreface,
        ),
        (
            [base.clone(), frame(0x9, 0x4, 1, &[0x82])].concat(),
            RewriteError::UnexpectedContinuation,
        ),
        (
            [
                base.clone(),
                frame(0x1, 0, 1, &[0x82]),
                frame(0x0, 0, 1, b"x"),
            ]
            .concat(),
            RewriteError::ExpectedContinuation,
        ),
        (
            [
                base.clone(),
                frame(0x1, 0, 1, &[0x82]),
                frame(0x9, 0x4, 3, &[0x82]),
            ]
            .concat(),
            RewriteError::ExpectedContinuation,
        ),
        (
            [base.clone(), frame(0x5, 0x4, 1, &[0, 0, 0, 2, 0x82])].concat(),
            RewriteError::PushPromise,
        ),
        (
            [base.clone(), frame(0x1, 0x8 | 0x4, 1, &[5, 0x82])].concat(),
            RewriteError::BadPadding,
        ),
        (
            [
                base.clone(),
                frame(0x1, 0x4, 1, &vec![0x82; MAX_FRAME_SIZE + 1]),
            ]
            .concat(),
            RewriteError::FrameTooLarge {
                len: MAX_FRAME_SIZE + 1,
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(rewrite(&input).unwrap_err(), expected);
    }
    // A header block growing past the bound through CONTINUATIONs.
    let mut input = base.clone();
    input.extend(frame(0x1, 0, 1, &[0x82]));
    for _ in 0..4 {
        input.extend(frame(0x9, 0, 1, &vec![0x82; MAX_FRAME_SIZE]));
    }
    assert_eq!(
        rewrite(&input).unwrap_err(),
        RewriteError::HeaderBlockTooLarge
    );
    // An undecodable block.
    let input = [base, frame(0x1, 0x4, 1, &[0x80])].concat();
    assert!(matches!(
        rewrite(&input).unwrap_err(),
        RewriteError::Hpack(_)
    ));
}

#[test]
fn observe_mode_passes_everything_and_reports_the_handshake() {
    let mut input = PREFACE.to_vec();
    input.extend(settings());
    input.extend(frame(0x1, 0x4, 1, &literal(":authority", "/raw/path")));
    let mut observer = FrameRewriter::new(Mode::Observe);
    let mut out = Vec::new();
    observer
        .feed(&input[..PREFACE.len() + 5], &mut out)
        .unwrap();
    assert!(!observer.handshake_done());
    observer
        .feed(&input[PREFACE.len() + 5..], &mut out)
        .unwrap();
    assert!(observer.handshake_done());
    assert_eq!(out, input);
    let mut rewriter = FrameRewriter::new(Mode::Rewrite);
    rewriter
        .feed(&input[..PREFACE.len() + 9], &mut Vec::new())
        .unwrap();
    assert!(!rewriter.handshake_done());
    rewriter
        .feed(
            &input[PREFACE.len() + 9..PREFACE.len() + 15],
            &mut Vec::new(),
        )
        .unwrap();
    assert!(rewriter.handshake_done());
}

/// The `wapi_authority` fuzz target's seeds (`fuzz/seeds/wapi_authority/`) are the streams
/// above; `SPIFFE_REGENERATE_SEEDS=1` rewrites them, otherwise each must still be accepted.
#[test]
fn fuzz_seeds_are_current() {
    let mut request = PREFACE.to_vec();
    request.extend(settings());
    request.extend(grpc_core_request(1));
    request.extend(frame(0x0, 0x1, 1, b"\0\0\0\0\0"));
    let mut second = vec![0x83, 0x86, 0xbe];
    second.extend(literal(":path", "/SpiffeWorkloadAPI/FetchJWTSVID"));
    request.extend(frame(0x1, 0x5, 3, &second));

    let mut continued = PREFACE.to_vec();
    continued.extend(settings());
    let mut block = vec![0x83, 0x86];
    block.extend(literal(":path", "/p"));
    block.extend(literal(":authority", "/tmp/raw/path.sock"));
    let (a, b) = block.split_at(block.len() / 2);
    let mut headers = vec![3, 0x80, 0, 0, 1, 15];
    headers.extend(a);
    headers.extend([0, 0, 0]);
    continued.extend(frame(0x1, 0x8 | 0x20 | 0x1, 5, &headers));
    continued.extend(frame(0x9, 0x4, 5, b));

    let seeds = [
        ("grpc-core-request", request),
        ("padded-continued", continued),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/wapi_authority");
    for (name, seed) in seeds {
        assert!(check_rewrite(&seed), "{name}");
        let path = dir.join(name);
        if std::env::var_os("SPIFFE_REGENERATE_SEEDS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &seed).unwrap();
        }
        assert_eq!(std::fs::read(&path).unwrap(), seed, "{name} is stale");
    }
}

/// A quick in-tree stand-in for the fuzz target: random mutations of the seeds (byte flips,
/// insertions, deletions, truncations) must never panic or break the rewriter's promise.
#[test]
fn mutated_streams_never_break_the_promise() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/wapi_authority");
    let seeds: Vec<Vec<u8>> = ["grpc-core-request", "padded-continued"]
        .iter()
        .map(|name| std::fs::read(dir.join(name)).unwrap())
        .collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound.max(1) as u64) as usize
    };
    let mut accepted = 0;
    for round in 0..20_000 {
        let mut input = seeds[round % seeds.len()].clone();
        for _ in 0..1 + random(4) {
            if input.is_empty() {
                break;
            }
            let at = random(input.len());
            match random(4) {
                0 => input[at] ^= 1 << random(8),
                1 => input.insert(at, random(256) as u8),
                2 => {
                    input.remove(at);
                }
                _ => input.truncate(at),
            }
        }
        accepted += usize::from(check_rewrite(&input));
    }
    assert!(accepted > 1000, "mutations mostly refused ({accepted})");
}
