//! Helm chart templates, and `{{` in manifests outside charts.
//!
//! A folder whose `Chart.yaml` is among the inputs is a chart: what its `templates/` hold is
//! Go-template source, not manifests, and only its rendered output says what it deploys. A
//! template that could yield what the gate judges (RBAC objects, a ServiceAccount, a runner
//! config, or a kind the text does not state) is an error naming how to render it; any other
//! template is skipped and counted. Whether a file is a template is decided from the input
//! paths alone, so every host (the CLI, the playground) decides it the same way.
//!
//! Outside charts `{{` is usually data: a Grafana dashboard's `{{instance}}`, an Alertmanager
//! template in a ConfigMap. Only template syntax that changes a document's structure, or sits
//! in a field the gate judges, makes the document unjudgeable.

use super::*;
use crate::api::Source;
use crate::report::FileError;
use crate::yaml::{Node, Value};
use std::collections::BTreeSet;

/// The `skipped` entry counting chart templates that cannot yield anything judged.
pub const SKIPPED_TEMPLATE: &str = "(Helm chart template)";

/// The chart folders among the inputs: folders holding `Chart.yaml` (or `Chart.yml`).
#[derive(Debug, Default)]
pub struct Charts {
    /// Folder paths, `/`-separated, `""` for the top.
    dirs: BTreeSet<String>,
}

impl Charts {
    pub fn collect(sources: &[Source]) -> Charts {
        let dirs = sources
            .iter()
            .filter(|s| s.read_error.is_none())
            .filter_map(|s| {
                let path = s.path.replace('\\', "/");
                let (dir, base) = match path.rfind('/') {
                    Some(i) => (path[..i].to_string(), &path[i + 1..]),
                    None => (String::new(), path.as_str()),
                };
                matches!(base, "Chart.yaml" | "Chart.yml").then_some(dir)
            })
            .collect();
        Charts { dirs }
    }

    /// Whether `dir` (`/`-separated, `""` for the top) is a chart folder among the inputs.
    pub fn holds(&self, dir: &str) -> bool {
        self.dirs.contains(dir)
    }

    /// The chart folder whose `templates/` holds `path`, if any (the innermost: a subchart
    /// under `charts/` is a chart of its own).
    pub fn template_of(&self, path: &str) -> Option<&str> {
        let path = path.replace('\\', "/");
        self.dirs
            .iter()
            .filter(|dir| {
                let prefix = if dir.is_empty() {
                    "templates/".to_string()
                } else {
                    format!("{dir}/templates/")
                };
                path.starts_with(&prefix)
            })
            .max_by_key(|dir| dir.len())
            .map(String::as_str)
    }
}

/// Why a chart template document needs rendering before it can be judged, if it does.
fn needs_rendering(doc: &str) -> Option<(u32, String)> {
    let mut kinds = Vec::new();
    for (index, line) in doc.lines().enumerate() {
        if let Some(value) = line.strip_prefix("kind:") {
            let value = value.split(" #").next().unwrap_or(value).trim();
            let value = value.trim_matches(|c| c == '"' || c == '\'');
            kinds.push((index as u32, value.to_string()));
        }
    }
    if kinds.is_empty() {
        return output_at(doc).map(|offset| {
            (
                doc[..offset].matches('\n').count() as u32,
                "a document with no literal `kind:` (an `include`, `template` or `toYaml` \
                 can yield any object)"
                    .to_string(),
            )
        });
    }
    for (line, kind) in &kinds {
        if kind.contains("{{") {
            return Some((*line, format!("a templated kind (`{kind}`)")));
        }
    }
    let mentions = |needle: &str| doc.contains(needle);
    for (line, kind) in &kinds {
        let why = match kind.as_str() {
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
                Some(format!("RBAC ({kind})"))
            }
            "ServiceAccount" => Some("a ServiceAccount".to_string()),
            k if k == "List" || k.ends_with("List") => Some(format!("a {k} (any object)")),
            "Secret" if mentions("service-account-token") => {
                Some("a service-account token Secret".to_string())
            }
            "ConfigMap" | "Secret"
                if mentions("[[runners]]") || mentions("config.toml") || mentions("concurrent") =>
            {
                Some(format!("a runner config ({kind})"))
            }
            "HelmRelease" | "Application" | "ApplicationSet" if mentions("gitlab-runner") => {
                Some(format!("a {kind} installing gitlab-runner"))
            }
            k if (super::extract::is_workload_kind(k)) && mentions("gitlab-runner") => {
                Some(format!("a gitlab-runner {k}"))
            }
            _ => None,
        };
        if let Some(why) = why {
            return Some((*line, why));
        }
    }
    None
}

