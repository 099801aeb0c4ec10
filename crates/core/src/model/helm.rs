//! gitlab-runner Helm chart values: what the chart renders from them (chart 0.53.2 – 0.86.0
//! template logic, see README "Helm values").

use super::extract::policy_rule;
use super::*;
use crate::yaml::{Node, Style, Value};

/// Namespace assumed for the Helm release when the values do not say (`namespace:`).
pub const DEFAULT_RELEASE_NAMESPACE: &str = "gitlab-runner";
/// `gitlab-runner.fullname` for a release named `gitlab-runner`.
pub const FULLNAME: &str = "gitlab-runner";

#[derive(Debug, Clone)]
pub struct HelmValues {
    pub file: usize,
    pub loc: Loc,
    /// Where the values sit when they are not a whole values file of the gitlab-runner chart:
    /// `values under \`gitlab-runner:\` (dependency in Chart.yaml)`, `HelmRelease ci/runner`.
    pub via: Option<String>,
    /// The chart version the installation pins (`0.86.0`), when it names one exactly.
    pub chart_version: Option<String>,
    pub release_namespace: String,
    pub cluster_wide: Option<Loc>,
    /// Index of the rendered Role/ClusterRole in the inventory, if `rbac.create`.
    pub role: Option<usize>,
    pub service_account: String,
}

const SHAPE_KEYS: &[&str] = &[
    "rbac",
    "runners",
    "serviceAccount",
    "gitlabUrl",
    "runnerToken",
    "runnerRegistrationToken",
    "concurrent",
    "checkInterval",
    "sessionServer",
];

pub fn looks_like_values(root: &Node) -> bool {
    let hits = SHAPE_KEYS.iter().filter(|k| root.get(k).is_some()).count();
    hits >= 2 || root.path(&["runners", "config"]).is_some() || root.get("gitlabUrl").is_some()
}

fn text_at<'a>(root: &'a Node, path: &[&str]) -> Option<&'a str> {
    root.path(path)
        .and_then(Node::as_str)
        .filter(|s| !s.is_empty())
}

