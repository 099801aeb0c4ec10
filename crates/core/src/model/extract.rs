//! From parsed documents to the inventory.

use super::*;
use crate::api::Source;
use crate::report::FileError;
use crate::settings::Settings;
use crate::yaml::{self, Node, Style, Value};

/// Kinds whose pod template the gate reads.
const WORKLOAD_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
];

/// Whether the gate reads the pod template of objects of `kind`.
pub(super) fn is_workload_kind(kind: &str) -> bool {
    WORKLOAD_KINDS.contains(&kind)
}

/// Builds the inventory from every source; unreadable inputs become file errors.
pub fn build(sources: &[Source]) -> Inventory {
    build_with(sources, &Settings::default())
}

/// [`build`], with the config's `rendered:` entries: the templates of a chart listed there are
/// not read (its rendered output, an input like any other, says what it deploys), and an
/// output missing from the inputs is an error on the entry's line.
pub fn build_with(sources: &[Source], settings: &Settings) -> Inventory {
    let mut inv = Inventory::default();
    // Chart templates are source, judged by what they can yield (see `template`).
    let charts = template::Charts::collect(sources);
    rendered_outputs_present(&mut inv, sources, settings, &charts);
    // Chart folders and valuesFrom stores: what one document needs to know of the others.
    let ctx = gitops::Context::collect(sources);
    for (file, source) in sources.iter().enumerate() {
        if let Some(e) = &source.read_error {
            inv.errors.push(FileError {
                path: source.path.clone(),
                line: None,
                column: None,
                message: e.clone(),
            });
            continue;
        }
        if let Some(chart) = charts.template_of(&source.path) {
            if settings.rendered.iter().any(|r| r.covers_chart(chart)) {
                *inv.skipped
                    .entry(RENDERED_TEMPLATE.to_string())
                    .or_default() += 1;
            } else {
                template::load(&mut inv, source, chart);
            }
            continue;
        }
        load_source(&mut inv, file, source, &ctx);
    }
    inv
}

/// The `skipped` entry counting templates of charts judged by their `rendered:` output.
pub const RENDERED_TEMPLATE: &str = "(Helm chart template, rendered output judged)";

/// The `rendered:` output of each chart among the inputs must be an input too: without it the
/// chart would be judged by nothing. (An entry whose chart is not among the inputs is idle; a
/// misspelt `chart` leaves its templates judged as templates.)
fn rendered_outputs_present(
    inv: &mut Inventory,
    sources: &[Source],
    settings: &Settings,
    charts: &template::Charts,
) {
    for entry in settings.rendered.iter().filter(|r| charts.holds(&r.chart)) {
        let present = sources
            .iter()
            .any(|s| s.path.replace('\\', "/").trim_start_matches("./") == entry.output);
        if present {
            continue;
        }
        let chart = if entry.chart.is_empty() {
            "."
        } else {
            &entry.chart
        };
        inv.errors.push(FileError {
            path: settings
                .path
                .clone()
                .unwrap_or_else(|| ".rbac-gate.yaml".to_string()),
            line: Some(entry.line),
            column: None,
            message: format!(
                "`rendered` output `{}` of chart `{chart}` is not among the inputs, so nothing \
                 judges what the chart deploys: render it there in an earlier job \
                 (`helm template RELEASE {chart} -f VALUES > {}`) and pass it on as an \
                 artifact, or drop the entry so the chart's templates are judged again",
                entry.output, entry.output
            ),
        });
    }
}

fn error(inv: &mut Inventory, source: &Source, line: Option<u32>, col: Option<u32>, msg: String) {
    inv.errors.push(FileError {
        path: source.path.clone(),
        line,
        column: col,
        message: msg,
    });
}

/// A runner `config.toml` is recognised by its `[[runners]]` table (or `concurrent`, which only
/// the runner's global section has) rather than by its file name.
fn looks_like_runner_toml(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("[[runners]]")
            || l.starts_with("[runners.")
            || l.starts_with("[session_server]")
            || (l.starts_with("concurrent") && l.contains('='))
    })
}

/// A `.json` input must be JSON (a stream of values, as `kubectl` reads), not merely YAML.
fn strict_json(text: &str) -> Result<(), serde_json::Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for value in serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>() {
        value?;
    }
    Ok(())
}

