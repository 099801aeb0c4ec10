//! The YAML front end: any text either parses into bounded trees or fails with a position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rbac_gate_core::yaml::{parse_stream, Node, Value, MAX_DEPTH};

fn depth(node: &Node) -> usize {
    let mut max = 0;
    let mut todo = vec![(node, 1)];
    while let Some((n, d)) = todo.pop() {
        max = max.max(d);
        match &n.value {
            Value::Seq(items) => todo.extend(items.iter().map(|i| (i, d + 1))),
            Value::Map(entries) => {
                for (k, v) in entries {
                    todo.push((k, d + 1));
                    todo.push((v, d + 1));
                }
            }
            _ => {}
        }
    }
    max
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_stream(text) {
        Ok(docs) => {
            for doc in &docs {
                assert!(doc.root.pos.line >= 1, "{:?}", doc.root.pos);
                // Alias expansion may add at most one level per alias; the builder bounds the
                // written depth, so copies stay within twice that.
                assert!(depth(&doc.root) <= 2 * MAX_DEPTH + 2);
            }
        }
        Err(e) => assert!(!e.message.is_empty()),
    }
});
