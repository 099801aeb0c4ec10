//! SARIF 2.1.0 (validated against the official schema in the tests).

use super::{check_name, pretty_to, Context, Lazy};
use crate::report::{fingerprint, Category, FileError, Finding, Severity};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const ERROR_RULE: &str = "rbac-gate/error";

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub-style `security-severity` score (0-10), for viewers that sort by it.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

fn category(category: Category) -> &'static str {
    match category {
        Category::Unsafe => "unsafe",
        Category::Missing => "missing",
        Category::Hygiene => "hygiene",
    }
}

/// The SARIF log. Fields in the order serde_json gives an object's keys (sorted), so that
/// the document reads the same as when it was one `Value`.
#[derive(Serialize)]
struct Log<R> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    runs: [Run<R>; 1],
    version: &'static str,
}

#[derive(Serialize)]
struct Run<R> {
    #[serde(rename = "columnKind")]
    column_kind: &'static str,
    invocations: [Value; 1],
    properties: Value,
    /// Built and written one at a time: as one tree, the results of 100,000 findings took
    /// more than a gigabyte.
    results: R,
    tool: Value,
}

pub fn write(ctx: &Context<'_>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let report = ctx.report;

    // Rules: the catalog entries of the rules this run reports (in catalog order), plus any
    // code a finding uses that the catalog lacks, plus the synthetic rule file errors are
    // reported under. (`rbac-gate rules --format json` has the whole catalog.)
    let used: std::collections::BTreeSet<&str> = report.findings.iter().map(|f| &*f.code).collect();
    let mut rules: Vec<Value> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for doc in ctx.rules {
        if index.contains_key(&doc.code) || !used.contains(doc.code.as_str()) {
            continue;
        }
        index.insert(doc.code.clone(), rules.len());
        rules.push(json!({
            "id": doc.code,
            "name": doc.name,
            "shortDescription": { "text": non_empty(&doc.summary, &doc.name) },
            "fullDescription": { "text": non_empty(&first_paragraph(&doc.docs), &doc.summary) },
            "help": { "text": non_empty(&doc.docs, &doc.summary), "markdown": non_empty(&doc.docs, &doc.summary) },
            "defaultConfiguration": { "level": level(doc.severity) },
            "properties": {
                "severity": doc.severity.as_str(),
                "category": category(doc.category),
                "security-severity": security_severity(doc.severity),
                "tags": ["security", "kubernetes", "rbac", category(doc.category)],
            },
        }));
    }
    for f in &report.findings {
        if !index.contains_key(&*f.code) {
            index.insert(f.code.to_string(), rules.len());
            rules.push(json!({
                "id": f.code,
                "name": f.rule,
                "shortDescription": { "text": check_name(&f.code, &f.rule) },
                "defaultConfiguration": { "level": level(f.severity) },
            }));
        }
    }
    if !report.errors.is_empty() {
        index.insert(ERROR_RULE.to_string(), rules.len());
        rules.push(json!({
            "id": ERROR_RULE,
            "name": "file-error",
            "shortDescription": { "text": "A file could not be read or understood; the gate cannot vouch for it." },
            "defaultConfiguration": { "level": "error" },
        }));
    }

    let mut notifications = Vec::new();
    for e in &report.errors {
        let location = physical_location(&e.path, e.line, e.column, None);
        notifications.push(json!({
            "level": "error",
            "message": { "text": format!("{}: {}", e.path, e.message) },
            "locations": [location],
        }));
    }

    let exit_code = report.exit_code();
    // The policy the run used, so that a disabled rule, an override or an exception is
    // visible wherever the SARIF log is read.
    let mut invocation = json!({
        "executionSuccessful": exit_code != 2,
        "exitCode": exit_code,
        "properties": { "rbacGateConfig": report.config },
    });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = Value::Array(notifications);
    }
    let version = env!("CARGO_PKG_VERSION");
    let log = Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        runs: [Run {
            column_kind: "unicodeCodePoints",
            invocations: [invocation],
            properties: json!({
                "schema": report.schema,
                "policyVersion": report.policy.version,
                "policySha256": report.policy.sha256,
                "failOn": report.fail_on.as_str(),
                "verdict": report.verdict,
            }),
            results: Lazy(|| {
                report
                    .findings
                    .iter()
                    .map(|f| finding_result(f, &index))
                    .chain(report.errors.iter().map(|e| error_result(e, &index)))
            }),
            tool: json!({
                "driver": {
                    "name": "rbac-gate",
                    "version": version,
                    "semanticVersion": version,
                    "informationUri": "https://gitlab.com/rbac-gate/rbac-gate",
                    "rules": rules,
                }
            }),
        }],
        version: "2.1.0",
    };
    pretty_to(out, &log)
}