fn load_source(inv: &mut Inventory, file: usize, source: &Source, ctx: &gitops::Context) {
    let text = source.text.as_str();
    if text.trim().is_empty() {
        // An empty file states nothing; it is not an error (editors create them) but is counted.
        *inv.skipped.entry("(empty file)".to_string()).or_default() += 1;
        return;
    }
    let is_toml_path = source.path.ends_with(".toml");
    if source.path.to_ascii_lowercase().ends_with(".json") {
        if let Err(e) = strict_json(text) {
            // YAML would read JSON with comments or trailing commas, but into keys such as
            // `// note "apiVersion"`: the object would go unchecked. Kubernetes rejects it.
            let (line, col) = (u32::try_from(e.line()), u32::try_from(e.column()));
            error(
                inv,
                source,
                line.ok().filter(|l| *l > 0),
                col.ok().filter(|c| *c > 0),
                format!("invalid JSON: {e} (JSON allows no comments or trailing commas)"),
            );
            return;
        }
    }
    if !is_toml_path {
        match load_yaml(file, source, ctx) {
            Ok(staged) => return inv.append(staged),
            // A broken YAML file that reads as a runner config.toml is one.
            Err(_) if looks_like_runner_toml(text) => {}
            Err(e) => {
                let msg = if text.contains("{{") {
                    format!("unrendered Helm template ({}); render it (`helm template ... | rbac-gate check -`) and check the output", e.message)
                } else {
                    e.message
                };
                return error(inv, source, Some(e.line), Some(e.col), msg);
            }
        }
    }
    inv.documents += 1;
    inv.objects += 1;
    inv.runner_configs.push(RunnerConfigSource {
        file,
        first_line: 1,
        col_offset: 0,
        exact_lines: true,
        anchor: Loc {
            file,
            line: 1,
            col: 1,
            end_line: 1,
        },
        namespace: None,
        configmap: None,
        from_helm: false,
        via: None,
        label: toml_file_label(&source.path),
        text: text.to_string(),
    });
}

/// How findings name a runner config read from a file of its own: the runner's template is
/// `config.template.toml` (the gitlab-runner chart's name for what registration merges into
/// the config), any other file holds a `config.toml`, whatever it is called.
fn toml_file_label(path: &str) -> String {
    let template = path
        .rsplit(['/', '\\'])
        .next()
        .is_some_and(|name| name.eq_ignore_ascii_case(TEMPLATE_TOML));
    if template {
        TEMPLATE_TOML
    } else {
        "config.toml"
    }
    .to_string()
}

/// The file name of the runner's config template.
const TEMPLATE_TOML: &str = "config.template.toml";

/// Reads one YAML file into an inventory of its own, which the caller merges only when the
/// whole file parsed: a file that breaks halfway is an error, not half a check.
///
/// The parse is streamed: each object is extracted (and its tree dropped) as soon as it is
/// complete, so a 100,000-object `kubectl get -o yaml` dump never holds its whole tree in
/// memory. Only a document with a top-level `items:` that turns out not to be a List, or whose
/// `items` a later key replaces (kubectl keeps the last; both rare), needs its tree whole; the
/// file is then read again the plain way.
fn load_yaml(
    file: usize,
    source: &Source,
    ctx: &gitops::Context,
) -> Result<Inventory, yaml::YamlError> {
    let mut staged = Inventory::default();
    let mut needs_tree = false;
    yaml::parse_stream_each(&source.text, &mut |streamed| match streamed {
        yaml::Streamed::Item(item) => {
            if !needs_tree {
                load_document(&mut staged, file, source, &item, ctx);
            }
        }
        yaml::Streamed::Document(doc, items) => {
            needs_tree |= items > 0 && (!is_list(&doc.root) || items_replaced(&doc));
            if !needs_tree {
                load_parsed(&mut staged, file, source, &doc, ctx);
            }
        }
    })?;
    if needs_tree {
        staged = Inventory::default();
        for doc in yaml::parse_stream(&source.text)? {
            load_parsed(&mut staged, file, source, &doc, ctx);
        }
    }
    Ok(staged)
}

fn load_parsed(
    inv: &mut Inventory,
    file: usize,
    source: &Source,
    doc: &yaml::Document,
    ctx: &gitops::Context,
) {
    inv.documents += 1;
    inv.duplicate_keys
        .extend(doc.duplicates.iter().map(|d| DuplicateKey {
            path: d.path.clone(),
            dropped: Loc::at(file, d.dropped),
            applied: Loc::at(file, d.applied),
            by_merge: d.by_merge,
        }));
    load_document(inv, file, source, &doc.root, ctx);
}

