//! Runner values that reach the gitlab-runner chart other than as its own values file: under
//! a subchart key of a wrapper or umbrella chart (`Chart.yaml`, Helm 2 `requirements.yaml`),
//! as GitLab's own chart's bundled runner, or inside a GitOps object (Flux `HelmRelease`, Argo
//! CD `Application` and `ApplicationSet`). Each is judged as the chart renders it, with the
//! values' own lines; a values source the inputs do not hold is a file error naming it.

use super::helm::{self, Release};
use super::*;
use crate::api::Source;
use crate::report::FileError;
use crate::yaml::{self, Node, Pos, Style, Value};

/// The charts this module knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chart {
    /// gitlab-runner: the values are runner values.
    Runner,
    /// GitLab's own chart: the runner values are under `gitlab-runner:`, over its defaults.
    GitLab,
}

/// `gitlab-runner`, `gitlab/gitlab-runner`, `oci://registry.example/charts/gitlab-runner`.
fn chart_named(name: &str) -> Option<Chart> {
    let name = name.trim().trim_end_matches('/');
    match name.rsplit('/').next().unwrap_or(name) {
        "gitlab-runner" => Some(Chart::Runner),
        "gitlab" => Some(Chart::GitLab),
        _ => None,
    }
}

/// A dependency of a chart on one of the known charts.
#[derive(Debug, Clone)]
struct Dependency {
    /// The values key: the alias, else the chart name.
    key: String,
    chart: Chart,
    /// `condition:` paths, in order (Helm takes the first that resolves to a boolean).
    condition: Vec<String>,
    version: Option<String>,
}

/// What a folder's `Chart.yaml` / `requirements.yaml` says.
#[derive(Debug, Clone, Default)]
struct ChartDir {
    /// The chart's own name.
    name: String,
    dependencies: Vec<Dependency>,
}

/// A ConfigMap or Secret a `valuesFrom` can name.
#[derive(Debug, Clone)]
struct Store {
    kind: String,
    namespace: Option<String>,
    name: String,
    file: usize,
    /// `data` (and for Secrets `stringData`) entries; Secret `data` is base64.
    entries: Vec<(String, Node, bool)>,
}

/// What the inputs as a whole say that one document needs: chart folders and the ConfigMaps
/// and Secrets a `HelmRelease` can take values from.
#[derive(Debug, Default)]
pub struct Context {
    charts: BTreeMap<String, ChartDir>,
    stores: Vec<Store>,
    /// Inputs named `*values*.y?ml` (file, path, first document), read only when some input
    /// says `valueFiles`: an Argo CD `$ref/path` can name one of them.
    values_files: Vec<(usize, String, Node)>,
}

