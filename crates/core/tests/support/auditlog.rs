//! Generates realistic Kubernetes audit logs (`audit.k8s.io/v1` Event, JSON lines) for the
//! audit tests: what a GitLab Runner manager does per job, plus the rest of a cluster's traffic.
//! Shared by the core tests and the CLI's end-to-end tests (`#[path]`-included).

#![allow(dead_code)]

pub const RUNNER: &str = "system:serviceaccount:gitlab-runner:gitlab-runner";
pub const JOB: &str = "system:serviceaccount:ci:ci-job";
pub const JOB_NS: &str = "ci";

/// The RBAC and runner the log is for: the runner manager in `gitlab-runner`, jobs in `ci` as
/// `ci-job`; the Role is the attach-strategy table of the runner 16.x docs (broader than
/// needed), without `pods/log`.
pub const MANIFESTS: &str = r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: gitlab-runner
  namespace: gitlab-runner
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: ci-job
  namespace: ci
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: gitlab-runner
  namespace: ci
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods/exec", "pods/attach"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create", "update", "delete"]
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: gitlab-runner
  namespace: ci
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: gitlab-runner
subjects:
- kind: ServiceAccount
  name: gitlab-runner
  namespace: gitlab-runner
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: gitlab-runner-config
  namespace: gitlab-runner
data:
  config.toml: |
    concurrent = 4
    [[runners]]
      name = "k8s"
      executor = "kubernetes"
      [runners.kubernetes]
        namespace = "ci"
        service_account = "ci-job"
        automount_service_account_token = false
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: gitlab-runner
  namespace: gitlab-runner
spec:
  template:
    spec:
      serviceAccountName: gitlab-runner
      containers:
      - name: gitlab-runner
        image: registry.gitlab.com/gitlab-org/gitlab-runner:v19.3.0
      volumes:
      - name: config
        configMap:
          name: gitlab-runner-config
"#;

/// A deterministic event writer.
pub struct Gen {
    seq: u64,
}

pub struct Req<'a> {
    pub user: &'a str,
    pub verb: &'a str,
    pub group: &'a str,
    pub resource: &'a str,
    pub sub: &'a str,
    pub ns: &'a str,
    pub name: &'a str,
    pub code: u32,
    pub agent: &'a str,
}

