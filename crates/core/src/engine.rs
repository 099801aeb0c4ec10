//! Orchestration: settings, inventory, authorizer, runner model, rules, then acceptance
//! (justifications and exceptions), ordering and counts.

use crate::api::{Options, Source};
use crate::authz::{self, Authz, Identity};
use crate::context::Ctx;
use crate::model::{self, Inventory, Loc, Meta, Origin};
use crate::report::{
    Acceptance, Counts, FileError, Finding, IdentityReport, PermissionRow, PolicyInfo, Report,
    REPORT_SCHEMA,
};
use crate::rules;
use crate::runner::{self, RunnerModel};
use crate::settings::{self, Settings};
use std::collections::BTreeMap;

pub const JUSTIFICATION: &str = "rbac-gate.dev/justification";
pub const JUSTIFICATION_EXPIRES: &str = "rbac-gate.dev/justification-expires";

pub fn run(sources: &[Source], options: &Options) -> Report {
    let (settings, mut errors) = settings::load(options);
    let mut inv = model::build_with(sources, &settings);
    model::assume_namespaces(&mut inv, &settings.default_namespace);
    authz::complete_roles(&mut inv);
    let az = Authz::build(&inv);
    let runners = runner::build(&inv, &az, &settings);
    let mut ctx = Ctx::new(sources, &inv, &az, &runners, &settings);
    let mut per_rule = Vec::new();
    for rule in rules::all() {
        let meta = rule.meta();
        if settings.disabled.contains(meta.code) {
            continue;
        }
        let mut out = Vec::new();
        rule.check(&ctx, &mut out);
        if meta.code == rules::policy_changed::PolicyChanged::META.code {
            out.extend(proposed_config_findings(&ctx, options, &mut errors));
        }
        if let Some(sev) = settings.severity_overrides.get(meta.code) {
            for f in out.iter_mut().filter(|f| f.severity != *sev) {
                f.overridden_from = Some(f.severity);
                f.severity = *sev;
            }
        }
        out.shrink_to_fit();
        per_rule.push(out);
    }
    ctx.release_caches(!options.skip_identities);
    let platform = PlatformObjects::of(&inv, &az);
    for out in &mut per_rule {
        platform.suppress(sources, out);
    }
    let mut extra = Vec::new();
    accept(&ctx, per_rule.iter_mut().flatten(), &mut extra);
    let identities = if options.skip_identities {
        Vec::new()
    } else {
        let escalations = rules::privilege::escalation_paths(&ctx);
        identity_reports(&inv, &az, &runners, &escalations)
    };
    errors.extend(inv.errors.iter().cloned());
    errors.extend(runner::config_errors(sources, &inv));
    errors.sort_by(|a, b| {
        (&a.path, a.line, a.column, &a.message).cmp(&(&b.path, b.line, b.column, &b.message))
    });
    errors.dedup();
    let mut inputs = InputCounts::of(sources, &inv);
    inputs.defaults = platform.count;
    // Everything below needs only the findings. The model goes first: the merged findings
    // need one contiguous block (12 MB at 100,000 findings in the policy module), which the
    // freed model can hold, where on top of it the module's memory had to grow (and wasm
    // memory never shrinks).
    drop(ctx);
    drop(runners);
    drop(az);
    drop(inv);
    let mut findings =
        Vec::with_capacity(per_rule.iter().map(Vec::len).sum::<usize>() + extra.len());
    for out in per_rule {
        findings.extend(out);
    }
    findings.extend(extra);
    order(&mut findings);
    let config = settings.applied(options.config_revision.as_deref());
    assemble(&settings, config, inputs, findings, identities, errors)
}

