//! `generate` → `check` round trips. For every combination of the features the needs table
//! knows, the generated RBAC must pass the checker with no finding above info, except RG203 on
//! the cluster-wide binding `namespace_per_job` needs, which the generator justifies (and which
//! is then accepted); the checker must recognise the runner manager and the job identity, and
//! report no needed permission missing.

use rbac_gate_core::generate::{
    generate, GenerateFormat, GenerateRequest, GenerateResponse, JobFlags, FEATURES,
};
use rbac_gate_core::report::{Report, Severity};
use rbac_gate_core::{check, Options, Source};

fn run_check(resp: &GenerateResponse) -> Report {
    let mut sources = vec![Source::new("generated.yaml", resp.text.clone())];
    if !resp.extra_manifests.is_empty() {
        sources.push(Source::new("extra.yaml", resp.extra_manifests.clone()));
    }
    check(
        &sources,
        &Options {
            config: Some(Source::new(".rbac-gate.yaml", resp.gate_config.clone())),
            fail_on: Some(Severity::Info),
            today: Some("2026-11-26".into()),
            ..Options::default()
        },
    )
}

/// Why a generated set fails the round trip, or `None`.
fn problems(req: &GenerateRequest, resp: &GenerateResponse) -> Option<String> {
    if !resp.errors.is_empty() {
        return Some(format!("generate errors: {:?}", resp.errors));
    }
    let report = run_check(resp);
    let mut out = Vec::new();
    if !report.errors.is_empty() {
        out.push(format!("check errors: {:?}", report.errors));
    }
    for f in &report.findings {
        let justified_scope = f.code == "RG203"
            && f.accepted.is_some()
            && resp.cluster_wide.as_deref() == Some("namespace_per_job");
        if f.severity > Severity::Info && !justified_scope {
            out.push(format!(
                "{} {:?} line {}: {}",
                f.code, f.severity, f.line, f.message
            ));
        }
    }
    let manager = report.identities.iter().find(|i| i.id == resp.manager);
    match manager {
        Some(m) if m.roles.iter().any(|r| r == "runner-manager") => {
            for p in &m.permissions {
                if p.status != "needed" {
                    out.push(format!(
                        "manager permission {} {}/{} {:?}: {}",
                        p.namespace, p.api_group, p.resource, p.verbs, p.status
                    ));
                }
            }
            if !m.permissions.iter().any(|p| p.status == "needed") {
                out.push("the manager holds nothing needed".into());
            }
        }
        _ => out.push(format!(
            "check did not recognise the manager {}",
            resp.manager
        )),
    }
    if let Some(jobs) = &resp.jobs {
        match report.identities.iter().find(|i| &i.id == jobs) {
            Some(j) if j.roles.iter().any(|r| r == "job") => {
                if !j.permissions.is_empty() {
                    out.push(format!(
                        "the job identity holds permissions: {:?}",
                        j.permissions
                    ));
                }
            }
            _ => out.push(format!("check did not recognise the job identity {jobs}")),
        }
    }
    if !resp
        .text
        .lines()
        .zip(resp.text.lines().skip(1))
        .filter(|(_, next)| next.trim_start().starts_with("- apiGroups:"))
        .all(|(prev, _)| prev.trim_start().starts_with("# "))
    {
        out.push("a rule without its feature comment".into());
    }
    let _ = req;
    (!out.is_empty()).then(|| out.join("\n  "))
}

