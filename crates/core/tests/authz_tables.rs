//! The RBAC authorizer's own test tables from the Kubernetes repository, as data
//! (`tests/authz/*.json`; see `tests/authz/README.md` for the sources and how to refresh them).
//!
//! Each block's roles and bindings are written out as manifests and read by the core like any
//! input; the core's authorizer then answers every row: whether a request is allowed
//! (`authorize`), which binding subjects may make it (`allowedSubjects`) and which rules apply to
//! a user in a namespace (`rulesFor`). Kubernetes is the truth: every row must agree.
//!
//! The objects are taken as the API server stores them: bootstrap reconciliation (which would
//! add the default rules to the tables' own `admin` and `cluster-admin` roles) is not part of the
//! authorizer and is not applied here.

use rbac_gate_core::authz::{Attributes, Authz, Identity};
use rbac_gate_core::model::{self, Inventory, PolicyRule};
use rbac_gate_core::Source;
use serde::Deserialize;
use std::path::{Path, PathBuf};

const TABLES: [&str; 3] = ["rbac_test", "subject_locator_test", "rule_test"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    source: SourceNote,
    blocks: Vec<Block>,
    #[serde(default)]
    skipped: Vec<Skipped>,
    #[serde(default)]
    not_compared: Vec<NotCompared>,
    not_from_bindings: Option<NotFromBindings>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceNote {
    repository: String,
    path: String,
    commit: String,
    version_note: String,
    translation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Skipped {
    test: String,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotCompared {
    what: String,
    reason: String,
}

/// Subjects the Go code lists whatever the bindings say; `superUser` stands for the block's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotFromBindings {
    subjects: Vec<String>,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Block {
    test: String,
    case: String,
    harness: Option<String>,
    super_user: Option<String>,
    #[serde(default)]
    roles: Vec<RoleData>,
    #[serde(default)]
    cluster_roles: Vec<RoleData>,
    #[serde(default)]
    role_bindings: Vec<BindingData>,
    #[serde(default)]
    cluster_role_bindings: Vec<BindingData>,
    #[serde(default)]
    authorize: Vec<RequestData>,
    #[serde(default)]
    allowed_subjects: Vec<SubjectsRow>,
    #[serde(default)]
    rules_for: Vec<RulesForRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleData {
    name: String,
    namespace: Option<String>,
    rules: Vec<RuleData>,
}

#[derive(Deserialize, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuleData {
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    api_groups: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    resource_names: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    non_resource_urls: Vec<String>,
}

impl RuleData {
    fn of(rule: &PolicyRule) -> RuleData {
        RuleData {
            verbs: rule.verbs.clone(),
            api_groups: rule.api_groups.clone(),
            resources: rule.resources.clone(),
            resource_names: rule.resource_names.clone(),
            non_resource_urls: rule.non_resource_urls.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BindingData {
    namespace: Option<String>,
    role_ref: RoleRefData,
    subjects: Vec<SubjectData>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleRefData {
    kind: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectData {
    kind: String,
    name: String,
    namespace: Option<String>,
}

/// A request; omitted fields are Go's zero value `""`. `allowed` (and `index`, the matching
/// subject of TestAppliesTo, not compared) only in `authorize` rows.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RequestData {
    comment: Option<String>,
    #[serde(default)]
    user: String,
    #[serde(default)]
    groups: Vec<String>,
    verb: String,
    #[serde(default)]
    api_group: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    subresource: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    path: Option<String>,
    allowed: Option<bool>,
    index: Option<usize>,
}

impl RequestData {
    fn attributes(&self) -> Attributes {
        Attributes {
            user: self.user.clone(),
            groups: self.groups.clone(),
            verb: self.verb.clone(),
            path: self.path.clone(),
            api_group: self.api_group.clone(),
            resource: self.resource.clone(),
            subresource: self.subresource.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        }
    }

    fn describe(&self) -> String {
        let what = match &self.path {
            Some(path) => format!("nonResourceURL {path:?}"),
            None => format!(
                "apiGroup={:?} resource={:?} subresource={:?} name={:?} namespace={:?}",
                self.api_group, self.resource, self.subresource, self.name, self.namespace
            ),
        };
        format!(
            "user={:?} groups={:?} verb={:?} {what}{}",
            self.user,
            self.groups,
            self.verb,
            self.comment
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectsRow {
    comment: Option<String>,
    request: RequestData,
    subjects: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesForRow {
    comment: Option<String>,
    #[serde(default)]
    user: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    namespace: String,
    rules: Vec<RuleData>,
}

fn tables_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/authz")
}

fn load(name: &str) -> Table {
    let path = tables_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let table: Table =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let s = &table.source;
    assert_eq!(s.repository, "kubernetes/kubernetes", "{name}: source");
    assert!(
        s.path.ends_with(&format!("{name}.go")) && s.commit.len() == 40,
        "{name}: the source must name the Go file and its full commit"
    );
    assert!(!s.version_note.is_empty() && !s.translation.is_empty());
    for skipped in &table.skipped {
        assert!(
            !skipped.reason.trim().is_empty(),
            "{}: skipped without a reason",
            skipped.test
        );
    }
    if let Some(note) = &table.not_from_bindings {
        assert!(
            !note.reason.trim().is_empty(),
            "{name}: not_from_bindings needs a reason"
        );
    }
    for block in &table.blocks {
        let harness = block.harness.as_deref().unwrap_or("described");
        assert!(
            !harness.trim().is_empty(),
            "{}: empty harness note",
            block.case
        );
    }
    for note in &table.not_compared {
        assert!(!note.reason.trim().is_empty(), "{}: no reason", note.what);
    }
    table
}

/// A YAML scalar or flow sequence: JSON's quoting is valid YAML.
fn quoted<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| panic!("cannot quote: {e}"))
}

fn rule_yaml(rule: &RuleData) -> String {
    let mut out = String::from("- verbs: ");
    out.push_str(&quoted(&rule.verbs));
    for (key, list) in [
        ("apiGroups", &rule.api_groups),
        ("resources", &rule.resources),
        ("resourceNames", &rule.resource_names),
        ("nonResourceURLs", &rule.non_resource_urls),
    ] {
        if !list.is_empty() {
            out.push_str(&format!("\n  {key}: {}", quoted(list)));
        }
    }
    out.push('\n');
    out
}

fn metadata(name: &str, namespace: Option<&str>) -> String {
    let ns = namespace
        .map(|ns| format!("\n  namespace: {}", quoted(ns)))
        .unwrap_or_default();
    format!("metadata:\n  name: {}{ns}\n", quoted(name))
}

/// The block's objects as one multi-document manifest. The Go bindings have no names (the
/// authorizer does not read them): each gets one from its position.
fn manifests(block: &Block) -> String {
    let mut docs = Vec::new();
    let roles = block.roles.iter().map(|r| ("Role", r));
    let cluster_roles = block.cluster_roles.iter().map(|r| ("ClusterRole", r));
    for (kind, role) in roles.chain(cluster_roles) {
        let rules: String = role.rules.iter().map(rule_yaml).collect();
        docs.push(format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\n{}rules:\n{rules}",
            metadata(&role.name, role.namespace.as_deref())
        ));
    }
    let rbs = block.role_bindings.iter().map(|b| ("RoleBinding", b));
    let crbs = block
        .cluster_role_bindings
        .iter()
        .map(|b| ("ClusterRoleBinding", b));
    for (i, (kind, binding)) in rbs.chain(crbs).enumerate() {
        let subjects: String = binding
            .subjects
            .iter()
            .map(|s| {
                let ns = s
                    .namespace
                    .as_deref()
                    .map(|ns| format!("\n  namespace: {}", quoted(ns)))
                    .unwrap_or_default();
                format!(
                    "- kind: {}\n  name: {}{ns}\n",
                    quoted(&s.kind),
                    quoted(&s.name)
                )
            })
            .collect();
        docs.push(format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\n{}roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: {}\n  name: {}\nsubjects:\n{subjects}",
            metadata(&format!("binding-{i}"), binding.namespace.as_deref()),
            quoted(&binding.role_ref.kind),
            quoted(&binding.role_ref.name),
        ));
    }
    docs.join("---\n")
}

/// The block's objects as the core reads them, checked to be all there.
fn inventory(block: &Block) -> Inventory {
    let text = manifests(block);
    let inv = model::build(&[Source::new("authz-table.yaml", text.as_str())]);
    assert!(
        inv.errors.is_empty(),
        "{}: {:?}\n{text}",
        block.case,
        inv.errors
    );
    assert_eq!(
        inv.roles.len(),
        block.roles.len() + block.cluster_roles.len(),
        "{}: every role is read\n{text}",
        block.case
    );
    assert_eq!(
        inv.bindings.len(),
        block.role_bindings.len() + block.cluster_role_bindings.len(),
        "{}: every binding is read\n{text}",
        block.case
    );
    inv
}

fn subject_name(id: &Identity) -> String {
    match id {
        Identity::User(name) => format!("User:{name}"),
        Identity::Group(name) => format!("Group:{name}"),
        Identity::ServiceAccount { namespace, name } => {
            format!("ServiceAccount:{namespace}:{name}")
        }
    }
}

/// Every row of `table` the engine disagrees with, and how many rows were asked.
fn disagreements(table: &Table) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut asked = 0;
    for block in &table.blocks {
        let inv = inventory(block);
        let az = Authz::build(&inv);
        let at = |row: usize| format!("{} {:?} row {row}", block.test, block.case);
        for (row, request) in block.authorize.iter().enumerate() {
            let Some(allowed) = request.allowed else {
                out.push(format!("{}: an authorize row needs `allowed`", at(row)));
                continue;
            };
            asked += 1;
            let engine = az.authorize(&inv, &request.attributes());
            if engine != allowed {
                out.push(format!(
                    "{}: Kubernetes {}, engine {}: {}",
                    at(row),
                    if allowed { "allows" } else { "denies" },
                    if engine { "allows" } else { "denies" },
                    request.describe()
                ));
            }
        }
        for (row, expected) in block.allowed_subjects.iter().enumerate() {
            asked += 1;
            if expected.request.allowed.is_some() || expected.request.index.is_some() {
                out.push(format!("{}: a subjects request has no `allowed`", at(row)));
            }
            let from_evaluator: Vec<String> = table
                .not_from_bindings
                .iter()
                .flat_map(|n| &n.subjects)
                .filter_map(|s| match (s.as_str(), block.super_user.as_deref()) {
                    ("superUser", Some("") | None) => None,
                    ("superUser", Some(user)) => Some(format!("User:{user}")),
                    _ => Some(s.clone()),
                })
                .collect();
            for s in &from_evaluator {
                if !expected.subjects.contains(s) {
                    out.push(format!("{}: the Go list lacks {s}", at(row)));
                }
            }
            let mut want: Vec<String> = expected
                .subjects
                .iter()
                .filter(|s| !from_evaluator.contains(s))
                .cloned()
                .collect();
            let mut engine: Vec<String> = az
                .allowed_subjects(&inv, &expected.request.attributes())
                .iter()
                .map(subject_name)
                .collect();
            want.sort();
            engine.sort();
            if engine != want {
                out.push(format!(
                    "{}{}: Kubernetes {want:?}, engine {engine:?}: {}",
                    at(row),
                    expected
                        .comment
                        .as_deref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default(),
                    expected.request.describe()
                ));
            }
        }
        for (row, expected) in block.rules_for.iter().enumerate() {
            asked += 1;
            let mut want = expected.rules.clone();
            let mut engine: Vec<RuleData> = az
                .rules_for(&inv, &expected.user, &expected.groups, &expected.namespace)
                .into_iter()
                .map(RuleData::of)
                .collect();
            want.sort();
            engine.sort();
            if engine != want {
                out.push(format!(
                    "{}{}: Kubernetes {want:?}, engine {engine:?}",
                    at(row),
                    expected
                        .comment
                        .as_deref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    (out, asked)
}

fn check_table(name: &str) {
    let table = load(name);
    let rows: usize = table
        .blocks
        .iter()
        .map(|b| b.authorize.len() + b.allowed_subjects.len() + b.rules_for.len())
        .sum();
    let (wrong, asked) = disagreements(&table);
    assert!(
        wrong.is_empty(),
        "{name}: the engine disagrees with Kubernetes on {} of {asked} rows:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        asked > 0 && asked == rows,
        "{name}: {asked} of {rows} rows asked"
    );
    eprintln!("{name}: {asked} rows agree");
}

#[test]
fn authorizer_tables_agree_with_rbac_test_go() {
    check_table(TABLES[0]);
}

#[test]
fn subject_locator_tables_agree_with_subject_locator_test_go() {
    check_table(TABLES[1]);
}

#[test]
fn subject_matching_and_rules_for_agree_with_rule_test_go() {
    check_table(TABLES[2]);
}

/// The harness can fail: a flipped answer, a dropped subject and a dropped rule are each
/// reported.
#[test]
fn a_wrong_expectation_is_reported() {
    let mut table = load(TABLES[0]);
    let first = &mut table.blocks[0].authorize[0];
    first.allowed = first.allowed.map(|a| !a);
    assert_eq!(disagreements(&table).0.len(), 1);

    let mut table = load(TABLES[1]);
    table.blocks[0].allowed_subjects[0].subjects.pop();
    assert_eq!(disagreements(&table).0.len(), 1);

    let mut table = load(TABLES[2]);
    let case0 = &mut table.blocks[0].rules_for[0];
    case0.rules.pop();
    assert_eq!(disagreements(&table).0.len(), 1);
}

#[test]
fn every_table_file_is_run() {
    let mut files: Vec<String> = std::fs::read_dir(tables_dir())
        .unwrap_or_else(|e| panic!("tests/authz: {e}"))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    let mut run: Vec<String> = TABLES.iter().map(|t| format!("{t}.json")).collect();
    run.sort();
    assert_eq!(files, run, "add a new table to TABLES");
}