/// Where a document without a literal `kind:` first outputs something (a byte offset): text
/// outside template actions, or an action that is not control flow, a comment or an
/// assignment. `None` when it outputs nothing.
fn output_at(doc: &str) -> Option<usize> {
    let mut at = 0;
    loop {
        let rest = &doc[at..];
        let Some(open) = rest.find("{{") else {
            return first_content(rest).map(|i| at + i);
        };
        if let Some(i) = first_content(&rest[..open]) {
            return Some(at + i);
        }
        let after = &rest[open + 2..];
        let inner = after.trim_start_matches('-').trim_start();
        // A comment runs to `*/}}`, whatever braces it holds.
        let (action, consumed) = match (inner.starts_with("/*"), after.find("*/")) {
            (true, Some(end)) => match after[end..].find("}}") {
                Some(close) => ("", end + close + 2),
                None => return Some(at + open),
            },
            _ => match after.find("}}") {
                Some(close) => (&after[..close], close + 2),
                None => return Some(at + open),
            },
        };
        let action = action.trim_matches('-').trim();
        let word = action.split_whitespace().next().unwrap_or("");
        let control = matches!(
            word,
            "" | "if" | "else" | "end" | "range" | "with" | "define" | "break" | "continue"
        ) || (action.starts_with('$')
            && (action.contains(":=") || action.contains(" = ")));
        if !control {
            return Some(at + open);
        }
        at += open + 2 + consumed;
    }
}

/// The offset of the first line of `text` that is neither blank nor a YAML comment.
fn first_content(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if !is_blank_or_comment(line) {
            return Some(offset + (line.len() - line.trim_start().len()));
        }
        offset += line.len();
    }
    None
}

fn is_blank_or_comment(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with('#') || line == "---"
}

/// Judges a chart template file by its text: an error when some document needs rendering,
/// else one skipped template.
pub fn load(inv: &mut Inventory, source: &Source, chart: &str) {
    // Helm renders neither partials (`_helpers.tpl`) nor `NOTES.txt` as manifests.
    let base = source.path.rsplit(['/', '\\']).next().unwrap_or("");
    if base.starts_with('_') || base.ends_with(".txt") {
        *inv.skipped.entry(SKIPPED_TEMPLATE.to_string()).or_default() += 1;
        return;
    }
    let mut start = 0u32;
    let mut doc = String::new();
    let mut found = None;
    let mut lines = source.text.lines().peekable();
    let mut number = 0u32;
    while let Some(line) = lines.next() {
        number += 1;
        let separator = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if !separator {
            doc.push_str(line);
            doc.push('\n');
        }
        if separator || lines.peek().is_none() {
            if let Some((offset, why)) = needs_rendering(&doc) {
                found = Some((start + offset + 1, why));
                break;
            }
            doc.clear();
            start = number;
        }
    }
    let Some((line, why)) = found else {
        *inv.skipped.entry(SKIPPED_TEMPLATE.to_string()).or_default() += 1;
        return;
    };
    let chart_dir = if chart.is_empty() { "." } else { chart };
    inv.errors.push(FileError {
        path: source.path.clone(),
        line: Some(line),
        column: Some(1),
        message: format!(
            "Helm template that can yield {why}: rbac-gate judges rendered manifests, not chart \
             source. Check the rendered chart instead \
             (`helm template RELEASE {chart_dir} -f VALUES | rbac-gate check -`), or render it \
             to a file in an earlier job and list it in the config's `rendered:` \
             (`- {{chart: {chart_dir}, output: FILE}}`), which judges that file instead of \
             this chart's templates"
        ),
    });
}

