//! Bounds on the JSON documents callers send.
//!
//! `serde_json` parses at most 128 levels, but a document can grow deeper after parsing (a
//! JSON Patch adds a deep value under a deep path, again and again in one request), and
//! serialising or dropping a `Value` recurses once per level: a deep enough document
//! overflows the stack and aborts the process. Identity documents are therefore kept to
//! [`MAX_DEPTH`] levels, measured and dismantled here without recursion.

use serde_json::Value;

/// The deepest nesting accepted in an identity's traits and metadata (and in a submitted
/// form's keys). Far more than any schema needs, and well within what `serde_json` reads back
/// from a store.
pub const MAX_DEPTH: usize = 64;

/// Whether `value` nests more than `max` levels (a scalar is one level, `{"a": 1}` two).
/// Walks the document with a heap stack, stopping at the first path past `max`.
pub fn exceeds_depth(value: &Value, max: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 1)];
    while let Some((v, depth)) = stack.pop() {
        if depth > max {
            return true;
        }
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
    false
}

/// Whether `value` weighs more than `max`: one for each value, plus the bytes of every string
/// and object key. Walks with a heap stack and stops as soon as the weight passes `max`, so it
/// costs at most `max` steps however large the document.
pub fn exceeds_weight(value: &Value, max: usize) -> bool {
    weight_up_to(value, max.saturating_add(1)) > max
}

/// The weight [`exceeds_weight`] measures, capped at `cap`.
pub fn weight_up_to(value: &Value, cap: usize) -> usize {
    let mut weight: usize = 0;
    let mut stack: Vec<&Value> = vec![value];
    while let Some(v) = stack.pop() {
        weight = weight.saturating_add(1);
        match v {
            Value::String(s) => weight = weight.saturating_add(s.len()),
            Value::Array(items) => stack.extend(items.iter()),
            Value::Object(map) => {
                for (k, v) in map {
                    weight = weight.saturating_add(k.len());
                    stack.push(v);
                }
            }
            _ => {}
        }
        if weight >= cap {
            return cap;
        }
    }
    weight
}

/// Drops a document of any depth without recursing: containers are emptied onto a heap
/// stack, so each value is dropped when it is already flat.
pub fn drop_deep(value: Value) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        let mut v = json!(1);
        for _ in 1..levels {
            v = json!({ "a": v });
        }
        v
    }

    #[test]
    fn measures_depth() {
        assert!(!exceeds_depth(&json!(1), 1));
        assert!(exceeds_depth(&json!({"a": 1}), 1));
        assert!(!exceeds_depth(&json!({"a": 1, "b": [1, 2]}), 3));
        assert!(exceeds_depth(&json!({"a": 1, "b": [[1]]}), 3));
        assert!(!exceeds_depth(&nested(10), 10));
        assert!(exceeds_depth(&nested(11), 10));
    }

    #[test]
    fn measures_weight() {
        let v = json!({"ab": "cde", "f": [1, 2]});
        // Values: object, "cde", array, 1, 2 = 5; bytes: "ab" 2 + "cde" 3 + "f" 1 = 6.
        assert_eq!(weight_up_to(&v, usize::MAX), 11);
        assert!(!exceeds_weight(&v, 11));
        assert!(exceeds_weight(&v, 10));
        assert_eq!(weight_up_to(&v, 4), 4);
    }

    #[test]
    fn deep_documents_drop_on_a_small_stack() {
        // Built and dropped on a 128 KiB stack: a recursive drop of 200,000 levels
        // would overflow it.
        std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(|| {
                let mut v = json!(1);
                for _ in 0..200_000 {
                    let mut m = serde_json::Map::new();
                    m.insert("a".into(), v);
                    v = Value::Object(m);
                }
                assert!(exceeds_depth(&v, MAX_DEPTH));
                drop_deep(v);
            })
            .expect("spawn")
            .join()
            .expect("no overflow");
    }
}