/// (folder, file name) of a report path, either separator.
fn split_path(path: &str) -> (&str, &str) {
    match path.rfind(['/', '\\']) {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

impl Context {
    /// Reads the chart files (small) and, only when some input says `valuesFrom`, the
    /// ConfigMaps and Secrets: a large dump without GitOps objects costs one substring scan.
    pub fn collect(sources: &[Source]) -> Context {
        let mut ctx = Context::default();
        for source in sources.iter().filter(|s| s.read_error.is_none()) {
            let (dir, base) = split_path(&source.path);
            if !matches!(
                base,
                "Chart.yaml" | "Chart.yml" | "requirements.yaml" | "requirements.yml"
            ) {
                continue;
            }
            let Ok(docs) = yaml::parse_stream(&source.text) else {
                continue;
            };
            let entry = ctx.charts.entry(dir.to_string()).or_default();
            for doc in &docs {
                if let Some(name) = doc.root.get("name").and_then(Node::as_str) {
                    entry.name = name.to_string();
                }
                let deps = doc.root.get("dependencies").and_then(Node::as_seq);
                entry
                    .dependencies
                    .extend(deps.unwrap_or(&[]).iter().filter_map(dependency));
            }
        }
        if sources
            .iter()
            .any(|s| s.text.contains("valuesFrom") || s.text.contains("chartRef"))
        {
            for (file, source) in sources.iter().enumerate() {
                let holds_store = STORE_KINDS.iter().any(|k| source.text.contains(k));
                if source.read_error.is_some() || !holds_store {
                    continue;
                }
                if let Ok(docs) = yaml::parse_stream(&source.text) {
                    for doc in &docs {
                        collect_stores(&mut ctx.stores, file, &doc.root);
                    }
                }
            }
        }
        if sources.iter().any(|s| s.text.contains("valueFiles")) {
            for (file, source) in sources.iter().enumerate() {
                let (_, base) = split_path(&source.path);
                if source.read_error.is_some() || !base.contains("values") {
                    continue;
                }
                let first = yaml::parse_stream(&source.text)
                    .ok()
                    .and_then(|docs| docs.into_iter().next());
                if let Some(doc) = first {
                    ctx.values_files.push((file, source.path.clone(), doc.root));
                }
            }
        }
        ctx
    }

    /// An input for an Argo CD `valueFiles` entry: `$ref/dir/values.yaml` (a file of the
    /// repository the `ref` source names) matches an input path ending in `dir/values.yaml`.
    /// A plain entry is a file inside the chart package, never an input.
    fn values_file(&self, entry: &str) -> Option<(usize, Node)> {
        let wanted = entry.strip_prefix('$')?.split_once('/')?.1;
        let wanted = wanted.trim_start_matches("./");
        self.values_files
            .iter()
            .find(|(_, path, _)| {
                let path = path.replace('\\', "/");
                path == wanted || path.ends_with(&format!("/{wanted}"))
            })
            .map(|(file, _, root)| (*file, root.clone()))
    }

    fn chart_dir(&self, path: &str) -> Option<&ChartDir> {
        self.charts.get(split_path(path).0)
    }
}

fn dependency(node: &Node) -> Option<Dependency> {
    let name = node.get("name").and_then(Node::as_str)?;
    let chart = chart_named(name)?;
    let alias = node
        .get("alias")
        .and_then(Node::as_str)
        .filter(|a| !a.is_empty());
    Some(Dependency {
        key: alias.unwrap_or(name).to_string(),
        chart,
        condition: node
            .get("condition")
            .and_then(Node::as_str)
            .map(|c| c.split(',').map(|p| p.trim().to_string()).collect())
            .unwrap_or_default(),
        version: node
            .get("version")
            .and_then(Node::as_str)
            .map(str::to_string),
    })
}

/// Objects a HelmRelease can name: `valuesFrom` ConfigMaps and Secrets, and the Flux
/// sources a `chartRef` points at.
const STORE_KINDS: &[&str] = &["ConfigMap", "Secret", "OCIRepository", "HelmChart"];

fn collect_stores(out: &mut Vec<Store>, file: usize, root: &Node) {
    let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
    if kind == "List" || kind.ends_with("List") {
        for item in root.get("items").and_then(Node::as_seq).unwrap_or(&[]) {
            collect_stores(out, file, item);
        }
        return;
    }
    if !STORE_KINDS.contains(&kind) {
        return;
    }
    let meta = root.get("metadata");
    let text = |key: &str| {
        meta.and_then(|m| m.get(key))
            .and_then(Node::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut entries = Vec::new();
    let mut add = |section: &str, base64: bool| {
        if let Some(data) = root.get(section) {
            for (key, value) in data.string_entries() {
                entries.push((key.to_string(), value.clone(), base64));
            }
        }
    };
    add("data", kind == "Secret");
    add("stringData", false);
    // A HelmRelease's `chartRef` names one of these: the chart is the end of its URL or name.
    if let Some(chart) = root
        .path(&["spec", "url"])
        .or_else(|| root.path(&["spec", "chart"]))
    {
        entries.push(("chart".to_string(), chart.clone(), false));
    }
    out.push(Store {
        kind: kind.to_string(),
        namespace: text("namespace"),
        name: text("name").unwrap_or_default(),
        file,
        entries,
    });
}

// ---------------------------------------------------------------------------------------------
// Values trees: Helm's merge, and positions for values that are not where they are judged.

/// Helm's values merge: maps merge key by key, anything else replaces, and `null` removes
/// the key (how a user drops a chart default).
fn merge(base: Node, over: &Node) -> Node {
    let (Value::Map(mut entries), Some(over_entries)) = (base.value, over.as_map()) else {
        return over.clone();
    };
    for (key, value) in over_entries {
        let Some(name) = key.as_str() else {
            continue;
        };
        let found = entries.iter().position(|(k, _)| k.as_str() == Some(name));
        match (found, value.is_null()) {
            (Some(i), true) => {
                entries.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => {
                let (k, old) = entries.remove(i);
                entries.insert(i, (k, merge(old, value)));
            }
            (None, false) => entries.push((key.clone(), value.clone())),
        }
    }
    Node {
        pos: over.pos,
        end_line: over.end_line.max(base.end_line),
        value: Value::Map(entries),
    }
}

/// Moves a tree (values from another file, or a string whose lines do not map) to one place:
/// every finding in it points there. A block scalar no longer maps line by line.
fn relocate(node: &mut Node, pos: Pos) {
    node.pos = pos;
    node.end_line = pos.line;
    match &mut node.value {
        Value::Str(_, style @ Style::Literal) => *style = Style::Folded,
        Value::Seq(items) => items.iter_mut().for_each(|n| relocate(n, pos)),
        Value::Map(entries) => {
            for (k, v) in entries {
                relocate(k, pos);
                relocate(v, pos);
            }
        }
        _ => {}
    }
}

/// Moves a tree parsed from a block scalar to the lines it occupies in the file.
fn shift(node: &mut Node, lines: u32, cols: u32) {
    node.pos.line += lines;
    node.pos.col += cols;
    node.end_line += lines;
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| shift(n, lines, cols)),
        Value::Map(entries) => {
            for (k, v) in entries {
                shift(k, lines, cols);
                shift(v, lines, cols);
            }
        }
        _ => {}
    }
}

fn empty_map(pos: Pos) -> Node {
    Node {
        pos,
        end_line: pos.line,
        value: Value::Map(Vec::new()),
    }
}

fn scalar(text: &str, style: Style, pos: Pos) -> Node {
    Node {
        pos,
        end_line: pos.line,
        value: Value::Str(text.to_string(), style),
    }
}

/// Sets `a.b.c` (Helm `--set` syntax without list indexes) to `value`.
fn set_path(root: &mut Node, path: &[&str], value: Node) {
    let Some((first, rest)) = path.split_first() else {
        *root = value;
        return;
    };
    if !matches!(root.value, Value::Map(_)) {
        root.value = Value::Map(Vec::new());
    }
    let Value::Map(entries) = &mut root.value else {
        return;
    };
    let i = match entries.iter().position(|(k, _)| k.as_str() == Some(first)) {
        Some(i) => i,
        None => {
            entries.push((scalar(first, Style::Plain, value.pos), empty_map(value.pos)));
            entries.len() - 1
        }
    };
    if let Some((_, child)) = entries.get_mut(i) {
        set_path(child, rest, value);
    }
}

/// A YAML document held in a string (Argo CD `helm.values`, a ConfigMap's `values.yaml`): a
/// block scalar keeps its lines, any other string points at `anchor`.
fn parse_embedded(value: &Node, anchor: Pos) -> Result<Node, yaml::YamlError> {
    let Value::Str(text, style) = &value.value else {
        let mut copy = value.clone();
        relocate(&mut copy, anchor);
        return Ok(copy);
    };
    let docs = yaml::parse_stream(text)?;
    let Some(mut root) = docs.into_iter().next().map(|d| d.root) else {
        return Ok(empty_map(anchor));
    };
    if *style == Style::Literal {
        shift(
            &mut root,
            value.text_first_line().saturating_sub(1),
            value.pos.col.saturating_sub(1),
        );
    } else {
        relocate(&mut root, anchor);
    }
    Ok(root)
}

// ---------------------------------------------------------------------------------------------
// Judging.

/// The values GitLab's chart gives its bundled runner (gitlab chart `values.yaml`,
/// `gitlab-runner:` section: `install: true`, `rbac.create: true`, no `rbac.rules`), placed
/// at `pos`: with them the runner chart renders a `[""] * *` Role in GitLab's own namespace.
fn gitlab_runner_defaults(pos: Pos) -> Node {
    let entry = |key: &str, value: Node| (scalar(key, Style::Plain, pos), value);
    Node {
        pos,
        end_line: pos.line,
        value: Value::Map(vec![
            entry("install", scalar("true", Style::Plain, pos)),
            entry(
                "rbac",
                Node {
                    pos,
                    end_line: pos.line,
                    value: Value::Map(vec![entry("create", scalar("true", Style::Plain, pos))]),
                },
            ),
        ]),
    }
}

/// Judges `values` of `chart` as rendered into `release`.
fn load_chart_values(
    inv: &mut Inventory,
    file: usize,
    chart: Chart,
    values: &Node,
    anchor: Pos,
    mut release: Release,
) {
    match chart {
        Chart::Runner => {
            inv.objects += 1;
            helm::load_release(inv, file, values, &release);
        }
        Chart::GitLab => {
            let at = values.key_node("gitlab-runner").map_or(anchor, |k| k.pos);
            let defaults = gitlab_runner_defaults(at);
            let runner = match values.get("gitlab-runner") {
                Some(given) => merge(defaults, given),
                None => defaults,
            };
            if runner.get("install").and_then(Node::as_bool) == Some(false) {
                return;
            }
            // GitLab's chart version is not the version of the runner chart it bundles.
            release.chart_version = None;
            release.via = Some(format!(
                "{}GitLab chart's bundled runner (values under `gitlab-runner:`)",
                release
                    .via
                    .as_ref()
                    .map(|v| format!("{v}: "))
                    .unwrap_or_default()
            ));
            inv.objects += 1;
            helm::load_release(inv, file, &runner, &release);
        }
    }
}

/// Whether a dependency's `condition` leaves it enabled: the first path that resolves to a
/// boolean decides; none does means enabled (Helm's default), so the values are judged.
fn enabled(values: &Node, condition: &[String]) -> bool {
    condition
        .iter()
        .find_map(|path| {
            let keys: Vec<&str> = path.split('.').collect();
            values.path(&keys).and_then(Node::as_bool)
        })
        .unwrap_or(true)
}

/// A document without `kind`: values of a wrapper or umbrella chart, of GitLab's chart, or
/// runner values under some other key. Returns whether it held runner values.
pub fn load_values(
    inv: &mut Inventory,
    file: usize,
    source: &Source,
    root: &Node,
    ctx: &Context,
) -> bool {
    let (_, base) = split_path(&source.path);
    let is_values_file =
        base.starts_with("values") && (base.ends_with(".yaml") || base.ends_with(".yml"));
    if let Some(dir) = ctx.chart_dir(&source.path).filter(|_| is_values_file) {
        if dir.name == "gitlab" {
            load_chart_values(inv, file, Chart::GitLab, root, root.pos, Release::default());
            return true;
        }
        let mut found = false;
        for dep in &dir.dependencies {
            if !enabled(root, &dep.condition) {
                continue;
            }
            let at = root.key_node(&dep.key).map_or(root.pos, |k| k.pos);
            let values = root.get(&dep.key).cloned().unwrap_or_else(|| empty_map(at));
            let release = Release {
                namespace: None,
                via: Some(format!(
                    "values under `{}:` (dependency {} {} of the chart in this folder)",
                    dep.key,
                    match dep.chart {
                        Chart::Runner => "gitlab-runner",
                        Chart::GitLab => "gitlab",
                    },
                    dep.version.as_deref().unwrap_or("(no version)")
                )),
                chart_version: dep.version.clone(),
            };
            load_chart_values(inv, file, dep.chart, &values, at, release);
            found = true;
        }
        if found {
            return true;
        }
    }
    if helm::looks_like_values(root) {
        inv.objects += 1;
        helm::load(inv, file, root);
        return true;
    }
    // GitLab's chart: its values have `global:` and the bundled runner's `gitlab-runner:`.
    if root.get("global").is_some() && root.get("gitlab-runner").is_some() {
        load_chart_values(inv, file, Chart::GitLab, root, root.pos, Release::default());
        return true;
    }
    let mut found = false;
    for (key, value) in root.string_entries() {
        if matches!(value.value, Value::Map(_)) && helm::looks_like_values(value) {
            let release = Release {
                namespace: None,
                via: Some(format!(
                    "values under `{key}:`, shaped like gitlab-runner values"
                )),
                chart_version: None,
            };
            inv.objects += 1;
            helm::load_release(inv, file, value, &release);
            found = true;
        }
    }
    found
}

fn file_error(inv: &mut Inventory, source: &Source, pos: Pos, message: String) {
    inv.errors.push(FileError {
        path: source.path.clone(),
        line: Some(pos.line),
        column: Some(pos.col),
        message,
    });
}

/// `HelmRelease`, `Application` or `ApplicationSet` that installs gitlab-runner (or GitLab's
/// chart): judged as the chart renders its values. Returns false for any other object, which
/// stays "not judged".
pub fn load_object(
    inv: &mut Inventory,
    file: usize,
    source: &Source,
    kind: &str,
    api_version: &str,
    root: &Node,
    ctx: &Context,
) -> bool {
    match kind {
        "HelmRelease" if api_version.starts_with("helm.toolkit.fluxcd.io/") => {
            load_helm_release(inv, file, source, root, ctx)
        }
        "Application" if api_version.starts_with("argoproj.io/") => {
            load_argo(inv, file, source, root, root.get("spec"), kind, ctx)
        }
        "ApplicationSet" if api_version.starts_with("argoproj.io/") => {
            let spec = root.path(&["spec", "template", "spec"]);
            load_argo(inv, file, source, root, spec, kind, ctx)
        }
        _ => false,
    }
}

fn text<'a>(node: Option<&'a Node>, key: &str) -> Option<&'a str> {
    node.and_then(|n| n.get(key))
        .and_then(Node::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `ns/name` of an object, for messages.
fn object_name(root: &Node) -> String {
    let meta = root.get("metadata");
    match (text(meta, "namespace"), text(meta, "name")) {
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.to_string(),
        _ => "(unnamed)".to_string(),
    }
}

/// Values trees from one or more places, merged in order and judged in one file: the file of
/// every part when they share one (lines exact), else the object's file, where the parts from
/// elsewhere point at the entry that names them.
struct Layers {
    object_file: usize,
    parts: Vec<(usize, Node, Pos)>,
}

impl Layers {
    fn push(&mut self, file: usize, tree: Node, entry: Pos) {
        self.parts.push((file, tree, entry));
    }

    fn merged(self, empty_at: Pos) -> (usize, Node) {
        let first_file = self.parts.first().map_or(self.object_file, |p| p.0);
        let one_file = self.parts.iter().all(|p| p.0 == first_file);
        let file = if one_file {
            first_file
        } else {
            self.object_file
        };
        let mut out: Option<Node> = None;
        for (part_file, mut tree, entry) in self.parts {
            if part_file != file {
                relocate(&mut tree, entry);
            }
            out = Some(match out {
                Some(base) => merge(base, &tree),
                None => tree,
            });
        }
        (file, out.unwrap_or_else(|| empty_map(empty_at)))
    }
}

fn load_helm_release(
    inv: &mut Inventory,
    file: usize,
    source: &Source,
    root: &Node,
    ctx: &Context,
) -> bool {
    let spec = root.get("spec");
    let own_ns = text(root.get("metadata"), "namespace");
    let chart_ref = spec.and_then(|s| s.get("chartRef"));
    let chart_node = spec
        .and_then(|s| s.path(&["chart", "spec", "chart"]))
        .or_else(|| chart_ref.and_then(|r| r.get("name")));
    // A chartRef names an OCIRepository or HelmChart: its URL or chart says which chart.
    let referenced = chart_ref.and_then(|r| {
        let kind = text(Some(r), "kind")?;
        let name = text(Some(r), "name")?;
        let namespace = text(Some(r), "namespace").or(own_ns);
        ctx.stores
            .iter()
            .find(|s| {
                s.kind == kind
                    && s.name == name
                    && (s.namespace.is_none()
                        || namespace.is_none()
                        || s.namespace.as_deref() == namespace)
            })?
            .entries
            .iter()
            .find(|(k, _, _)| k == "chart")
            .and_then(|(_, n, _)| n.as_str())
            .and_then(chart_named)
    });
    let named = chart_node.and_then(Node::as_str).and_then(chart_named);
    let Some(chart) = referenced.or(named) else {
        return false;
    };
    let chart_pos = chart_node.map_or(root.pos, |n| n.pos);
    let name = object_name(root);
    let mut layers = Layers {
        object_file: file,
        parts: Vec::new(),
    };
    for entry in spec
        .and_then(|s| s.get("valuesFrom"))
        .and_then(Node::as_seq)
        .unwrap_or(&[])
    {
        let kind = text(Some(entry), "kind").unwrap_or("ConfigMap");
        let store_name = text(Some(entry), "name").unwrap_or("");
        let key = text(Some(entry), "valuesKey").unwrap_or("values.yaml");
        let optional = entry.get("optional").and_then(Node::as_bool) == Some(true);
        let found = ctx.stores.iter().find(|s| {
            s.kind == kind
                && s.name == store_name
                && (s.namespace.is_none() || own_ns.is_none() || s.namespace.as_deref() == own_ns)
        });
        let value = found.and_then(|s| s.entries.iter().find(|(k, _, _)| k == key));
        let (Some(store), Some((_, value, base64))) = (found, value) else {
            if !optional {
                file_error(
                    inv,
                    source,
                    entry.pos,
                    format!(
                        "HelmRelease {name} takes values from {kind} `{store_name}` (key `{key}`), which the inputs do not hold: add its manifest to the checked files, or check the rendered chart (`helm template ... | rbac-gate check -`)"
                    ),
                );
            }
            continue;
        };
        // Decoded Secret data has no lines in any file: it points at the valuesFrom entry.
        let part_file = if *base64 { file } else { store.file };
        let value = if *base64 {
            let decoded = value.as_str().and_then(crate::base64::decode_text);
            let Some(decoded) = decoded else {
                file_error(
                    inv,
                    source,
                    entry.pos,
                    format!("HelmRelease {name} takes values from Secret `{store_name}` key `{key}`, which is not base64 text; fix the Secret"),
                );
                continue;
            };
            scalar(&decoded, Style::Quoted, entry.pos)
        } else {
            value.clone()
        };
        // `targetPath` sets one value; otherwise the entry is a values file.
        let tree = if let Some(path) = text(Some(entry), "targetPath") {
            // Flux sets it the way `helm --set` does: `true` is a boolean.
            let mut typed = value;
            if let Value::Str(_, style) = &mut typed.value {
                *style = Style::Plain;
            }
            let mut tree = empty_map(typed.pos);
            let keys: Vec<&str> = path.split('.').collect();
            set_path(&mut tree, &keys, typed);
            Ok(tree)
        } else {
            parse_embedded(&value, value.pos)
        };
        match tree {
            Ok(tree) => layers.push(part_file, tree, entry.pos),
            Err(e) => file_error(
                inv,
                source,
                entry.pos,
                format!(
                    "HelmRelease {name} takes values from {kind} `{store_name}` key `{key}`, which is not valid YAML ({}); fix that {kind}",
                    e.message
                ),
            ),
        }
    }
    if let Some(values) = spec.and_then(|s| s.get("values")) {
        layers.push(file, values.clone(), values.pos);
    }
    let (values_file, values) = layers.merged(chart_pos);
    let release = Release {
        namespace: text(spec, "targetNamespace").or(own_ns).map(str::to_string),
        via: Some(format!("HelmRelease {name}")),
        chart_version: spec
            .and_then(|s| s.path(&["chart", "spec", "version"]))
            .and_then(Node::as_str)
            .map(str::to_string),
    };
    load_chart_values(inv, values_file, chart, &values, chart_pos, release);
    true
}

fn load_argo(
    inv: &mut Inventory,
    file: usize,
    source: &Source,
    root: &Node,
    spec: Option<&Node>,
    kind: &str,
    ctx: &Context,
) -> bool {
    let single = spec.and_then(|s| s.get("source")).map(std::slice::from_ref);
    let many = spec.and_then(|s| s.get("sources")).and_then(Node::as_seq);
    let name = object_name(root);
    // An ApplicationSet's destination is often a template: then it is not known.
    let namespace = spec
        .and_then(|s| s.get("destination"))
        .and_then(|d| text(Some(d), "namespace"))
        .filter(|ns| !ns.contains("{{"))
        .map(str::to_string);
    let mut found = false;
    for src in single.or(many).unwrap_or(&[]) {
        let chart_node = src.get("chart");
        let Some(chart) = chart_node.and_then(Node::as_str).and_then(chart_named) else {
            continue;
        };
        found = true;
        let chart_pos = chart_node.map_or(src.pos, |n| n.pos);
        let helm = src.get("helm");
        let mut layers = Layers {
            object_file: file,
            parts: Vec::new(),
        };
        for (path, pos) in helm
            .and_then(|h| h.get("valueFiles"))
            .map(Node::string_list)
            .unwrap_or_default()
        {
            // The chart's own `values.yaml` holds the defaults the model already has.
            if path == "values.yaml" {
                continue;
            }
            match ctx.values_file(&path) {
                Some((values_file, tree)) => layers.push(values_file, tree, pos),
                None => file_error(
                    inv,
                    source,
                    pos,
                    format!(
                        "{kind} {name} takes gitlab-runner values from `{path}`, which the inputs do not hold: add that file to the checked files, move its values into `helm.valuesObject`, or check the rendered chart (`helm template ... | rbac-gate check -`)"
                    ),
                ),
            }
        }
        // Argo CD uses `valuesObject` when set, else the `values` string; parameters go on top.
        if let Some(object) = helm.and_then(|h| h.get("valuesObject")) {
            layers.push(file, object.clone(), object.pos);
        } else if let Some(string) = helm.and_then(|h| h.get("values")) {
            let at = helm
                .and_then(|h| h.key_node("values"))
                .map_or(string.pos, |k| k.pos);
            match parse_embedded(string, at) {
                Ok(tree) => layers.push(file, tree, at),
                Err(e) => {
                    file_error(
                        inv,
                        source,
                        string.pos,
                        format!(
                            "{kind} {name}: `helm.values` is not valid YAML ({}); fix the string",
                            e.message
                        ),
                    );
                    continue;
                }
            }
        }
        let (values_file, mut values) = layers.merged(chart_pos);
        for param in helm
            .and_then(|h| h.get("parameters"))
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            let (Some(path), Some(value)) = (text(Some(param), "name"), param.get("value")) else {
                continue;
            };
            let forced = param.get("forceString").and_then(Node::as_bool) == Some(true);
            // `--set` types its value (`true` is a boolean) unless forced to a string.
            let mut typed = scalar(
                value.as_str().unwrap_or(""),
                if forced { Style::Quoted } else { Style::Plain },
                value.pos,
            );
            if values_file != file {
                relocate(&mut typed, values.pos);
            }
            let keys: Vec<&str> = path.split('.').collect();
            set_path(&mut values, &keys, typed);
        }
        let release = Release {
            namespace: namespace.clone(),
            via: Some(format!("{kind} {name}")),
            chart_version: text(Some(src), "targetRevision").map(str::to_string),
        };
        load_chart_values(inv, values_file, chart, &values, chart_pos, release);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{check, Options};

    fn root(text: &str) -> Node {
        yaml::parse_stream(text).expect("yaml").remove(0).root
    }

    #[test]
    fn chart_names_from_repositories_and_registries() {
        for (name, want) in [
            ("gitlab-runner", Some(Chart::Runner)),
            ("gitlab/gitlab-runner", Some(Chart::Runner)),
            (
                "oci://registry.example/charts/gitlab-runner/",
                Some(Chart::Runner),
            ),
            ("gitlab", Some(Chart::GitLab)),
            ("gitlab-runner-extras", None),
            ("ingress-nginx", None),
        ] {
            assert_eq!(chart_named(name), want, "{name}");
        }
    }

    #[test]
    fn merge_is_helms_merge() {
        let base = root("rbac: {create: true, rules: [a]}\nimage: x\nkeep: 1\n");
        let over = root("rbac: {rules: [b]}\nimage: y\nkeep: null\nnew: 2\n");
        let merged = merge(base, &over);
        assert_eq!(
            merged.path(&["rbac", "create"]).and_then(Node::as_bool),
            Some(true)
        );
        let rules = merged.path(&["rbac", "rules"]).map(Node::string_list);
        assert_eq!(rules.unwrap_or_default()[0].0, "b");
        assert_eq!(merged.get("image").and_then(Node::as_str), Some("y"));
        assert!(merged.get("keep").is_none(), "null removes a default");
        assert_eq!(merged.get("new").and_then(Node::as_str), Some("2"));
    }

    #[test]
    fn a_block_string_keeps_its_lines_and_a_quoted_one_points_at_its_key() {
        let doc = root("helm:\n  values: |\n    rbac:\n      create: true\n  other: \"rbac: {create: true}\"\n");
        let block = doc.path(&["helm", "values"]).expect("values");
        let tree = parse_embedded(block, Pos { line: 2, col: 3 }).expect("parses");
        let create = tree.path(&["rbac", "create"]).expect("create");
        assert_eq!((create.pos.line, create.pos.col), (4, 15));
        let quoted = doc.path(&["helm", "other"]).expect("other");
        let at = Pos { line: 5, col: 3 };
        let tree = parse_embedded(quoted, at).expect("parses");
        assert_eq!(tree.path(&["rbac", "create"]).map(|n| n.pos), Some(at));
    }

    #[test]
    fn parameters_are_typed_unless_forced_to_a_string() {
        let mut values = empty_map(Pos::default());
        set_path(
            &mut values,
            &["rbac", "clusterWideAccess"],
            scalar("true", Style::Plain, Pos::default()),
        );
        set_path(
            &mut values,
            &["rbac", "create"],
            scalar("true", Style::Quoted, Pos::default()),
        );
        assert_eq!(
            values
                .path(&["rbac", "clusterWideAccess"])
                .and_then(Node::as_bool),
            Some(true)
        );
        assert_eq!(
            values.path(&["rbac", "create"]).and_then(Node::as_bool),
            None
        );
    }

    #[test]
    fn a_condition_decides_by_its_first_boolean() {
        let values = root("a: {enabled: false}\nb: {enabled: true}\n");
        let cond = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!enabled(&values, &cond(&["a.enabled", "b.enabled"])));
        assert!(enabled(&values, &cond(&["missing.enabled", "b.enabled"])));
        assert!(enabled(&values, &cond(&["missing.enabled"])));
    }

    /// Runner values with a wildcard default, cluster-wide access and privileged jobs.
    const VALUES: &str = "namespace: ci\ngitlabUrl: https://gitlab.example.com/\nrbac:\n  create: true\n  clusterWideAccess: true\nrunners:\n  config: |\n    [[runners]]\n      [runners.kubernetes]\n        namespace = \"ci\"\n        privileged = true\n";

    fn indent(text: &str, by: usize) -> String {
        text.lines().map(|l| format!("{:by$}{l}\n", "")).collect()
    }

    /// (code, line) of every finding, lines moved back by `offset`.
    fn judged(path: &str, text: &str, offset: u32) -> Vec<(String, u32)> {
        let report = check(&[Source::new(path, text)], &Options::default());
        assert!(report.errors.is_empty(), "{path}: {:?}", report.errors);
        // RG511 notes where nested values were found: only the nested forms have it.
        let mut out: Vec<(String, u32)> = report
            .findings
            .iter()
            .filter(|f| f.code != "RG511")
            .map(|f| (f.code.to_string(), f.line.saturating_sub(offset)))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn gitops_objects_are_judged_like_the_same_values_file() {
        let plain = judged("values.yaml", VALUES, 0);
        for code in ["RG102", "RG203", "RG306"] {
            assert!(plain.iter().any(|(c, _)| c == code), "{code} in {plain:?}");
        }
        let flux = format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: runner, namespace: ci}}\nspec:\n  chart:\n    spec: {{chart: gitlab-runner, version: 0.86.0}}\n  values:\n{}",
            indent(VALUES, 4)
        );
        assert_eq!(judged("release.yaml", &flux, 7), plain, "HelmRelease");
        let noted = check(&[Source::new("release.yaml", &flux)], &Options::default());
        assert!(
            noted
                .findings
                .iter()
                .any(|f| f.code == "RG511" && f.message.contains("HelmRelease")),
            "{:#?}",
            noted.findings
        );
        let argo_object = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: runner}}\nspec:\n  destination: {{namespace: ci}}\n  source:\n    chart: gitlab-runner\n    helm:\n      valuesObject:\n{}",
            indent(VALUES, 8)
        );
        assert_eq!(judged("app.yaml", &argo_object, 9), plain, "valuesObject");
        let argo_string = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: runner}}\nspec:\n  destination: {{namespace: ci}}\n  source:\n    chart: gitlab-runner\n    helm:\n      values: |\n{}",
            indent(VALUES, 8)
        );
        assert_eq!(
            judged("app.yaml", &argo_string, 9),
            plain,
            "helm.values string"
        );
    }

    #[test]
    fn values_from_a_secret_and_a_target_path_merge_in_order() {
        // base64 of "rbac:\n  create: true\n"
        let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: runner-values, namespace: ci}\ndata:\n  values.yaml: cmJhYzoKICBjcmVhdGU6IHRydWUK\n";
        let configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: scope, namespace: ci}\ndata:\n  wide: \"true\"\n";
        let release = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: runner, namespace: ci}\nspec:\n  chart: {spec: {chart: gitlab-runner}}\n  valuesFrom:\n  - {kind: Secret, name: runner-values}\n  - {kind: ConfigMap, name: scope, valuesKey: wide, targetPath: rbac.clusterWideAccess}\n";
        let inv = super::super::build(&[
            Source::new("secret.yaml", secret),
            Source::new("scope.yaml", configmap),
            Source::new("release.yaml", release),
        ]);
        assert!(inv.errors.is_empty(), "{:?}", inv.errors);
        let role = inv.roles.first().expect("a rendered role");
        assert_eq!(role.kind, RoleKind::ClusterRole);
        // Parts from two other files: judged in the HelmRelease, at the entries naming them
        // (a merged mapping points at the last layer that wrote it).
        assert_eq!((role.meta.loc.file, role.meta.loc.line), (2, 8));
        let create = role.rules.first().map(|r| r.loc.line);
        assert_eq!(
            create,
            Some(7),
            "the wildcard default is set by the Secret's entry"
        );
        let wide = inv.helm_values[0].cluster_wide.expect("cluster-wide");
        assert_eq!((wide.file, wide.line), (2, 8));
    }

    #[test]
    fn a_chart_ref_is_the_chart_its_oci_repository_names() {
        let source = "apiVersion: source.toolkit.fluxcd.io/v1beta2\nkind: OCIRepository\nmetadata: {name: ci-chart, namespace: ci}\nspec:\n  url: oci://registry.gitlab.com/gitlab-org/charts/gitlab-runner\n";
        let release = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: runner, namespace: ci}\nspec:\n  chartRef: {kind: OCIRepository, name: ci-chart}\n  values:\n    rbac: {create: true}\n";
        let inv = super::super::build(&[
            Source::new("source.yaml", source),
            Source::new("release.yaml", release),
        ]);
        assert_eq!(inv.helm_values.len(), 1, "{:?}", inv.skipped);
        let other = release.replace("ci-chart", "web-chart");
        let inv = super::super::build(&[
            Source::new("source.yaml", source),
            Source::new("release.yaml", other.as_str()),
        ]);
        assert!(inv.helm_values.is_empty());
    }

    #[test]
    fn other_gitops_objects_stay_not_judged() {
        let text = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web}\nspec:\n  chart:\n    spec: {chart: ingress-nginx}\n  values:\n    rbac: {create: true}\n    gitlabUrl: x\n";
        let inv = super::super::build(&[Source::new("r.yaml", text)]);
        assert!(inv.helm_values.is_empty());
        assert_eq!(inv.skipped.get("HelmRelease"), Some(&1));
    }

    #[test]
    fn a_values_file_pairs_with_the_chart_file_of_its_own_folder_only() {
        let chart = "apiVersion: v2\nname: wrap\ndependencies:\n- {name: gitlab-runner, alias: ci, version: 0.86.0}\n";
        let values = "ci:\n  rbac: {create: true}\n";
        let here = super::super::build(&[
            Source::new("charts/wrap/Chart.yaml", chart),
            Source::new("charts/wrap/values.yaml", values),
        ]);
        assert_eq!(here.helm_values.len(), 1);
        assert!(here.helm_values[0]
            .via
            .as_deref()
            .is_some_and(|v| v.contains("`ci:`")));
        let elsewhere = super::super::build(&[
            Source::new("charts/wrap/Chart.yaml", chart),
            Source::new("charts/other/values.yaml", values),
        ]);
        assert!(
            elsewhere.helm_values.is_empty(),
            "one key is not runner-shaped"
        );
    }
}
