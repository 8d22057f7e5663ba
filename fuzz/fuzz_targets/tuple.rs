//! The relation-tuple text forms (`ns:obj#rel@subject`, subject sets, one tuple a line).
#![no_main]

use std::str::FromStr;

use keto_core::{RelationTuple, Subject, SubjectSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(t) = RelationTuple::from_str(text) {
            // What parses prints back to something that parses to the same tuple. Keto's
            // text form trims parentheses around a subject set, so a subject with a
            // parenthesis in it may read back without one: only its parse is required.
            let again = RelationTuple::from_str(&t.to_string()).expect("round trip");
            assert_eq!(
                (&again.namespace, &again.object, &again.relation),
                (&t.namespace, &t.object, &t.relation)
            );
            if !t.subject.to_string().contains(['(', ')']) {
                assert_eq!(again.subject, t.subject);
            }
        }
        let _ = Subject::from_str(text);
        let _ = SubjectSet::from_str(text);
        let _ = RelationTuple::parse_lines(text);
    }
});
