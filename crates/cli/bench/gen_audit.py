#!/usr/bin/env python3
"""Writes a realistic Kubernetes audit log (audit.k8s.io/v1 Event, JSON lines) for
`make bench-audit`: a busy cluster's traffic (kubelets, controllers, the scheduler, people)
with a GitLab Runner's requests mixed in (about 1 line in 12), each request logged at its
RequestReceived and ResponseComplete stages, some denied, some by unexpected identities.

Deterministic (no randomness). Writes into target/, never into the repository.

Usage: gen_audit.py OUT.jsonl [SIZE]   SIZE like 1G (default), 256M, 10M
       gen_audit.py --manifests OUT.yaml   the RBAC manifests the log is for
"""
import sys

RUNNER = "system:serviceaccount:gitlab-runner:gitlab-runner"
MANIFESTS = """apiVersion: v1
kind: ServiceAccount
metadata: {name: gitlab-runner, namespace: gitlab-runner}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ci-job, namespace: ci}
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: gitlab-runner, namespace: ci}
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
  resources: ["services", "configmaps"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: gitlab-runner, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: gitlab-runner}
subjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: gitlab-runner}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: gitlab-runner-config, namespace: gitlab-runner}
data:
  config.toml: |
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
metadata: {name: gitlab-runner, namespace: gitlab-runner}
spec:
  template:
    spec:
      serviceAccountName: gitlab-runner
      containers: [{name: gitlab-runner, image: "registry.gitlab.com/gitlab-org/gitlab-runner:v19.3.0"}]
      volumes: [{name: config, configMap: {name: gitlab-runner-config}}]
"""

AGENT_RUNNER = "gitlab-runner/v19.3.0 (linux/amd64) kubernetes/abcdef0"
AGENT_KUBELET = "kubelet/v1.34.1 (linux/amd64) kubernetes/93248f9"
AGENT_KCM = "kube-controller-manager/v1.34.1 (linux/amd64) kubernetes/93248f9/system:serviceaccount:kube-system:%s"
AGENT_KUBECTL = "kubectl/v1.34.1 (darwin/arm64) kubernetes/93248f9"


def user(name):
    if name.startswith("system:serviceaccount:"):
        ns = name.split(":")[2]
        return ('{"username":"%s","uid":"5d3f%%(u)04x-9c1b-4a8e-b1c2-7e9f0a1b2c3d","groups":["system:serviceaccounts",'
                '"system:serviceaccounts:%s","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":'
                '["JTI=5e0c7a4e-%%(u)04x"],"authentication.kubernetes.io/node-name":["node-2"],'
                '"authentication.kubernetes.io/pod-name":["gitlab-runner-7d9f8b6c5-x2x4q"]}}' % (name, ns))
    return '{"username":"%s","uid":"9a1b%%(u)04x-77aa-4bbb-8ccc-0d1e2f3a4b5c","groups":["system:authenticated"]}' % name



def template(who, verb, resource, ns="", name="", sub="", group="", code=200, agent=AGENT_RUNNER, body=""):
    """A pair of lines (both stages) with %(id)s, %(ts)s, %(u)x, %(ip)d placeholders."""
    path = ("/api/v1" if not group else "/apis/%s/v1" % group) + ("/namespaces/" + ns if ns else "") + "/" + resource \
        + ("/" + name if name else "") + ("/" + sub if sub else "")
    if verb == "list":
        path += "?limit=500\\u0026resourceVersion=0"
    elif verb == "watch":
        path += "?allowWatchBookmarks=true\\u0026timeoutSeconds=551\\u0026watch=true"
    obj = '"resource":"%s"' % resource
    if ns:
        obj += ',"namespace":"%s"' % ns
    if name:
        obj += ',"name":"%s"' % name
    if group:
        obj += ',"apiGroup":"%s"' % group
    obj += ',"apiVersion":"v1"'
    if sub:
        obj += ',"subresource":"%s"' % sub
    head = ('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%(id)s","stage":"@STAGE@",'
            '"requestURI":"' + path + '","verb":"' + verb + '","user":' + user(who) +
            ',"sourceIPs":["10.42.1.%(ip)d"],"userAgent":"' + agent + '","objectRef":{' + obj + '}')
    if code == 403:
        full = resource + ("/" + sub if sub else "")
        scope = ' in the namespace \\"%s\\"' % ns if ns else " at the cluster scope"
        status = ('{"metadata":{},"status":"Failure","message":"%s is forbidden: User \\"%s\\" cannot %s resource \\"%s\\" '
                  'in API group \\"%s\\"%s","reason":"Forbidden","details":{"kind":"%s"},"code":403}'
                  % (resource, who, verb, full, group, scope, resource))
        ann = '"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":""'
    else:
        status = '{"metadata":{},"code":%d}' % code
        ann = ('"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding '
               '\\"system:basic-user\\" of ClusterRole \\"system:basic-user\\" to Group \\"system:authenticated\\""')
    tail_ts = ',"requestReceivedTimestamp":"%(ts)s","stageTimestamp":"%(ts)s"'
    received = head.replace("@STAGE@", "RequestReceived") + tail_ts + "}\n"
    complete = head.replace("@STAGE@", "ResponseComplete") + ',"responseStatus":' + status + body + tail_ts + ',"annotations":{' + ann + "}}\n"
    return received + complete