impl Default for Req<'_> {
    fn default() -> Self {
        Req {
            user: RUNNER,
            verb: "get",
            group: "",
            resource: "pods",
            sub: "",
            ns: JOB_NS,
            name: "",
            code: 200,
            agent: "gitlab-runner/v19.3.0 (linux/amd64) kubernetes/abcdef0",
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl Gen {
    pub fn new() -> Gen {
        Gen { seq: 0 }
    }

    /// One request: a `RequestReceived` and a `ResponseComplete` event, as the API server
    /// logs them with the default stages.
    pub fn request(&mut self, out: &mut String, r: &Req) {
        self.seq += 1;
        let id = format!(
            "{:08x}-1c2d-4e5f-8a9b-{:012x}",
            self.seq * 2654435761 % 0xffff_ffff,
            self.seq
        );
        let secs = self.seq / 20;
        let ts = format!(
            "2026-11-26T{:02}:{:02}:{:02}.{:06}Z",
            (secs / 3600) % 24,
            (secs / 60) % 60,
            secs % 60,
            (self.seq * 7919) % 1_000_000
        );
        let api_version = "v1";
        let path_group = if r.group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{}/v1", r.group)
        };
        let ns_path = if r.ns.is_empty() {
            String::new()
        } else {
            format!("/namespaces/{}", r.ns)
        };
        let name_path = if r.name.is_empty() {
            String::new()
        } else {
            format!("/{}", r.name)
        };
        let sub_path = if r.sub.is_empty() {
            String::new()
        } else {
            format!("/{}", r.sub)
        };
        let query = match r.verb {
            "list" => "?limit=500&resourceVersion=0",
            "watch" => "?allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&watch=true",
            _ => "",
        };
        let uri = format!(
            "{path_group}{ns_path}/{}{name_path}{sub_path}{query}",
            r.resource
        )
        .replace('&', "\\u0026");
        let mut object = format!("\"resource\":\"{}\"", r.resource);
        if !r.ns.is_empty() {
            object.push_str(&format!(",\"namespace\":\"{}\"", r.ns));
        }
        if !r.name.is_empty() {
            object.push_str(&format!(",\"name\":\"{}\"", r.name));
        }
        if !r.group.is_empty() {
            object.push_str(&format!(",\"apiGroup\":\"{}\"", r.group));
        }
        object.push_str(&format!(",\"apiVersion\":\"{api_version}\""));
        if !r.sub.is_empty() {
            object.push_str(&format!(",\"subresource\":\"{}\"", r.sub));
        }
        let (groups, extra) = match r.user.strip_prefix("system:serviceaccount:") {
            Some(rest) => {
                let ns = rest.split(':').next().unwrap_or("");
                (
                    format!("[\"system:serviceaccounts\",\"system:serviceaccounts:{ns}\",\"system:authenticated\"]"),
                    format!(",\"extra\":{{\"authentication.kubernetes.io/credential-id\":[\"JTI=5e0c7a4e-{:04x}\"],\"authentication.kubernetes.io/node-name\":[\"node-2\"],\"authentication.kubernetes.io/pod-name\":[\"gitlab-runner-7d9f8b6c5-x2x4q\"],\"authentication.kubernetes.io/pod-uid\":[\"0b6f1f1e-55c3-4f0e-9d8e-3a1c2b7e9f10\"]}}", self.seq % 0xffff),
                )
            }
            None => ("[\"system:authenticated\"]".to_string(), String::new()),
        };
        let user = format!("{{\"username\":\"{}\",\"uid\":\"5d3f{:04x}-9c1b-4a8e-b1c2-7e9f0a1b2c3d\",\"groups\":{groups}{extra}}}", r.user, self.seq % 0xffff);
        let head = format!(
            "{{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"{id}\",\"stage\":\"STAGE\",\"requestURI\":\"{uri}\",\"verb\":\"{}\",\"user\":{user},\"sourceIPs\":[\"10.42.1.{}\"],\"userAgent\":\"{}\",\"objectRef\":{{{object}}}",
            r.verb,
            self.seq % 250 + 2,
            esc(r.agent)
        );
        let received = format!(
            "{},\"requestReceivedTimestamp\":\"{ts}\",\"stageTimestamp\":\"{ts}\"}}\n",
            head.replace("STAGE", "RequestReceived")
        );
        out.push_str(&received);
        let status = if r.code == 403 {
            let what = if r.name.is_empty() {
                r.resource.to_string()
            } else {
                format!("{} \\\"{}\\\"", r.resource, r.name)
            };
            let full = if r.sub.is_empty() {
                r.resource.to_string()
            } else {
                format!("{}/{}", r.resource, r.sub)
            };
            let scope = if r.ns.is_empty() {
                " at the cluster scope".to_string()
            } else {
                format!(" in the namespace \\\"{}\\\"", r.ns)
            };
            format!(
                "{{\"metadata\":{{}},\"status\":\"Failure\",\"message\":\"{what} is forbidden: User \\\"{}\\\" cannot {} resource \\\"{full}\\\" in API group \\\"{}\\\"{scope}\",\"reason\":\"Forbidden\",\"details\":{{\"kind\":\"{}\"}},\"code\":403}}",
                r.user, r.verb, r.group, r.resource
            )
        } else if r.code >= 400 {
            format!(
                "{{\"metadata\":{{}},\"status\":\"Failure\",\"code\":{}}}",
                r.code
            )
        } else {
            format!("{{\"metadata\":{{}},\"code\":{}}}", r.code)
        };
        let decision = if r.code == 403 {
            "\"authorization.k8s.io/decision\":\"forbid\",\"authorization.k8s.io/reason\":\"\""
                .to_string()
        } else {
            format!("\"authorization.k8s.io/decision\":\"allow\",\"authorization.k8s.io/reason\":\"RBAC: allowed by RoleBinding \\\"gitlab-runner/{}\\\" of Role \\\"gitlab-runner\\\" to ServiceAccount \\\"gitlab-runner/gitlab-runner\\\"\"", r.ns)
        };
        let request_object = if r.verb == "create" && r.resource == "pods" && r.sub.is_empty() {
            format!(",\"requestObject\":{{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{{\"name\":\"{}\",\"namespace\":\"{}\",\"labels\":{{\"pod\":\"{}\",\"project.runner.gitlab.com/id\":\"42\"}}}},\"spec\":{{\"serviceAccountName\":\"ci-job\",\"automountServiceAccountToken\":false,\"containers\":[{{\"name\":\"build\",\"image\":\"alpine:3.20\",\"command\":[\"sh\",\"-c\",\"if [ -x /usr/local/bin/bash ]; then\\n\\texec /usr/local/bin/bash \\nelif [ -x /usr/bin/bash ]; then\\n\\texec /usr/bin/bash \\nfi\\n\"]}},{{\"name\":\"helper\",\"image\":\"registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:x86_64-v19.3.0\"}}]}}}}", r.name, r.ns, r.name)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{},\"responseStatus\":{status}{request_object},\"requestReceivedTimestamp\":\"{ts}\",\"stageTimestamp\":\"{ts}\",\"annotations\":{{{decision}}}}}\n",
            head.replace("STAGE", "ResponseComplete")
        ));
    }

    /// What the runner manager does for one job (runner 19.3, default features).
    pub fn job(&mut self, out: &mut String, n: usize) {
        let pod = format!("runner-abc123-project-42-concurrent-{}-{:08x}", n % 4, n);
        let secret = format!("runner-abc123-project-42-concurrent-{}-{:05x}", n % 4, n);
        let r = |verb, resource, sub, name| Req {
            verb,
            resource,
            sub,
            name,
            ..Req::default()
        };
        self.request(out, &r("create", "secrets", "", ""));
        self.request(
            out,
            &Req {
                verb: "create",
                resource: "pods",
                name: &pod,
                code: 201,
                ..Req::default()
            },
        );
        for _ in 0..3 {
            self.request(out, &r("get", "pods", "", &pod));
        }
        self.request(out, &r("update", "secrets", "", &secret));
        self.request(out, &r("list", "events", "", ""));
        self.request(out, &r("create", "pods", "exec", &pod));
        for _ in 0..4 {
            self.request(out, &r("create", "pods", "attach", &pod));
        }
        self.request(out, &r("delete", "pods", "", &pod));
    }

    /// Cluster traffic that has nothing to do with the runner.
    pub fn noise(&mut self, out: &mut String, n: usize) {
        let node = format!("node-{}", n % 7);
        let kubelet = format!("system:node:{node}");
        self.request(
            out,
            &Req {
                user: &kubelet,
                verb: "get",
                resource: "nodes",
                ns: "",
                name: &node,
                agent: "kubelet/v1.34.1 (linux/amd64) kubernetes/93248f9",
                ..Req::default()
            },
        );
        self.request(
            out,
            &Req {
                user: &kubelet,
                verb: "patch",
                resource: "pods",
                sub: "status",
                ns: "web",
                name: "frontend-6d4cf56db6-p9x8z",
                agent: "kubelet/v1.34.1 (linux/amd64) kubernetes/93248f9",
                ..Req::default()
            },
        );
        self.request(out, &Req { user: "system:serviceaccount:kube-system:replicaset-controller", verb: "update", group: "apps", resource: "replicasets", sub: "status", ns: "web", name: "frontend-6d4cf56db6", agent: "kube-controller-manager/v1.34.1 (linux/amd64) kubernetes/93248f9/system:serviceaccount:kube-system:replicaset-controller", ..Req::default() });
        self.request(
            out,
            &Req {
                user: "system:kube-scheduler",
                verb: "watch",
                group: "",
                resource: "pods",
                ns: "",
                agent: "kube-scheduler/v1.34.1 (linux/amd64) kubernetes/93248f9/scheduler",
                ..Req::default()
            },
        );
        self.request(
            out,
            &Req {
                user: "alice@example.com",
                verb: "list",
                group: "apps",
                resource: "deployments",
                ns: "web",
                agent: "kubectl/v1.34.1 (darwin/arm64) kubernetes/93248f9",
                ..Req::default()
            },
        );
    }
}