/// Whether a later `items` key (or a merge key) replaced the top-level `items` whose entries
/// the streaming parse handed over: they are not what kubectl applies.
fn items_replaced(doc: &yaml::Document) -> bool {
    doc.duplicates.iter().any(|d| d.path == "items")
}

/// A `kind: List` (or `*List`) document: its items are the objects.
fn is_list(root: &Node) -> bool {
    let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
    matches!(root.value, Value::Map(_))
        && (kind == "List" || (kind.ends_with("List") && root.get("items").is_some()))
}

fn load_document(
    inv: &mut Inventory,
    file: usize,
    source: &Source,
    root: &Node,
    ctx: &gitops::Context,
) {
    if !matches!(root.value, Value::Map(_)) {
        *inv.skipped
            .entry("(not a mapping)".to_string())
            .or_default() += 1;
        return;
    }
    let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
    let api_version = root.get("apiVersion").and_then(Node::as_str).unwrap_or("");
    if kind.is_empty() {
        // Runner values: a values file, a wrapper chart's subchart key, GitLab's chart.
        if !gitops::load_values(inv, file, source, root, ctx) {
            *inv.skipped.entry("(no kind)".to_string()).or_default() += 1;
        }
        return;
    }
    if is_list(root) {
        for item in root.get("items").and_then(Node::as_seq).unwrap_or(&[]) {
            load_document(inv, file, source, item, ctx);
        }
        return;
    }
    if kind == "Config" && (root.get("users").is_some() || root.get("clusters").is_some()) {
        inv.objects += 1;
        inv.kubeconfigs.push(kubeconfig::load(file, root));
        return;
    }
    let known = matches!(
        kind,
        "Role"
            | "ClusterRole"
            | "RoleBinding"
            | "ClusterRoleBinding"
            | "ServiceAccount"
            | "Secret"
            | "Namespace"
            | "ConfigMap"
    ) || WORKLOAD_KINDS.contains(&kind);
    if !known {
        // A HelmRelease or Argo CD Application installing gitlab-runner is judged as the
        // chart renders its values; other GitOps objects are not judged.
        if gitops::load_object(inv, file, source, kind, api_version, root, ctx) {
            return;
        }
        *inv.skipped.entry(kind.to_string()).or_default() += 1;
        return;
    }
    if let Some(t) = template::find_unrendered(kind, root) {
        error(
            inv,
            source,
            Some(t.pos.line),
            Some(t.pos.col),
            format!(
                "unrendered template expression in a field of {kind} the gate judges (`{{{{` in annotations, ConfigMap and Secret data and container arguments is data); render it (`helm template ... | rbac-gate check -`) and check the output"
            ),
        );
        return;
    }
    // Role, ClusterRole and their bindings exist only in the RBAC group; the same kind names
    // in other groups (CRDs) are not RBAC.
    let rbac_kind = kind.starts_with("Role") || kind.starts_with("ClusterRole");
    if rbac_kind && !api_version.starts_with("rbac.authorization.k8s.io/") {
        *inv.skipped
            .entry(format!("{kind} ({api_version})"))
            .or_default() += 1;
        return;
    }
    inv.objects += 1;
    let meta = meta_of(file, root);
    match kind {
        "Role" | "ClusterRole" => {
            let rules = root
                .get("rules")
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .map(|r| policy_rule(file, r))
                .collect();
            let aggregation = if kind == "ClusterRole" {
                root.path(&["aggregationRule", "clusterRoleSelectors"])
                    .and_then(Node::as_seq)
                    .map(|sels| sels.iter().map(label_selector).collect())
            } else {
                None
            };
            inv.roles.push(Role {
                kind: if kind == "Role" {
                    RoleKind::Role
                } else {
                    RoleKind::ClusterRole
                },
                meta,
                rules,
                aggregation,
                aggregated_from: Vec::new(),
            });
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            let rr = root.get("roleRef");
            let role_ref = RoleRef {
                kind: rr
                    .and_then(|r| r.get("kind"))
                    .and_then(Node::as_str)
                    .unwrap_or("")
                    .to_string(),
                name: rr
                    .and_then(|r| r.get("name"))
                    .and_then(Node::as_str)
                    .unwrap_or("")
                    .to_string(),
                api_group: rr
                    .and_then(|r| r.get("apiGroup"))
                    .and_then(Node::str_or_empty)
                    .unwrap_or("")
                    .to_string(),
                loc: rr.map_or(meta.loc, |r| Loc::span(file, r.pos, r.end_line)),
            };
            let subjects = root
                .get("subjects")
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .filter_map(|s| subject(file, s))
                .collect();
            inv.bindings.push(Binding {
                kind: if kind == "RoleBinding" {
                    BindingKind::RoleBinding
                } else {
                    BindingKind::ClusterRoleBinding
                },
                meta,
                role_ref,
                subjects,
            });
        }
        "ServiceAccount" => {
            let am = root.get("automountServiceAccountToken");
            inv.service_accounts.push(ServiceAccount {
                meta,
                automount: am.and_then(Node::as_bool),
                automount_loc: am.map(|n| Loc::at(file, n.pos)),
            });
        }
        "Secret" => {
            let type_ = root
                .get("type")
                .and_then(Node::as_str)
                .unwrap_or("Opaque")
                .to_string();
            let service_account = meta
                .annotations
                .get("kubernetes.io/service-account.name")
                .cloned();
            inv.secrets.push(Secret {
                meta,
                type_,
                service_account,
            });
        }
        "Namespace" => inv.namespaces.push(Namespace { meta }),
        "ConfigMap" => load_configmap(inv, file, root, meta),
        _ => inv.workloads.push(workload::load(file, kind, root, meta)),
    }
}

