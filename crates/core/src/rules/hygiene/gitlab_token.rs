use crate::context::Ctx;
use crate::declare_rule;
use crate::model::Loc;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};
use crate::yaml::{self, Node, Style, Value};

declare_rule! {
    /// ### What it does
    /// Reports GitLab credentials written in the inputs: runner authentication tokens
    /// (`glrt-`, `glrtr-`), runner registration tokens (`GR1348941`, or any value of a
    /// `runnerRegistrationToken`, `registration-token` or `registration_token` field),
    /// personal, project and group access tokens (`glpat-`), deploy tokens (`gldt-`) and the
    /// other prefixes GitLab documents (`gloas-`, `glcbt-`, `glptt-`, `glft-`, `glimt-`,
    /// `glagent-`, `glwt-`, `glsoat-`, `glffct-`), wherever they are: Helm values
    /// (`runnerToken`), a `config.toml` (`token =` of `[[runners]]`), ConfigMaps, Secrets
    /// (`stringData`, and `data` decoded from base64), kubeconfigs and environment variables
    /// (`RUNNER_TOKEN`, `REGISTRATION_TOKEN`, `CI_SERVER_TOKEN`). The finding names the field
    /// and the kind of token, never the token. Placeholders (`""`, `${TOKEN}`, `{{ ... }}`,
    /// `glrt-REPLACE_ME`) are not reported.
    ///
    /// Prefixes: GitLab's token overview, "Token prefixes"
    /// (<https://docs.gitlab.com/security/tokens/#token-prefixes>); `GR1348941` is the
    /// registration token prefix of `app/models/concerns/runners_token_prefixable.rb`.
    ///
    /// ### Why is this bad
    /// Whoever can read the repository (every developer, every fork, every clone and CI cache)
    /// holds the credential. A runner authentication token lets them run as the runner and
    /// receive its jobs, with every job's CI/CD variables and job token; a registration token
    /// lets them register runners of their own that receive the project's or group's jobs;
    /// an access token acts with its owner's rights. Deleting the line does not help: the
    /// token stays in the git history.
    ///
    /// ### Example
    /// ```yaml
    /// # gitlab-runner Helm values
    /// gitlabUrl: https://gitlab.example.com
    /// runnerToken: glrt-...      # the runner's authentication token, in git
    /// ```
    ///
    /// ### Fix
    /// Revoke and rotate the token first (reset the runner's authentication token, or revoke
    /// the access token, in GitLab), then keep the new one out of the repository: a Secret
    /// created out of band (`kubectl create secret generic gitlab-runner-token
    /// --from-literal=runner-token=...`) and named in the chart's `runners.secret`, an
    /// external or sealed secret, or a masked CI/CD variable.
    pub GitlabToken,
    code = "RG404",
    name = "gitlab-token",
    severity = High,
    category = Unsafe,
    summary = "A GitLab token is committed to the repository",
}

/// What a leaked token lets its reader do, which decides the message and the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Power {
    /// Authenticate as the runner and receive its jobs.
    Runner,
    /// Register new runners.
    Registration,
    /// Anything else: API, repository or feature access of its owner.
    Access,
}

/// A kind of token, by prefix.
struct TokenKind {
    prefix: &'static str,
    name: &'static str,
    power: Power,
}

/// GitLab's documented prefixes (docs.gitlab.com/security/tokens/#token-prefixes, read in
/// gitlabhq `doc/security/tokens/_index.md`) and the registration token prefix `GR1348941`
/// (gitlabhq `app/models/concerns/runners_token_prefixable.rb`).
const KINDS: &[TokenKind] = &[
    TokenKind {
        prefix: "glrt-",
        name: "runner authentication token",
        power: Power::Runner,
    },
    TokenKind {
        prefix: "glrtr-",
        name: "runner authentication token",
        power: Power::Runner,
    },
    TokenKind {
        prefix: "GR1348941",
        name: "runner registration token",
        power: Power::Registration,
    },
    TokenKind {
        prefix: "glpat-",
        name: "personal, project or group access token",
        power: Power::Access,
    },
    TokenKind {
        prefix: "gldt-",
        name: "deploy token",
        power: Power::Access,
    },
    TokenKind {
        prefix: "gloas-",
        name: "OAuth application secret",
        power: Power::Access,
    },
    TokenKind {
        prefix: "glcbt-",
        name: "CI/CD job token",
        power: Power::Access,
    },
    TokenKind {
        prefix: "glptt-",
        name: "pipeline trigger token",
        power: Power::Access,
    },
    TokenKind {
        prefix: "glft-",
        name: "feed token",
        power: Power::Access,
    },
    TokenKind {
        prefix: "glimt-",
        name: "incoming mail token",
        power: Power::Access,
    },
    TokenKind {
        prefix: "glagent-",
        name: "agent for Kubernetes token",
        power: Power::Access,
    },
    TokenKind {
        prefix: "glwt-",
        name: "workspace token",
        power: Power::Access,
    },
    TokenKind {
        prefix: "glsoat-",
        name: "SCIM token",
        power: Power::Access,
    },
    TokenKind {
        prefix: "glffct-",
        name: "feature flags client token",
        power: Power::Access,
    },
];