/// A log with everything the audit reports: used, unused (by omission), denied and unexpected
/// requests, between `noise` rounds of unrelated traffic.
pub fn scenario(jobs: usize, noise: usize) -> String {
    let mut g = Gen::new();
    let mut out = String::new();
    // The informer (17.9+) and the access review before it.
    g.request(
        &mut out,
        &Req {
            verb: "create",
            group: "authorization.k8s.io",
            resource: "selfsubjectaccessreviews",
            ns: "",
            code: 201,
            ..Req::default()
        },
    );
    g.request(
        &mut out,
        &Req {
            verb: "list",
            ..Req::default()
        },
    );
    g.request(
        &mut out,
        &Req {
            verb: "watch",
            ..Req::default()
        },
    );
    for i in 0..jobs {
        g.job(&mut out, i);
        for k in 0..noise {
            g.noise(&mut out, i * noise + k);
        }
    }
    // Denied: the runner lacks pods/log (FF_KUBERNETES_HONOR_ENTRYPOINT on in the real runner).
    for _ in 0..3 {
        g.request(
            &mut out,
            &Req {
                verb: "get",
                resource: "pods",
                sub: "log",
                name: "runner-abc123-project-42-concurrent-0-00000000",
                code: 403,
                ..Req::default()
            },
        );
    }
    // Unexpected namespace: the runner's token used in kube-system, by kubectl.
    g.request(
        &mut out,
        &Req {
            verb: "list",
            resource: "secrets",
            ns: "kube-system",
            code: 403,
            agent: "kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9",
            ..Req::default()
        },
    );
    // The job identity called the API (a job script with kubectl): denied.
    g.request(
        &mut out,
        &Req {
            user: JOB,
            verb: "list",
            resource: "configmaps",
            agent: "kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9",
            code: 403,
            ..Req::default()
        },
    );
    // An unexpected identity in the job namespace: job pods that kept the default token.
    for _ in 0..2 {
        g.request(
            &mut out,
            &Req {
                user: "system:serviceaccount:ci:default",
                verb: "get",
                resource: "secrets",
                name: "deploy-key",
                agent: "curl/8.5.0",
                code: 403,
                ..Req::default()
            },
        );
    }
    // An unauthenticated request (an expired token).
    out.push_str("{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"0f0f0f0f-0000-4000-8000-000000000401\",\"stage\":\"ResponseStarted\",\"requestURI\":\"/api/v1/namespaces/ci/pods\",\"verb\":\"list\",\"user\":{},\"sourceIPs\":[\"10.42.1.9\"],\"userAgent\":\"gitlab-runner/v19.3.0\",\"responseStatus\":{\"metadata\":{},\"status\":\"Failure\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401},\"requestReceivedTimestamp\":\"2026-11-26T10:00:00.000000Z\",\"stageTimestamp\":\"2026-11-26T10:00:00.000000Z\"}\n");
    out
}
