//! The relation-tuple text forms (`ns:obj#rel@subject`, subject sets, one tuple a line).
#![no_main]

use std::str::FromStr;

use keto_core::{RelationTuple, Subject, SubjectSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(t) = RelationTuple::from_str(text) {
            // What parses prints back to something that parses to the same tuple.
            let again = RelationTuple::from_str(&t.to_string()).expect("round trip");
            assert_eq!(again, t);
        }
        let _ = Subject::from_str(text);
        let _ = SubjectSet::from_str(text);
        let _ = RelationTuple::parse_lines(text);
    }
});
