// Real repositories through the component (issue 14): what a platform repository holds next to
// its runner, run as merge request pipelines with gitlab-ci-local 4.65.1 (shell executor, the
// real rbac-gate on PATH, CI_PIPELINE_SOURCE=merge_request_event and
// CI_MERGE_REQUEST_DIFF_BASE_SHA = the target branch's commit), each case in the project
// directory and with --shell-isolation (see attacks.test.mjs).
//
// The repository: an application chart (charts/web, templates in real Helm syntax), a
// monitoring stack's ConfigMaps with `{{` in their data (a Grafana dashboard, Alertmanager
// templates) and a PrometheusRule with `{{ $labels }}` in its annotations, and a namespaced
// reader Role. None of it touches the runner's RBAC: it passes. The same repository with a
// wrapper chart around gitlab-runner whose runner config says `privileged = true` fails with
// RG306 privileged-jobs at that line (and passes with `privileged = false`, so the line is
// what fails it). A kustomize overlay that patches the base's RoleBinding into a
// ClusterRoleBinding to cluster-admin fails with RG101 on the patch's line (and the overlay
// without the patch passes); every finding on that binding points into the binding's own
// document or the patch, not at the same-named ServiceAccount of the base.
//
// The kustomize cases need a renderer on PATH (`kubectl`, listed in .ci/tools for this suite,
// or `kustomize`): rbac-gate runs it inside the job. Without one they fail up front, saying so.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
    makeRepo, mergeRequestPipeline, artifact, rbacGateBinary, TEMPLATE, CODE_QUALITY_SEVERITIES,
} from "./lib.mjs";

const JOB = "rbac-gate";
const PIPELINE = {
    ".gitlab-ci.yml": "include:\n  - local: /ci/rbac-gate.yml\n",
    "ci/rbac-gate.yml": fs.readFileSync(TEMPLATE, "utf8"),
};

const MODES = [
    { name: "in the project directory", args: [] },
    { name: "with --shell-isolation", args: ["--shell-isolation"] },
];

/** Declares `body(t, mode)` as one test per mode. */
function realRepo(title, body) {
    for (const mode of MODES) test(`${title} (${mode.name})`, (t) => body(t, mode));
}

// ---------------------------------------------------------------------------------------------
// The application chart, as `helm create` lays one out (the partials are no input: rbac-gate
// reads .yaml, .yml, .json and .toml files only).

