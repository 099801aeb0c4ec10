#!/usr/bin/env python3
"""Generates a `kubectl get ... -A -o yaml`-style dump of RBAC objects for `make bench-cli`.

Deterministic (no randomness): N objects spread over many namespaces - ServiceAccounts,
Roles, RoleBindings, ClusterRoles (some aggregated) and ClusterRoleBindings - plus one GitLab
Runner deployment so the runner-specific rules have work to do.

Usage: gen_dump.py OUT.yaml [N]   (default N = 10000)
"""
import sys

VERBS = [["get", "list", "watch"], ["create", "delete", "get"], ["get"], ["update", "patch"], ["*"]]
RESOURCES = [["pods"], ["pods/exec", "pods/attach"], ["configmaps"], ["secrets"], ["services"],
             ["deployments"], ["jobs"], ["events"], ["persistentvolumeclaims"], ["*"]]
GROUPS = {"deployments": "apps", "jobs": "batch"}


def rule(i):
    resources = RESOURCES[i % len(RESOURCES)]
    group = GROUPS.get(resources[0], "")
    verbs = VERBS[(i // 3) % len(VERBS)]
    return (f"  - apiGroups: [\"{group}\"]\n"
            f"    resources: [{', '.join(chr(34) + r + chr(34) for r in resources)}]\n"
            f"    verbs: [{', '.join(chr(34) + v + chr(34) for v in verbs)}]\n")


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    namespaces = max(1, n // 50)
    items = []

    def add(text):
        items.append(text)

    # The runner: its ServiceAccount, a Deployment and its config.
    add("""- apiVersion: v1
  kind: ServiceAccount
  metadata:
    name: gitlab-runner
    namespace: gitlab-runner
""")
    add("""- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: gitlab-runner
    namespace: gitlab-runner
  spec:
    selector:
      matchLabels: {app: gitlab-runner}
    template:
      metadata:
        labels: {app: gitlab-runner}
      spec:
        serviceAccountName: gitlab-runner
        containers:
        - name: gitlab-runner
          image: registry.gitlab.com/gitlab-org/gitlab-runner:v18.5.0
""")
    i = 0
    while len(items) < n - 1:  # the aggregated ClusterRole below is the last one
        ns = f"team-{i % namespaces:04d}"
        k = i // namespaces
        kind = i % 5
        if kind == 0:
            add(f"""- apiVersion: v1
  kind: ServiceAccount
  metadata:
    name: app-{k}
    namespace: {ns}
""")
        elif kind == 1:
            add(f"""- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata:
    name: role-{k}
    namespace: {ns}
  rules:
{rule(i)}{rule(i + 1)}""")
        elif kind == 2:
            subject = "gitlab-runner" if i % 97 == 2 else f"app-{k}"
            subject_ns = "gitlab-runner" if subject == "gitlab-runner" else ns
            add(f"""- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata:
    name: binding-{k}
    namespace: {ns}
  roleRef:
    apiGroup: rbac.authorization.k8s.io
    kind: Role
    name: role-{k}
  subjects:
  - kind: ServiceAccount
    name: {subject}
    namespace: {subject_ns}
""")
        elif kind == 3:
            labels = "    labels: {rbac.example.com/aggregate-to-team: \"true\"}\n" if i % 7 == 3 else ""
            add(f"""- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata:
    name: cluster-role-{i}
{labels}  rules:
{rule(i + 2)}""")
        else:
            add(f"""- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRoleBinding
  metadata:
    name: cluster-binding-{i}
  roleRef:
    apiGroup: rbac.authorization.k8s.io
    kind: ClusterRole
    name: cluster-role-{i - 1}
  subjects:
  - kind: ServiceAccount
    name: app-{k}
    namespace: {ns}
""")
        i += 1
    add("""- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata:
    name: team-aggregate
  aggregationRule:
    clusterRoleSelectors:
    - matchLabels: {rbac.example.com/aggregate-to-team: "true"}
  rules: []
""")
    with open(out, "w") as f:
        f.write("apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"\"\nitems:\n")
        f.write("".join(items))
    print(f"wrote {len(items)} objects to {out}")


if __name__ == "__main__":
    main()
