//! Reads arbitrary bytes as a `dhcpd.leases` file. The reader never fails,
//! so every input is checked:
//! * the torn tail is the last bytes of the input, and cutting the file
//!   there leaves the same records and warnings with no torn tail;
//! * warnings point at lines of the input;
//! * what was read prints (ISC's layout) and reads back to the same records,
//!   cleanly, and printing again gives the same text;
//! * folding the records and rewriting the folded state (what a compaction
//!   does) reads back to the same state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_lease::{fold, parse, parse_bytes, print_records, SyntaxError, WarningKind};


fuzz_target!(|data: &[u8]| {
    let out = parse_bytes(data);

    // Lines are 1-based; a file of n newlines has n + 1 lines.
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    for w in &out.warnings {
        assert!(
            (1..=lines).contains(&w.line),
            "warning on line {} of {lines}: {w}",
            w.line
        );
    }

    if let Some(t) = out.torn_tail {
        // The tail is the end of the input: offset + len == the file size.
        assert!(t.len > 0, "empty torn tail {t:?}");
        assert_eq!(t.offset.checked_add(t.len), Some(data.len()), "{t:?}");
        let before = data
            .get(..t.offset)
            .expect("torn tail offset inside the input");
        let line_at_offset = before.iter().filter(|&&b| b == b'\n').count() + 1;
        assert_eq!(t.line, line_at_offset, "torn tail line for {t:?}");
        // "Truncating the file to `offset` leaves it parseable": the same
        // records, the same warnings.
        let cut = parse_bytes(before);
        assert_eq!(
            cut.records, out.records,
            "cutting the torn tail changed the records"
        );
        match cut.torn_tail {
            None => assert_eq!(cut.warnings, out.warnings, "cutting changed the warnings"),
            // Known: a statement left open just before the torn one was
            // skipped with a warning (`Unclosed`); once the torn statement is
            // cut off, it is at the end of the file and becomes the torn tail
            // itself (e.g. "2\nlease"). Nothing else may change.
            Some(again) => {
                let (last, rest) = out.warnings.split_last().expect("an Unclosed warning");
                assert!(
                    matches!(
                        &last.kind,
                        WarningKind::SkippedRecord {
                            error: SyntaxError::Unclosed,
                            ..
                        }
                    ) && last.line == again.line,
                    "the cut file has a new torn tail {again:?}; last warning {last:?}"
                );
                assert_eq!(cut.warnings, rest, "cutting changed the other warnings");
            }
        }
    }

    // Round trip: parse(print(records)) == records, with nothing to report.
    let text = print_records(&out.records);
    let again = parse(&text);
    assert_eq!(again.records, out.records.clone(), "printed:\n{text}");
    assert_eq!(again.warnings, vec![], "printed:\n{text}");
    assert_eq!(again.torn_tail, None, "printed:\n{text}");
    assert_eq!(
        print_records(&again.records),
        text,
        "printing is not stable"
    );

    // A rewrite of the folded state reads back to the same state.
    let db = fold(out.records.clone());
    let rewritten = print_records(&db.to_records());
    let reread = parse(&rewritten);
    assert_eq!(reread.warnings, vec![], "rewritten:\n{rewritten}");
    assert_eq!(fold(reread.records), db, "rewritten:\n{rewritten}");
});
