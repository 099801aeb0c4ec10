use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports a key that a YAML mapping sets twice, at any level: a repeated `roleRef` or
    /// `name`, top-level keys repeated because a `---` is missing between two objects, or a
    /// merge key (`<<`) written after a key it replaces. rbac-gate checks the value kubectl
    /// applies, the last one, and names both lines.
    ///
    /// ### Why is this bad
    /// kubectl decodes manifests with sigs.k8s.io/yaml (goyaml.v2, non-strict): the later
    /// value silently replaces the earlier, and `kubectl apply` succeeds. A reader of the file,
    /// or a review, sees the first value; the cluster gets the last. Two objects written
    /// without `---` between them become one object: the second, plus the keys of the first
    /// that it does not repeat. goyaml.v2 also applies a merge key where it is written, so
    /// `<<` after a key replaces it, while YAML 1.2 tools keep the key.
    ///
    /// ### Example
    /// ```yaml
    /// apiVersion: rbac.authorization.k8s.io/v1
    /// kind: ClusterRoleBinding
    /// metadata: {name: runner-view}
    /// roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
    /// subjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: ci}]
    /// roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
    /// ```
    ///
    /// ### Fix
    /// Delete the key whose value you do not mean, so that the file says what is applied. For
    /// two objects run together, put a line holding only `---` before the second object's
    /// first key. Write a merge key `<<` before the keys that override it.
    ///
    /// This code was `missing-document-separator`, which read a repeated top-level key as
    /// two objects and checked both; kubectl applies one, so the rule now covers every
    /// repeated key.
    pub DuplicateKey,
    code = "RG507",
    name = "duplicate-key",
    severity = Medium,
    category = Hygiene,
    summary = "A YAML key is set twice: kubectl applies the last value",
}

impl Rule for DuplicateKey {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        let duplicates = &ctx.inv.duplicate_keys;
        for (i, dup) in duplicates.iter().enumerate() {
            // The field and its ordinal within the file, not the line, keep the fingerprint
            // stable when lines move.
            let ordinal = duplicates[..i]
                .iter()
                .filter(|d| d.applied.file == dup.applied.file && d.path == dup.path)
                .count();
            let (dropped, applied) = (dup.dropped.line, dup.applied.line);
            let path = &dup.path;
            let (message, help) = if dup.by_merge {
                (
                    format!("the merge key `<<` at line {applied} replaces `{path}` set at line {dropped}: kubectl (goyaml.v2) applies the merged value, and rbac-gate checks that one; YAML 1.2 tools and readers keep line {dropped}'s"),
                    format!("Write the merge key `<<` before the keys that override it, or delete `{path}` at line {dropped}, so that every reader sees the value that is applied."),
                )
            } else {
                (
                    format!("`{path}` is set twice, at line {dropped} and line {applied}: kubectl applies line {applied}'s value (the last) without a warning, and rbac-gate checks that one; line {dropped}'s is dropped"),
                    format!("Delete the `{path}` you do not mean (line {dropped}'s is never applied). If two objects run together here, put a line `---` before the second one."),
                )
            };
            let d = ctx
                .draft(&Self::META, dup.applied, message, help)
                .key(format!("duplicate-{path}-{ordinal}"));
            ctx.emit(out, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, run, silent};

    const CRB: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: runner}\nsubjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: ci}]\n";

    #[test]
    fn a_repeated_role_ref_is_reported_and_its_last_value_judged() {
        let text = format!("{CRB}roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}\n");
        let f = fires("RG507", &text);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].line, 6);
        assert!(
            f[0].message
                .contains("`roleRef` is set twice, at line 5 and line 6"),
            "{}",
            f[0].message
        );
        // The binding judged is the one to cluster-admin.
        assert!(!run("RG101", &[("input.yaml", text.as_str())]).is_empty());
    }

    #[test]
    fn a_nested_duplicate_names_its_field() {
        let f = fires(
            "RG507",
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  namespace: ci\n  name: b\n",
        );
        assert_eq!(f[0].line, 6);
        assert!(f[0].message.contains("`metadata.name`"), "{}", f[0].message);
    }

    #[test]
    fn objects_run_together_are_one_object() {
        // Formerly read as two objects (a missing `---`); kubectl applies one: the second,
        // with the first one's `subjects`.
        let text = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: ci}\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: a, namespace: ci}]\n";
        let f = fires("RG507", text);
        assert_eq!(f.len(), 3, "{f:#?}");
        assert_eq!(f[0].line, 4);
        assert!(!run("RG101", &[("input.yaml", text)]).is_empty());
    }

    #[test]
    fn a_merge_after_a_key_replaces_it() {
        let text = format!("{CRB}admin: &admin {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}\nroleRef:\n  name: view\n  <<: *admin\n");
        let f = fires("RG507", &text);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].line, 8);
        assert!(
            f[0].message
                .contains("merge key `<<` at line 8 replaces `roleRef.name` set at line 7"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn silent_on_distinct_keys_and_on_overriding_a_merge() {
        silent("RG507", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: b\n");
        // The merge idiom: keys written after `<<` override what it merged.
        silent("RG507", "x: &base {name: a, namespace: ci}\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  <<: *base\n  name: b\n");
    }
}
