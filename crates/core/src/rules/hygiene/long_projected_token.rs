use crate::authz::Identity;
use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports projected `serviceAccountToken` volume sources whose `expirationSeconds` is more
    /// than one day (86400), pointing at the `expirationSeconds` line.
    ///
    /// ### Why is this bad
    /// A projected token is bound to its pod, but it stays valid until it expires (or the pod is
    /// deleted): a token copied out of a job or workload pod keeps working for the whole
    /// lifetime asked for here. The kubelet refreshes it at 80% of that lifetime, so a long
    /// value also means a long window between rotations. Within the cluster the default one
    /// hour is enough for every client that re-reads the token file, which client-go does.
    /// (For legacy clients that never re-read it, the API server already issues the
    /// automounted default token, requested for 3607 s, with a one-year validity when
    /// `--service-account-extend-token-expiration` is on, the default; such tokens carry a
    /// `warnafter` claim so that use after the first hour is logged. A long `expirationSeconds`
    /// is real validity, with no such warning.)
    ///
    /// ### Example
    /// ```yaml
    /// volumes:
    /// - name: token
    ///   projected:
    ///     sources:
    ///     - serviceAccountToken:
    ///         path: token
    ///         expirationSeconds: 31536000   # one year
    /// ```
    ///
    /// ### Fix
    /// Remove `expirationSeconds` (default 3600) or set it to at most 86400, and make the
    /// client re-read the token file.
    pub LongProjectedToken,
    code = "RG311",
    name = "long-projected-token",
    severity = Medium,
    category = Unsafe,
    summary = "A projected ServiceAccount token lives longer than a day",
}

const ONE_DAY: i64 = 86_400;

impl Rule for LongProjectedToken {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for w in &ctx.inv.workloads {
            let ns = w.namespace.as_deref().unwrap_or("default");
            let id = Identity::sa(ns, w.service_account_name());
            let object = format!("{} {ns}/{}", w.kind, w.meta.name);
            for (secs, loc) in w.projected_tokens.iter().filter(|(s, _)| *s > ONE_DAY) {
                let life = if *secs == i64::MAX {
                    "a lifetime that is not a plain number of seconds".to_string()
                } else {
                    format!("a lifetime of {}", human(*secs))
                };
                let d = ctx
                    .draft(
                        &Self::META,
                        *loc,
                        format!(
                            "{object} mounts a projected token for ServiceAccount {ns}/{} with {life}; a copied token stays valid that long",
                            w.service_account_name()
                        ),
                        "Remove `expirationSeconds` (the default is 3600) or set it to at most 86400; clients that re-read the token file (client-go does) need nothing longer.",
                    )
                    .object(object.clone())
                    .identity(&id)
                    .key(format!("expirationSeconds:{secs}"));
                ctx.emit(out, d);
            }
        }
    }
}

/// 31536000 → "365 days (31536000 s)".
fn human(secs: i64) -> String {
    let days = secs / ONE_DAY;
    if secs % ONE_DAY == 0 {
        format!("{days} days ({secs} s)")
    } else {
        format!("more than {days} days ({secs} s)")
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, silent};

    fn pod(secs: &str) -> String {
        format!(
            "apiVersion: v1
kind: Pod
metadata: {{name: p, namespace: ci}}
spec:
  serviceAccountName: deployer
  containers: [{{name: c, image: alpine}}]
  volumes:
  - name: token
    projected:
      sources:
      - serviceAccountToken:
          path: token
{secs}"
        )
    }

    #[test]
    fn a_year_fires_on_the_line() {
        let f = fires("RG311", &pod("          expirationSeconds: 31536000\n"));
        assert_eq!(f[0].line, 13);
        assert!(f[0].message.contains("365 days"));
        assert_eq!(
            f[0].identity.as_deref(),
            Some("system:serviceaccount:ci:deployer")
        );
    }

    #[test]
    fn a_day_or_default_is_fine() {
        silent("RG311", &pod("          expirationSeconds: 86400\n"));
        silent("RG311", &pod("          expirationSeconds: 3600\n"));
        silent("RG311", &pod(""));
    }
}