POD_BODY = (',"requestObject":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"runner-abc123-project-42-concurrent-0",'
            '"namespace":"ci","labels":{"pod":"runner-abc123-project-42-concurrent-0","project.runner.gitlab.com/id":"42"}},'
            '"spec":{"serviceAccountName":"ci-job","automountServiceAccountToken":false,"containers":[{"name":"build",'
            '"image":"alpine:3.20","command":["sh","-c","if [ -x /usr/local/bin/bash ]; then\\n\\texec /usr/local/bin/bash \\n'
            'elif [ -x /usr/bin/bash ]; then\\n\\texec /usr/bin/bash \\nfi\\n"],"env":[{"name":"CI_JOB_ID","value":"123"},'
            '{"name":"CI_PROJECT_PATH","value":"group/project"}]},{"name":"helper","image":"registry.gitlab.com/gitlab-org/'
            'gitlab-runner/gitlab-runner-helper:x86_64-v19.3.0"}]}}')
POD = "runner-abc123-project-42-concurrent-0"

RUNNER_JOB = [
    template(RUNNER, "create", "secrets", "ci", code=201),
    template(RUNNER, "create", "pods", "ci", code=201, body=POD_BODY),
    template(RUNNER, "get", "pods", "ci", POD),
    template(RUNNER, "get", "pods", "ci", POD),
    template(RUNNER, "update", "secrets", "ci", "runner-abc123-project-42-concurrent-0-x7k2p"),
    template(RUNNER, "list", "events", "ci"),
    template(RUNNER, "create", "pods", "ci", POD, "exec"),
    template(RUNNER, "create", "pods", "ci", POD, "attach"),
    template(RUNNER, "create", "pods", "ci", POD, "attach"),
    template(RUNNER, "delete", "pods", "ci", POD),
    template(RUNNER, "get", "pods", "ci", POD, "log", code=403),
]
ODD = [
    template("system:serviceaccount:ci:ci-job", "list", "configmaps", "ci", code=403, agent=AGENT_KUBECTL),
    template("system:serviceaccount:ci:default", "get", "secrets", "ci", "deploy-key", code=403, agent="curl/8.5.0"),
    template(RUNNER, "list", "secrets", "kube-system", code=403, agent=AGENT_KUBECTL),
]
NOISE = [
    template("system:node:node-%(n)d", "get", "nodes", name="node-%(n)d", agent=AGENT_KUBELET),
    template("system:node:node-%(n)d", "patch", "pods", "web", "frontend-6d4cf56db6-p9x8z", "status", agent=AGENT_KUBELET),
    template("system:node:node-%(n)d", "get", "leases", "kube-node-lease", "node-%(n)d", group="coordination.k8s.io", agent=AGENT_KUBELET),
    template("system:node:node-%(n)d", "update", "leases", "kube-node-lease", "node-%(n)d", group="coordination.k8s.io", agent=AGENT_KUBELET),
    template("system:serviceaccount:kube-system:replicaset-controller", "update", "replicasets", "web", "frontend-6d4cf56db6", "status", group="apps", agent=AGENT_KCM % "replicaset-controller"),
    template("system:serviceaccount:kube-system:endpointslice-controller", "update", "endpointslices", "web", "frontend-x7k2p", group="discovery.k8s.io", agent=AGENT_KCM % "endpointslice-controller"),
    template("system:kube-scheduler", "create", "pods", "web", "frontend-6d4cf56db6-p9x8z", "binding", code=201, agent="kube-scheduler/v1.34.1"),
    template("system:serviceaccount:monitoring:prometheus", "list", "pods", "", agent="prometheus/2.54.1"),
    template("alice@example.com", "list", "deployments", "web", group="apps", agent=AGENT_KUBECTL),
    template("system:serviceaccount:argocd:argocd-application-controller", "get", "deployments", "web", "frontend", group="apps", agent="argocd-application-controller/v2.12.0"),
    template("system:apiserver", "get", "namespaces", name="kube-system", agent="kube-apiserver/v1.34.1"),
]


def parse_size(s):
    s = s.strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:], 1)
    return int(float(s.rstrip("KMG")) * mult)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--manifests":
        with open(sys.argv[2], "w") as f:
            f.write(MANIFESTS)
        return
    out = sys.argv[1]
    target = parse_size(sys.argv[2]) if len(sys.argv) > 2 else 1 << 30
    seq = 0
    written = 0
    with open(out, "w", buffering=8 << 20) as f:
        rounds = 0
        while written < target:
            block = []
            for k in range(200):
                # One runner job per 12 other requests, on average: ~8% of the lines.
                parts = NOISE if (rounds + k) % 13 else RUNNER_JOB
                if (rounds + k) % 9973 == 0:
                    parts = ODD
                for t in parts:
                    seq += 1
                    s = seq // 40
                    block.append(t % {
                        "id": "%08x-1c2d-4e5f-8a9b-%012x" % (seq * 2654435761 & 0xffffffff, seq),
                        "ts": "2026-11-26T%02d:%02d:%02d.%06dZ" % ((s // 3600) % 24, (s // 60) % 60, s % 60, seq * 7919 % 1000000),
                        "u": seq & 0xffff, "ip": seq % 250 + 2, "n": seq % 40,
                    })
            data = "".join(block)
            f.write(data)
            written += len(data)
            rounds += 200
    print(f"gen_audit: wrote {out} ({written / (1 << 20):.0f} MiB, {seq} requests)")


if __name__ == "__main__":
    main()