const WEB_CHART = {
    "charts/web/Chart.yaml": `apiVersion: v2
name: web
description: The shop's web front end
type: application
version: 1.4.0
appVersion: "2.7.1"
`,
    "charts/web/values.yaml": `replicaCount: 2

image:
  repository: registry.example.com/shop/web
  pullPolicy: IfNotPresent
  # Overrides the image tag whose default is the chart appVersion.
  tag: ""

imagePullSecrets: []

podAnnotations: {}

service:
  type: ClusterIP
  port: 80

ingress:
  enabled: false
  className: nginx
  hosts:
    - host: shop.example.com
      paths:
        - path: /
          pathType: ImplementationSpecific

resources:
  limits:
    cpu: 500m
    memory: 256Mi

autoscaling:
  enabled: false
  minReplicas: 2
  maxReplicas: 10
  targetCPUUtilizationPercentage: 80
`,
    "charts/web/templates/_helpers.tpl": `{{- define "web.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "web.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "web.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "web.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
`,
    "charts/web/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "web.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      {{- with .Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      labels:
        {{- include "web.selectorLabels" . | nindent 8 }}
    spec:
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      automountServiceAccountToken: false
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
`,
    "charts/web/templates/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  ports:
    - port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
      name: http
  selector:
    {{- include "web.selectorLabels" . | nindent 4 }}
`,
};

// ---------------------------------------------------------------------------------------------
// A monitoring stack: Grafana's and Alertmanager's own template syntax is data, not Helm.

const MONITORING = {
    "monitoring/grafana-dashboard-web.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: grafana-dashboard-web
  namespace: monitoring
  labels:
    grafana_dashboard: "1"
data:
  web.json: |
    {
      "title": "Web front end",
      "uid": "web-frontend",
      "panels": [
        {
          "type": "timeseries",
          "title": "Requests per second",
          "targets": [
            {
              "expr": "sum by (instance) (rate(http_requests_total{job=\\"web\\"}[5m]))",
              "legendFormat": "{{instance}}"
            }
          ]
        }
      ]
    }
`,
    "monitoring/alertmanager-templates.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: alertmanager-templates
  namespace: monitoring
data:
  slack.tmpl: |
    {{ define "slack.shop.title" -}}
    [{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}
    {{- end }}
    {{ define "slack.shop.text" -}}
    {{ range .Alerts }}*{{ .Annotations.summary }}* on {{ .Labels.instance }}
    {{ end }}
    {{- end }}
`,
    "monitoring/web-rules.yaml": `apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: web
  namespace: monitoring
spec:
  groups:
    - name: web
      rules:
        - alert: WebDown
          expr: up{job="web"} == 0
          for: 5m
          labels:
            severity: page
          annotations:
            summary: "{{ $labels.instance }} is down"
            description: "{{ $labels.instance }} of {{ $labels.job }} has been down for 5 minutes."
`,
};

// ---------------------------------------------------------------------------------------------
// Safe RBAC: a reader of the shop's pods and configmaps, bound in its namespace only.

const READER_RBAC = {
    "rbac/shop-reader.yaml": `apiVersion: v1
kind: ServiceAccount
metadata:
  name: shop-reader
  namespace: shop
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: shop-reader
  namespace: shop
rules:
  - apiGroups: [""]
    resources: ["pods", "configmaps", "services"]
    verbs: ["get", "list", "watch"]
  - apiGroups: ["apps"]
    resources: ["deployments"]
    verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: shop-reader
  namespace: shop
subjects:
  - kind: ServiceAccount
    name: shop-reader
    namespace: shop
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: shop-reader
`,
};

/** The repository as it is on the target branch: everything above. */
const PLATFORM = { ...WEB_CHART, ...MONITORING, ...READER_RBAC };

// ---------------------------------------------------------------------------------------------
// What runner 19.3 needs with its default features (`rbac-gate generate`), as RBAC rules: the
// wrapper's values and the kustomize base grant it, so neither fails for a missing permission.
const RUNNER_RULES = `- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "create", "delete", "list", "watch"]
- apiGroups: [""]
  resources: ["pods/exec", "pods/attach"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create", "update", "get", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["list"]`;

/** `text` with every line indented by `by` spaces. */
const indent = (text, by) => text.split("\n").map((line) => " ".repeat(by) + line).join("\n");

// ---------------------------------------------------------------------------------------------
// A wrapper chart around gitlab-runner: its runner values sit under the dependency's key. The
// RBAC is RUNNER_RULES, so the runner config is all that decides.

const PRIVILEGED_LINE = "          privileged = true";

function runnerWrapper(privileged) {
    return {
        "charts/runner-wrapper/Chart.yaml": `apiVersion: v2
name: runner-wrapper
description: The platform team's GitLab Runner, with the team's defaults
type: application
version: 0.3.0
dependencies:
  - name: gitlab-runner
    version: 0.81.0
    repository: https://charts.gitlab.io
`,
        "charts/runner-wrapper/values.yaml": `gitlab-runner:
  gitlabUrl: https://gitlab.example.com/
  concurrent: 4
  rbac:
    create: true
    clusterWideAccess: false
    rules:
${indent(RUNNER_RULES, 6)}
  serviceAccount:
    create: true
    name: gitlab-runner
  runners:
    secret: gitlab-runner-token
    config: |
      [[runners]]
        [runners.kubernetes]
          namespace = "{{.Release.Namespace}}"
          image = "alpine:3.20"
${privileged ? PRIVILEGED_LINE : "          privileged = false"}
          service_account = "gitlab-runner-job"
          automount_service_account_token = false
        [runners.feature_flags]
          FF_KUBERNETES_HONOR_ENTRYPOINT = false
          FF_PRINT_POD_EVENTS = false
          FF_WAIT_FOR_POD_TO_BE_REACHABLE = false
          FF_CONCRETE = false
`,
    };
}

// ---------------------------------------------------------------------------------------------
// Kustomize: the runner's base (its ServiceAccount, Role and RoleBinding, all named
// gitlab-runner) and a production overlay. The
// overlay's patch turns the binding into a ClusterRoleBinding to cluster-admin: no file holds
// that object, only the render does.

const RUNNER_BASE = {
    "deploy/runner/base/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: gitlab-runner
resources:
  - rbac.yaml
`,
    "deploy/runner/base/rbac.yaml": `apiVersion: v1
kind: ServiceAccount
metadata:
  name: gitlab-runner
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: gitlab-runner
rules:
${indent(RUNNER_RULES, 2)}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: gitlab-runner
subjects:
  - kind: ServiceAccount
    name: gitlab-runner
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: gitlab-runner
`,
};

const ADMIN_PATCH_FILE = "deploy/runner/overlays/prod/bind-cluster-admin.yaml";
const ADMIN_PATCH = `# Production runners deploy every namespace's workloads.
- op: replace
  path: /kind
  value: ClusterRoleBinding
- op: replace
  path: /roleRef
  value:
    apiGroup: rbac.authorization.k8s.io
    kind: ClusterRole
    name: cluster-admin
`;
const ADMIN_PATCH_NAME_LINE = ADMIN_PATCH.split("\n").indexOf("    name: cluster-admin") + 1;

function prodOverlay(patched) {
    const kustomization = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "resources:",
        "  - ../../base",
        "labels:",
        "  - pairs:",
        "      environment: production",
    ];
    if (!patched) return { "deploy/runner/overlays/prod/kustomization.yaml": `${kustomization.join("\n")}\n` };
    kustomization.push(
        "patches:",
        "  - path: bind-cluster-admin.yaml",
        "    target:",
        "      kind: RoleBinding",
        "      name: gitlab-runner",
        "    options:",
        "      allowKindChange: true",
    );
    return {
        "deploy/runner/overlays/prod/kustomization.yaml": `${kustomization.join("\n")}\n`,
        [ADMIN_PATCH_FILE]: ADMIN_PATCH,
    };
}

/** Whether `name` is an executable file in a PATH directory (what rbac-gate looks for). */
function onPath(name) {
    return (process.env.PATH ?? "").split(path.delimiter).filter(Boolean).some((dir) => {
        try {
            fs.accessSync(path.join(dir, name), fs.constants.X_OK);
            return fs.statSync(path.join(dir, name)).isFile();
        } catch {
            return false;
        }
    });
}

/** The documents of a YAML stream: their `kind` and first and last lines (1-based). */
function documentLines(text) {
    const documents = [];
    let current;
    text.split("\n").forEach((line, index) => {
        if (line === "---" || !current) {
            current = { kind: undefined, first: index + (line === "---" ? 2 : 1), last: index + 1 };
            documents.push(current);
            if (line === "---") return;
        }
        current.kind ??= /^kind: (\S+)/.exec(line)?.[1];
        if (line.trim() !== "") current.last = index + 1;
    });
    return documents;
}

/** Fails the kustomize cases up front, with what to install, when rbac-gate has no renderer. */
function requireKustomizeRenderer() {
    assert.ok(onPath("kustomize") || onPath("kubectl"),
        "the kustomize cases need a renderer on PATH and neither `kustomize` nor `kubectl` is there: " +
        "install kubectl (.ci/tools: `bash .ci/ensure-tools.sh component`, or `apt-get install kubectl`) " +
        "or Debian's kustomize (`apt-get install kustomize`)");
}

// ---------------------------------------------------------------------------------------------

/** A consumer project: the pipeline and the platform repository on main, `change` on top. */
function mergeRequest(t, change) {
    const repo = makeRepo({ base: { ...PIPELINE, ...PLATFORM }, change });
    t.after(repo.cleanup);
    return repo;
}

/** Runs the job as the merge request pipeline of `repo`, in `mode`. */
const runPipeline = (repo, mode) => mergeRequestPipeline(repo, JOB, mode.args);

/** The Code Quality artifact: one JSON array of well-formed issues. */
function codeQuality(repo) {
    const report = artifact(repo.dir, JOB, "gl-code-quality-report.json");
    assert.ok(fs.existsSync(report), `no Code Quality artifact at ${report}`);
    const issues = JSON.parse(fs.readFileSync(report, "utf8"));
    assert.ok(Array.isArray(issues), "the Code Quality report is one JSON array");
    for (const issue of issues) {
        assert.ok(CODE_QUALITY_SEVERITIES.includes(issue.severity), JSON.stringify(issue));
        assert.equal(typeof issue.location?.path, "string", JSON.stringify(issue));
        assert.ok(Number.isInteger(issue.location?.lines?.begin), JSON.stringify(issue));
    }
    return issues;
}

/** The job passed, and nothing in the Code Quality report is high or worse. */
function assertPassed(repo, { status, output }) {
    assert.equal(status, 0, output);
    assert.match(output, /rbac-gate: PASSED/, output);
    assert.doesNotMatch(output, /unrendered|needs rendering|cannot be judged/i, output);
    const issues = codeQuality(repo);
    for (const issue of issues) {
        assert.ok(!["critical", "blocker"].includes(issue.severity), JSON.stringify(issue, null, 1));
    }
    return issues;
}

/** The job failed with rbac-gate's exit 1 (a finding, not an error) and blocked the merge. */
function assertFailed({ status, output }) {
    assert.notEqual(status, 0, output);
    assert.match(output, /rbac-gate: FAILED \(exit 1\).*The merge is blocked\./, output);
}

/** The Code Quality issue of rule `check` on `file`; fails when there is none. */
function issueOf(issues, check, file) {
    const found = issues.find((i) => i.check_name === check && i.location.path === file);
    assert.ok(found, `no ${check} on ${file} in ${JSON.stringify(issues, null, 1)}`);
    return found;
}

before(() => {
    rbacGateBinary(); // fails clearly when the binary has not been built
});

realRepo("an application chart, monitoring ConfigMaps with {{ in their data and a reader Role pass", (t, mode) => {
    // The merge request brings the whole platform repository, so every file is in its diff.
    const repo = makeRepo({ base: PIPELINE, change: PLATFORM });
    t.after(repo.cleanup);
    const result = runPipeline(repo, mode);
    const issues = assertPassed(repo, result);
    // Nothing in the repository is even medium; the chart's two templates were read, found to
    // yield nothing the gate judges, and counted (not passed over in silence).
    for (const issue of issues) assert.ok(["info", "minor"].includes(issue.severity), JSON.stringify(issue, null, 1));
    assert.match(result.output, /\b2 \(Helm chart template\)/, result.output);
});

realRepo("a wrapper chart whose runner config says privileged = true fails with privileged-jobs", (t, mode) => {
    const change = runnerWrapper(true);
    const repo = mergeRequest(t, change);
    const result = runPipeline(repo, mode);
    assertFailed(result);
    const values = "charts/runner-wrapper/values.yaml";
    const issue = issueOf(codeQuality(repo), "RG306/privileged-jobs", values);
    assert.ok(["critical", "blocker"].includes(issue.severity), JSON.stringify(issue));
    const line = change[values].split("\n").indexOf(PRIVILEGED_LINE) + 1;
    assert.equal(issue.location.lines.begin, line, JSON.stringify(issue));
    assert.match(result.output, new RegExp(`${values.replaceAll(".", "\\.")}:${line}`), "the text report names the line");
});

realRepo("the same wrapper chart with privileged = false passes", (t, mode) => {
    const repo = mergeRequest(t, runnerWrapper(false));
    const issues = assertPassed(repo, runPipeline(repo, mode));
    assert.ok(!issues.some((i) => i.check_name === "RG306/privileged-jobs"), JSON.stringify(issues, null, 1));
});

realRepo("a kustomize overlay patching the runner's RoleBinding to cluster-admin fails on the patch", (t, mode) => {
    requireKustomizeRenderer();
    const repo = mergeRequest(t, { ...RUNNER_BASE, ...prodOverlay(true) });
    const result = runPipeline(repo, mode);
    assertFailed(result);
    const issues = codeQuality(repo);
    const issue = issueOf(issues, "RG101/cluster-admin-binding", ADMIN_PATCH_FILE);
    assert.equal(issue.severity, "blocker", JSON.stringify(issue));
    assert.equal(issue.location.lines.begin, ADMIN_PATCH_NAME_LINE, JSON.stringify(issue));
    assert.match(issue.description, /as kustomize renders deploy\/runner\/overlays\/prod/, JSON.stringify(issue));
    // The base is judged as the overlay renders it, not again on its own.
    assert.ok(!issues.some((i) => i.location.path.startsWith("deploy/runner/base/") && !/overlays\/prod/.test(i.description)),
        JSON.stringify(issues, null, 1));
});

realRepo("the same kustomize overlay without the patch passes", (t, mode) => {
    requireKustomizeRenderer();
    const repo = mergeRequest(t, { ...RUNNER_BASE, ...prodOverlay(false) });
    const issues = assertPassed(repo, runPipeline(repo, mode));
    assert.ok(!issues.some((i) => i.check_name === "RG101/cluster-admin-binding"), JSON.stringify(issues, null, 1));
});

realRepo("findings on the patched binding point into its own document, not at a same-named object", (t, mode) => {
    requireKustomizeRenderer();
    const repo = mergeRequest(t, { ...RUNNER_BASE, ...prodOverlay(true) });
    assertFailed(runPipeline(repo, mode));
    const issues = codeQuality(repo);
    // The ServiceAccount, the Role and the RoleBinding of the base share the name
    // gitlab-runner, as the chart's and most hand-written manifests do. The overlay changes only
    // the binding, so what is found on it belongs in the binding's document or in the patch.
    const base = "deploy/runner/base/rbac.yaml";
    const documents = documentLines(RUNNER_BASE[base]);
    const binding = documents.find((d) => d.kind === "RoleBinding");
    const onBinding = issues.filter((i) => i.description.startsWith("ClusterRoleBinding gitlab-runner "));
    assert.ok(onBinding.length > 0, JSON.stringify(issues, null, 1));
    for (const issue of onBinding) {
        const { path: file, lines: { begin } } = issue.location;
        assert.ok(file === ADMIN_PATCH_FILE || (file === base && begin >= binding.first && begin <= binding.last),
            `${issue.check_name} at ${file}:${begin}, outside the binding (${base}:${binding.first}-${binding.last}) ` +
            `and the patch: ${JSON.stringify(issue, null, 1)}`);
    }
    const account = documents.find((d) => d.kind === "ServiceAccount");
    const onAccount = issues.filter((i) => i.location.path === base && i.location.lines.begin <= account.last);
    assert.deepEqual(onAccount, [], "nothing in the overlay is about the ServiceAccount's lines");
});