/// Tokens that predate the prefixes (and tokens an administrator gave a custom prefix) are
/// recognised by the field holding them.
const RUNNER_TOKEN: TokenKind = TokenKind {
    prefix: "",
    name: "runner authentication token",
    power: Power::Runner,
};
const REGISTRATION_TOKEN: TokenKind = TokenKind {
    prefix: "",
    name: "runner registration token",
    power: Power::Registration,
};

/// Fields whose value is a token whatever it looks like, by their name lowercased without
/// `-` and `_`: the chart's `runnerToken` / `runnerRegistrationToken` values and
/// `runner-token` / `runner-registration-token` Secret keys, `gitlab-runner register`'s
/// `--registration-token` and its environment variables.
fn field_kind(key: &str) -> Option<&'static TokenKind> {
    let normalized: String = key
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match normalized.as_str() {
        "runnertoken" | "ciservertoken" => Some(&RUNNER_TOKEN),
        "runnerregistrationtoken" | "registrationtoken" => Some(&REGISTRATION_TOKEN),
        _ => None,
    }
}

/// Characters a GitLab token is made of (routable tokens add `.`).
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// Whether `value` looks generated rather than written by a person: long enough, and mixing
/// digits with letters or upper with lower case. `changeme`, `REPLACE_ME`, `xxxxxxxx`,
/// `${RUNNER_TOKEN}` and `{{ .Values.token }}` are not tokens.
fn looks_generated(value: &str, min_len: usize) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() < min_len || !bytes.iter().all(|b| is_token_char(*b)) {
        return false;
    }
    let has = |f: fn(&u8) -> bool| bytes.iter().any(f);
    let digits = has(u8::is_ascii_digit);
    let letters = has(u8::is_ascii_alphabetic);
    let mixed_case = has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase);
    let mut distinct: Vec<u8> = bytes.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len() >= 6 && ((digits && letters) || mixed_case)
}

/// What follows a prefix must be at least this long: GitLab generates 20 characters, more
/// for routable tokens.
const MIN_SUFFIX: usize = 16;
/// A token found by its field alone: GitLab's unprefixed tokens were 20 characters.
const MIN_UNPREFIXED: usize = 16;

