use crate::context::Ctx;
use crate::declare_rule;
use crate::model::Loc;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};
use crate::settings::{Exception, Settings};

declare_rule! {
    /// ### What it does
    /// When the gate's config is read from a trusted revision (`--config-from-rev`, which the
    /// CI component sets to the merge request's target branch), compares it with the config the
    /// merge request proposes and reports everything the change loosens: a rule disabled, a
    /// severity lowered, a new or longer exception, a higher `fail-on`, justification
    /// annotations allowed further, runner identities and features changed, a namespace taken
    /// off `sensitive-namespaces` or `default-namespace` changed, a chart's `rendered:` output
    /// added or changed (the gate then reads that file instead of the chart's templates). Each
    /// finding points at the line of the proposed config that loosens.
    ///
    /// ### Why is this bad
    /// The merge request is what the gate judges. If the same merge request could rewrite the
    /// gate's config, its author could disable the rule that would block it. The config of the
    /// target branch is the policy in force; a change that loosens it must be seen and reviewed
    /// on its own. A change that only tightens passes.
    ///
    /// ### Example
    /// ```yaml
    /// # .rbac-gate.yaml as proposed by the merge request
    /// disable: [cluster-admin-binding]
    /// severity:
    ///   RG104: info
    /// ```
    ///
    /// ### Fix
    /// Drop the loosening from this merge request. If the policy really should change, land
    /// the config change in a merge request of its own, reviewed by the gate's owners (for
    /// example through `CODEOWNERS` on `.rbac-gate.yaml`), before the changes that need it.
    pub PolicyChanged,
    code = "RG902",
    name = "policy-changed",
    severity = High,
    category = Hygiene,
    summary = "The merge request loosens the gate's own config",
}

impl Rule for PolicyChanged {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    /// Emitted by the engine, which holds both configs; nothing to scan here.
    fn check(&self, _ctx: &Ctx, _out: &mut Vec<Finding>) {}
}

/// The config a merge request proposes, next to the trusted one the gate runs with.
pub struct Proposed<'a> {
    /// The proposed config as it would load on its own.
    pub settings: &'a Settings,
    /// Its path; `None` when the merge request deletes the config (or never had one).
    pub path: Option<&'a str>,
    /// Where the trusted config came from, for messages.
    pub revision: &'a str,
}

/// One way the proposed config loosens the trusted one: the setting's line key in the
/// proposed file ([`Settings::lines`]), what it does, and a key for the fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loosening {
    pub line_key: String,
    pub what: String,
    pub key: String,
}

