//! Redaction of secret values in the source lines the text report quotes.
//!
//! The core never puts secret values in its messages, but the text renderer prints source
//! snippets, and a kubeconfig or a Secret manifest carries credentials on exactly the lines a
//! finding points at. [`redact_lines`] works on a whole file (values span lines: block scalars,
//! nested mappings, PEM blocks, pretty-printed JSON) and returns it line by line with:
//!
//! * the value of any credential-like key (`token`, `bearer_token`, `client-key-data`,
//!   `client-certificate-data`, `password`, `id-token`, `refresh-token`, `access-token`,
//!   `secret`, `*-key`, ...) and of `data` / `stringData` in Secret objects replaced by
//!   `[REDACTED]`, including every more-indented line below such a key;
//! * PEM private-key blocks, JWTs (`eyJ...`) and GitLab token prefixes (`glrt-`, `glpat-`, ...)
//!   redacted wherever they appear;
//! * URL userinfo (`https://user:pass@host` -> `https://[REDACTED]@host`) and the values of
//!   secret-looking arguments (`--password=X`, `--token X`, `-p X`, ..., the value also on the
//!   next line of a block list or JSON array), by the core's [`rbac_gate_core::redact`], the
//!   rules the core's own messages follow.
//!
//! [`redact_report`] is the last defence for everything else a report prints: every message
//! goes through the same core rules before any format is rendered.
//!
//! It errs on the side of hiding too much: a redacted snippet is still useful, a leaked token
//! is not.

use rbac_gate_core::redact::{self as core_redact, Arguments};
use rbac_gate_core::report::Report;

pub const REDACTED: &str = core_redact::REDACTED;

/// A file's lines after redaction, in one buffer: as a `String` per line, a 40 MB dump took
/// 85 MB.
#[derive(Debug, Default)]
pub struct RedactedLines {
    text: String,
    /// Where each line ends in `text`.
    ends: Vec<usize>,
}

impl RedactedLines {
    fn push(&mut self, line: &str) {
        self.text.push_str(line);
        self.ends.push(self.text.len());
    }

    /// Line `index + 1`.
    pub fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i]);
        self.text.get(start..end)
    }
}

/// The file's lines, redacted. `get(i)` is line `i + 1`.
pub fn redact_lines(text: &str) -> RedactedLines {
    let lines: Vec<&str> = text.lines().collect();
    let secret_docs = secret_documents(&lines);
    let mut out = RedactedLines {
        text: String::with_capacity(text.len()),
        ends: Vec::with_capacity(lines.len()),
    };
    // Indentation of a sensitive key whose value continues on more-indented lines.
    let mut block: Option<usize> = None;
    let mut in_pem = false;
    // A `--token` whose value is on a later line.
    let mut arguments = Arguments::default();
    for (i, line) in lines.iter().enumerate() {
        let indent = indentation(line);
        let blank = line.trim().is_empty();
        if let Some(key_indent) = block {
            if blank || indent > key_indent || closes_json_block(line, indent, key_indent) {
                out.push(&redact_whole(line));
                if closes_json_block(line, indent, key_indent) {
                    block = None;
                }
                continue;
            }
            block = None;
        }
        let trimmed = line.trim();
        if trimmed.starts_with("-----BEGIN") && trimmed.contains("PRIVATE KEY") {
            in_pem = !trimmed.contains("-----END");
            out.push(&redact_whole(line));
            continue;
        }
        if in_pem {
            if trimmed.contains("-----END") {
                in_pem = false;
            }
            out.push(&redact_whole(line));
            continue;
        }
        let (redacted, opens_block) = redact_line(line, secret_docs[i]);
        if let Some(key_indent) = opens_block {
            block = Some(key_indent);
        }
        let redacted = redact_patterns(&redacted);
        let redacted = core_redact::url_userinfo(&redacted);
        out.push(&arguments.redact(&redacted));
    }
    out
}

