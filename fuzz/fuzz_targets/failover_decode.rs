//! ISC failover messages as a peer's TCP stream delivers them: arbitrary
//! bytes, read both as one message and as a stream of messages.
//!
//! Checks, beyond `decode_for_fuzz` (which must not panic):
//! * every message that decodes (either dialect) re-encodes, no longer than
//!   it came, to bytes that decode to the same message, that ISC's own rules
//!   accept, and that encode again to the same bytes;
//! * the stream decoder gives the same messages and the same error whether
//!   the bytes arrive at once, one by one, or cut at two data-chosen points.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_failover::message::{decode, decode_with, Dialect};
use tandem_failover::{decode_for_fuzz, CodecError, FrameDecoder, Message};

fn round_trip(m: &Message, came_as: usize) {
    let bytes = match m.encode() {
        Ok(b) => b,
        Err(e) => panic!("decoded message does not encode: {e}\n{m:?}"),
    };
    assert!(
        bytes.len() <= came_as,
        "{} bytes re-encoded as {}",
        came_as,
        bytes.len()
    );
    assert_eq!(decode(&bytes).as_ref(), Ok(m), "re-encoded message differs");
    // "the tests use [Dialect::Isc] to prove that everything we encode is
    // acceptable to ISC"
    if let Err(e) = decode_with(&bytes, Dialect::Isc) {
        panic!("ISC would refuse what we send: {e}\n{m:?}");
    }
    assert_eq!(
        m.encode().as_ref(),
        Ok(&bytes),
        "encoding is not deterministic"
    );
}

type Drained = (Vec<Message>, Option<CodecError>);

fn drain(chunks: &[&[u8]]) -> Drained {
    let mut d = FrameDecoder::new();
    let mut out = Vec::new();
    for c in chunks {
        d.push(c);
        loop {
            match d.next_message() {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => {
                    // The decoder stays failed (the link must be dropped).
                    assert_eq!(d.next_message(), Err(e.clone()), "decoder recovered");
                    return (out, Some(e));
                }
            }
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    decode_for_fuzz(data);

    for dialect in [Dialect::Tandem, Dialect::Isc] {
        if let Ok(m) = decode_with(data, dialect) {
            round_trip(&m, data.len());
        }
    }

    let whole = drain(&[data]);
    let bytes: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(drain(&bytes), whole, "byte-by-byte reading differs");
    // Two cut points, chosen by the last two bytes of the input.
    if let [.., a, b] = data {
        let at = |x: u8| data.len() * usize::from(x) / 255;
        let (i, j) = (at(*a).min(at(*b)), at(*a).max(at(*b)));
        let chunks = [&data[..i], &data[i..j], &data[j..]];
        assert_eq!(drain(&chunks), whole, "reading in 3 chunks differs");
    }
    let (messages, _) = whole;
    let mut offset = 0;
    for m in &messages {
        // Each message came as exactly its length field's bytes.
        let len = data
            .get(offset..offset + 2)
            .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
        assert_eq!(
            data.get(offset..offset + len).map(decode),
            Some(Ok(m.clone())),
            "stream and single-message decoding differ"
        );
        round_trip(m, len);
        offset += len;
    }
});