/// Everything `proposed` loosens relative to `trusted`, in a stable order.
pub fn loosenings(trusted: &Settings, proposed: &Settings) -> Vec<Loosening> {
    let mut out = Vec::new();
    let mut push = |line_key: String, what: String, key: String| {
        out.push(Loosening {
            line_key,
            what,
            key,
        })
    };
    if proposed.fail_on > trusted.fail_on {
        push(
            "fail-on".into(),
            format!(
                "raises `fail-on` from {} to {}",
                trusted.fail_on.as_str(),
                proposed.fail_on.as_str()
            ),
            "fail-on".into(),
        );
    }
    for code in proposed.disabled.difference(&trusted.disabled) {
        push(
            format!("disable/{code}"),
            format!("disables rule {}", rule_label(code)),
            format!("disable/{code}"),
        );
    }
    for rule in crate::rules::all() {
        let meta = rule.meta();
        if proposed.disabled.contains(meta.code) || trusted.disabled.contains(meta.code) {
            continue;
        }
        let before = trusted.effective_severity(meta.code, meta.severity);
        let after = proposed.effective_severity(meta.code, meta.severity);
        if after < before {
            push(
                format!("severity/{}", meta.code),
                format!(
                    "lowers the severity of {} from {} to {}",
                    rule_label(meta.code),
                    before.as_str(),
                    after.as_str()
                ),
                format!("severity/{}", meta.code),
            );
        }
    }
    for e in &proposed.exceptions {
        if trusted.exceptions.iter().any(|t| covers(t, e)) {
            continue;
        }
        let scope = [e.object.as_deref(), e.identity.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        let scope = if scope.is_empty() {
            "every object".to_string()
        } else {
            scope.join(", ")
        };
        let expires = e.expires.as_deref().map_or_else(
            || ", never expiring".to_string(),
            |x| format!(", until {x}"),
        );
        push(
            format!("exception-line/{}", e.line),
            format!(
                "adds an exception for {} on {scope}{expires}",
                rule_label(&e.rule)
            ),
            format!(
                "exception/{}/{}/{}",
                e.rule,
                e.object.as_deref().unwrap_or("*"),
                e.identity.as_deref().unwrap_or("*")
            ),
        );
    }
    let (t, p) = (&trusted.justifications, &proposed.justifications);
    if p.allowed && !t.allowed {
        push(
            "justifications/allowed".into(),
            "lets justification annotations accept findings again".into(),
            "justifications/allowed".into(),
        );
    }
    if p.allowed && p.max_severity > t.max_severity {
        push(
            "justifications/max-severity".into(),
            format!(
                "lets justification annotations accept {} findings (was up to {})",
                p.max_severity.as_str(),
                t.max_severity.as_str()
            ),
            "justifications/max-severity".into(),
        );
    }
    if p.allowed && t.require_expiry && !p.require_expiry {
        push(
            "justifications/require-expiry".into(),
            "lets justification annotations go without an expiry date".into(),
            "justifications/require-expiry".into(),
        );
    }
    if p.allowed && p.max_days > t.max_days {
        push(
            "justifications/max-days".into(),
            format!(
                "lets justifications run {} days ahead (was {})",
                p.max_days, t.max_days
            ),
            "justifications/max-days".into(),
        );
    }
    // Who counts as the runner or its jobs decides which permissions are "needed"; any change
    // there can turn a finding into an expected grant, so it is never a pure tightening.
    for (what, before, after) in [
        (
            "runner",
            &trusted.runner_identities,
            &proposed.runner_identities,
        ),
        ("jobs", &trusted.job_identities, &proposed.job_identities),
    ] {
        if before != after {
            push(
                format!("identities/{what}"),
                format!(
                    "changes `identities.{what}` from [{}] to [{}]",
                    before.join(", "),
                    after.join(", ")
                ),
                format!("identities/{what}"),
            );
        }
    }
    if proposed.runner_version != trusted.runner_version {
        let (pm, pn) = proposed.runner_version;
        let (tm, tn) = trusted.runner_version;
        push(
            "runner/version".into(),
            format!("changes `runner.version` from {tm}.{tn} to {pm}.{pn}, which changes what the runner is judged to need"),
            "runner/version".into(),
        );
    }
    for namespace in trusted
        .sensitive_namespaces
        .difference(&proposed.sensitive_namespaces)
    {
        // Removed from the list: the line is gone, so the finding points at the key.
        push(
            "sensitive-namespaces".into(),
            format!("removes `{namespace}` from `sensitive-namespaces`, so jobs there no longer count as critical"),
            format!("sensitive-namespaces/{namespace}"),
        );
    }
    if proposed.default_namespace != trusted.default_namespace {
        push(
            "default-namespace".into(),
            format!(
                "changes `default-namespace` from {} to {}, which moves every object written without a namespace",
                trusted.default_namespace, proposed.default_namespace
            ),
            "default-namespace".into(),
        );
    }
    // An entry replaces what the gate reads for a chart: its templates go unjudged and a file
    // the merge request writes (or a build job renders) stands in for them.
    for r in &proposed.rendered {
        if trusted
            .rendered
            .iter()
            .any(|t| t.chart == r.chart && t.output == r.output)
        {
            continue;
        }
        let chart = if r.chart.is_empty() { "." } else { &r.chart };
        let was = trusted
            .rendered
            .iter()
            .filter(|t| t.chart == r.chart)
            .map(|t| format!(" (was `{}`)", t.output))
            .next()
            .unwrap_or_default();
        push(
            crate::settings::rendered_line_key(&r.chart, &r.output),
            format!(
                "judges chart `{chart}` by the file `{}`{was} instead of its templates",
                r.output
            ),
            format!("rendered/{}", r.chart),
        );
    }
    for feature in proposed.features.difference(&trusted.features) {
        push(
            format!("runner/features/{feature}"),
            format!(
                "turns on runner feature `{feature}`, which makes more permissions count as needed"
            ),
            format!("runner/features/{feature}"),
        );
    }
    out
}

/// Whether the trusted exception `t` already accepts everything `p` accepts, for no longer.
fn covers(t: &Exception, p: &Exception) -> bool {
    let scope = |trusted: &Option<String>, proposed: &Option<String>| {
        trusted.is_none() || trusted == proposed
    };
    let lasts = match (&t.expires, &p.expires) {
        (None, _) => true,
        (Some(_), None) => false,
        // ISO dates compare as strings.
        (Some(te), Some(pe)) => pe <= te,
    };
    t.rule == p.rule && scope(&t.object, &p.object) && scope(&t.identity, &p.identity) && lasts
}

fn rule_label(code: &str) -> String {
    match crate::rules::find(code) {
        Some(rule) => format!("{}/{}", rule.meta().code, rule.meta().name),
        None => code.to_string(),
    }
}

/// The findings for a proposed config, pointing at the proposed file's lines (at the trusted
/// config's path when the merge request deletes it).
pub fn findings(ctx: &Ctx, trusted: &Settings, proposed: &Proposed) -> Vec<Finding> {
    let meta = &PolicyChanged::META;
    // A deleted config is named by the trusted one's path, which a host may write as git does
    // (`REV:path`).
    let trusted_path = trusted.path.as_deref().map(|p| {
        p.strip_prefix(proposed.revision)
            .and_then(|rest| rest.strip_prefix(':'))
            .unwrap_or(p)
    });
    let path = proposed
        .path
        .or(trusted_path)
        .unwrap_or(".rbac-gate.yaml")
        .to_string();
    let mut out = Vec::new();
    for l in loosenings(trusted, proposed.settings) {
        let line = match l.line_key.strip_prefix("exception-line/") {
            Some(n) => n.parse().unwrap_or(1),
            None if proposed.path.is_some() => proposed.settings.line_of(&l.line_key),
            None => 1,
        };
        let message = match proposed.path {
            Some(p) => format!(
                "this merge request's {p} loosens the gate's policy: it {}; the gate runs with the config of {} instead",
                l.what, proposed.revision
            ),
            None => format!(
                "this merge request deletes the gate's config {path}, which loosens its policy: it {}; the gate runs with the config of {} instead",
                l.what, proposed.revision
            ),
        };
        let d = ctx
            .draft(
                meta,
                Loc::default(),
                message,
                format!(
                    "Drop this change from the merge request. If the policy should change, land the change to {path} in a merge request of its own, reviewed by the gate's owners (e.g. CODEOWNERS on {path}), before the changes that need it."
                ),
            )
            .object(format!("config {path}"))
            .key(l.key);
        let mut emitted = Vec::new();
        ctx.emit(&mut emitted, d);
        for mut f in emitted {
            f.path = path.clone();
            f.line = line;
            f.end_line = line;
            f.column = 1;
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::api::{Options, Source};

    const TRUSTED: &str = "fail-on: high\ndisable: [wildcard-rule]\nexceptions:\n  - rule: RG101\n    object: ClusterRoleBinding/ops\n    reason: break glass\n    expires: \"2027-01-01\"\n";

    fn run(trusted: Option<&str>, proposed: Option<&str>) -> crate::Report {
        crate::check(
            &[],
            &Options {
                config: trusted.map(|t| Source::new(".rbac-gate.yaml", t)),
                proposed_config: proposed.map(|p| Source::new(".rbac-gate.yaml", p)),
                config_revision: Some("main (abc1234)".to_string()),
                today: Some("2026-12-06".to_string()),
                ..Options::default()
            },
        )
    }

    fn changes(report: &crate::Report) -> Vec<(u32, String)> {
        report
            .findings
            .iter()
            .filter(|f| f.code == "RG902")
            .map(|f| (f.line, f.message.clone()))
            .collect()
    }

    #[test]
    fn an_unchanged_config_is_silent() {
        let r = run(Some(TRUSTED), Some(TRUSTED));
        assert!(changes(&r).is_empty(), "{:?}", changes(&r));
        assert_eq!(r.verdict, "pass");
    }

    #[test]
    fn each_loosening_is_reported_on_its_line() {
        let proposed = "fail-on: critical\ndisable: [wildcard-rule, cluster-admin-binding]\nseverity:\n  RG104: info\nexceptions:\n  - rule: RG101\n    object: ClusterRoleBinding/ops\n    reason: break glass\n    expires: \"2027-01-01\"\n  - rule: RG103\n    reason: x\njustifications:\n  max-severity: critical\n";
        let r = run(Some(TRUSTED), Some(proposed));
        let found = changes(&r);
        let lines: Vec<u32> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 2, 4, 10, 13], "{found:#?}");
        let text = format!("{found:?}");
        for expected in [
            "raises `fail-on` from high to critical",
            "disables rule RG101/cluster-admin-binding",
            "lowers the severity of RG104",
            "adds an exception for RG103",
            "accept critical findings",
        ] {
            assert!(text.contains(expected), "{expected} missing in {text}");
        }
        assert!(
            !text.contains("disables rule RG102"),
            "already disabled: {text}"
        );
        assert_eq!(r.verdict, "fail", "policy-changed is high by default");
    }

    #[test]
    fn a_new_or_changed_rendered_entry_is_a_loosening() {
        let trusted = "rendered:\n  - {chart: charts/web, output: rendered/web.yaml}\n  - {chart: charts/api, output: rendered/api.yaml}\n";
        let r = run(Some(trusted), Some(trusted));
        assert!(changes(&r).is_empty(), "{:?}", changes(&r));
        let proposed = "rendered:\n  - {chart: charts/web, output: rendered/web.yaml}\n  - {chart: charts/api, output: api-safe.yaml}\n  - {chart: charts/db, output: rendered/db.yaml}\n";
        let found = changes(&run(Some(trusted), Some(proposed)));
        assert_eq!(
            found.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            [3, 4],
            "{found:#?}"
        );
        assert!(found[0].1.contains(
            "judges chart `charts/api` by the file `api-safe.yaml` (was `rendered/api.yaml`)"
        ));
        assert!(found[1].1.contains("chart `charts/db`"));
        let dropped = "rendered:\n  - {chart: charts/web, output: rendered/web.yaml}\n";
        let r = run(Some(trusted), Some(dropped));
        assert!(
            changes(&r).is_empty(),
            "dropping an entry tightens: {:?}",
            changes(&r)
        );
    }

    #[test]
    fn a_change_that_only_tightens_passes() {
        let tighter = "fail-on: medium\ndisable: []\nseverity:\n  RG104: critical\njustifications:\n  allowed: false\n";
        let r = run(Some(TRUSTED), Some(tighter));
        assert!(changes(&r).is_empty(), "{:?}", changes(&r));
    }

    #[test]
    fn namespace_settings_count_as_loosening_when_they_drop_or_move_a_namespace() {
        let trusted = "sensitive-namespaces: [platform, ops]\n";
        let r = run(
            Some(trusted),
            Some("sensitive-namespaces: [platform]\ndefault-namespace: ci\n"),
        );
        let found = changes(&r);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].1.contains("removes `ops`") || found[1].1.contains("removes `ops`"));
        assert!(found
            .iter()
            .any(|(line, m)| *line == 2 && m.contains("default-namespace")));
        // Adding a sensitive namespace only tightens.
        let r = run(
            Some(trusted),
            Some("sensitive-namespaces: [platform, ops, ci]\n"),
        );
        assert!(changes(&r).is_empty(), "{:?}", changes(&r));
    }

    #[test]
    fn the_runs_own_flags_are_no_change_of_the_merge_request() {
        // `--fail-on low --runner-version 17.0` apply to the trusted config, not to the
        // comparison: the same config on both sides (or none) is no loosening.
        for config in [None, Some("fail-on: medium\n")] {
            let r = crate::check(
                &[],
                &Options {
                    config: config.map(|t| Source::new("main:.rbac-gate.yaml", t)),
                    proposed_config: config.map(|p| Source::new(".rbac-gate.yaml", p)),
                    config_revision: Some("main".to_string()),
                    fail_on: Some(crate::report::Severity::Low),
                    runner_version: Some("17.0".to_string()),
                    ..Options::default()
                },
            );
            assert!(changes(&r).is_empty(), "{config:?}: {:?}", changes(&r));
            assert_eq!(r.fail_on, crate::report::Severity::Low);
        }
    }

    #[test]
    fn a_longer_exception_is_a_loosening() {
        let longer = TRUSTED.replace("2027-01-01", "2030-01-01");
        let r = run(Some(TRUSTED), Some(&longer));
        assert_eq!(changes(&r).len(), 1, "{:?}", changes(&r));
    }

    #[test]
    fn a_config_added_where_the_target_has_none_is_judged_against_the_defaults() {
        let r = run(None, Some("disable: [cluster-admin-binding]\n"));
        assert_eq!(changes(&r)[0].0, 1);
        assert!(changes(&r)[0].1.contains("disables rule RG101"));
    }

    #[test]
    fn deleting_the_config_is_judged_too() {
        let r = run(Some("fail-on: low\n"), None);
        let found = changes(&r);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("deletes the gate's config"));
        assert!(found[0].1.contains("from low to high"));
    }

    #[test]
    fn the_gate_runs_with_the_trusted_config() {
        // The proposed config disables the rule; the trusted one does not, so it still fires.
        let binding = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: runner-admin\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: gitlab-runner\n  namespace: ci\n";
        let r = crate::check(
            &[Source::new("b.yaml", binding)],
            &Options {
                config: None,
                proposed_config: Some(Source::new(
                    ".rbac-gate.yaml",
                    "disable: [cluster-admin-binding]\n",
                )),
                config_revision: Some("main".to_string()),
                ..Options::default()
            },
        );
        assert!(r.findings.iter().any(|f| f.code == "RG101"));
        assert!(r.config.disabled.is_empty());
        assert_eq!(r.config.revision.as_deref(), Some("main"));
    }
}
