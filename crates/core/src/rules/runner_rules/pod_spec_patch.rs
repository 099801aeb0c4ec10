use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports each `[[runners.kubernetes.pod_spec]]` patch in the runner config.
    ///
    /// ### Why is this bad
    /// A pod spec patch can change anything in the job pod (`serviceAccountName`,
    /// `hostNetwork`, `hostPID`, security contexts, volumes), bypassing every other
    /// `[runners.kubernetes]` setting this gate checks. It needs a review of its own.
    ///
    /// ### Example
    /// ```toml
    /// [[runners.kubernetes.pod_spec]]
    ///   name = "host network"
    ///   patch = '{"hostNetwork": true}'
    ///   patch_type = "strategic"
    /// ```
    ///
    /// ### Fix
    /// Prefer the dedicated keys (`node_selector`, `pod_security_context`, `volumes`, ...). Keep
    /// a patch only after checking it sets no host namespace, privilege, hostPath or identity,
    /// and accept this finding with a justification.
    pub PodSpecPatch,
    code = "RG307",
    name = "pod-spec-patch",
    severity = Medium,
    category = Unsafe,
    summary = "The runner patches the job pod spec",
}

impl Rule for PodSpecPatch {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for r in &ctx.runner.runners {
            let Some(k) = r.kube() else { continue };
            for (i, p) in k.pod_spec.iter().enumerate() {
                let name = p.name.clone().unwrap_or_else(|| format!("#{}", i + 1));
                let msg = format!(
                    "{}: pod_spec patch \"{name}\" can override any field of the job pods (ServiceAccount, host namespaces, privileges, volumes), bypassing the other [runners.kubernetes] settings",
                    r.name
                );
                let help = "Replace the patch with the dedicated [runners.kubernetes] keys where one exists; otherwise review that it sets no hostNetwork/hostPID/hostIPC, privileged, hostPath or serviceAccountName, and accept the finding with a reason.".to_string();
                let d = ctx
                    .draft(&PodSpecPatch::META, p.loc, msg, help)
                    .object(r.name.clone())
                    .key(format!("pod_spec:{name}"));
                ctx.emit(out, d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::util::fixture::runner;
    use crate::rules::testing::{fires, silent};

    #[test]
    fn one_finding_per_patch() {
        let found = fires(
            "RG307",
            &runner("        image = \"alpine\"\n      [[runners.kubernetes.pod_spec]]\n        name = \"a\"\n        patch = '{}'\n      [[runners.kubernetes.pod_spec]]\n        name = \"b\"\n"),
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].line, 9);
        assert_eq!(found[1].line, 12);
    }

    #[test]
    fn no_patch_is_silent() {
        silent("RG307", &runner("        image = \"alpine\"\n"));
    }
}
