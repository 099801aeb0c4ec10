use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports a YAML document whose top-level keys repeat (`apiVersion`, `kind`, ...): two
    /// objects written without the `---` separator between them.
    ///
    /// ### Why is this bad
    /// Lenient YAML parsers keep the last value of a repeated key, so only the last object is
    /// applied and the first silently disappears; strict ones (kubectl with server-side field
    /// validation) reject the file. rbac-gate checks both objects, but the file does not do what
    /// it says.
    ///
    /// ### Example
    /// ```yaml
    /// apiVersion: v1
    /// kind: ServiceAccount
    /// metadata: {name: gitlab-runner}
    /// apiVersion: rbac.authorization.k8s.io/v1
    /// kind: ClusterRole
    /// ```
    ///
    /// ### Fix
    /// Put a line holding only `---` before the second object's first key.
    pub MissingSeparator,
    code = "RG507",
    name = "missing-document-separator",
    severity = Low,
    category = Hygiene,
    summary = "Two objects written as one YAML document (missing `---`)",
}

impl Rule for MissingSeparator {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for (i, loc) in ctx.inv.missing_separators.iter().enumerate() {
            // The ordinal within the file, not the line, keeps the fingerprint stable.
            let ordinal = ctx.inv.missing_separators[..i]
                .iter()
                .filter(|l| l.file == loc.file)
                .count();
            let d = ctx
                .draft(
                    &Self::META,
                    *loc,
                    "a top-level key repeats here: two objects are written as one document (missing `---`)",
                    "Insert a line `---` before this line so that each object is its own document.",
                )
                .key(format!("split-{ordinal}"));
            ctx.emit(out, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, silent};

    #[test]
    fn fires_on_joined_objects() {
        let f = fires(
            "RG507",
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: b\n",
        );
        assert_eq!(f[0].line, 5);
    }

    #[test]
    fn silent_with_separator() {
        silent(
            "RG507",
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: b\n",
        );
    }
}
