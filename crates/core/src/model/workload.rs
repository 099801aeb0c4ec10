//! Pod templates: who a workload runs as and what it mounts.

use super::{Loc, Meta};
use crate::runner::version::{self, VersionHint};
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
    /// The runner version its runner image's tag names (`gitlab/gitlab-runner:alpine-v17.6.0`),
    /// or for the Deployment rendered from Helm values, `image.tag` there.
    pub runner_version: Option<VersionHint>,
}

impl Workload {
    /// A gitlab-runner manager pod, by image or by the chart's labels.
    pub fn is_gitlab_runner(&self) -> bool {
        self.images.iter().any(|i| version::is_runner_image(i))
            || self
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

/// The version a runner image's tag names, pointing at the `image` value.
fn image_hint(file: usize, node: &Node, image: &str) -> Option<VersionHint> {
    if !version::is_runner_image(image) {
        return None;
    }
    let tag = version::tag(image)?;
    Some(VersionHint {
        version: version::of_tag(tag)?,
        what: format!("the image tag `{tag}`"),
        loc: Loc::at(file, node.pos),
    })
}

/// The runner version gitlab-runner Helm values pin: `image.tag` (charts since 0.4x write
/// `image: {registry, image, tag}`), or the tag of an older chart's `image:` string. Without
/// a tag the chart runs its own `appVersion` (see [`version::of_chart`]).
pub fn values_runner_version(file: usize, values: &Node) -> Option<VersionHint> {
    let image = values.get("image")?;
    if let Some(text) = image.as_str() {
        return image_hint(file, image, text);
    }
    let tag = image.get("tag")?;
    let text = tag.as_str()?;
    Some(VersionHint {
        version: version::of_tag(text)?,
        what: format!("`image.tag` `{text}` in the Helm values"),
        loc: Loc::at(file, tag.pos),
    })
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
        runner_version: None,
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
            if let Some(node) = c.get("image") {
                if let Some(image) = node.as_str() {
                    w.images.push(image.to_string());
                    if w.runner_version.is_none() {
                        w.runner_version = image_hint(file, node, image);
                    }
                }
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