/// `policy-changed`: with a trusted config (`config_revision`), what the tree's own config
/// would loosen. Its errors are the run's errors: once merged it is the config every later
/// run reads, so a broken one fails now, with its line.
fn proposed_config_findings(
    ctx: &Ctx,
    options: &Options,
    errors: &mut Vec<FileError>,
) -> Vec<Finding> {
    let Some(revision) = options.config_revision.as_deref() else {
        return Vec::new();
    };
    let (proposed, proposed_errors) = settings::load_proposed(options.proposed_config.as_ref());
    if !proposed_errors.is_empty() {
        errors.extend(proposed_errors);
        return Vec::new();
    }
    // Both sides as their files say, before `--fail-on` and `--runner-version`: the run's own
    // flags apply to the trusted config only, and are no change the merge request made.
    let (trusted, _) = settings::load_proposed(options.config.as_ref());
    rules::policy_changed::findings(
        ctx,
        &trusted,
        &rules::policy_changed::Proposed {
            settings: &proposed,
            path: options.proposed_config.as_ref().map(|c| c.path.as_str()),
            revision,
        },
    )
}

/// What the report counts of its inputs, taken before the model is dropped.
struct InputCounts {
    files: usize,
    documents: usize,
    objects: usize,
    skipped_kinds: BTreeMap<String, usize>,
    defaults: usize,
}

/// Input objects identical to the bootstrap policy: the platform, not the change under check.
/// Findings anchored on them (by object name and a line inside them) are dropped.
struct PlatformObjects {
    /// (file, first line, last line, display) of each default object.
    spans: Vec<(usize, u32, u32, String)>,
    count: usize,
}

impl PlatformObjects {
    fn of(inv: &Inventory, az: &Authz) -> PlatformObjects {
        let roles = inv
            .roles
            .iter()
            .zip(&az.default_roles)
            .filter(|(_, d)| **d)
            .map(|(r, _)| (&r.meta, r.display()));
        let bindings = inv
            .bindings
            .iter()
            .zip(&az.default_bindings)
            .filter(|(_, d)| **d)
            .map(|(b, _)| (&b.meta, b.display()));
        let spans: Vec<(usize, u32, u32, String)> = roles
            .chain(bindings)
            .map(|(m, display)| (m.loc.file, m.loc.line, m.loc.end_line, display))
            .collect();
        let count = spans.len();
        PlatformObjects { spans, count }
    }

    fn suppress(&self, sources: &[Source], findings: &mut Vec<Finding>) {
        if self.spans.is_empty() {
            return;
        }
        let files: BTreeMap<&str, usize> = self
            .spans
            .iter()
            .filter_map(|(file, ..)| sources.get(*file).map(|s| (s.path.as_str(), *file)))
            .collect();
        findings.retain(|f| {
            let Some(&file) = files.get(f.path.as_str()) else {
                return true;
            };
            // Both: anchored on the default object by name, and inside its lines. A name alone
            // would cover a same-named object elsewhere in the file, lines alone another object
            // written on the same line (flow YAML, one-line JSON).
            !self.spans.iter().any(|(sf, first, last, display)| {
                *sf == file
                    && f.object.as_deref() == Some(display.as_str())
                    && (*first..=*last).contains(&f.line)
            })
        });
    }
}

impl InputCounts {
    fn of(sources: &[Source], inv: &Inventory) -> InputCounts {
        InputCounts {
            files: sources.len(),
            documents: inv.documents,
            objects: inv.objects,
            skipped_kinds: inv.skipped.clone(),
            defaults: 0,
        }
    }
}