/// Every text of `report` that quotes the inputs (messages, help, objects, identities,
/// escalation steps, acceptance reasons, error messages) through the core's URL-userinfo and
/// secret-argument redaction. The core already does this for the findings it builds; this
/// covers what it does not build that way (file errors, a `--policy` module's report) before
/// any format is rendered. Paths, codes, line numbers and RBAC names are left alone, and the
/// redaction only rewrites a URL's userinfo or the value after a secret-named argument.
pub fn redact_report(report: &mut Report) {
    for finding in &mut report.findings {
        for text in [&mut finding.message, &mut finding.help]
            .into_iter()
            .chain(finding.object.iter_mut())
            .chain(finding.identity.iter_mut())
            .chain(finding.steps.iter_mut())
        {
            core_redact::in_place(text);
        }
        if let Some(acceptance) = &mut finding.accepted {
            core_redact::in_place(&mut acceptance.reason);
        }
    }
    for error in &mut report.errors {
        core_redact::in_place(&mut error.message);
    }
    // The policy that ran is printed in every format; its exceptions carry free text.
    for exception in &mut report.config.exceptions {
        core_redact::in_place(&mut exception.reason);
    }
}

/// For each line, whether it belongs to a document describing a `Secret`.
fn secret_documents(lines: &[&str]) -> Vec<bool> {
    let mut result = vec![false; lines.len()];
    let mut start = 0;
    let flush = |start: usize, end: usize, result: &mut Vec<bool>| {
        let is_secret = lines[start..end].iter().any(|l| is_secret_kind(l));
        for slot in &mut result[start..end] {
            *slot = is_secret;
        }
    };
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("---") || line.starts_with("...") {
            flush(start, i, &mut result);
            start = i;
        }
    }
    flush(start, lines.len(), &mut result);
    result
}

fn is_secret_kind(line: &str) -> bool {
    let t = line
        .trim()
        .trim_start_matches("- ")
        .trim_start_matches('{')
        .trim();
    let t = t
        .strip_prefix("\"kind\"")
        .or_else(|| t.strip_prefix("kind"))
        .or_else(|| t.strip_prefix("'kind'"));
    let Some(rest) = t else {
        // Flow or minified JSON: `{"kind":"Secret", ...}` anywhere on the line (whitespace
        // aside: a line without an `S` cannot hold it, and most lines do not).
        if !line.contains('S') {
            return false;
        }
        let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        return compact.contains("\"kind\":\"Secret\"") || compact.contains("kind:Secret,");
    };
    let rest = rest.trim_start();
    let Some(value) = rest.strip_prefix(':') else {
        return false;
    };
    let value = value.split('#').next().unwrap_or("").trim();
    let value = value
        .trim_end_matches(',')
        .trim_matches(|c| c == '"' || c == '\'');
    value == "Secret"
}

/// Parts that make a key (lowercased, `_` as `-`) name a credential.
const SENSITIVE_PARTS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "private-key",
    "privatekey",
    "apikey",
    "api-key",
    "client-key",
    "client-certificate-data",
    "credential",
];

/// Whether a key names a credential.
pub fn is_sensitive_key(key: &str, in_secret: bool) -> bool {
    let k = key.trim().to_ascii_lowercase().replace('_', "-");
    if in_secret && (k == "data" || k == "stringdata") {
        return true;
    }
    SENSITIVE_PARTS.iter().any(|needle| k.contains(needle))
        || k.ends_with("-key")
        || k.ends_with(".key")
        || k.ends_with("-key-data")
        || k == "auth"
}

/// Whether [`redact_line`] could change `line`: only a key [`is_sensitive_key`] accepts does,
/// and such a key is a substring of the line (normalized the same way) unless escapes spell
/// it. Most lines of a large dump hold none, and the full scan tokenizes every word (it was
/// 200 ms of the text report of a 10,000-object dump).
fn may_hold_sensitive_key(line: &str, in_secret: bool) -> bool {
    if line.contains('\\') {
        return true;
    }
    let normalized = line.to_ascii_lowercase().replace('_', "-");
    SENSITIVE_PARTS
        .iter()
        .chain(&["-key", ".key"])
        .any(|part| normalized.contains(part))
        // Whole keys only: `rbac.authorization.k8s.io` and `metadata` are on most lines.
        || has_word(&normalized, "auth")
        || in_secret && (has_word(&normalized, "data") || has_word(&normalized, "stringdata"))
}

