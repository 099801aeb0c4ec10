//! Pod templates: who a workload runs as and what it mounts.

use super::{Loc, Meta};
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: String,
    pub meta: Meta,
    /// Namespace the pods run in (the object's), if stated.
    pub namespace: Option<String>,
    /// `serviceAccountName`; empty means the namespace's `default`.
    pub service_account: String,
    pub service_account_loc: Option<Loc>,
    pub automount: Option<bool>,
    pub images: Vec<String>,
    /// Pod template labels merged over the object's.
    pub labels: super::StringMap,
    /// Projected `serviceAccountToken` sources: (expirationSeconds, where).
    pub projected_tokens: Vec<(i64, Loc)>,
    /// hostPath volumes: (path, where).
    pub host_paths: Vec<(String, Loc)>,
    /// Containers with `securityContext.privileged: true`.
    pub privileged: Vec<Loc>,
    /// ConfigMaps mounted as volumes.
    pub configmaps: Vec<String>,
}

impl Workload {
    /// A gitlab-runner manager pod, by image or by the chart's labels.
    pub fn is_gitlab_runner(&self) -> bool {
        self.images.iter().any(|i| {
            let repo = i.split('@').next().unwrap_or(i);
            let repo = repo
                .rsplit_once(':')
                .map_or(repo, |(r, tag)| if tag.contains('/') { repo } else { r });
            repo.ends_with("gitlab-runner") || repo.ends_with("gitlab-runner-ocp")
        }) || self
            .labels
            .get("app")
            .or_else(|| self.labels.get("app.kubernetes.io/name"))
            .is_some_and(|a| a == "gitlab-runner" || a.ends_with("-gitlab-runner"))
    }

    pub fn service_account_name(&self) -> &str {
        if self.service_account.is_empty() {
            "default"
        } else {
            &self.service_account
        }
    }
}

fn pod_spec<'a>(kind: &str, root: &'a Node) -> Option<(&'a Node, Option<&'a Node>)> {
    match kind {
        "Pod" => Some((root.get("spec")?, root.get("metadata"))),
        "CronJob" => {
            let t = root.path(&["spec", "jobTemplate", "spec", "template"])?;
            Some((t.get("spec")?, t.get("metadata")))
        }
        _ => {
            let t = root.path(&["spec", "template"])?;
            Some((t.get("spec")?, t.get("metadata")))
        }
    }
}

pub fn load(file: usize, kind: &str, root: &Node, meta: Meta) -> Workload {
    let mut w = Workload {
        kind: kind.to_string(),
        namespace: meta.namespace.clone(),
        labels: meta.labels.clone(),
        meta,
        service_account: String::new(),
        service_account_loc: None,
        automount: None,
        images: Vec::new(),
        projected_tokens: Vec::new(),
        host_paths: Vec::new(),
        privileged: Vec::new(),
        configmaps: Vec::new(),
    };
    let Some((spec, tmeta)) = pod_spec(kind, root) else {
        return w;
    };
    w.labels.extend(super::extract::string_map(
        tmeta.and_then(|m| m.get("labels")),
    ));
    let sa = spec
        .get("serviceAccountName")
        .or_else(|| spec.get("serviceAccount"));
    if let Some(sa) = sa {
        w.service_account = sa.as_str().unwrap_or("").to_string();
        w.service_account_loc = Some(Loc::at(file, sa.pos));
    }
    w.automount = spec
        .get("automountServiceAccountToken")
        .and_then(Node::as_bool);
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in spec.get(list).and_then(Node::as_seq).unwrap_or(&[]) {
            if let Some(image) = c.get("image").and_then(Node::as_str) {
                w.images.push(image.to_string());
            }
            if let Some(p) = c.path(&["securityContext", "privileged"]) {
                if p.as_bool() == Some(true) {
                    w.privileged.push(Loc::at(file, p.pos));
                }
            }
        }
    }
    for v in spec.get("volumes").and_then(Node::as_seq).unwrap_or(&[]) {
        if let Some(hp) = v.get("hostPath") {
            let path = hp
                .get("path")
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_string();
            w.host_paths.push((path, Loc::at(file, hp.pos)));
        }
        if let Some(name) = v.path(&["configMap", "name"]).and_then(Node::as_str) {
            w.configmaps.push(name.to_string());
        }
        for src in v
            .path(&["projected", "sources"])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            if let Some(tok) = src.get("serviceAccountToken") {
                let (secs, pos) = tok
                    .get("expirationSeconds")
                    .map_or((3600, tok.pos), |e| (e.as_i64().unwrap_or(i64::MAX), e.pos));
                w.projected_tokens.push((secs, Loc::at(file, pos)));
            }
        }
    }
    w
}