fn assemble(
    settings: &Settings,
    config: crate::report::AppliedConfig,
    inputs: InputCounts,
    findings: Vec<Finding>,
    identities: Vec<IdentityReport>,
    errors: Vec<FileError>,
) -> Report {
    let failing = findings
        .iter()
        .filter(|f| f.fails(settings.fail_on))
        .count();
    let mut by_severity = BTreeMap::new();
    for f in &findings {
        *by_severity
            .entry(f.severity.as_str().to_string())
            .or_insert(0) += 1;
    }
    let verdict = if !errors.is_empty() {
        "error"
    } else if failing > 0 {
        "fail"
    } else {
        "pass"
    };
    Report {
        schema: REPORT_SCHEMA.to_string(),
        policy: PolicyInfo {
            version: crate::POLICY_VERSION.to_string(),
            sha256: None,
        },
        config,
        fail_on: settings.fail_on,
        verdict: verdict.to_string(),
        counts: Counts {
            files: inputs.files,
            documents: inputs.documents,
            objects: inputs.objects,
            skipped: inputs.skipped_kinds.values().sum(),
            findings: findings.len(),
            failing,
            accepted: findings.iter().filter(|f| f.accepted.is_some()).count(),
            errors: errors.len(),
            by_severity,
            defaults: inputs.defaults,
        },
        findings,
        identities,
        errors,
        skipped_kinds: inputs.skipped_kinds,
    }
}

/// Deterministic order; one finding per fingerprint (the most severe wins).
///
/// The order is total over what a finding shows, so an in-place unstable sort gives the same
/// result as a stable one; a stable sort's buffer (half the findings, 6 MB at 100,000) had to
/// be found on top of everything else.
fn order(findings: &mut Vec<Finding>) {
    fn key(f: &Finding) -> impl Ord + '_ {
        (
            (
                &f.path,
                f.line,
                f.column,
                &f.code,
                std::cmp::Reverse(f.severity),
                &f.fingerprint,
            ),
            (
                &f.message,
                &f.help,
                f.end_line,
                &f.object,
                &f.identity,
                &f.steps,
                &f.accepted,
            ),
        )
    }
    findings.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
    let mut seen = std::collections::BTreeSet::new();
    findings.retain(|f| seen.insert(f.fingerprint.clone()));
}

/// Objects written in the inputs, for finding the one a finding is anchored on.
fn anchored_objects(inv: &Inventory) -> Vec<(&Meta, String)> {
    let mut out: Vec<(&Meta, String)> = Vec::new();
    out.extend(inv.roles.iter().map(|r| (&r.meta, r.display())));
    out.extend(inv.bindings.iter().map(|b| (&b.meta, b.display())));
    out.extend(
        inv.service_accounts
            .iter()
            .map(|s| (&s.meta, format!("ServiceAccount {}", s.meta.name))),
    );
    out.extend(
        inv.secrets
            .iter()
            .map(|s| (&s.meta, format!("Secret {}", s.meta.name))),
    );
    out.extend(
        inv.workloads
            .iter()
            .map(|w| (&w.meta, format!("{} {}", w.kind, w.meta.name))),
    );
    out.retain(|(m, _)| m.origin == Origin::Manifest);
    out
}

/// Finds the innermost object (smallest line span; the first in `objects` order on a tie)
/// whose span holds a finding's line, without scanning every object for every finding
/// (quadratic on a large dump).
struct ObjectIndex {
    by_file: BTreeMap<usize, FileSpans>,
}

/// One file's object spans: (start line, end line, index into `objects`), sorted, one entry
/// per distinct span (the first object in order), and the largest end line up to each entry.
#[derive(Default)]
struct FileSpans {
    entries: Vec<(u32, u32, usize)>,
    max_end: Vec<u32>,
}

impl ObjectIndex {
    fn new(objects: &[(&Meta, String)]) -> ObjectIndex {
        let mut spans: BTreeMap<(usize, u32, u32), usize> = BTreeMap::new();
        for (i, (m, _)) in objects.iter().enumerate() {
            spans
                .entry((m.loc.file, m.loc.line, m.loc.end_line))
                .or_insert(i);
        }
        let mut by_file: BTreeMap<usize, FileSpans> = BTreeMap::new();
        for ((file, start, end), i) in spans {
            let f = by_file.entry(file).or_default();
            let prev = f.max_end.last().copied().unwrap_or(0);
            f.entries.push((start, end, i));
            f.max_end.push(prev.max(end));
        }
        ObjectIndex { by_file }
    }