fn finding_result(f: &Finding, index: &BTreeMap<String, usize>) -> Value {
    let mut result = Map::new();
    result.insert("ruleId".into(), json!(f.code));
    if let Some(i) = index.get(&*f.code) {
        result.insert("ruleIndex".into(), json!(i));
    }
    result.insert("level".into(), json!(level(f.severity)));
    let mut message = f.message.clone();
    if !f.help.is_empty() {
        message.push_str(&format!("\nHelp: {}", f.help));
    }
    result.insert("message".into(), json!({ "text": message }));
    let mut location = physical_location(&f.path, Some(f.line), Some(f.column), Some(f.end_line));
    if let Some(object) = &f.object {
        location.insert(
            "logicalLocations".into(),
            json!([{ "fullyQualifiedName": object, "kind": "object" }]),
        );
    }
    result.insert("locations".into(), json!([location]));
    result.insert(
        "partialFingerprints".into(),
        json!({ "rbacGate/v1": f.fingerprint }),
    );
    let mut properties = Map::new();
    properties.insert("severity".into(), json!(f.severity.as_str()));
    if let Some(from) = f.overridden_from {
        properties.insert("severityOverriddenFrom".into(), json!(from.as_str()));
    }
    properties.insert("category".into(), json!(category(f.category)));
    if let Some(identity) = &f.identity {
        properties.insert("identity".into(), json!(identity));
    }
    if !f.steps.is_empty() {
        properties.insert("escalation".into(), json!(f.steps));
    }
    result.insert("properties".into(), Value::Object(properties));
    if let Some(acceptance) = &f.accepted {
        let mut justification = acceptance.reason.clone();
        if let Some(expires) = &acceptance.expires {
            justification.push_str(&format!(" (expires {expires})"));
        }
        justification.push_str(&format!(" [was {}]", f.severity.as_str()));
        let kind = if acceptance.source == "config" {
            "external"
        } else {
            "inSource"
        };
        result.insert(
            "suppressions".into(),
            json!([{ "kind": kind, "status": "accepted", "justification": justification }]),
        );
    }
    Value::Object(result)
}

fn error_result(e: &FileError, index: &BTreeMap<String, usize>) -> Value {
    json!({
        "ruleId": ERROR_RULE,
        "ruleIndex": index.get(ERROR_RULE),
        "level": "error",
        "message": { "text": e.message },
        "locations": [physical_location(&e.path, e.line, e.column, None)],
        "partialFingerprints": { "rbacGate/v1": fingerprint(&[ERROR_RULE, &e.path, &e.message]) },
    })
}

fn physical_location(
    path: &str,
    line: Option<u32>,
    column: Option<u32>,
    end_line: Option<u32>,
) -> Map<String, Value> {
    let mut artifact = Map::new();
    if path.starts_with('/') {
        artifact.insert(
            "uri".into(),
            json!(format!("file://{}", encode_uri_path(path))),
        );
    } else {
        artifact.insert("uri".into(), json!(encode_uri_path(path)));
        artifact.insert("uriBaseId".into(), json!("%SRCROOT%"));
    }
    let mut physical = Map::new();
    physical.insert("artifactLocation".into(), Value::Object(artifact));
    if let Some(line) = line.filter(|l| *l > 0) {
        let mut region = Map::new();
        region.insert("startLine".into(), json!(line));
        if let Some(column) = column.filter(|c| *c > 0) {
            region.insert("startColumn".into(), json!(column));
        }
        if let Some(end) = end_line.filter(|e| *e >= line) {
            region.insert("endLine".into(), json!(end));
        }
        physical.insert("region".into(), Value::Object(region));
    }
    let mut location = Map::new();
    location.insert("physicalLocation".into(), Value::Object(physical));
    location
}

/// Percent-encodes a `/`-separated path into a URI reference.
fn encode_uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn non_empty<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.trim().is_empty() {
        fallback
    } else {
        value
    }
}

fn first_paragraph(markdown: &str) -> String {
    markdown
        .split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty() && !p.starts_with('#'))
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encoding() {
        assert_eq!(encode_uri_path("a b/c%.yaml"), "a%20b/c%25.yaml");
        assert_eq!(encode_uri_path("-"), "-");
    }
}