/// Whether `word` occurs in `text` with no key character ([`is_key_char`]) right before or
/// after it.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_key_char) && !after.is_some_and(is_key_char)
    })
}

/// Redacts sensitive `key: value` / `key = value` / `"key": value` pairs on one line. Returns
/// the line and, if a sensitive key's value continues below (block scalar, nested mapping,
/// open JSON object or array), that key's indentation.
fn redact_line(line: &str, in_secret: bool) -> (String, Option<usize>) {
    if !may_hold_sensitive_key(line, in_secret) {
        return (line.to_string(), None);
    }
    redact_line_scan(line, in_secret)
}

/// [`redact_line`], word by word.
fn redact_line_scan(line: &str, in_secret: bool) -> (String, Option<usize>) {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    let mut opens_block = None;
    // `{name: AWS_SECRET_ACCESS_KEY, value: ...}` (an env entry, e.g. of a kubeconfig exec
    // plugin): the value of `value` is a credential when the `name` before it names one.
    let (mut after_name, mut env_secret) = (false, false);
    while i < chars.len() {
        // Try to read a key at i: a quoted string or a bare word.
        let key_start = i;
        let (key, after_key) = match chars[i] {
            '"' | '\'' => match read_quoted(&chars, i) {
                Some((k, end)) => (k, end),
                None => {
                    out.extend(&chars[i..]);
                    break;
                }
            },
            c if is_key_char(c) && (i == 0 || !is_key_char(chars[i - 1])) => {
                let mut end = i;
                while end < chars.len() && is_key_char(chars[end]) {
                    end += 1;
                }
                (chars[i..end].iter().collect::<String>(), end)
            }
            '#' if i == 0 || chars[i - 1].is_whitespace() => {
                // A comment: keep as is (a credential in a comment is still caught by patterns).
                out.extend(&chars[i..]);
                break;
            }
            c => {
                out.push(c);
                i += 1;
                continue;
            }
        };
        // Separator.
        let mut j = after_key;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        let is_sep = j < chars.len()
            && (chars[j] == '='
                || (chars[j] == ':'
                    && chars.get(j + 1).is_none_or(|c| {
                        c.is_whitespace() || *c == '"' || *c == '\'' || *c == '{' || *c == '['
                    })));
        let sensitive = is_sensitive_key(&key, in_secret) || (key == "value" && env_secret);
        if !is_sep || !sensitive {
            if is_sep {
                after_name = key == "name";
            } else if after_name {
                env_secret = is_sensitive_key(&key, false);
                after_name = false;
            }
            out.extend(&chars[key_start..after_key]);
            i = after_key;
            continue;
        }
        // Sensitive: copy key and separator, then replace the value.
        out.extend(&chars[key_start..=j]);
        let mut v = j + 1;
        while v < chars.len() && chars[v] == ' ' {
            out.push(' ');
            v += 1;
        }
        // For `- token: |` the value continues below `token`, not below `-`.
        let key_indent = key_start;
        if v >= chars.len() || chars[v] == '#' {
            // Value on the following, more-indented lines.
            opens_block = Some(key_indent);
            out.extend(&chars[v..]);
            break;
        }
        match chars[v] {
            '|' | '>' => {
                out.extend(&chars[v..]);
                opens_block = Some(key_indent);
                break;
            }
            '"' | '\'' => {
                let quote = chars[v];
                out.push(quote);
                out.push_str(REDACTED);
                out.push(quote);
                match read_quoted(&chars, v) {
                    Some((_, end)) => i = end,
                    None => {
                        // Unterminated on this line: a multi-line quoted scalar.
                        opens_block = Some(key_indent);
                        break;
                    }
                }
            }
            '{' | '[' => {
                let (close, open) = if chars[v] == '{' {
                    ('}', '{')
                } else {
                    (']', '[')
                };
                out.push(open);
                out.push_str(REDACTED);
                match matching(&chars, v, open, close) {
                    Some(end) => {
                        out.push(close);
                        i = end + 1;
                    }
                    None => {
                        opens_block = Some(key_indent);
                        break;
                    }
                }
            }
            _ => {
                out.push_str(REDACTED);
                let mut end = v;
                while end < chars.len()
                    && !matches!(chars[end], ',' | '}' | ']')
                    && !(chars[end] == '#' && chars[end - 1].is_whitespace())
                {
                    end += 1;
                }
                if end < chars.len() && chars[end] == '#' {
                    out.push(' ');
                }
                i = end;
            }
        }
    }
    (out, opens_block)
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn read_quoted(chars: &[char], start: usize) -> Option<(String, usize)> {
    let quote = chars[start];
    let mut i = start + 1;
    let mut s = String::new();
    while i < chars.len() {
        let c = chars[i];
        if quote == '"' && c == '\\' {
            // `\u0074oken` is `token`: decode hex escapes, or a key spelled with them hides.
            let digits = match chars.get(i + 1) {
                Some('x') => 2,
                Some('u') => 4,
                Some('U') => 8,
                _ => 0,
            };
            let hex: String = chars.iter().skip(i + 2).take(digits).collect();
            match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                Some(decoded) if digits > 0 && hex.len() == digits => {
                    s.push(decoded);
                    i += 2 + digits;
                }
                _ => {
                    if let Some(n) = chars.get(i + 1) {
                        s.push(*n);
                    }
                    i += 2;
                }
            }
            continue;
        }
        if c == quote {
            return Some((s, i + 1));
        }
        s.push(c);
        i += 1;
    }
    None
}