/// Prefixed tokens in `text`: (byte offset, kind).
fn prefixed(text: &str) -> Vec<(usize, &'static TokenKind)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for kind in KINDS {
        for (at, _) in text.match_indices(kind.prefix) {
            // `xglpat-` is another word; an instance prefix (`acme-glpat-`) is not.
            if at > 0 && bytes[at - 1].is_ascii_alphanumeric() {
                continue;
            }
            let start = at + kind.prefix.len();
            let end = bytes[start..]
                .iter()
                .position(|b| !is_token_char(*b))
                .map_or(bytes.len(), |n| start + n);
            let suffix = text[start..end].trim_end_matches('.');
            if looks_generated(suffix, MIN_SUFFIX) {
                out.push((at, kind));
            }
        }
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

/// Cheap test on a whole file before it is parsed: most inputs hold no token at all, and a
/// large dump must not be parsed a second time for nothing.
fn may_hold_token(text: &str) -> bool {
    const FIELD_HINTS: &[&str] = &[
        "egistration",
        "EGISTRATION",
        "unnerToken",
        "unner-token",
        "unner_token",
        "UNNER_TOKEN",
        "SERVER_TOKEN",
        // `token =` of an embedded config.toml.
        "[[runners]]",
    ];
    // base64 of `gl` followed by a letter, and of `GR1`: a token in a Secret's `data`.
    const ENCODED_HINTS: &[&str] = &["Z2x", "R1Ix"];
    KINDS.iter().any(|k| text.contains(k.prefix))
        || FIELD_HINTS.iter().any(|h| text.contains(h))
        || (text.contains("Secret") && ENCODED_HINTS.iter().any(|h| text.contains(h)))
}

/// One token found.
struct Hit {
    loc: Loc,
    /// The field holding it: `runnerToken`, `data.runner-token`, `[[runners]] token`; `#`
    /// for a comment, empty for a line of a file that is no valid YAML.
    field: String,
    kind: &'static TokenKind,
    /// `Secret ns/name`, when it is in a Kubernetes object.
    object: Option<String>,
    /// Found by decoding a Secret's base64 `data`.
    encoded: bool,
}

/// Where a line of a scanned text is in its file.
#[derive(Clone, Copy)]
struct Lines {
    file: usize,
    /// File line of the text's first line, and the column its lines start at; `exact` is
    /// false when lines cannot be mapped (a folded or quoted scalar): every line is `first`.
    first: u32,
    col: u32,
    exact: bool,
}

impl Lines {
    fn loc(&self, index: usize, offset: usize) -> Loc {
        let (line, col) = if self.exact {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            let offset = u32::try_from(offset).unwrap_or(0);
            (
                self.first.saturating_add(index),
                self.col.saturating_add(offset),
            )
        } else {
            (self.first, self.col)
        };
        Loc {
            file: self.file,
            line,
            col,
            end_line: line,
        }
    }
}

/// `key = value` (TOML) or `key: value` (YAML, in a file that did not parse): the key and
/// the value without quotes and trailing comment.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line
        .split_once(" = ")
        .or_else(|| line.split_once('='))
        .filter(|(k, _)| !k.contains(':'))
        .or_else(|| line.split_once(": "))?;
    let key = key
        .trim()
        .trim_start_matches("- ")
        .trim_matches(|c| c == '"' || c == '\'');
    let value = value.trim();
    let value = match value.as_bytes().first() {
        Some(q @ (b'"' | b'\'')) => {
            let inner = &value[1..];
            inner
                .find(char::from(*q))
                .map_or(inner, |end| &inner[..end])
        }
        _ => value.split(" #").next().unwrap_or(value).trim(),
    };
    Some((key, value))
}

/// Scans a text line by line: a `config.toml`, a multi-line value (an embedded
/// `config.toml`, a script) or a file that is no valid YAML (a template).
fn scan_lines(text: &str, at: Lines, field: &str, object: Option<&str>, hits: &mut Vec<Hit>) {
    let mut in_runners = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_runners = trimmed.starts_with("[[runners]]");
            continue;
        }
        // A comment is no field; a token in it is committed all the same.
        let comment = trimmed.starts_with('#');
        let pair = assignment(trimmed).filter(|_| !comment);
        let key = pair.map(|(k, _)| k);
        let name = |key: Option<&str>| {
            let key = match key {
                Some(k) if in_runners => format!("[[runners]] {k}"),
                Some(k) => k.to_string(),
                None if comment => "#".to_string(),
                None => String::new(),
            };
            format!("{field} {key}").trim().to_string()
        };
        let found = prefixed(line);
        for (offset, kind) in &found {
            hits.push(Hit {
                loc: at.loc(index, *offset),
                field: name(key),
                kind,
                object: object.map(str::to_string),
                encoded: false,
            });
        }
        let Some((key, value)) = pair.filter(|_| found.is_empty()) else {
            continue;
        };
        // `token` means the runner's token only in `[[runners]]`.
        let kind = field_kind(key).or((in_runners && key == "token").then_some(&RUNNER_TOKEN));
        if let Some(kind) = kind.filter(|_| looks_generated(value, MIN_UNPREFIXED)) {
            let offset = line.find(value).unwrap_or(0);
            hits.push(Hit {
                loc: at.loc(index, offset),
                field: name(Some(key)),
                kind,
                object: object.map(str::to_string),
                encoded: false,
            });
        }
    }
}

/// Walks one parsed document.
struct Walk<'a> {
    file: usize,
    object: Option<String>,
    hits: &'a mut Vec<Hit>,
}