    fn innermost(&self, file: usize, line: u32) -> Option<usize> {
        let FileSpans { entries, max_end } = self.by_file.get(&file)?;
        let mut best: Option<(u32, usize)> = None;
        let mut k = entries.partition_point(|(start, _, _)| *start <= line);
        while k > 0 {
            k -= 1;
            let (start, end, i) = entries[k];
            // Nothing at or before k reaches `line`, or nothing earlier can be smaller.
            if max_end[k] < line || best.is_some_and(|(span, _)| line - start > span) {
                break;
            }
            if line <= end {
                let span = end - start;
                if best.is_none_or(|b| (span, i) < b) {
                    best = Some((span, i));
                }
            }
        }
        best.map(|(_, i)| i)
    }
}

fn expired(today: Option<&str>, expires: &str) -> bool {
    // ISO dates compare correctly as strings.
    today.is_some_and(|t| t > expires)
}

/// Applies justification annotations and config exceptions. An expired justification or
/// exception accepts nothing and is itself reported.
fn accept<'f>(
    ctx: &Ctx,
    findings: impl IntoIterator<Item = &'f mut Finding>,
    extra: &mut Vec<Finding>,
) {
    let objects = anchored_objects(ctx.inv);
    let index = ObjectIndex::new(&objects);
    let today = ctx.settings.today.as_deref();
    let file_of: BTreeMap<&str, usize> = ctx
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.path.as_str(), i))
        .collect();
    let mut reported_expired = std::collections::BTreeSet::new();
    for f in findings {
        let Some(&file) = file_of.get(f.path.as_str()) else {
            continue;
        };
        if let Some((meta, display)) = index.innermost(file, f.line).map(|i| &objects[i]) {
            if let Some(reason) = meta.justification() {
                let expires = meta.annotations.get(JUSTIFICATION_EXPIRES).cloned();
                match &expires {
                    Some(x) if !settings::valid_date(x) || expired(today, x) => {
                        if reported_expired.insert(display.clone()) {
                            let why = if settings::valid_date(x) {
                                format!("the justification on {display} expired on {x}")
                            } else {
                                format!("the justification on {display} has an invalid expiry `{x}` (want YYYY-MM-DD)")
                            };
                            extra.push(expired_finding(ctx, meta, display, why));
                        }
                    }
                    _ => match justification_refused(
                        &ctx.settings.justifications,
                        f.severity,
                        expires.as_deref(),
                        today,
                    ) {
                        None => {
                            f.accepted = Some(Box::new(Acceptance {
                                reason: reason.to_string(),
                                expires,
                                source: "annotation".to_string(),
                            }));
                            continue;
                        }
                        // Said in the finding's help, so that its author learns why the
                        // annotation did not count; a config exception may still accept it.
                        Some(why) => {
                            f.help.push_str(&format!(
                                "\nThe justification on {display} does not accept this finding: {why}."
                            ));
                        }
                    },
                }
            }
        }
        for e in &ctx.settings.exceptions {
            let object_ok = e
                .object
                .as_deref()
                .is_none_or(|o| f.object.as_deref().is_some_and(|fo| object_matches(o, fo)));
            // `ns/name` is the ServiceAccount `system:serviceaccount:ns:name`, exactly: a User
            // named `x:ns:name` is someone else.
            let identity_ok = e.identity.as_deref().is_none_or(|i| {
                let service_account = i
                    .split_once('/')
                    .map(|(ns, name)| format!("system:serviceaccount:{ns}:{name}"));
                f.identity.as_deref() == Some(i)
                    || (service_account.is_some() && f.identity == service_account)
            });
            if e.rule != f.code || !object_ok || !identity_ok {
                continue;
            }
            if e.expires.as_deref().is_some_and(|x| expired(today, x)) {
                continue;
            }
            f.accepted = Some(Box::new(Acceptance {
                reason: e.reason.clone(),
                expires: e.expires.clone(),
                source: "config".to_string(),
            }));
            break;
        }
    }
    for e in &ctx.settings.exceptions {
        if let Some(x) = e.expires.as_deref().filter(|x| expired(today, x)) {
            let path = ctx
                .settings
                .path
                .clone()
                .unwrap_or_else(|| ".rbac-gate.yaml".into());
            let meta = &crate::rules::expired_justification::ExpiredJustification::META;
            let d = ctx
                .draft(
                    meta,
                    Loc::default(),
                    format!("the exception for {} expired on {x}; it no longer accepts anything", e.rule),
                    "Fix the findings it covered, or renew the exception with a new `expires` date and a current reason.",
                )
                .key(format!("{}:{}", e.rule, e.object.clone().unwrap_or_default()));
            let mut tmp = Vec::new();
            ctx.emit(&mut tmp, d);
            for mut t in tmp {
                t.path = path.clone();
                t.line = e.line;
                t.end_line = e.line;
                extra.push(t);
            }
        }
    }
}

