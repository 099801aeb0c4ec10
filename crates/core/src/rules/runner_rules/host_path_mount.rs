use crate::context::Ctx;
use crate::declare_rule;
use crate::model::{Loc, Origin};
use crate::report::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports hostPath volumes in job pods (`[[runners.kubernetes.volumes.host_path]]`) and in
    /// the runner's own workload. Container runtime sockets (`docker.sock`, `containerd.sock`,
    /// `crio.sock`), `/`, `/etc`, `/proc`, `/sys`, `/dev`, `/root`, `/run`, `/var/run`,
    /// `/var/lib/kubelet` and `/var/lib/docker` are `high`; other host paths `medium`.
    ///
    /// ### Why is this bad
    /// A hostPath gives the pod the node's files. The Docker socket is root on the node; `/`,
    /// `/etc` or the kubelet directory expose credentials of the node and of every pod on it.
    /// Even a harmless-looking directory is shared between all jobs on the node, so one job can
    /// poison the next (caches, build outputs).
    ///
    /// ### Example
    /// ```toml
    /// [[runners.kubernetes.volumes.host_path]]
    ///   name = "docker"
    ///   mount_path = "/var/run/docker.sock"
    ///   host_path = "/var/run/docker.sock"
    /// ```
    ///
    /// ### Fix
    /// Remove the volume. Build images daemonless (BuildKit rootless, kaniko, buildah); use
    /// the runner's cache (S3/GCS) or `[[runners.kubernetes.volumes.pvc]]` instead of node
    /// directories.
    pub HostPathMount,
    code = "RG308",
    name = "host-path-mount",
    severity = Medium,
    category = Unsafe,
    summary = "Job or runner pods mount node paths",
}

/// Node paths that hand over the node.
pub fn dangerous(path: &str) -> bool {
    let p = path.trim();
    let p = if p.len() > 1 {
        p.trim_end_matches('/')
    } else {
        p
    };
    const EXACT: &[&str] = &[
        "/", "/etc", "/proc", "/sys", "/dev", "/root", "/run", "/var/run", "/var", "/var/lib",
        "/home", "/boot", "/usr",
    ];
    const UNDER: &[&str] = &[
        "/proc/",
        "/sys/",
        "/var/lib/kubelet",
        "/var/lib/docker",
        "/var/lib/containerd",
        "/etc/kubernetes",
        "/root/",
    ];
    p.is_empty()
        || EXACT.contains(&p)
        || UNDER.iter().any(|u| p.starts_with(u))
        || [
            "docker.sock",
            "containerd.sock",
            "crio.sock",
            "cri-dockerd.sock",
        ]
        .iter()
        .any(|s| p.ends_with(s))
}

impl Rule for HostPathMount {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for r in &ctx.runner.runners {
            let Some(k) = r.kube() else { continue };
            for v in &k.host_paths {
                let path = v.node_path();
                let name = v.name.as_deref().unwrap_or(path);
                let what = format!(
                    "{}: job pods mount the node path `{path}` (volume \"{name}\")",
                    r.name
                );
                emit(
                    ctx,
                    out,
                    v.loc,
                    what,
                    path,
                    &r.name,
                    "[[runners.kubernetes.volumes.host_path]]",
                );
            }
        }
        for w in &ctx.inv.workloads {
            if !w.is_gitlab_runner() || w.meta.origin != Origin::Manifest {
                continue;
            }
            let object = format!("{} {}", w.kind, w.meta.name);
            for (path, loc) in &w.host_paths {
                let what = format!(
                    "the runner workload {} {}/{} mounts the node path `{path}`",
                    w.kind,
                    w.namespace.as_deref().unwrap_or("default"),
                    w.meta.name
                );
                emit(ctx, out, *loc, what, path, &object, "hostPath volume");
            }
        }
    }
}

fn emit(
    ctx: &Ctx,
    out: &mut Vec<Finding>,
    loc: Loc,
    what: String,
    path: &str,
    object: &str,
    kind: &str,
) {
    let high = dangerous(path);
    let msg = if high {
        format!("{what}: it gives the pod control of the node (container runtime socket or system directory)")
    } else {
        format!("{what}: node files are shared by every pod scheduled there")
    };
    let help = format!(
        "Remove the {kind}. For image builds use a daemonless builder (BuildKit rootless, kaniko, buildah); for caches use the runner's distributed cache or a PVC (`[[runners.kubernetes.volumes.pvc]]`)."
    );
    let d = ctx
        .draft(&HostPathMount::META, loc, msg, help)
        .object(object.to_string())
        .key(format!("hostPath:{path}"))
        .severity(if high {
            Severity::High
        } else {
            Severity::Medium
        });
    ctx.emit(out, d);
}

#[cfg(test)]
mod tests {
    use super::super::util::fixture::runner;
    use super::dangerous;
    use crate::report::Severity;
    use crate::rules::testing::{fires, silent};

    #[test]
    fn docker_socket_is_high() {
        let found = fires(
            "RG308",
            &runner("        image = \"docker\"\n      [[runners.kubernetes.volumes.host_path]]\n        name = \"docker\"\n        mount_path = \"/var/run/docker.sock\"\n"),
        );
        assert_eq!(found[0].severity, Severity::High);
        assert_eq!(found[0].line, 9);
    }

    #[test]
    fn cache_directory_is_medium() {
        let found = fires(
            "RG308",
            &runner("      [[runners.kubernetes.volumes.host_path]]\n        name = \"cache\"\n        mount_path = \"/cache\"\n        host_path = \"/srv/ci-cache\"\n"),
        );
        assert_eq!(found[0].severity, Severity::Medium);
    }

    #[test]
    fn runner_workload_host_path() {
        let yaml = "apiVersion: apps/v1
kind: Deployment
metadata: {name: gitlab-runner, namespace: ci}
spec:
  template:
    spec:
      containers: [{name: r, image: gitlab/gitlab-runner:v19.3.0}]
      volumes:
      - name: d
        hostPath: {path: /var/run/docker.sock}
";
        let found = fires("RG308", yaml);
        assert_eq!(found[0].severity, Severity::High);
        assert_eq!(found[0].line, 10);
    }

    #[test]
    fn no_host_path_and_other_workloads_are_silent() {
        silent("RG308", &runner("        image = \"alpine\"\n"));
        let other = "apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: mon}
spec:
  template:
    spec:
      containers: [{name: a, image: prom/node-exporter}]
      volumes: [{name: p, hostPath: {path: /proc}}]
";
        silent("RG308", other);
    }

    #[test]
    fn dangerous_paths() {
        assert!(dangerous("/"));
        assert!(dangerous("/etc/"));
        assert!(dangerous("/run/containerd/containerd.sock"));
        assert!(dangerous("/var/lib/kubelet/pods"));
        assert!(!dangerous("/etc/ssl/certs"));
        assert!(!dangerous("/srv/cache"));
    }
}
