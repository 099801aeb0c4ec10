use crate::context::Ctx;
use crate::declare_rule;
use crate::model::Loc;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports kubeconfig users that get their credentials from an `exec` plugin, naming the
    /// command it runs.
    ///
    /// ### Why is this bad
    /// It is usually the right way to authenticate (short-lived OIDC or cloud IAM tokens), but
    /// the command runs with the rights of whoever uses the kubeconfig, on every machine that
    /// uses it: a kubeconfig taken from an untrusted source, or a command resolved through a
    /// writable `PATH`, runs arbitrary code on the CI runner host.
    ///
    /// ### Example
    /// ```yaml
    /// users:
    /// - name: eks
    ///   user:
    ///     exec:
    ///       apiVersion: client.authentication.k8s.io/v1beta1
    ///       command: aws
    ///       args: [eks, get-token, --cluster-name, prod]
    /// ```
    ///
    /// ### Fix
    /// Keep it when the command is a trusted credential helper installed on every machine that
    /// uses the kubeconfig; give it as an absolute path from a read-only location and set
    /// `interactiveMode: Never` for CI. Otherwise remove the `exec` block.
    pub KubeconfigExecPlugin,
    code = "RG406",
    name = "kubeconfig-exec-plugin",
    severity = Low,
    category = Unsafe,
    summary = "A kubeconfig runs a credential plugin command",
}

impl Rule for KubeconfigExecPlugin {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for kc in &ctx.inv.kubeconfigs {
            for (user, command, loc) in &kc.exec_plugins {
                // A command line written into `command` may carry a password or a URL with
                // one: the message and the fingerprint see it redacted.
                let redacted = crate::redact::text(command);
                let shown: &str = if command.is_empty() {
                    "(no command)"
                } else {
                    &redacted
                };
                let absolute = command.starts_with('/');
                let path_note = if absolute {
                    ""
                } else {
                    " (looked up through PATH)"
                };
                // Point at the `command:` line of this exec block when there is one.
                let at = if command.is_empty() {
                    *loc
                } else {
                    let span = Loc {
                        end_line: kc.loc.end_line,
                        ..*loc
                    };
                    crate::rules::hygiene::util::line_in_field(ctx, span, "command", command)
                };
                let d = ctx
                    .draft(
                        &Self::META,
                        at,
                        format!(
                            "kubeconfig user `{user}` runs `{shown}`{path_note} to get credentials, on every machine that uses this kubeconfig"
                        ),
                        format!(
                            "Keep it only if `{shown}` is a trusted credential helper installed on every machine that uses this kubeconfig: give its absolute path from a read-only location and set `interactiveMode: Never` for CI; otherwise remove the `exec` block of user `{user}`."
                        ),
                    )
                    .object(format!("kubeconfig user {user}"))
                    .key(format!("exec:{redacted}"));
                ctx.emit(out, d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, silent};

    #[test]
    fn names_the_command() {
        let f = fires(
            "RG406",
            "apiVersion: v1
kind: Config
users:
- name: eks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, prod]
",
        );
        assert_eq!(f[0].line, 8);
        assert!(f[0].message.contains("`aws`"));
        assert!(f[0].message.contains("PATH"));
    }

    #[test]
    fn a_secret_in_the_command_is_not_quoted() {
        let f = fires(
            "RG406",
            "apiVersion: v1
kind: Config
users:
- name: ci
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: get-token --password Cmd7Pw --server https://u:Cmd8Pw@k8s.example.com
",
        );
        for text in [&f[0].message, &f[0].help] {
            assert!(
                !text.contains("Cmd7Pw") && !text.contains("Cmd8Pw"),
                "{text}"
            );
            assert!(
                text.contains("https://[REDACTED]@k8s.example.com"),
                "{text}"
            );
        }
        assert_eq!(f[0].line, 8);
    }

    #[test]
    fn silent_without_exec() {
        silent(
            "RG406",
            "apiVersion: v1
kind: Config
users:
- name: cert
  user:
    client-certificate: /etc/certs/client.crt
",
        );
    }
}
