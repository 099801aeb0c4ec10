//! The TOML front end: a runner `config.toml`, standalone and embedded in a ConfigMap (whose
//! positions are mapped back to YAML lines).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use rbac_gate_core::Source;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let standalone = Source::new("config.toml", text);
    let report = common::check_invariants(&[standalone], &common::options(None));
    for e in &report.errors {
        assert_eq!(e.path, "config.toml");
    }
    // The same text as a ConfigMap's literal block.
    let mut cm = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: runner\n  namespace: ci\ndata:\n  config.toml: |\n",
    );
    for line in text.lines() {
        cm.push_str("    ");
        cm.push_str(line);
        cm.push('\n');
    }
    // Lines as YAML counts them: a lone CR is a line break too.
    let breaks = cm.replace("\r\n", "\n").matches(['\n', '\r']).count();
    let lines = u32::try_from(breaks + 1).unwrap_or(u32::MAX);
    let report = common::check_invariants(&[Source::new("cm.yaml", cm)], &common::options(None));
    for e in report
        .errors
        .iter()
        .filter(|e| e.message.contains("config.toml"))
    {
        let line = e.line.unwrap_or(0);
        assert!(
            (1..=lines.max(1)).contains(&line),
            "line {line} outside 1..={lines}: {e:?}"
        );
    }
});
