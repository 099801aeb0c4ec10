use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports a justification annotation (`rbac-gate.dev/justification-expires`) or a config
    /// exception (`expires`) whose date has passed, or whose date is not `YYYY-MM-DD`.
    ///
    /// ### Why is this bad
    /// A justification is a time-boxed promise. Once it expires it accepts nothing, so the
    /// findings it covered fail the gate again; this finding says why they came back.
    ///
    /// ### Example
    /// ```yaml
    /// metadata:
    ///   annotations:
    ///     rbac-gate.dev/justification: "namespace_per_job needs cluster scope"
    ///     rbac-gate.dev/justification-expires: "2025-01-31"
    /// ```
    ///
    /// ### Fix
    /// Fix the findings, or renew the expiry with a current reason.
    pub ExpiredJustification,
    code = "RG901",
    name = "expired-justification",
    severity = Low,
    category = Hygiene,
    summary = "A justification or exception has expired",
}

impl Rule for ExpiredJustification {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    /// Emitted by the engine while it applies justifications; nothing to scan here.
    fn check(&self, _ctx: &Ctx, _out: &mut Vec<Finding>) {}
}

#[cfg(test)]
mod tests {
    use crate::api::{Options, Source};

    const ROLE: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: wide
  annotations:
    rbac-gate.dev/justification: \"reviewed by platform team\"
    rbac-gate.dev/justification-expires: \"2026-01-31\"
rules:
- apiGroups: [\"*\"]
  resources: [\"*\"]
  verbs: [\"*\"]
";

    fn run(today: &str) -> crate::Report {
        crate::check(
            &[Source::new("r.yaml", ROLE)],
            &Options {
                today: Some(today.to_string()),
                ..Options::default()
            },
        )
    }

    #[test]
    fn fires_after_expiry() {
        let r = run("2026-02-01");
        assert!(r.findings.iter().any(|f| f.code == "RG901"));
    }

    #[test]
    fn silent_before_expiry() {
        let r = run("2026-01-31");
        assert!(!r.findings.iter().any(|f| f.code == "RG901"));
    }
}
