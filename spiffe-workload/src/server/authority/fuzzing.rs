//! An independent reading of a client byte stream, for the fuzz target and the tests: the
//! frames it holds, with each header block decoded. Comparing the reading of the input with
//! that of the rewritten stream checks the rewriter's one promise: the same frames and headers,
//! `:authority` aside.

use super::frames::{
    FrameRewriter, Mode, HEADER_TABLE_SIZE, MAX_HEADER_LIST, PREFACE, UNIX_AUTHORITY,
};
use super::hpack::Decoder;

/// One frame as the server would act on it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A complete header block: stream, END_STREAM, `(name, value)` fields.
    Headers(u32, bool, Vec<(Vec<u8>, Vec<u8>)>),
    /// Any other complete frame: its 9-byte header and payload.
    Frame(Vec<u8>),
}

/// The complete frames of `stream` after the preface; `None` if it does not start with the
/// preface or a header block does not decode. The decoder's table size is returned too.
pub(crate) fn read_stream(stream: &[u8]) -> Option<(Vec<Event>, usize)> {
    let mut rest = stream.strip_prefix(PREFACE.as_slice())?;
    let mut decoder = Decoder::new(HEADER_TABLE_SIZE);
    let mut events = Vec::new();
    let mut block: Option<(u32, bool, Vec<u8>)> = None;
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        if rest.len() < 9 + len {
            break;
        }
        let (kind, flags) = (rest[3], rest[4]);
        let id = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]) & 0x7fff_ffff;
        let payload = &rest[9..9 + len];
        match kind {
            0x1 => {
                let mut fragment = payload;
                let mut pad = 0;
                if flags & 0x8 != 0 {
                    pad = usize::from(*fragment.first()?);
                    fragment = &fragment[1..];
                }
                if flags & 0x20 != 0 {
                    fragment = fragment.get(5..)?;
                }
                let fragment = fragment.get(..fragment.len().checked_sub(pad)?)?;
                block = Some((id, flags & 0x1 != 0, fragment.to_vec()));
            }
            0x9 => block.as_mut()?.2.extend_from_slice(payload),
            _ => events.push(Event::Frame(rest[..9 + len].to_vec())),
        }
        if (kind == 0x1 || kind == 0x9) && flags & 0x4 != 0 {
            let (id, end_stream, fragment) = block.take()?;
            let fields = decoder.decode(&fragment, MAX_HEADER_LIST).ok()?;
            let fields = fields.into_iter().map(|f| (f.name, f.value)).collect();
            events.push(Event::Headers(id, end_stream, fields));
        }
        rest = &rest[9 + len..];
    }
    Some((events, decoder.table_size()))
}

/// Rewrites `input` as a Unix-socket connection would and checks the result against the
/// input: the same frames in the same order, the same header fields except every
/// `:authority`, which is `localhost`, and no use of the server's HPACK table. Panics when a
/// property fails; returns whether the rewriter accepted the input.
pub fn check_rewrite(input: &[u8]) -> bool {
    let mut rewriter = FrameRewriter::new(Mode::Rewrite);
    let mut out = Vec::new();
    if rewriter.feed(input, &mut out).is_err() {
        return false;
    }
    let Some((mut expected, _)) = read_stream(input) else {
        // An accepted stream that is not a valid preface yet is a prefix of one.
        assert!(PREFACE.starts_with(&input[..input.len().min(PREFACE.len())]));
        return true;
    };
    for event in &mut expected {
        if let Event::Headers(_, _, fields) = event {
            for (name, value) in fields {
                if name == b":authority" {
                    *value = UNIX_AUTHORITY.to_vec();
                }
            }
        }
    }
    let (got, table) = read_stream(&out).expect("the rewritten stream reads");
    assert_eq!(got, expected);
    assert_eq!(table, 0, "rewritten blocks never add to the server's table");
    // Observe mode changes nothing: it passes the input on, holding back at most a partial
    // frame header (which h2 could not act on either).
    let mut observer = FrameRewriter::new(Mode::Observe);
    let mut same = Vec::new();
    observer
        .feed(input, &mut same)
        .expect("observe mode refuses nothing");
    assert!(input.starts_with(&same));
    assert!(input.len() - same.len() < 9);
    true
}