fn load_configmap(inv: &mut Inventory, file: usize, root: &Node, meta: Meta) {
    let mut found = false;
    for key in ["config.toml", "config.template.toml"] {
        let Some(value) = root.path(&["data", key]) else {
            continue;
        };
        let Value::Str(text, style) = &value.value else {
            continue;
        };
        found = true;
        let exact = matches!(style, Style::Literal);
        inv.runner_configs.push(RunnerConfigSource {
            file,
            first_line: value.text_first_line(),
            col_offset: value.pos.col.saturating_sub(1),
            exact_lines: exact,
            anchor: Loc::at(
                file,
                root.path(&["data"])
                    .and_then(|d| d.key_node(key))
                    .map_or(value.pos, |k| k.pos),
            ),
            namespace: meta.namespace.clone(),
            configmap: Some(meta.name.clone()),
            from_helm: false,
            via: None,
            label: key.to_string(),
            text: text.clone(),
        });
    }
    if !found {
        inv.objects -= 1;
        *inv.skipped.entry("ConfigMap".to_string()).or_default() += 1;
    }
}

pub(super) fn string_map(node: Option<&Node>) -> StringMap {
    node.map(|n| {
        n.string_entries()
            .into_iter()
            .filter_map(|(k, v)| v.str_or_empty().map(|s| (k.to_string(), s.to_string())))
            .collect()
    })
    .unwrap_or_default()
}

