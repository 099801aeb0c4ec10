//! `check` as a whole: up to four files (split at NUL bytes) with paths chosen by the input,
//! the last part optionally read as the config file; and the JSON request protocol.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use rbac_gate_core::Source;

const PATHS: &[&str] = &[
    "a.yaml",
    "config.toml",
    "b.json",
    "kubeconfig",
    "values.yaml",
    "c.yml",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut sources = Vec::new();
    let mut config = None;
    let parts: Vec<&[u8]> = rest.split(|b| *b == 0).take(5).collect();
    let count = parts.len();
    for (i, part) in parts.into_iter().enumerate() {
        let path = format!("{i}/{}", PATHS[(usize::from(selector) + i) % PATHS.len()]);
        if i == count - 1 && count > 1 && selector & 0x80 != 0 {
            config = std::str::from_utf8(part).ok();
            continue;
        }
        sources.push(match std::str::from_utf8(part) {
            Ok(text) => Source::new(path, text),
            Err(_) => Source {
                path,
                text: String::new(),
                read_error: Some("not valid UTF-8".into()),
            },
        });
    }
    common::check_invariants(&sources, &common::options(config));
    if selector & 0x40 != 0 {
        if let Ok(text) = std::str::from_utf8(rest) {
            let out = rbac_gate_core::handle_json(text);
            assert!(
                serde_json::from_str::<serde_json::Value>(&out).is_ok(),
                "{out}"
            );
        }
    }
});