fn strip_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The needs of the runner a response was generated for (recomputed from the effective
/// features with the needs table) that its rules do not cover.
fn missing_needs(resp: &GenerateResponse) -> Option<String> {
    let version = rbac_gate_core::settings::parse_version(&resp.runner_version)?;
    let features = resp.features.iter().cloned().collect();
    let mut out = Vec::new();
    for need in rbac_gate_core::runner::permissions::needs_for(version, &features) {
        for verb in &need.verbs {
            let covered = resp.rules.iter().any(|r| {
                r.api_group == need.group
                    && r.resource == need.resource
                    && r.verbs.iter().any(|v| v == verb)
                    && (r.scope == "cluster")
                        == (need.scope == rbac_gate_core::runner::NeedScope::Cluster)
            });
            if !covered {
                out.push(format!("{}/{} {verb}", need.group, need.resource));
            }
        }
    }
    (!out.is_empty()).then(|| format!("needs not generated: {}", out.join(", ")))
}

/// The rules of a response that grant a call the needs table does not say the runner makes
/// for it: the runner's needs, plus what job-settable flags need when they are granted.
fn extra_rules(req: &GenerateRequest, resp: &GenerateResponse) -> Option<String> {
    use rbac_gate_core::runner::{permissions, NeedScope};
    let version = rbac_gate_core::settings::parse_version(&resp.runner_version)?;
    let features = resp.features.iter().cloned().collect();
    let mut allowed = permissions::needs_for(version, &features);
    if req.job_flags == JobFlags::Grant {
        let none = std::collections::BTreeSet::new();
        allowed.extend(
            permissions::job_flag_needs(version, &features, &none)
                .into_iter()
                .map(|j| j.need),
        );
    }
    let mut out = Vec::new();
    for rule in &resp.rules {
        for verb in &rule.verbs {
            let said = allowed.iter().any(|n| {
                n.group == rule.api_group
                    && n.resource == rule.resource
                    && n.verbs.iter().any(|v| v == verb)
                    && (rule.scope == "cluster") == (n.scope == NeedScope::Cluster)
            });
            if !said {
                out.push(format!("{}/{} {verb}", rule.api_group, rule.resource));
            }
        }
    }
    (!out.is_empty()).then(|| format!("granted beyond the needs table: {}", out.join(", ")))
}

/// Every subset of the feature names (print_pod_warning_events, on by default, is turned off
/// when "chosen").
fn combination(mask: u32) -> Vec<String> {
    FEATURES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, (name, _))| {
            if *name == "print_pod_warning_events" {
                format!("{name}=false")
            } else {
                (*name).to_string()
            }
        })
        .collect()
}

fn sweep(versions: &[&str], formats: &[GenerateFormat], masks: &[u32], job_namespaces: &[&str]) {
    sweep_with(versions, formats, masks, job_namespaces, JobFlags::Pin);
}