fn matching(chars: &[char], start: usize, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' => {
                let (_, end) = read_quoted(chars, i)?;
                i = end;
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn indentation(line: &str) -> usize {
    line.chars().take_while(|c| *c == ' ' || *c == '\t').count()
}

/// The closing `}` / `]` of a JSON value opened on a sensitive key's line.
fn closes_json_block(line: &str, indent: usize, key_indent: usize) -> bool {
    indent <= key_indent && {
        let t = line.trim();
        t.starts_with('}') || t.starts_with(']')
    }
}

/// Keeps the indentation, replaces the content.
fn redact_whole(line: &str) -> String {
    let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
    if line.trim().is_empty() {
        return line.to_string();
    }
    let t = line.trim();
    if t.starts_with('}') || t.starts_with(']') {
        return line.to_string();
    }
    format!("{indent}{REDACTED}")
}

/// JWTs and well-known token prefixes, wherever they appear.
fn redact_patterns(line: &str) -> String {
    core_redact::token_patterns(line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of the committed inputs (examples, test cases, the hostile corpus, the
    /// accuracy corpus when present), plus lines built to sit at the edges of the shortcuts.
    fn corpus_lines() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut dirs = vec![root.join("examples"), root.join("tests")];
        let mut lines: Vec<String> = [
            "token: abc",
            "  \"\\u0074oken\": abc",
            "Token_Value: x",
            "my_api_key = 1",
            "data: {a: b}",
            "{name: AWS_SECRET, value: v}",
            "x: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefgh",
            "url: https://glpat-abcdefghijklmnop@x",
            "kind : S e c r e t",
            "\"auth\": x",
            "' auth ': x",
            "apiGroup: rbac.authorization.k8s.io",
            "  metadata: {stringData: 1}",
            "data: x",
            "  - apiGroups: [\"\"]",
        ]
        .map(String::from)
        .to_vec();
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    lines.extend(text.lines().map(String::from));
                }
            }
        }
        lines
    }

    #[test]
    fn the_shortcuts_skip_only_lines_the_full_scan_leaves_alone() {
        let lines = corpus_lines();
        assert!(
            lines.len() > 1000,
            "the corpus was not found: {} lines",
            lines.len()
        );
        let mut skipped = 0;
        for line in &lines {
            for in_secret in [false, true] {
                if !may_hold_sensitive_key(line, in_secret) {
                    skipped += 1;
                    assert_eq!(
                        redact_line_scan(line, in_secret),
                        (line.clone(), None),
                        "{line:?}"
                    );
                }
            }
        }
        assert!(skipped > 0);
    }

    #[test]
    fn the_core_redaction_is_stable_on_every_corpus_line() {
        // Twice is once, and no line (hostile cases included) makes it panic.
        for line in corpus_lines() {
            let once = rbac_gate_core::redact::text(&line).into_owned();
            assert_eq!(rbac_gate_core::redact::text(&once), once, "{line:?}");
        }
    }

    fn r(text: &str) -> String {
        let lines = redact_lines(text);
        (0..)
            .map_while(|i| lines.get(i))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn kubeconfig_values() {
        let text = "users:\n- name: ci\n  user:\n    token: abcdef123456\n    client-key-data: LS0tLS1\n    client-certificate-data: \"Q0VSVA==\"\n";
        let out = r(text);
        assert!(!out.contains("abcdef123456"), "{out}");
        assert!(!out.contains("LS0tLS1"), "{out}");
        assert!(!out.contains("Q0VSVA=="), "{out}");
        assert!(out.contains("    token: [REDACTED]"), "{out}");
        assert!(out.contains("- name: ci"), "{out}");
    }

    #[test]
    fn block_scalars_and_nested() {
        let text = "password: |\n  line1secret\n  line2secret\nname: x\nauth-provider:\n  config:\n    id-token: zzz111\n    refresh-token: yyy222\n";
        let out = r(text);
        for s in ["line1secret", "line2secret", "zzz111", "yyy222"] {
            assert!(!out.contains(s), "{out}");
        }
        assert!(out.contains("name: x"));
    }

    #[test]
    fn secret_data() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: runner\ndata:\n  runner-token: c2VjcmV0\n  other: aGVsbG8=\nstringData:\n  plain: hunter2\n---\nkind: ConfigMap\ndata:\n  visible: yes\n";
        let out = r(text);
        for s in ["c2VjcmV0", "aGVsbG8=", "hunter2"] {
            assert!(!out.contains(s), "{out}");
        }
        assert!(out.contains("visible: yes"), "{out}");
        assert!(out.contains("  name: runner"), "{out}");
    }

    #[test]
    fn json_and_toml() {
        let out =
            r("{\"kind\":\"Config\",\"users\":[{\"user\":{\"token\":\"s3cr3tvalue\",\"x\":1}}]}");
        assert!(!out.contains("s3cr3tvalue"), "{out}");
        assert!(out.contains("\"x\":1"), "{out}");
        let out = r("[[runners]]\n  token = \"glrt-abc\"\n  url = \"https://gitlab.example\"\n");
        assert!(!out.contains("glrt-abc"), "{out}");
        assert!(out.contains("url = \"https://gitlab.example\""), "{out}");
        let out = r("{\n  \"kind\": \"Secret\",\n  \"data\": {\n    \"k\": \"dmFsdWU=\"\n  },\n  \"type\": \"Opaque\"\n}");
        assert!(!out.contains("dmFsdWU="), "{out}");
        assert!(out.contains("\"type\": \"Opaque\""), "{out}");
    }

    #[test]
    fn patterns_and_pem() {
        let out = r("note: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig\nx: glpat-AAAABBBBCCCCDDDD\n");
        assert!(!out.contains("eyJhbGci"), "{out}");
        assert!(!out.contains("glpat-AAAA"), "{out}");
        let out = r("tls.pem: |\n  -----BEGIN RSA PRIVATE KEY-----\n  MIIEsecret\n  -----END RSA PRIVATE KEY-----\nok: 1\n");
        assert!(!out.contains("MIIEsecret"), "{out}");
        assert!(out.contains("ok: 1"));
    }

    #[test]
    fn url_userinfo_and_secret_arguments() {
        let text = "clusters:\n- cluster:\n    server: https://admin:UrlPw1@k8s.example.com:6443\nusers:\n- user:\n    exec:\n      command: get-token\n      args: [\"--password=ArgPw2\", \"--token\", \"ArgTok3\", \"-n\", \"ci\"]\n      env: null\n    exec2:\n      args:\n      - -p\n      - ArgP4\n      - --namespace=ci\n";
        let out = r(text);
        for secret in ["UrlPw1", "admin", "ArgPw2", "ArgTok3", "ArgP4"] {
            assert!(!out.contains(secret), "{secret}: {out}");
        }
        assert!(
            out.contains("server: https://[REDACTED]@k8s.example.com:6443"),
            "{out}"
        );
        assert!(out.contains("\"-n\", \"ci\"]"), "{out}");
        assert!(
            out.contains("      - [REDACTED]\n      - --namespace=ci"),
            "{out}"
        );
        // Pretty JSON: the value on the line after its flag.
        let out = r("{\"args\": [\n  \"--client-secret\",\n  \"JsonSec5\"\n], \"server\": \"https:\\/\\/u:JsonPw6@h.example\"}");
        assert!(
            !out.contains("JsonSec5") && !out.contains("JsonPw6"),
            "{out}"
        );
        assert!(out.contains("@h.example"), "{out}");
        // A ConfigMap's config.toml on one quoted line.
        let out = r(
            "  config.toml: \"[[runners]]\\n  url = \\\"https://u:TomlPw7@gitlab.example\\\"\\n\"",
        );
        assert!(!out.contains("TomlPw7"), "{out}");
        assert!(out.contains("https://[REDACTED]@gitlab.example"), "{out}");
    }

    #[test]
    fn every_message_of_a_report_is_redacted_and_nothing_else() {
        use rbac_gate_core::report::{Acceptance, Category, FileError, Finding, Severity};
        let finding = Finding {
            code: "RG406".into(),
            rule: "kubeconfig-exec-plugin".into(),
            severity: Severity::Low,
            category: Category::Unsafe,
            message: "runs `get --token MsgTok1`".into(),
            help: "see https://u:HelpPw2@docs.example".into(),
            path: "a.yaml".into(),
            line: 3,
            column: 1,
            end_line: 3,
            object: Some("user --password=ObjPw3".into()),
            identity: Some("system:serviceaccount:ci:runner".into()),
            steps: vec!["create pods -p StepP4".into()],
            fingerprint: "f".into(),
            accepted: Some(Box::new(Acceptance {
                reason: "ticket https://u:WhyPw5@jira.example/X-1".into(),
                expires: None,
                source: "annotation".into(),
            })),
            overridden_from: None,
        };
        // The report of an empty run, with the finding and an error added.
        let mut report = rbac_gate_core::check(&[], &rbac_gate_core::Options::default());
        report.findings.push(finding.clone());
        report.errors.push(FileError {
            path: "b.toml".into(),
            line: Some(2),
            column: None,
            message: "bad `--client-secret ErrSec6`".into(),
        });
        redact_report(&mut report);
        let json = serde_json::to_string(&report).expect("JSON");
        for secret in [
            "MsgTok1", "HelpPw2", "ObjPw3", "StepP4", "WhyPw5", "ErrSec6",
        ] {
            assert!(!json.contains(secret), "{secret}: {json}");
        }
        let redacted = &report.findings[0];
        assert_eq!(redacted.path, finding.path);
        assert_eq!(redacted.identity, finding.identity);
        assert_eq!(redacted.fingerprint, finding.fingerprint);
        assert_eq!(redacted.help, "see https://[REDACTED]@docs.example");
    }

    #[test]
    fn rbac_lines_stay_readable() {
        let text = "rules:\n- apiGroups: [\"\"]\n  resources: [\"secrets\", \"pods\"]\n  verbs: [\"get\", \"*\"]\n";
        assert_eq!(r(text), text.trim_end());
    }
}