/// Why the config's `justifications` limits keep an annotation from accepting a finding of
/// `severity`, if they do. The annotation is on an object of the merge request: how far it can
/// accept is the config's decision (by default up to high, never a critical).
fn justification_refused(
    limits: &crate::report::JustificationPolicy,
    severity: crate::report::Severity,
    expires: Option<&str>,
    today: Option<&str>,
) -> Option<String> {
    if !limits.allowed {
        return Some(
            "the config turns justification annotations off (`justifications.allowed: false`); a config exception can accept it".to_string(),
        );
    }
    if severity > limits.max_severity {
        return Some(format!(
            "a {} finding can only be accepted by an exception in the config (`justifications.max-severity: {}`)",
            severity.as_str(),
            limits.max_severity.as_str()
        ));
    }
    match expires {
        None if limits.require_expiry => Some(format!(
            "the config requires `{JUSTIFICATION_EXPIRES}` (`justifications.require-expiry: true`)"
        )),
        Some(x) => {
            let ahead = today.and_then(|t| settings::days_between(t, x))?;
            (ahead > i64::from(limits.max_days)).then(|| {
                format!(
                    "its expiry {x} is {ahead} days ahead, more than the config allows (`justifications.max-days: {}`)",
                    limits.max_days
                )
            })
        }
        None => None,
    }
}

/// `Role/ci/runner`, `Role ci/runner` and `ClusterRole/x` style names all match.
fn object_matches(pattern: &str, object: &str) -> bool {
    let norm = |s: &str| s.replacen(' ', "/", 1);
    norm(pattern) == norm(object)
}

fn expired_finding(ctx: &Ctx, meta: &Meta, display: &str, why: String) -> Finding {
    let rule = &crate::rules::expired_justification::ExpiredJustification::META;
    let d = ctx
        .draft(
            rule,
            meta.loc,
            format!("{why}; its findings are no longer accepted"),
            format!("Fix the findings on {display}, or renew `{JUSTIFICATION_EXPIRES}` with a new date and a current `{JUSTIFICATION}`."),
        )
        .object(display.to_string())
        .key("expired");
    let mut out = Vec::new();
    ctx.emit(&mut out, d);
    out.remove(0)
}