impl Walk<'_> {
    fn document(file: usize, root: &Node, hits: &mut Vec<Hit>) {
        let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
        if kind == "List" || kind.ends_with("List") {
            if let Some(items) = root.get("items").and_then(Node::as_seq) {
                for item in items {
                    Walk::document(file, item, hits);
                }
                return;
            }
        }
        let object = (!kind.is_empty()).then(|| {
            let meta = root.get("metadata");
            let text = |k: &str| meta.and_then(|m| m.get(k)).and_then(Node::as_str);
            match (text("namespace"), text("name")) {
                (Some(ns), Some(name)) => format!("{kind} {ns}/{name}"),
                (None, Some(name)) => format!("{kind} {name}"),
                _ => kind.to_string(),
            }
        });
        let mut walk = Walk { file, object, hits };
        if kind == "Secret" {
            if let Some(data) = root.get("data").and_then(Node::as_map) {
                for (key, value) in data {
                    walk.encoded(key.as_str().unwrap_or(""), value);
                }
            }
            for (key, value) in root.as_map().unwrap_or(&[]) {
                if key.as_str() != Some("data") {
                    walk.node(key.as_str().unwrap_or(""), key.as_str(), value);
                }
            }
        } else {
            walk.node("", None, root);
        }
    }

    /// A value of a Secret's `data`: base64 of the real value.
    fn encoded(&mut self, key: &str, value: &Node) {
        let Some(decoded) = value.as_str().and_then(crate::base64::decode_text) else {
            return;
        };
        let field = format!("data.{key}");
        let by_field = field_kind(key).filter(|_| looks_generated(decoded.trim(), MIN_UNPREFIXED));
        let kinds: Vec<&'static TokenKind> = match prefixed(&decoded) {
            found if !found.is_empty() => found.into_iter().map(|(_, k)| k).collect(),
            _ => by_field.into_iter().collect(),
        };
        for kind in kinds {
            self.push(Loc::at(self.file, value.pos), field.clone(), kind, true);
        }
    }

    fn push(&mut self, loc: Loc, field: String, kind: &'static TokenKind, encoded: bool) {
        self.hits.push(Hit {
            loc,
            field,
            kind,
            object: self.object.clone(),
            encoded,
        });
    }

    fn node(&mut self, path: &str, key: Option<&str>, node: &Node) {
        match &node.value {
            Value::Map(entries) => {
                // An environment variable: `{name: RUNNER_TOKEN, value: ...}`.
                let env_name = node.get("name").and_then(Node::as_str);
                for (k, v) in entries {
                    let Some(k) = k.as_str() else { continue };
                    let child = if path.is_empty() {
                        k.to_string()
                    } else {
                        format!("{path}.{k}")
                    };
                    let key = match env_name {
                        Some(name) if k == "value" && field_kind(name).is_some() => name,
                        _ => k,
                    };
                    self.node(&child, Some(key), v);
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.node(&format!("{path}[{i}]"), key, item);
                }
            }
            Value::Str(text, style) => self.scalar(path, key, node, text, *style),
            Value::Null => {}
        }
    }

    fn scalar(&mut self, path: &str, key: Option<&str>, node: &Node, text: &str, style: Style) {
        if text.contains('\n') {
            let at = Lines {
                file: self.file,
                first: node.text_first_line(),
                col: node.pos.col,
                exact: style == Style::Literal,
            };
            let object = self.object.clone();
            scan_lines(text, at, path, object.as_deref(), self.hits);
            return;
        }
        // The token's own column on a plain scalar's line; a quoted one starts one later.
        let shift = u32::from(style == Style::Quoted);
        let found = prefixed(text);
        for (offset, kind) in &found {
            let offset = u32::try_from(*offset).unwrap_or(0);
            let loc = Loc {
                col: node.pos.col.saturating_add(offset).saturating_add(shift),
                ..Loc::at(self.file, node.pos)
            };
            self.push(loc, path.to_string(), kind, false);
        }
        if !found.is_empty() {
            return;
        }
        if let Some(kind) = key
            .and_then(field_kind)
            .filter(|_| looks_generated(text.trim(), MIN_UNPREFIXED))
        {
            self.push(Loc::at(self.file, node.pos), path.to_string(), kind, false);
        }
    }
}

/// Every token in one input file.
fn scan_file(file: usize, path: &str, text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    let toml = path.ends_with(".toml");
    if !toml && !may_hold_token(text) {
        return hits;
    }
    let whole = Lines {
        file,
        first: 1,
        col: 1,
        exact: true,
    };
    if toml {
        scan_lines(text, whole, "", None, &mut hits);
        return hits;
    }
    match yaml::parse_stream(text) {
        Ok(docs) => {
            for doc in &docs {
                Walk::document(file, &doc.root, &mut hits);
            }
            // The parse drops comments; a token in one is committed all the same.
            for (index, line) in text.lines().enumerate() {
                if line.trim_start().starts_with('#') && may_hold_token(line) {
                    let at = Lines {
                        first: whole
                            .first
                            .saturating_add(u32::try_from(index).unwrap_or(0)),
                        ..whole
                    };
                    scan_lines(line, at, "", None, &mut hits);
                }
            }
        }
        // A template or a config.toml read as YAML: what its lines say.
        Err(_) => scan_lines(text, whole, "", None, &mut hits),
    }
    hits
}