/// Resolves the chart's `tpl` expressions in `runners.config`. The chart's own default is
/// `{{ default .Release.Namespace .Values.runners.jobNamespace }}`; anything naming a namespace
/// resolves to the job namespace, other expressions to an empty string.
fn resolve_tpl(text: &str, job_namespace: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = &after[..end];
        if expr.contains("Namespace") || expr.contains("jobNamespace") {
            out.push_str(job_namespace);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// What the installation says about the release beside the values: its namespace (a Flux
/// `targetNamespace`, an Argo CD destination) and how the values were found.
#[derive(Debug, Clone, Default)]
pub struct Release {
    pub namespace: Option<String>,
    pub via: Option<String>,
    /// The chart version pinned by the dependency, HelmRelease or Application; a range
    /// (`~0.86`, `0.86.*`) is no version.
    pub chart_version: Option<String>,
}

/// `major.minor.patch` of an exact chart version (`0.86.0`, `v0.83.1`); ranges give `None`.
fn exact_version(text: &str) -> Option<(u32, u32, u32)> {
    let text = text.trim().trim_start_matches('v');
    let core = text.split(['-', '+']).next().unwrap_or(text);
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// Chart 0.84.0 (charts!522) first put the Role in `runners.jobNamespace`; before, it was
/// always in the release namespace (reference: gitlab-runner-rbac.md, section 2.3).
const ROLE_IN_JOB_NAMESPACE_FROM: (u32, u32, u32) = (0, 84, 0);

/// A whole gitlab-runner values file.
pub fn load(inv: &mut Inventory, file: usize, root: &Node) {
    load_release(inv, file, root, &Release::default());
}

/// Runner values (a whole file, a subchart's key, a GitOps object's values) as the chart
/// renders them into `release`.
pub fn load_release(inv: &mut Inventory, file: usize, root: &Node, release: &Release) {
    // The chart: `default .Release.Namespace .Values.namespace`.
    let release_ns = text_at(root, &["namespace"])
        .or(release.namespace.as_deref())
        .unwrap_or(DEFAULT_RELEASE_NAMESPACE)
        .to_string();
    let job_ns = text_at(root, &["runners", "jobNamespace"]).map(str::to_string);
    let rbac_create = root.path(&["rbac", "create"]).and_then(Node::as_bool) == Some(true);
    let sa_create = root
        .path(&["serviceAccount", "create"])
        .and_then(Node::as_bool);
    let sa_name = if let Some(n) = text_at(root, &["serviceAccount", "name"]) {
        n.to_string()
    } else if sa_create == Some(true) {
        FULLNAME.to_string()
    } else if rbac_create {
        text_at(root, &["rbac", "generatedServiceAccountName"])
            .unwrap_or(FULLNAME)
            .to_string()
    } else {
        text_at(root, &["rbac", "serviceAccountName"])
            .unwrap_or("")
            .to_string()
    };
    let values_loc = Loc::span(file, root.pos, root.end_line);
    let helm_meta = |name: &str, namespace: Option<&str>, loc: Loc| Meta {
        name: name.to_string(),
        namespace: namespace.map(str::to_string),
        labels: [("app".to_string(), "gitlab-runner".to_string())].into(),
        annotations: StringMap::default(),
        loc,
        origin: Origin::Helm,
    };
    let cluster_wide_node = root.path(&["rbac", "clusterWideAccess"]);
    let cluster_wide = cluster_wide_node.and_then(Node::as_bool) == Some(true);
    let cluster_wide_loc = cluster_wide_node.filter(|_| cluster_wide).map(|n| {
        Loc::at(
            file,
            root.get("rbac")
                .and_then(|r| r.key_node("clusterWideAccess"))
                .map_or(n.pos, |k| k.pos),
        )
    });
    let mut role_index = None;
    if rbac_create {
        let rbac = root.get("rbac");
        let rbac_loc = rbac.map_or(values_loc, |r| Loc::span(file, r.pos, r.end_line));
        let chart = release.chart_version.as_deref().and_then(exact_version);
        let role_ns = match &job_ns {
            Some(ns) if chart.is_none_or(|v| v >= ROLE_IN_JOB_NAMESPACE_FROM) => ns.clone(),
            _ => release_ns.clone(),
        };
        let mut rules = Vec::new();
        if root
            .path(&["rbac", "podSecurityPolicy", "enabled"])
            .and_then(Node::as_bool)
            == Some(true)
        {
            let psp = root.path(&["rbac", "podSecurityPolicy"]);
            let names = psp
                .and_then(|p| p.get("resourceNames"))
                .map(|n| n.string_list().into_iter().map(|(s, _)| s).collect())
                .unwrap_or_else(|| vec!["gitlab-runner".to_string()]);
            let loc = psp.map_or(rbac_loc, |p| Loc::span(file, p.pos, p.end_line));
            rules.push(PolicyRule {
                api_groups: vec!["policy".into()],
                resources: vec!["podsecuritypolicies".into()],
                verbs: vec!["use".into()],
                resource_names: names,
                non_resource_urls: Vec::new(),
                loc,
                resource_locs: vec![loc],
            });
        }
        let given = root
            .path(&["rbac", "rules"])
            .and_then(Node::as_seq)
            .unwrap_or(&[]);
        if given.is_empty() {
            // The chart's silent default: everything in the core group.
            let anchor = rbac
                .and_then(|r| r.key_node("rules").or_else(|| r.key_node("create")))
                .map_or(rbac_loc, |k| Loc::at(file, k.pos));
            rules.push(PolicyRule {
                api_groups: vec![String::new()],
                resources: vec!["*".into()],
                verbs: vec!["*".into()],
                resource_names: Vec::new(),
                non_resource_urls: Vec::new(),
                loc: anchor,
                resource_locs: vec![anchor],
            });
        }
        for r in given {
            let mut rule = policy_rule(file, r);
            // The chart's defaults for omitted fields: a rule without verbs or resources is a
            // wildcard.
            if r.get("apiGroups").is_none() {
                rule.api_groups = vec![String::new()];
            }
            if r.get("resources").is_none() {
                rule.resources = vec!["*".into()];
                rule.resource_locs = vec![rule.loc];
            }
            if r.get("verbs").is_none() {
                rule.verbs = vec!["*".into()];
            }
            rules.push(rule);
        }
        let (kind, ns) = if cluster_wide {
            (RoleKind::ClusterRole, None)
        } else {
            (RoleKind::Role, Some(role_ns.as_str()))
        };
        role_index = Some(inv.roles.len());
        inv.roles.push(Role {
            kind,
            meta: helm_meta(FULLNAME, ns, rbac_loc),
            rules,
            aggregation: None,
            aggregated_from: Vec::new(),
        });
        let binding_kind = if cluster_wide {
            BindingKind::ClusterRoleBinding
        } else {
            BindingKind::RoleBinding
        };
        inv.bindings.push(Binding {
            kind: binding_kind,
            meta: helm_meta(FULLNAME, ns, rbac_loc),
            role_ref: RoleRef {
                kind: if cluster_wide { "ClusterRole" } else { "Role" }.to_string(),
                name: FULLNAME.to_string(),
                api_group: "rbac.authorization.k8s.io".to_string(),
                loc: rbac_loc,
            },
            subjects: vec![Subject {
                kind: SubjectKind::ServiceAccount,
                name: if sa_name.is_empty() {
                    "default".into()
                } else {
                    sa_name.clone()
                },
                namespace: Some(release_ns.clone()),
                loc: rbac_loc,
            }],
        });
    }
    let sa_rendered = sa_create == Some(true) || (rbac_create && sa_create.is_none());
    let automount_node = root.get("automountServiceAccountToken");
    if sa_rendered && !sa_name.is_empty() {
        let loc = root
            .key_node("serviceAccount")
            .map_or(values_loc, |k| Loc::at(file, k.pos));
        inv.service_accounts.push(ServiceAccount {
            meta: helm_meta(&sa_name, Some(&release_ns), loc),
            automount: automount_node.and_then(Node::as_bool),
            automount_loc: automount_node.map(|n| Loc::at(file, n.pos)),
        });
    }
    // The runner Deployment the chart renders.
    let deploy_loc = root
        .key_node("gitlabUrl")
        .map_or(Loc::at(file, root.pos), |k| Loc::at(file, k.pos));
    let mut labels = StringMap::default();
    labels.insert("app".to_string(), "gitlab-runner".to_string());
    inv.workloads.push(Workload {
        kind: "Deployment".to_string(),
        meta: helm_meta(FULLNAME, Some(&release_ns), deploy_loc),
        namespace: Some(release_ns.clone()),
        service_account: sa_name.clone(),
        service_account_loc: root
            .key_node("serviceAccount")
            .map(|k| Loc::at(file, k.pos)),
        automount: automount_node.and_then(Node::as_bool),
        images: vec!["registry.gitlab.com/gitlab-org/gitlab-runner".to_string()],
        labels,
        projected_tokens: Vec::new(),
        host_paths: Vec::new(),
        privileged: Vec::new(),
        configmaps: Vec::new(),
        runner_version: super::workload::values_runner_version(file, root),
    });
    if let Some(cfg) = root.path(&["runners", "config"]) {
        if let Value::Str(text, style) = &cfg.value {
            let job_namespace = job_ns.clone().unwrap_or_else(|| release_ns.clone());
            inv.runner_configs.push(RunnerConfigSource {
                file,
                first_line: cfg.text_first_line(),
                col_offset: cfg.pos.col.saturating_sub(1),
                exact_lines: matches!(style, Style::Literal),
                anchor: Loc::at(
                    file,
                    root.get("runners")
                        .and_then(|r| r.key_node("config"))
                        .map_or(cfg.pos, |k| k.pos),
                ),
                namespace: Some(release_ns.clone()),
                configmap: None,
                from_helm: true,
                via: release.via.clone(),
                label: "config.toml".to_string(),
                text: resolve_tpl(text, &job_namespace),
            });
        }
    }
    inv.helm_values.push(HelmValues {
        file,
        loc: values_loc,
        via: release.via.clone(),
        chart_version: release
            .chart_version
            .clone()
            .filter(|v| exact_version(v).is_some()),
        release_namespace: release_ns,
        cluster_wide: cluster_wide_loc,
        role: role_index,
        service_account: sa_name,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_chart_versions_decide() {
        assert_eq!(exact_version("0.86.0"), Some((0, 86, 0)));
        assert_eq!(exact_version("v0.83.1"), Some((0, 83, 1)));
        assert_eq!(exact_version("0.84.0-rc1"), Some((0, 84, 0)));
        for range in ["~0.86.0", "0.86.*", ">=0.80.0", "0.86", "", "latest"] {
            assert_eq!(exact_version(range), None, "{range}");
        }
    }

    fn role_namespace(chart_version: Option<&str>) -> Option<String> {
        let root = crate::yaml::parse_stream(
            "rbac: {create: true}\nrunners: {jobNamespace: ci-jobs}\nnamespace: ci\n",
        )
        .expect("yaml")
        .remove(0)
        .root;
        let mut inv = Inventory::default();
        let release = Release {
            chart_version: chart_version.map(str::to_string),
            ..Release::default()
        };
        load_release(&mut inv, 0, &root, &release);
        inv.roles.first().and_then(|r| r.meta.namespace.clone())
    }

    #[test]
    fn charts_before_0_84_put_the_role_in_the_release_namespace() {
        assert_eq!(role_namespace(Some("0.83.2")).as_deref(), Some("ci"));
        assert_eq!(role_namespace(Some("0.84.0")).as_deref(), Some("ci-jobs"));
        assert_eq!(role_namespace(Some("~0.80")).as_deref(), Some("ci-jobs"));
        assert_eq!(role_namespace(None).as_deref(), Some("ci-jobs"));
    }

    #[test]
    fn chart_default_namespace_expression_resolves() {
        let t = "namespace = \"{{ default .Release.Namespace .Values.runners.jobNamespace }}\"";
        assert_eq!(resolve_tpl(t, "ci"), "namespace = \"ci\"");
    }
}
