use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports kubeconfig files (`kind: Config`) whose `users` entries embed a credential:
    /// `token`, `client-key-data`, `password`, or the tokens and client secret of an
    /// `auth-provider`. Fields that only name a file (`tokenFile`, `client-key`) are reported
    /// at `low`. The finding names the user entry and the field, never the value.
    ///
    /// ### Why is this bad
    /// An embedded credential is usually long-lived (a legacy ServiceAccount token, a client
    /// certificate valid for a year, a static password) and works from anywhere: whoever can
    /// read the file, its git history or a CI log that prints it, holds the identity's rights.
    /// Committed to a repository it is readable by every developer and every fork.
    ///
    /// ### Example
    /// ```yaml
    /// apiVersion: v1
    /// kind: Config
    /// users:
    /// - name: gitlab-runner
    ///   user:
    ///     token: eyJhbGciOi...   # a long-lived token in the file
    /// ```
    ///
    /// ### Fix
    /// Remove the credential from the file and rotate it (delete the token Secret, revoke the
    /// certificate). Use short-lived credentials instead: an `exec` credential plugin (OIDC,
    /// cloud IAM) or a token from `kubectl create token <sa> --duration=1h`. Keep the
    /// kubeconfig out of git: store it as a masked GitLab CI/CD variable of type *File*.
    pub KubeconfigCredentials,
    code = "RG402",
    name = "kubeconfig-credentials",
    severity = High,
    category = Unsafe,
    summary = "A kubeconfig embeds a credential",
}

/// Fields that point at a credential on disk rather than holding it.
const FILE_FIELDS: &[&str] = &["tokenFile", "client-key"];

impl Rule for KubeconfigCredentials {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for kc in &ctx.inv.kubeconfigs {
            for cred in &kc.credentials {
                let user = if cred.user.is_empty() {
                    "(unnamed)"
                } else {
                    &cred.user
                };
                let object = format!("kubeconfig user {user}");
                let draft = if FILE_FIELDS.contains(&cred.field.as_str()) {
                    ctx.draft(
                        &Self::META,
                        cred.loc,
                        format!(
                            "kubeconfig user `{user}` reads a static credential from the file named in `{}`",
                            cred.field
                        ),
                        "Make sure that file holds a short-lived credential (a rotated token, a short-lived certificate); prefer an `exec` credential plugin, and never commit the file it names.",
                    )
                    .severity(Severity::Low)
                } else {
                    ctx.draft(
                        &Self::META,
                        cred.loc,
                        format!(
                            "kubeconfig user `{user}` embeds a credential in `{}`; anyone who can read this file can act as that user",
                            cred.field
                        ),
                        format!(
                            "Remove `{}` from user `{user}` and rotate the credential. Use short-lived credentials instead (an `exec` plugin with OIDC or cloud IAM, or `kubectl create token <serviceaccount> --duration=1h`), and keep the kubeconfig out of git: store it as a masked GitLab CI/CD variable of type File.",
                            cred.field
                        ),
                    )
                };
                ctx.emit(out, draft.object(object).key(cred.field.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::testing::{fires, silent};

    const KC: &str = "apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://k8s.example.com
    certificate-authority-data: REDACTED
users:
- name: runner
  user:
    token: super-secret-value
- name: admin
  user:
    client-certificate-data: REDACTED-CERT
    client-key-data: super-secret-key
- name: basic
  user:
    username: bob
    password: hunter2
- name: oidc
  user:
    auth-provider:
      name: oidc
      config:
        id-token: eyJ-secret
        refresh-token: refresh-secret
- name: file
  user:
    tokenFile: /var/run/token
contexts:
- name: prod
  context: {cluster: prod, user: runner}
current-context: prod
";

    #[test]
    fn every_embedded_credential_is_reported_by_field() {
        let f = fires("RG402", KC);
        let fields: Vec<(u32, Severity)> = f.iter().map(|x| (x.line, x.severity)).collect();
        assert_eq!(
            fields,
            vec![
                (11, Severity::High),
                (15, Severity::High),
                (19, Severity::High),
                (25, Severity::High),
                (26, Severity::High),
                (29, Severity::Low),
            ]
        );
    }

    #[test]
    fn values_never_appear() {
        for f in fires("RG402", KC) {
            for secret in ["super-secret", "hunter2", "eyJ-secret", "refresh-secret"] {
                assert!(!f.message.contains(secret), "{}", f.message);
                assert!(!f.help.contains(secret), "{}", f.help);
            }
        }
    }

    #[test]
    fn certificates_and_exec_plugins_are_not_credentials() {
        silent(
            "RG402",
            "apiVersion: v1
kind: Config
users:
- name: sso
  user:
    client-certificate-data: REDACTED-CERT
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: kubectl-oidc_login
- name: empty
  user:
    token: \"\"
",
        );
    }
}
