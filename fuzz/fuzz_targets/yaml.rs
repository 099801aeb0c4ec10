//! The YAML front end: any text either parses into bounded trees or fails with a position, and
//! the streaming parse (what the gate uses) agrees with the whole-tree parse: the same error, or
//! the same documents once the list items it handed over are put back in place.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rbac_gate_core::yaml::{
    parse_stream, parse_stream_each, Document, Node, Streamed, Value, MAX_DEPTH,
};

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

/// The documents of a streaming parse, with the items handed over put back into `items`.
fn reassemble(text: &str) -> Result<Vec<Document>, rbac_gate_core::yaml::YamlError> {
    let mut docs = Vec::new();
    let mut items = Vec::new();
    parse_stream_each(text, &mut |s| match s {
        Streamed::Item(node) => items.push(node),
        Streamed::Document(mut doc, n) => {
            assert_eq!(n, items.len(), "items handed over before their document");
            // A later `items` key replaced the streamed ones (kubectl keeps the last): the
            // document holds the replacement, and the gate reads such a file again whole.
            let replaced = doc.duplicates.iter().any(|d| d.path == "items");
            if replaced {
                items.clear();
            }
            if n > 0 && !replaced {
                let Value::Map(entries) = &mut doc.root.value else {
                    panic!("items streamed out of a document that is not a mapping");
                };
                let slot = entries
                    .iter_mut()
                    .find(|(k, _)| k.as_str() == Some("items"))
                    .expect("the document keeps its `items` key");
                assert_eq!(slot.1.value, Value::Seq(Vec::new()));
                slot.1.value = Value::Seq(std::mem::take(&mut items));
            }
            docs.push(doc);
        }
    })?;
    Ok(docs)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let streamed = reassemble(text);
    match (&streamed, &parse_stream(text)) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.len(), b.len());
            for (a, b) in a.iter().zip(b) {
                assert_eq!(a.root, b.root);
                assert_eq!(a.duplicates, b.duplicates);
            }
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("streaming {a:?} but whole {b:?}"),
    }
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
