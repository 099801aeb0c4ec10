#!/usr/bin/env python3
"""Generates a synthetic cluster dump of N RBAC-relevant objects for `make bench`.

Realistic in shape, deterministic in content (seeded): many namespaces, each with its
ServiceAccounts, Roles, RoleBindings (to its Roles and to the built-in admin/edit/view, with
user, group and ServiceAccount subjects), a workload, a legacy token Secret now and then;
cluster-wide ClusterRoles (several aggregated through label selectors), ClusterRoleBindings to
groups, and escalation chains (pod creation next to a cluster-admin ServiceAccount, secrets
read next to a privileged legacy token, impersonation, bind/escalate). One GitLab Runner
(ServiceAccount, Role, RoleBinding, ConfigMap with config.toml, Deployment) is in the mix so the
runner rules have work. Objects carry the metadata `kubectl get -o yaml` prints (uid,
resourceVersion, creationTimestamp).

Usage: gen_cluster.py N OUT [--style list|multidoc]
  list      one `kind: List` document, as `kubectl get ... -A -o yaml` prints it
  multidoc  one document per object, separated by `---`
"""
import random
import sys

# Weighted like the namespaced roles of a real cluster: mostly reads, some writes to
# workloads and config, a wildcard now and then.
VERBS = ([["get", "list", "watch"]] * 10 + [["get"]] * 3
         + [["get", "list", "watch", "create", "update", "patch", "delete"]] * 4
         + [["create"]] + [["*"]])
RULES = ([("", ["pods", "pods/log"])] * 3 + [("", ["configmaps"])] * 3 + [("", ["services", "endpoints"])] * 2
         + [("apps", ["deployments", "replicasets"])] * 3 + [("batch", ["jobs", "cronjobs"])] * 2
         + [("", ["persistentvolumeclaims"])] + [("networking.k8s.io", ["ingresses"])]
         + [("", ["events"])] * 2 + [("autoscaling", ["horizontalpodautoscalers"])] + [("", ["secrets"])])