fn message(hit: &Hit) -> (String, String) {
    let place = match &hit.object {
        Some(object) => format!("{object}: "),
        None => String::new(),
    };
    let encoded = if hit.encoded {
        " (base64 in the Secret's `data`, which is encoding, not encryption)"
    } else {
        ""
    };
    let (power, fix) = match hit.kind.power {
        Power::Runner => (
            "whoever can read the repository can authenticate as this runner and receive its jobs, with their CI/CD variables and job tokens",
            "Revoke and rotate it now: reset the runner's authentication token in GitLab (the runner's page under Settings > CI/CD > Runners, or `POST /runners/reset_authentication_token`); the token also stays in the git history. Keep the new token out of the repository: a Secret created out of band (`kubectl create secret generic gitlab-runner-token --from-literal=runner-token=...`) named in the chart's `runners.secret`, or an external or sealed secret.",
        ),
        Power::Registration => (
            "whoever can read the repository can register runners of their own and receive the jobs GitLab sends them, with their CI/CD variables",
            "Revoke and rotate it now: reset the registration token in GitLab (Settings > CI/CD > Runners), and move to runner authentication tokens (`glrt-`), as registration tokens are deprecated; the token also stays in the git history. Keep the new token out of the repository: a Secret created out of band named in the chart's `runners.secret`, or an external or sealed secret.",
        ),
        Power::Access => (
            "whoever can read the repository can use it with the rights of the user, project or group it belongs to",
            "Revoke and rotate it now in GitLab (the token's settings page, or the tokens API); the token also stays in the git history. Keep the new token out of the repository: a Secret created out of band, an external or sealed secret, or a masked CI/CD variable.",
        ),
    };
    let field = match hit.field.as_str() {
        "#" => "a comment".to_string(),
        "" => "a line".to_string(),
        field => format!("`{field}`"),
    };
    (
        format!(
            "{place}{field} holds a GitLab {}{encoded}; {power}",
            hit.kind.name
        ),
        fix.to_string(),
    )
}

impl Rule for GitlabToken {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for (file, source) in ctx.sources.iter().enumerate() {
            if source.read_error.is_some() {
                continue;
            }
            for hit in scan_file(file, &source.path, &source.text) {
                let (msg, help) = message(&hit);
                let mut d = ctx
                    .draft(&Self::META, hit.loc, msg, help)
                    .key(format!("{} | {}", hit.field, hit.kind.name));
                if let Some(object) = hit.object {
                    d = d.object(object);
                }
                ctx.emit(out, d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, run, silent};

    const CODE: &str = "RG404";
    /// Made-up tokens of the documented shapes (none was ever issued).
    const RUNNER: &str = "glrt-t3stRunnerT0kenAbCdEf12";
    const PAT: &str = "glpat-Xy9tEstPersonalT0ken42";
    const REGISTRATION: &str = "GR1348941tEstRegistrat1onTkn";
    const OLD_REGISTRATION: &str = "JRzzw2j1Ji6aBjwvkxAv";

    fn assert_never_printed(found: &[crate::report::Finding]) {
        for f in found {
            for secret in [RUNNER, PAT, REGISTRATION, OLD_REGISTRATION] {
                for text in [&f.message, &f.help, &f.fingerprint] {
                    assert!(!text.contains(secret), "{text}");
                }
                assert!(!f.object.as_deref().unwrap_or("").contains(secret));
            }
        }
    }

    #[test]
    fn helm_values_tokens_by_prefix_and_by_field() {
        let values = format!(
            "gitlabUrl: https://gitlab.example.com\nrunnerToken: \"{RUNNER}\"\nrunnerRegistrationToken: {OLD_REGISTRATION}\nrbac:\n  create: true\n"
        );
        let found = fires(CODE, &values);
        let got: Vec<(u32, u32, bool)> = found
            .iter()
            .map(|f| (f.line, f.column, f.message.contains("registration")))
            .collect();
        assert_eq!(got, vec![(2, 15, false), (3, 26, true)]);
        assert!(found[0]
            .message
            .contains("`runnerToken` holds a GitLab runner authentication token"));
        assert!(found[0].help.contains("Revoke and rotate"));
        assert!(found[0].help.contains("runners.secret"));
        assert_never_printed(&found);
    }

    #[test]
    fn config_toml_token_line() {
        let toml = format!(
            "concurrent = 4\n[[runners]]\n  name = \"k8s\"\n  url = \"https://gitlab.example.com\"\n  token = \"{RUNNER}\"\n  executor = \"kubernetes\"\n"
        );
        let found = run(CODE, &[("config.template.toml", &toml)]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!((found[0].line, found[0].column), (5, 12));
        assert!(
            found[0].message.contains("`[[runners]] token`"),
            "{}",
            found[0].message
        );
        // An unprefixed token of an older runner, found by its field.
        let old = "[[runners]]\n  token = \"aB3dE5fG7hJ9kL1mN3pQ\"\n";
        let found = run(CODE, &[("config.toml", old)]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 2);
        assert_never_printed(&found);
    }

    #[test]
    fn configmap_embedded_config_toml_points_at_the_line() {
        let cm = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: runner\n  namespace: ci\ndata:\n  config.toml: |\n    [[runners]]\n      token = \"{RUNNER}\"\n"
        );
        let found = fires(CODE, &cm);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 9);
        assert_eq!(found[0].object.as_deref(), Some("ConfigMap ci/runner"));
    }

