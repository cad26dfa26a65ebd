//! The first-head reader and the framing of every later head: any bytes, cut anywhere, never
//! panic; what is handed on is a prefix of the input, independent of how it was cut; and
//! every head handed on parses with httparse to the same length, so hyper reads exactly the
//! heads this layer checked.

#![no_main]

use hookguard::serve::framer::Framer;
use hookguard::serve::framing::HeadLimits;
use libfuzzer_sys::fuzz_target;

const LIMITS: HeadLimits = HeadLimits {
    max_header_bytes: 4096,
    max_headers: 32,
};

/// Feeds `data` in pieces of `cut` bytes, through `push` or (in a body) `body_prefix` as
/// `Rewind` does; returns what was handed on and whether the stream ended.
fn run(data: &[u8], cut: usize) -> (Vec<u8>, bool) {
    let mut framer = Framer::new(LIMITS);
    let mut handed = Vec::new();
    for piece in data.chunks(cut.max(1)) {
        if framer.ended() {
            break;
        }
        if framer.in_body() && framer.ready().is_empty() {
            let n = framer.body_prefix(piece);
            handed.extend_from_slice(&piece[..n]);
        } else {
            framer.push(piece);
        }
        let ready = framer.ready().len();
        handed.extend_from_slice(framer.ready());
        framer.consume(ready);
    }
    (handed, framer.ended())
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, data)) = data.split_first() else {
        return;
    };
    let (whole, ended) = run(data, data.len());
    let (pieces, ended_too) = run(data, usize::from(cut % 17) + 1);
    assert!(data.starts_with(&whole));
    assert_eq!(whole, pieces, "the cut changed what was handed on");
    assert_eq!(ended, ended_too);
    // Every head handed on is a complete request head to httparse as well.
    if whole.starts_with(b"PRI * HTTP/2.0") {
        return;
    }
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut slots);
    if !whole.is_empty() {
        let parsed = req.parse(&whole).expect("a head that passed parses");
        assert!(parsed.is_complete(), "a head that passed is complete");
    }
});