pub(super) fn meta_of(file: usize, root: &Node) -> Meta {
    let m = root.get("metadata");
    Meta {
        name: m
            .and_then(|m| m.get("name"))
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string(),
        namespace: m
            .and_then(|m| m.get("namespace"))
            .and_then(Node::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        labels: string_map(m.and_then(|m| m.get("labels"))),
        annotations: string_map(m.and_then(|m| m.get("annotations"))),
        loc: Loc::span(file, root.pos, root.end_line),
        origin: Origin::Manifest,
    }
}

fn list(node: Option<&Node>) -> Vec<String> {
    node.map(|n| n.string_list().into_iter().map(|(s, _)| s).collect())
        .unwrap_or_default()
}

pub(super) fn policy_rule(file: usize, r: &Node) -> PolicyRule {
    PolicyRule {
        api_groups: list(r.get("apiGroups")),
        resources: list(r.get("resources")),
        verbs: list(r.get("verbs")),
        resource_names: list(r.get("resourceNames")),
        non_resource_urls: list(r.get("nonResourceURLs")),
        loc: Loc::span(file, r.pos, r.end_line),
        resource_locs: r
            .get("resources")
            .map(|n| {
                n.string_list()
                    .into_iter()
                    .map(|(_, p)| Loc::at(file, p))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn label_selector(n: &Node) -> LabelSelector {
    LabelSelector {
        match_labels: string_map(n.get("matchLabels")),
        match_expressions: n
            .get("matchExpressions")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .map(|e| {
                (
                    e.get("key")
                        .and_then(Node::as_str)
                        .unwrap_or("")
                        .to_string(),
                    e.get("operator")
                        .and_then(Node::as_str)
                        .unwrap_or("")
                        .to_string(),
                    list(e.get("values")),
                )
            })
            .collect(),
    }
}

fn subject(file: usize, s: &Node) -> Option<Subject> {
    let kind = match s.get("kind").and_then(Node::as_str)? {
        "ServiceAccount" => SubjectKind::ServiceAccount,
        "User" => SubjectKind::User,
        "Group" => SubjectKind::Group,
        _ => return None,
    };
    Some(Subject {
        kind,
        name: s.get("name").and_then(Node::as_str)?.to_string(),
        namespace: s
            .get("namespace")
            .and_then(Node::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        loc: Loc::span(file, s.pos, s.end_line),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_chart_is_judged_by_its_output_not_its_templates() {
        let template = "kind: ClusterRoleBinding\nmetadata:\n  name: {{ .Release.Name }}\n";
        let rendered = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: web\n  namespace: web\nrules: []\n";
        let config = crate::api::Source::new(
            "ci/.rbac-gate.yaml",
            "fail-on: high\nrendered:\n  - {chart: charts/web, output: out/web.yaml}\n",
        );
        let (settings, errors) = crate::settings::load(&crate::api::Options {
            config: Some(config),
            ..Default::default()
        });
        assert!(errors.is_empty(), "{errors:?}");
        let chart = [
            Source::new("charts/web/Chart.yaml", "name: web\n"),
            Source::new("charts/web/templates/crb.yaml", template),
            Source::new("charts/web/charts/db/Chart.yaml", "name: db\n"),
            Source::new("charts/web/charts/db/templates/crb.yaml", template),
        ];
        let with_output: Vec<Source> = chart
            .iter()
            .cloned()
            .chain([Source::new("out/web.yaml", rendered)])
            .collect();
        let inv = build_with(&with_output, &settings);
        assert!(inv.errors.is_empty(), "{:?}", inv.errors);
        assert_eq!(inv.skipped.get(RENDERED_TEMPLATE), Some(&2));
        assert_eq!(inv.roles.len(), 1, "the output is judged");
        // Without the output nothing would judge the chart.
        let inv = build_with(&chart, &settings);
        assert_eq!(inv.errors.len(), 1, "{:?}", inv.errors);
        assert_eq!(inv.errors[0].path, "ci/.rbac-gate.yaml");
        assert_eq!(inv.errors[0].line, Some(3));
        assert!(inv.errors[0]
            .message
            .contains("`out/web.yaml` of chart `charts/web`"));
        // Without the entry the templates are what they are.
        let inv = build(&with_output);
        assert_eq!(inv.errors.len(), 2, "{:?}", inv.errors);
        // An entry for a chart that is not among the inputs asks for nothing.
        assert!(build_with(&[Source::new("a.yaml", rendered)], &settings)
            .errors
            .is_empty());
    }

    /// The plain way: the whole tree of the file first, then its documents. Streaming must
    /// build exactly the inventory this builds.
    fn build_from_whole_tree(sources: &[Source]) -> Inventory {
        let mut inv = Inventory::default();
        let ctx = gitops::Context::collect(sources);
        for (file, source) in sources.iter().enumerate() {
            match yaml::parse_stream(&source.text) {
                Ok(_) if source.text.trim().is_empty() => load_source(&mut inv, file, source, &ctx),
                Ok(docs) => {
                    for doc in &docs {
                        load_parsed(&mut inv, file, source, doc, &ctx);
                    }
                }
                // Errors (and the config.toml fallback) take the one path there is.
                Err(_) => load_source(&mut inv, file, source, &ctx),
            }
        }
        inv
    }

    fn yaml_files(dir: &std::path::Path, out: &mut Vec<Source>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                yaml_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    out.push(Source::new(path.display().to_string(), text));
                }
            }
        }
    }

    #[test]
    fn streaming_builds_what_the_whole_tree_builds_for_every_bundled_manifest() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut sources = Vec::new();
        for dir in ["examples", "tests/cases", "tests/corpus", "tests/hostile"] {
            yaml_files(&root.join(dir), &mut sources);
        }
        assert!(sources.len() > 100, "found only {} files", sources.len());
        // The case that streams: a `kubectl get -o yaml` List.
        assert!(sources
            .iter()
            .any(|s| s.path.ends_with("kubectl-list-dump/dump.yaml")));
        let mut compared = 0;
        for source in &sources {
            let one = std::slice::from_ref(source);
            let whole = build_from_whole_tree(one);
            // Files that fail to parse become an error either way; the message is the same.
            let streamed = build(one);
            assert_eq!(
                format!("{streamed:?}"),
                format!("{whole:?}"),
                "{}",
                source.path
            );
            compared += 1;
        }
        assert_eq!(compared, sources.len());
    }

    fn one(text: &str) -> Inventory {
        build(&[Source::new("in.yaml", text)])
    }

    #[test]
    fn a_list_that_breaks_in_its_last_item_yields_no_object() {
        let inv = one(concat!(
            "apiVersion: v1\nkind: List\nitems:\n",
            "- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: a, namespace: ci}\n",
            "- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: b, namespace: ci}\n",
            "- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: c, <<: d}\n",
        ));
        assert!(
            inv.service_accounts.is_empty(),
            "{:?}",
            inv.service_accounts
        );
        assert_eq!(inv.objects, 0);
        assert_eq!(inv.errors.len(), 1);
        assert_eq!(inv.errors[0].line, Some(12), "{:?}", inv.errors);
    }

    #[test]
    fn items_of_a_document_that_is_not_a_list_are_not_objects() {
        // `items:` comes before `kind:` (kubectl sorts keys), so the parse streams the items
        // before it can know; the file is then read again whole.
        let inv = one(concat!(
            "apiVersion: example.com/v1\nitems:\n",
            "- apiVersion: rbac.authorization.k8s.io/v1\n  kind: ClusterRole\n  metadata: {name: x}\n",
            "kind: Inventory\n",
        ));
        assert!(inv.roles.is_empty());
        assert_eq!(inv.skipped.get("Inventory"), Some(&1));
        assert_eq!(inv.documents, 1);
    }

    #[test]
    fn a_repeated_items_key_replaces_the_streamed_items_as_kubectl_does() {
        let sa = |name: &str| {
            format!("- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {{name: {name}, namespace: ci}}\n")
        };
        let merged = "base: &more {items: [{apiVersion: v1, kind: ServiceAccount, metadata: {name: c, namespace: ci}}]}\n";
        for (text, kept) in [
            // A second `items` key: kubectl keeps it, the first one's items are dropped.
            (
                format!("kind: List\nitems:\n{}items:\n{}", sa("a"), sa("b")),
                "b",
            ),
            // A merge key after `items` replaces it too (goyaml.v2 merges in place).
            (
                format!("{merged}kind: List\nitems:\n{}<<: *more\n", sa("a")),
                "c",
            ),
        ] {
            let inv = one(&text);
            let whole = build_from_whole_tree(&[Source::new("in.yaml", text.as_str())]);
            assert_eq!(format!("{inv:?}"), format!("{whole:?}"), "{text}");
            let names: Vec<&str> = inv
                .service_accounts
                .iter()
                .map(|s| s.meta.name.as_str())
                .collect();
            assert_eq!(names, [kept], "{text}");
            assert_eq!(inv.duplicate_keys.len(), 1, "{text}");
            assert_eq!(inv.duplicate_keys[0].path, "items");
        }
    }

    #[test]
    fn a_merge_key_resolves_a_role_ref_and_booleans_read_as_kubectl_reads_them() {
        let inv = one(concat!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n",
            "metadata: {name: runner}\n",
            "x-admin: &admin {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n",
            "roleRef: {<<: *admin}\n",
            "subjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: ci}]\n",
            "---\napiVersion: v1\nkind: ServiceAccount\n",
            "metadata: {name: gitlab-runner, namespace: ci}\nautomountServiceAccountToken: no\n",
        ));
        let role_ref = &inv.bindings[0].role_ref;
        assert_eq!(
            (role_ref.kind.as_str(), role_ref.name.as_str()),
            ("ClusterRole", "cluster-admin")
        );
        assert_eq!(inv.service_accounts[0].automount, Some(false));
    }

    #[test]
    fn helm_values_keep_pointing_at_their_role_when_files_are_merged() {
        let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: ci}\n";
        let values = "rbac:\n  create: true\nrunners:\n  config: |\n    [[runners]]\n";
        let inv = build(&[
            Source::new("role.yaml", role),
            Source::new("values.yaml", values),
        ]);
        let helm = inv.helm_values.first().expect("helm values");
        let index = helm.role.expect("rendered role");
        assert_eq!(inv.roles[index].meta.origin, Origin::Helm);
    }
}