/// Effective permissions per identity, for the playground's matrix.
fn identity_reports(
    inv: &Inventory,
    az: &Authz,
    runners: &RunnerModel,
    escalations: &BTreeMap<String, Vec<Vec<String>>>,
) -> Vec<IdentityReport> {
    let mut out = Vec::new();
    // Looked up per identity: scanning every workload for each was quadratic on a large dump.
    let workload_ids: std::collections::BTreeSet<Identity> = inv
        .workloads
        .iter()
        .map(|w| {
            Identity::sa(
                w.namespace.as_deref().unwrap_or("default"),
                w.service_account_name(),
            )
        })
        .collect();
    for id in &az.identities {
        let mut roles = Vec::new();
        if runners.is_manager(id) {
            roles.push("runner-manager".to_string());
        }
        if runners.is_job(id) {
            roles.push("job".to_string());
        }
        if workload_ids.contains(id) {
            roles.push("workload".to_string());
        }
        if roles.is_empty() {
            roles.push("subject".to_string());
        }
        let manager = runners.is_manager(id);
        let mut rows = Vec::new();
        for gi in az.grants_of(id) {
            let g = &az.grants[gi];
            let namespace = match &g.scope {
                authz::Scope::Cluster => "*".to_string(),
                authz::Scope::Namespace(ns) => ns.clone(),
            };
            let via = az.via(inv, gi);
            for rule in &inv.roles[g.role].rules {
                if rule.resources.is_empty() {
                    continue;
                }
                for group in &rule.api_groups {
                    for resource in &rule.resources {
                        // Only a runner manager needs anything; for every other identity
                        // (nearly all of a cluster dump) each verb is simply granted.
                        let (needed, excess): (Vec<String>, Vec<String>) = if manager {
                            rule.verbs.iter().cloned().partition(|v| {
                                runners.needed(
                                    id,
                                    v,
                                    group,
                                    resource,
                                    match &g.scope {
                                        authz::Scope::Cluster => None,
                                        authz::Scope::Namespace(ns) => Some(ns.as_str()),
                                    },
                                )
                            })
                        } else {
                            (Vec::new(), rule.verbs.clone())
                        };
                        for (verbs, status) in [
                            (needed, "needed"),
                            (excess, if manager { "excess" } else { "granted" }),
                        ] {
                            if verbs.is_empty() {
                                continue;
                            }
                            rows.push(PermissionRow {
                                namespace: namespace.clone(),
                                api_group: group.clone(),
                                resource: resource.clone(),
                                verbs,
                                resource_names: rule.resource_names.clone(),
                                status: status.to_string(),
                                via: via.clone(),
                            });
                        }
                    }
                }
            }
        }
        for r in runners.runners_managed_by(id) {
            for m in runner::missing(inv, az, r) {
                rows.push(PermissionRow {
                    namespace: m.namespace.clone().unwrap_or_else(|| "*".to_string()),
                    api_group: m.need.group.to_string(),
                    resource: m.need.resource.to_string(),
                    verbs: m.verbs.iter().map(|v| (*v).to_string()).collect(),
                    resource_names: Vec::new(),
                    status: "missing".to_string(),
                    via: format!("needed for {}", m.need.feature),
                });
            }
        }
        rows.sort_by(|a, b| {
            (&a.namespace, &a.api_group, &a.resource, &a.status, &a.via).cmp(&(
                &b.namespace,
                &b.api_group,
                &b.resource,
                &b.status,
                &b.via,
            ))
        });
        out.push(IdentityReport {
            id: id.id(),
            roles,
            permissions: rows,
            escalations: escalations.get(&id.id()).cloned().unwrap_or_default(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::api::{Options, Source};

    /// Two bindings to cluster-admin: the runner's ServiceAccount and a User whose name ends
    /// like it.
    const BINDINGS: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: runner-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: gitlab-runner
  namespace: ci
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: lookalike-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: User
  name: mallory:ci:gitlab-runner
";

    #[test]
    fn an_exception_for_a_service_account_covers_that_account_only() {
        let config = "exceptions:\n  - rule: RG101\n    identity: ci/gitlab-runner\n    reason: break glass\n";
        let report = crate::check(
            &[Source::new("b.yaml", BINDINGS)],
            &Options {
                config: Some(Source::new(".rbac-gate.yaml", config)),
                ..Options::default()
            },
        );
        let rg101: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.code == "RG101")
            .map(|f| (f.identity.clone().unwrap_or_default(), f.accepted.is_some()))
            .collect();
        assert!(
            rg101.contains(&("system:serviceaccount:ci:gitlab-runner".to_string(), true)),
            "{rg101:?}"
        );
        assert!(
            rg101.contains(&("user:mallory:ci:gitlab-runner".to_string(), false)),
            "{rg101:?}"
        );
    }
}