fn sweep_with(
    versions: &[&str],
    formats: &[GenerateFormat],
    masks: &[u32],
    job_namespaces: &[&str],
    job_flags: JobFlags,
) {
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .min(16);
    let work: Vec<(String, GenerateFormat, u32)> = versions
        .iter()
        .flat_map(|v| {
            formats
                .iter()
                .flat_map(move |f| masks.iter().map(move |m| ((*v).to_string(), *f, *m)))
        })
        .collect();
    let failures = std::sync::Mutex::new(Vec::new());
    let seen = std::sync::Mutex::new(std::collections::HashSet::new());
    let checked = std::sync::atomic::AtomicUsize::new(0);
    let chunk = work.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for part in work.chunks(chunk) {
            let (failures, seen, checked) = (&failures, &seen, &checked);
            s.spawn(move || {
                for (version, format, mask) in part {
                    let req = GenerateRequest {
                        runner_version: Some(version.clone()),
                        features: combination(*mask),
                        format: *format,
                        job_namespaces: job_namespaces.iter().map(|s| s.to_string()).collect(),
                        job_flags,
                        ..GenerateRequest::default()
                    };
                    let resp = generate(&req);
                    // Every combination: each need of the runner it describes is generated,
                    // and nothing the needs table does not say the runner's code calls.
                    let missing = missing_needs(&resp).or_else(|| extra_rules(&req, &resp));
                    // The checker sees the features only through the needs they imply (and the
                    // cluster scope), so combinations whose RBAC is identical apart from the
                    // comments are checked once.
                    let key = (
                        version.clone(),
                        *format,
                        strip_comments(&resp.text),
                        strip_comments(&resp.extra_manifests),
                        resp.cluster_wide.clone(),
                        resp.jobs.clone(),
                    );
                    let fresh = seen.lock().map(|mut s| s.insert(key)).unwrap_or(true);
                    let problem = match (missing, fresh) {
                        (Some(m), _) => Some(m),
                        (None, true) => {
                            checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            problems(&req, &resp)
                        }
                        (None, false) => None,
                    };
                    if let Some(p) = problem {
                        if let Ok(mut f) = failures.lock() {
                            f.push(format!("{version} {format:?} {:?}:\n  {p}", req.features));
                        }
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_default();
    eprintln!(
        "{} combinations, {} distinct RBAC sets checked",
        work.len(),
        checked.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(
        failures.is_empty(),
        "{} failing combinations, first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_feature_combination_newest_runner() {
    let all: Vec<u32> = (0..(1u32 << FEATURES.len())).collect();
    sweep(&["19.3"], &[GenerateFormat::Manifests], &all, &[]);
}

/// Masks over the named features only.
fn masks_over(names: &[&str]) -> Vec<u32> {
    let bits: Vec<u32> = names
        .iter()
        .map(|n| {
            let i = FEATURES
                .iter()
                .position(|(f, _)| f == n)
                .unwrap_or_else(|| panic!("unknown feature {n}"));
            1u32 << i
        })
        .collect();
    (0..(1u32 << bits.len()))
        .map(|m| {
            bits.iter()
                .enumerate()
                .filter(|(i, _)| m & (1 << i) != 0)
                .fold(0, |acc, (_, b)| acc | b)
        })
        .collect()
}

/// Job-settable flags granted instead of pinned: every version where a flag's needs change.
#[test]
fn job_settable_flags_granted() {
    let masks = masks_over(&[
        "namespace_per_job",
        "session_server",
        "FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY",
        "FF_KUBERNETES_HONOR_ENTRYPOINT",
        "FF_PRINT_POD_EVENTS",
        "FF_CONCRETE",
    ]);
    sweep_with(
        &[
            "16.4", "16.5", "17.3", "17.4", "17.8", "17.9", "19.1", "19.2", "19.3",
        ],
        &[GenerateFormat::Manifests],
        &masks,
        &[],
        JobFlags::Grant,
    );
}

/// The "no more" check can fail: the documented verbs are beyond what the code sends.
#[test]
fn documented_verbs_are_beyond_the_table() {
    let req = GenerateRequest {
        include_documented: true,
        ..GenerateRequest::default()
    };
    let extra = extra_rules(&req, &generate(&req)).unwrap_or_default();
    assert!(extra.contains("/pods/exec patch"), "{extra}");
    let req = GenerateRequest {
        features: vec!["resource_availability_check".into()],
        ..GenerateRequest::default()
    };
    let resp = generate(&req);
    assert!(
        resp.rules.iter().any(|r| r.resource == "serviceaccounts"),
        "the generated config names a job ServiceAccount: {}",
        resp.text
    );
    assert_eq!(extra_rules(&req, &resp), None);
}

#[test]
fn older_runner_versions() {
    // Every version where the needs table changes, with the features that matter before 18.11.
    let masks = masks_over(&[
        "namespace_per_job",
        "print_pod_warning_events",
        "resource_availability_check",
        "session_server",
        "FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY",
        "FF_KUBERNETES_HONOR_ENTRYPOINT",
        "FF_PRINT_POD_EVENTS",
        "FF_RETRIEVE_POD_WARNING_EVENTS",
        "CI_DEBUG_SERVICES",
    ]);
    sweep(
        &[
            "12.8", "12.9", "13.12", "14.0", "15.0", "15.1", "15.7", "15.8", "16.2", "16.5",
            "17.1", "17.2", "17.3", "17.4", "17.8", "17.9", "18.0", "18.10", "18.11", "19.0",
            "19.2", "19.4",
        ],
        &[GenerateFormat::Manifests],
        &masks,
        &[],
    );
}

#[test]
fn helm_values_every_scope_feature() {
    let masks = masks_over(&[
        "namespace_per_job",
        "autoscaler",
        "FF_SUSPENDABLE_ENVIRONMENTS",
        "session_server",
        "pod_disruption_budget",
        "print_pod_warning_events",
        "FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY",
        "FF_CONCRETE",
    ]);
    sweep(&["19.3", "18.0"], &[GenerateFormat::Helm], &masks, &[]);
    // Jobs in another namespace than the runner: the chart's `runners.jobNamespace`.
    sweep(&["19.3"], &[GenerateFormat::Helm], &masks, &["ci"]);
    let resp = generate(&GenerateRequest {
        format: GenerateFormat::Helm,
        job_namespaces: vec!["a".into(), "b".into()],
        ..GenerateRequest::default()
    });
    assert_eq!(
        resp.errors.len(),
        1,
        "one job namespace only: {:?}",
        resp.errors
    );
}

#[test]
fn several_job_namespaces() {
    let masks = masks_over(&[
        "namespace_per_job",
        "autoscaler",
        "FF_SUSPENDABLE_ENVIRONMENTS",
        "namespace_overwrite_allowed",
        "session_server",
    ]);
    sweep(
        &["19.3"],
        &[GenerateFormat::Manifests],
        &masks,
        &["ci", "ci-review"],
    );
}

#[test]
fn custom_names() {
    let resp = generate(&GenerateRequest {
        namespace: Some("runners".into()),
        job_namespaces: vec!["builds".into()],
        service_account: Some("runner-mgr".into()),
        job_service_account: Some("builder".into()),
        ..GenerateRequest::default()
    });
    assert_eq!(resp.manager, "system:serviceaccount:runners:runner-mgr");
    assert_eq!(
        resp.jobs.as_deref(),
        Some("system:serviceaccount:builds:builder")
    );
    assert_eq!(problems(&GenerateRequest::default(), &resp), None);
}

#[test]
fn features_read_from_config_toml_and_helm_values() {
    let toml = "concurrent = 4
[session_server]
  listen_address = \"0.0.0.0:8093\"
[[runners]]
  name = \"k8s\"
  executor = \"kubernetes\"
  [runners.kubernetes]
    namespace = \"ci\"
    service_account = \"ci-job\"
    pod_disruption_budget = true
  [runners.feature_flags]
    FF_PRINT_POD_EVENTS = true
";
    let resp = generate(&GenerateRequest {
        sources: vec![Source::new("config.toml", toml)],
        ..GenerateRequest::default()
    });
    assert!(resp.errors.is_empty(), "{:?}", resp.errors);
    assert_eq!(resp.job_namespaces, vec!["ci".to_string()]);
    assert_eq!(
        resp.jobs.as_deref(),
        Some("system:serviceaccount:ci:ci-job")
    );
    for f in [
        "session_server",
        "pod_disruption_budget",
        "FF_PRINT_POD_EVENTS",
    ] {
        assert!(
            resp.features.iter().any(|x| x == f),
            "{f}: {:?}",
            resp.features
        );
    }
    assert!(resp.text.contains("poddisruptionbudgets"));
    assert!(resp.text.contains("services/proxy"));
    assert_eq!(problems(&GenerateRequest::default(), &resp), None);

    let values = "gitlabUrl: https://gitlab.example.com/
namespace: runners
serviceAccount:
  name: my-runner
runners:
  config: |
    [[runners]]
      [runners.kubernetes]
        namespace_per_job = true
";
    for format in [GenerateFormat::Manifests, GenerateFormat::Helm] {
        let resp = generate(&GenerateRequest {
            sources: vec![Source::new("values.yaml", values)],
            format,
            ..GenerateRequest::default()
        });
        assert_eq!(resp.manager, "system:serviceaccount:runners:my-runner");
        assert_eq!(resp.cluster_wide.as_deref(), Some("namespace_per_job"));
        assert_eq!(problems(&GenerateRequest::default(), &resp), None);
    }
    // Flags win over the file.
    let resp = generate(&GenerateRequest {
        sources: vec![Source::new("config.toml", toml)],
        features: vec!["session_server=false".into()],
        job_namespaces: vec!["other".into()],
        ..GenerateRequest::default()
    });
    assert!(!resp.text.contains("services/proxy"));
    assert_eq!(resp.job_namespaces, vec!["other".to_string()]);
}

#[test]
fn not_a_runner_config_is_an_error() {
    let resp = generate(&GenerateRequest {
        sources: vec![Source::new(
            "x.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        )],
        ..GenerateRequest::default()
    });
    assert_eq!(resp.errors.len(), 1, "{:?}", resp.errors);
    assert!(resp.text.is_empty());
}