/// Whether a scalar holds a template action.
fn is_template(text: &str) -> bool {
    text.find("{{")
        .is_some_and(|open| text[open..].contains("}}"))
}

/// The first template expression that changes the structure of an object of `kind`, or sits
/// in a field the gate judges; `{{` in annotations, ConfigMap and Secret data and container
/// environment, arguments and commands is data.
pub fn find_unrendered<'a>(kind: &str, root: &'a Node) -> Option<&'a Node> {
    let mut todo: Vec<(&Node, Vec<&str>)> = vec![(root, Vec::new())];
    while let Some((node, path)) = todo.pop() {
        match &node.value {
            Value::Str(s, _) if is_template(s) && !is_data(kind, &path) => return Some(node),
            Value::Seq(items) => {
                for item in items.iter().rev() {
                    let mut inner = path.clone();
                    inner.push("[]");
                    todo.push((item, inner));
                }
            }
            Value::Map(entries) => {
                for (key, value) in entries.iter().rev() {
                    // An unquoted `{{ .Values.x }}` parses as a mapping used as a key.
                    let name = match &key.value {
                        Value::Str(k, _) if is_template(k) => return Some(key),
                        Value::Str(k, _) => k.as_str(),
                        Value::Null => "",
                        _ => return Some(key),
                    };
                    let mut inner = path.clone();
                    inner.push(name);
                    todo.push((value, inner));
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether a scalar at `path` of an object of `kind` is data the gate does not interpret as
/// Kubernetes structure.
fn is_data(kind: &str, path: &[&str]) -> bool {
    let annotation = path
        .windows(3)
        .any(|w| w[0] == "metadata" && w[1] == "annotations" && !w[2].is_empty());
    if annotation {
        return true;
    }
    match (kind, path.first().copied()) {
        ("ConfigMap", Some("data" | "binaryData")) | ("Secret", Some("data" | "stringData")) => {
            path.len() >= 2
        }
        (k, _) if super::extract::is_workload_kind(k) => {
            path.windows(2)
                .any(|w| (w[0] == "containers" || w[0] == "initContainers") && w[1] == "[]")
                && path
                    .iter()
                    .any(|p| matches!(*p, "env" | "args" | "command"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn template_errors(path: &str, text: &str) -> (Vec<(Option<u32>, String)>, usize) {
        let sources = [
            Source::new("charts/web/Chart.yaml", "name: web\n"),
            Source::new(path, text),
        ];
        let charts = Charts::collect(&sources);
        let chart = charts.template_of(path).expect("a chart template");
        let mut inv = Inventory::default();
        load(&mut inv, &sources[1], chart);
        let errors = inv
            .errors
            .iter()
            .map(|e| (e.line, e.message.clone()))
            .collect();
        (
            errors,
            inv.skipped.get(SKIPPED_TEMPLATE).copied().unwrap_or(0),
        )
    }

    #[test]
    fn template_paths_follow_the_chart_files_among_the_inputs() {
        let sources = [
            Source::new("charts/web/Chart.yaml", ""),
            Source::new("Chart.yaml", ""),
            Source::new("charts/web/charts/db/Chart.yml", ""),
        ];
        let charts = Charts::collect(&sources);
        assert_eq!(
            charts.template_of("charts/web/templates/a.yaml"),
            Some("charts/web")
        );
        assert_eq!(
            charts.template_of("charts/web/templates/tests/t.yaml"),
            Some("charts/web")
        );
        assert_eq!(
            charts.template_of("charts/web/charts/db/templates/x.yaml"),
            Some("charts/web/charts/db")
        );
        assert_eq!(charts.template_of("templates/x.yaml"), Some(""));
        assert_eq!(charts.template_of("charts/web/values.yaml"), None);
        assert_eq!(charts.template_of("charts/web/crds/x.yaml"), None);
        assert_eq!(Charts::default().template_of("x/templates/a.yaml"), None);
    }

    #[test]
    fn an_application_template_is_skipped_and_counted() {
        let text = "{{- if .Values.enabled }}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"web.fullname\" . }}\nspec:\n  replicas: {{ .Values.replicas }}\n{{- end }}\n";
        assert_eq!(
            template_errors("charts/web/templates/deployment.yaml", text),
            (vec![], 1)
        );
    }

    #[test]
    fn rbac_unknown_and_templated_kinds_need_rendering() {
        for (text, line, why) in [
            (
                "apiVersion: v1\nkind: ConfigMap\n---\n{{- if .Values.rbac }}\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n{{- end }}\n",
                6,
                "RBAC (ClusterRoleBinding)",
            ),
            ("{{ include \"x.crb\" . }}\n", 1, "no literal `kind:`"),
            (
                "{{/* a comment with }} in it */}}\n\n{{- toYaml .Values.extraObjects }}\n",
                3,
                "no literal `kind:`",
            ),
            ("apiVersion: v1\nkind: {{ .Values.kind }}\n", 2, "templated kind"),
            ("kind: ServiceAccount\n", 1, "a ServiceAccount"),
            (
                "kind: ConfigMap\ndata:\n  config.toml: |\n    [[runners]]\n",
                1,
                "runner config",
            ),
        ] {
            let (errors, skipped) = template_errors("charts/web/templates/t.yaml", text);
            assert_eq!(skipped, 0, "{text}");
            assert_eq!(errors.len(), 1, "{text}");
            assert_eq!(errors[0].0, Some(line), "{text}");
            assert!(errors[0].1.contains(why), "{text}: {}", errors[0].1);
            assert!(errors[0].1.contains("helm template RELEASE charts/web"));
            assert!(errors[0].1.contains("`rendered:` (`- {chart: charts/web, output: FILE}`)"));
        }
    }

    #[test]
    fn control_flow_comments_and_assignments_alone_output_nothing() {
        let text = "{{- /* nothing */ -}}\n{{- $name := .Release.Name }}\n# a comment\n{{- if .Values.x }}\n{{- end }}\n";
        assert_eq!(
            template_errors("charts/web/templates/empty.yaml", text),
            (vec![], 1)
        );
    }

    fn unrendered(text: &str) -> Option<(u32, u32)> {
        let docs = yaml::parse_stream(text).expect("parses");
        let root = &docs[0].root;
        let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
        find_unrendered(kind, root).map(|n| (n.pos.line, n.pos.col))
    }

    #[test]
    fn braces_in_data_are_data_and_in_judged_fields_are_not() {
        let dashboard = "kind: ConfigMap\nmetadata:\n  name: dash\n  annotations:\n    note: \"{{ x }}\"\ndata:\n  d.json: |\n    {\"legendFormat\": \"{{instance}}\"}\n";
        assert_eq!(unrendered(dashboard), None);
        let secret = "kind: Secret\nstringData:\n  tmpl: \"{{ define \\\"a\\\" }}{{ end }}\"\n";
        assert_eq!(unrendered(secret), None);
        let env = "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        args: [\"--label={{ x }}\"]\n        env:\n        - name: A\n          value: \"{{ y }}\"\n";
        assert_eq!(unrendered(env), None);
        let role_name = "kind: Role\nmetadata:\n  name: \"{{ .Release.Name }}\"\n";
        assert_eq!(unrendered(role_name), Some((3, 9)));
        let verbs = "kind: Role\nrules:\n- verbs: [\"{{ .Values.verb }}\"]\n";
        assert_eq!(unrendered(verbs), Some((3, 11)));
        let structure = "kind: ConfigMap\ndata:\n  a: {{ .Values.a }}\n";
        assert!(unrendered(structure).is_some());
        let key = "kind: ConfigMap\ndata:\n  \"{{ .Values.k }}\": x\n";
        assert_eq!(unrendered(key), Some((3, 3)));
        let sa = "kind: Deployment\nspec:\n  template:\n    spec:\n      serviceAccountName: \"{{ x }}\"\n";
        assert!(unrendered(sa).is_some());
    }
}