    #[test]
    fn secret_data_is_decoded_and_string_data_read() {
        // base64 of RUNNER and of OLD_REGISTRATION.
        let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: gitlab-runner\n  namespace: ci\ntype: Opaque\ndata:\n  runner-token: Z2xydC10M3N0UnVubmVyVDBrZW5BYkNkRWYxMg==\n  runner-registration-token: SlJ6encyajFKaTZhQmp3dmt4QXY=\n  other: aGVsbG8=\nstringData:\n  pat: glpat-Xy9tEstPersonalT0ken42\n";
        let found = fires(CODE, secret);
        let got: Vec<(u32, &str)> = found
            .iter()
            .map(|f| (f.line, f.message.split(" holds").next().unwrap_or("")))
            .collect();
        assert_eq!(
            got,
            vec![
                (8, "Secret ci/gitlab-runner: `data.runner-token`"),
                (
                    9,
                    "Secret ci/gitlab-runner: `data.runner-registration-token`"
                ),
                (12, "Secret ci/gitlab-runner: `stringData.pat`"),
            ]
        );
        assert!(found[0].message.contains("base64"));
        assert_never_printed(&found);
    }

    #[test]
    fn environment_variables_and_kubeconfigs() {
        let deploy = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: runner, namespace: ci}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: runner\n        image: gitlab/gitlab-runner:v18.0.2\n        env:\n        - name: REGISTRATION_TOKEN\n          value: {REGISTRATION}\n        - name: CI_SERVER_TOKEN\n          value: aB3dE5fG7hJ9kL1mN3pQ\n"
        );
        let found = fires(CODE, &deploy);
        assert_eq!(found.iter().map(|f| f.line).collect::<Vec<_>>(), [12, 14]);
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: agent\n  user:\n    token: pat:42:{PAT}\n"
        );
        let found = fires(CODE, &kubeconfig);
        assert_eq!(found[0].line, 6);
        assert!(found[0].message.contains("access token"));
        assert_never_printed(&found);
    }

    #[test]
    fn a_template_that_does_not_parse_is_read_by_line() {
        let template = format!(
            "kind: Secret\nstringData:\n  token: {{{{ .Values.x }}}}\n  pat: {PAT}\n  bad: [\n"
        );
        let sources = [crate::api::Source::new("templates/secret.yaml", template)];
        let report = crate::check(&sources, &crate::api::Options::default());
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        let found: Vec<_> = report.findings.iter().filter(|f| f.code == CODE).collect();
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].line, 4);
    }

    #[test]
    fn placeholders_and_references_are_not_tokens() {
        silent(
            CODE,
            "gitlabUrl: https://gitlab.example.com\nrunnerToken: \"\"\nrunnerRegistrationToken: changeme\nrunners:\n  secret: gitlab-runner-token\n  config: |\n    [[runners]]\n      token = \"${RUNNER_TOKEN}\"\n      name = \"glrt-REPLACE_ME_WITH_TOKEN\"\n",
        );
        silent(
            CODE,
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  runner-registration-token: \"\"\n  runner-token: Y2hhbmdlbWU=\n",
        );
        silent(
            CODE,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  note: \"see xglpat-AbCdEf0123456789xyz and glpat-xxxxxxxxxxxxxxxxxxxx\"\n  token: abc\n",
        );
    }
}