class Gen:
    def __init__(self, n, seed=20261126):
        self.n = n
        self.rng = random.Random(seed)
        self.objects = []
        self.serial = 0

    def meta(self, name, namespace=None, labels=None, annotations=None):
        self.serial += 1
        lines = ["metadata:"]
        if annotations:
            lines.append("  annotations:")
            lines += ["    %s: %s" % (k, v) for k, v in annotations.items()]
        lines.append("  creationTimestamp: \"2026-%02d-%02dT%02d:%02d:00Z\"" % (
            1 + self.serial % 12, 1 + self.serial % 28, self.serial % 24, self.serial % 60))
        if labels:
            lines.append("  labels:")
            lines += ["    %s: \"%s\"" % (k, v) for k, v in labels.items()]
        lines.append("  name: %s" % name)
        if namespace:
            lines.append("  namespace: %s" % namespace)
        lines.append("  resourceVersion: \"%d\"" % (1000 + self.serial))
        lines.append("  uid: %08x-0000-4000-8000-%012x" % (self.serial, self.serial * 7919))
        return lines

    def add(self, api, kind, meta, body):
        self.objects.append(["apiVersion: " + api, "kind: " + kind] + meta + body)

    def rules(self, k):
        out = ["rules:"]
        for _ in range(k):
            group, resources = self.rng.choice(RULES)
            verbs = self.rng.choice(VERBS)
            out += ["- apiGroups:", "  - \"%s\"" % group, "  resources:"]
            out += ["  - " + r for r in resources]
            out += ["  verbs:"] + ["  - \"%s\"" % v for v in verbs]
        return out

    def role(self, kind, name, ns=None, k=2, labels=None, rules=None):
        api = "rbac.authorization.k8s.io/v1"
        self.add(api, kind, self.meta(name, ns, labels), rules if rules is not None else self.rules(k))

    def binding(self, kind, name, ns, role_kind, role, subjects):
        body = ["roleRef:", "  apiGroup: rbac.authorization.k8s.io",
                "  kind: " + role_kind, "  name: " + role, "subjects:"]
        for skind, sname, sns in subjects:
            body.append("- kind: " + skind)
            if skind != "ServiceAccount":
                body.append("  apiGroup: rbac.authorization.k8s.io")
            body.append("  name: " + sname)
            if sns:
                body.append("  namespace: " + sns)
        self.add("rbac.authorization.k8s.io/v1", kind, self.meta(name, ns), body)

    def sa(self, name, ns, automount=None):
        body = [] if automount is None else ["automountServiceAccountToken: " + str(automount).lower()]
        self.add("v1", "ServiceAccount", self.meta(name, ns), body)

    def deployment(self, name, ns, sa):
        body = ["spec:", "  replicas: 2", "  selector:", "    matchLabels:", "      app: " + name,
                "  template:", "    metadata:", "      labels:", "        app: " + name,
                "    spec:", "      serviceAccountName: " + sa, "      containers:",
                "      - image: registry.example.com/%s:1.%d" % (name, self.serial % 40),
                "        name: " + name]
        self.add("apps/v1", "Deployment", self.meta(name, ns, {"app": name}), body)

    def token_secret(self, name, ns, sa):
        self.add("v1", "Secret", self.meta(name, ns, annotations={"kubernetes.io/service-account.name": sa}),
                 ["type: kubernetes.io/service-account-token"])

    def cluster(self):
        # Aggregated ClusterRoles: monitoring and a team-wide role, fed by labelled sources.
        for agg in ["monitoring", "team-base"]:
            self.role("ClusterRole", "aggregate-" + agg, rules=[
                "aggregationRule:", "  clusterRoleSelectors:", "  - matchLabels:",
                "      rbac.example.com/aggregate-to-%s: \"true\"" % agg, "rules: []"])
        for i in range(8):
            agg = "monitoring" if i % 2 else "team-base"
            self.role("ClusterRole", "%s-part-%d" % (agg, i), k=2,
                      labels={"rbac.example.com/aggregate-to-%s" % agg: "true"})
        self.binding("ClusterRoleBinding", "platform-admins", None, "ClusterRole", "cluster-admin",
                     [("Group", "oidc:platform-admins", None)])
        self.binding("ClusterRoleBinding", "all-developers-view", None, "ClusterRole", "view",
                     [("Group", "oidc:developers", None)])
        self.binding("ClusterRoleBinding", "monitoring", None, "ClusterRole", "aggregate-monitoring",
                     [("ServiceAccount", "prometheus", "monitoring")])
        self.sa("prometheus", "monitoring")
        # The escalation targets: a cluster-admin ServiceAccount with a legacy token.
        self.sa("ops-admin", "ops")
        self.binding("ClusterRoleBinding", "ops-admin", None, "ClusterRole", "cluster-admin",
                     [("ServiceAccount", "ops-admin", "ops")])
        self.token_secret("ops-admin-token", "ops", "ops-admin")
        self.deployment("ops-console", "ops", "ops-admin")
        # GitLab Runner.
        ns = "gitlab-runner"
        self.sa("gitlab-runner", ns)
        self.role("Role", "gitlab-runner", ns, rules=[
            "rules:", "- apiGroups: [\"\"]", "  resources: [pods, pods/exec, pods/attach, secrets, configmaps]",
            "  verbs: [get, list, watch, create, patch, update, delete]",
            "- apiGroups: [\"\"]", "  resources: [events]", "  verbs: [list, watch]"])
        self.binding("RoleBinding", "gitlab-runner", ns, "Role", "gitlab-runner",
                     [("ServiceAccount", "gitlab-runner", ns)])
        self.add("v1", "ConfigMap", self.meta("gitlab-runner", ns), [
            "data:", "  config.toml: |", "    concurrent = 10", "    [[runners]]",
            "      name = \"kubernetes\"", "      executor = \"kubernetes\"",
            "      [runners.kubernetes]", "        namespace = \"gitlab-runner\"",
            "        service_account = \"ci-jobs\""])
        self.sa("ci-jobs", ns, automount=False)
        self.deployment("gitlab-runner", ns, "gitlab-runner")

    def namespace(self, i):
        ns = "team-%04d" % i
        self.add("v1", "Namespace", self.meta(ns, labels={"team": "t%d" % (i % 97)}), [])
        apps = 2 + i % 3
        for a in range(apps):
            self.sa("app-%d" % a, ns)
            self.deployment("app-%d" % a, ns, "app-%d" % a)
        self.sa("deployer", ns)
        for r, k in [("developer", 3), ("viewer", 1), ("deployer", 2)]:
            self.role("Role", r, ns, k=k)
        self.binding("RoleBinding", "developers", ns, "Role", "developer",
                     [("Group", "oidc:team-%d" % (i % 97), None), ("User", "dev%d@example.com" % i, None)])
        self.binding("RoleBinding", "viewers", ns, "Role", "viewer",
                     [("Group", "system:serviceaccounts:" + ns, None)])
        self.binding("RoleBinding", "deployer", ns, "Role", "deployer",
                     [("ServiceAccount", "deployer", ns)])
        self.binding("RoleBinding", "team-edit", ns, "ClusterRole", "edit",
                     [("Group", "oidc:team-%d-leads" % (i % 97), None)])
        self.binding("RoleBinding", "team-base", ns, "ClusterRole", "aggregate-team-base",
                     [("ServiceAccount", "app-0", ns)])
        # Escalation chains, now and then.
        if i % 7 == 0:
            # deployer can create pods in `ops`, where the cluster-admin ServiceAccount lives.
            self.role("Role", "ops-deploy-%d" % i, "ops", rules=[
                "rules:", "- apiGroups: [\"\"]", "  resources: [pods]", "  verbs: [create, get]"])
            self.binding("RoleBinding", "ops-deploy-%d" % i, "ops", "Role", "ops-deploy-%d" % i,
                         [("ServiceAccount", "deployer", ns)])
        if i % 11 == 0:
            # app-1 reads secrets where a privileged legacy token sits.
            self.sa("ci-admin", ns)
            self.token_secret("ci-admin-token", ns, "ci-admin")
            self.binding("RoleBinding", "ci-admin", ns, "ClusterRole", "admin",
                         [("ServiceAccount", "ci-admin", ns)])
            self.role("Role", "secret-reader", ns, rules=[
                "rules:", "- apiGroups: [\"\"]", "  resources: [secrets]", "  verbs: [get, list]"])
            self.binding("RoleBinding", "secret-reader", ns, "Role", "secret-reader",
                         [("ServiceAccount", "app-1", ns)])
        if i % 13 == 0:
            self.role("Role", "impersonator", ns, rules=[
                "rules:", "- apiGroups: [\"\"]", "  resources: [serviceaccounts]", "  verbs: [impersonate]"])
            self.binding("RoleBinding", "impersonator", ns, "Role", "impersonator",
                         [("ServiceAccount", "app-0", ns)])
        if i % 17 == 0:
            self.role("ClusterRole", "rbac-manager-%d" % i, rules=[
                "rules:", "- apiGroups: [rbac.authorization.k8s.io]", "  resources: [roles, rolebindings]",
                "  verbs: [bind, escalate, create, update]"])
            self.binding("RoleBinding", "rbac-manager", ns, "ClusterRole", "rbac-manager-%d" % i,
                         [("ServiceAccount", "deployer", ns)])

    def generate(self):
        self.cluster()
        i = 0
        while len(self.objects) < self.n:
            self.namespace(i)
            i += 1
        del self.objects[self.n:]
        return self.objects


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    n, out = int(sys.argv[1]), sys.argv[2]
    style = sys.argv[sys.argv.index("--style") + 1] if "--style" in sys.argv else "list"
    objects = Gen(n).generate()
    with open(out, "w") as f:
        if style == "list":
            f.write("apiVersion: v1\nitems:\n")
            for obj in objects:
                f.write("- " + obj[0] + "\n")
                f.write("".join("  " + line + "\n" for line in obj[1:]))
            f.write("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
        elif style == "multidoc":
            f.write("---\n".join("".join(line + "\n" for line in obj) for obj in objects))
        else:
            sys.exit("unknown --style " + style)
    print("wrote %d objects to %s (%s)" % (len(objects), out, style))


if __name__ == "__main__":
    main()
