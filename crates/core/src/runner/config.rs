//! GitLab Runner `config.toml`, parsed with spans and mapped back to the input file.
//!
//! The TOML may be a file of its own, a ConfigMap's `config.toml` value or Helm values'
//! `runners.config`; every key read here keeps where it is in the file the user wrote, so a
//! finding inside a ConfigMap points at the YAML line holding the TOML key.

use crate::api::Source;
use crate::model::{Inventory, Loc, RunnerConfigSource};
use crate::report::FileError;
use std::collections::BTreeMap;
use toml_span::value::{Table, Value};
use toml_span::Span;

/// A value and the place of its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub loc: Loc,
}

/// One `[[runners.kubernetes.volumes.host_path]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct HostPathVolume {
    pub name: Option<String>,
    pub mount_path: Option<String>,
    /// `host_path`; absent means the runner uses `mount_path` on the node as well.
    pub host_path: Option<String>,
    pub loc: Loc,
}

impl HostPathVolume {
    /// The node path mounted: `host_path`, else `mount_path` (the runner's fallback).
    pub fn node_path(&self) -> &str {
        self.host_path
            .as_deref()
            .or(self.mount_path.as_deref())
            .unwrap_or("")
    }
}

/// One `[[runners.kubernetes.pod_spec]]` patch.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSpecPatch {
    pub name: Option<String>,
    pub loc: Loc,
}

/// `[runners.kubernetes]`: the keys the gate judges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KubernetesConfig {
    /// The `[runners.kubernetes]` header (or the first key under it).
    pub loc: Loc,
    pub host: Option<Located<String>>,
    /// Where a non-empty `bearer_token` is; its value is never kept.
    pub bearer_token: Option<Loc>,
    pub bearer_token_overwrite_allowed: Option<Located<bool>>,
    pub cert_file: Option<Located<String>>,
    pub key_file: Option<Located<String>>,
    pub namespace: Option<Located<String>>,
    pub namespace_overwrite_allowed: Option<Located<String>>,
    pub namespace_per_job: Option<Located<bool>>,
    pub service_account: Option<Located<String>>,
    pub service_account_overwrite_allowed: Option<Located<String>>,
    pub automount_service_account_token: Option<Located<bool>>,
    pub privileged: Option<Located<bool>>,
    pub allow_privilege_escalation: Option<Located<bool>>,
    pub pod_spec: Vec<PodSpecPatch>,
    pub host_paths: Vec<HostPathVolume>,
    pub print_pod_warning_events: Option<Located<bool>>,
    pub pod_disruption_budget: Option<Located<bool>>,
    pub resource_availability_check_max_attempts: Option<Located<i64>>,
    /// `[runners.kubernetes.autoscaler]`.
    pub autoscaler: Option<Loc>,
}

impl KubernetesConfig {
    /// A non-empty string key.
    fn text(v: &Option<Located<String>>) -> Option<&Located<String>> {
        v.as_ref().filter(|l| !l.value.trim().is_empty())
    }

    pub fn namespace(&self) -> Option<&Located<String>> {
        Self::text(&self.namespace)
    }

    pub fn service_account(&self) -> Option<&Located<String>> {
        Self::text(&self.service_account)
    }

    pub fn host(&self) -> Option<&Located<String>> {
        Self::text(&self.host)
    }

    pub fn namespace_overwrite(&self) -> Option<&Located<String>> {
        Self::text(&self.namespace_overwrite_allowed)
    }

    pub fn service_account_overwrite(&self) -> Option<&Located<String>> {
        Self::text(&self.service_account_overwrite_allowed)
    }

    pub fn is_true(v: &Option<Located<bool>>) -> bool {
        v.as_ref().is_some_and(|l| l.value)
    }
}

/// One `[[runners]]` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunnerEntry {
    /// The `[[runners]]` header.
    pub loc: Loc,
    pub name: Option<Located<String>>,
    pub executor: Option<Located<String>>,
    pub kubernetes: Option<KubernetesConfig>,
    /// Feature flags from `[runners.feature_flags]` and `environment = ["FF_X=true"]`.
    pub feature_flags: BTreeMap<String, Located<bool>>,
    /// The flags `[runners.feature_flags]` sets. Only these are pinned: the runner lets a job
    /// variable set any other flag (gitlab-runner common/build_settings.go,
    /// `populateFeatureFlags`, v19.3.0: the runner's value wins only when it is defined there;
    /// `environment` entries are job variables like any other).
    pub pinned_flags: BTreeMap<String, Located<bool>>,
}

impl RunnerEntry {
    /// Whether this entry uses the Kubernetes executor (or may: Helm and ConfigMap configs often
    /// leave `executor` to the chart or the registration).
    pub fn is_kubernetes(&self) -> bool {
        match &self.executor {
            Some(e) => e.value == "kubernetes",
            None => self.kubernetes.is_some(),
        }
    }
}

/// A whole `config.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunnerConfig {
    /// Index into `Inventory::runner_configs`.
    pub source: usize,
    pub concurrent: Option<Located<i64>>,
    /// `[session_server]`.
    pub session_server: Option<Loc>,
    pub runners: Vec<RunnerEntry>,
}

/// A TOML syntax error, located in the input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub loc: Loc,
    pub message: String,
}

/// Maps byte spans of the TOML text to places in the input file.
struct Mapper<'a> {
    src: &'a RunnerConfigSource,
    line_starts: Vec<usize>,
}

impl<'a> Mapper<'a> {
    fn new(src: &'a RunnerConfigSource) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            src.text
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Mapper { src, line_starts }
    }

    /// 1-based TOML line and column of a byte offset.
    fn line_col(&self, offset: usize) -> (u32, u32) {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self
            .src
            .text
            .get(start..offset.min(self.src.text.len()))
            .map_or(0, |s| s.chars().count());
        (to_u32(line), to_u32(col + 1))
    }

    fn loc(&self, span: Span) -> Loc {
        if !self.src.exact_lines {
            return self.src.anchor;
        }
        let (line, col) = self.line_col(span.start);
        let (end, _) = self.line_col(span.end.saturating_sub(1).max(span.start));
        let first = self.src.first_line.max(1);
        Loc {
            file: self.src.file,
            line: first + line - 1,
            col: col + self.src.col_offset,
            end_line: first + end - 1,
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn key_entry<'t, 'de>(table: &'t Table<'de>, key: &str) -> Option<(Span, &'t Value<'de>)> {
    table.get_key_value(key).map(|(k, v)| (k.span, v))
}

fn string(m: &Mapper, t: &Table, key: &str) -> Option<Located<String>> {
    let (span, v) = key_entry(t, key)?;
    Some(Located {
        value: v.as_str()?.to_string(),
        loc: m.loc(span),
    })
}

fn boolean(m: &Mapper, t: &Table, key: &str) -> Option<Located<bool>> {
    let (span, v) = key_entry(t, key)?;
    // The runner reads these as booleans; a quoted "true" fails its own config load, but it
    // states the intent, so it counts.
    let value = v.as_bool().or_else(|| match v.as_str() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    })?;
    Some(Located {
        value,
        loc: m.loc(span),
    })
}

fn integer(m: &Mapper, t: &Table, key: &str) -> Option<Located<i64>> {
    let (span, v) = key_entry(t, key)?;
    Some(Located {
        value: v.as_integer()?,
        loc: m.loc(span),
    })
}

fn table_of<'t, 'de>(t: &'t Table<'de>, key: &str) -> Option<(&'t Value<'de>, &'t Table<'de>)> {
    let v = t.get(key)?;
    Some((v, v.as_table()?))
}

fn tables<'t, 'de>(t: &'t Table<'de>, key: &str) -> Vec<(&'t Value<'de>, &'t Table<'de>)> {
    match t.get(key) {
        Some(v) => match (v.as_array(), v.as_table()) {
            (Some(items), _) => items
                .iter()
                .filter_map(|i| i.as_table().map(|t| (i, t)))
                .collect(),
            (None, Some(one)) => vec![(v, one)],
            _ => Vec::new(),
        },
        None => Vec::new(),
    }
}

fn kubernetes(m: &Mapper, v: &Value, t: &Table) -> KubernetesConfig {
    let volumes = table_of(t, "volumes").map(|(_, t)| t);
    KubernetesConfig {
        loc: m.loc(v.span),
        host: string(m, t, "host"),
        bearer_token: key_entry(t, "bearer_token")
            .filter(|(_, v)| v.as_str().is_some_and(|s| !s.trim().is_empty()))
            .map(|(span, _)| m.loc(span)),
        bearer_token_overwrite_allowed: boolean(m, t, "bearer_token_overwrite_allowed"),
        cert_file: string(m, t, "cert_file"),
        key_file: string(m, t, "key_file"),
        namespace: string(m, t, "namespace"),
        namespace_overwrite_allowed: string(m, t, "namespace_overwrite_allowed"),
        namespace_per_job: boolean(m, t, "namespace_per_job"),
        service_account: string(m, t, "service_account"),
        service_account_overwrite_allowed: string(m, t, "service_account_overwrite_allowed"),
        automount_service_account_token: boolean(m, t, "automount_service_account_token"),
        privileged: boolean(m, t, "privileged"),
        allow_privilege_escalation: boolean(m, t, "allow_privilege_escalation"),
        pod_spec: tables(t, "pod_spec")
            .into_iter()
            .map(|(v, p)| PodSpecPatch {
                name: string(m, p, "name").map(|l| l.value),
                loc: m.loc(v.span),
            })
            .collect(),
        host_paths: volumes
            .map(|vt| tables(vt, "host_path"))
            .unwrap_or_default()
            .into_iter()
            .map(|(v, h)| HostPathVolume {
                name: string(m, h, "name").map(|l| l.value),
                mount_path: string(m, h, "mount_path").map(|l| l.value),
                host_path: string(m, h, "host_path").map(|l| l.value),
                loc: m.loc(v.span),
            })
            .collect(),
        print_pod_warning_events: boolean(m, t, "print_pod_warning_events"),
        pod_disruption_budget: boolean(m, t, "pod_disruption_budget"),
        resource_availability_check_max_attempts: integer(
            m,
            t,
            "resource_availability_check_max_attempts",
        ),
        autoscaler: key_entry(t, "autoscaler")
            .filter(|(_, v)| v.as_table().is_some())
            .map(|(span, _)| m.loc(span)),
    }
}

fn truthy(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "t" | "yes" | "on" => Some(true),
        "false" | "0" | "f" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// `[runners.feature_flags]`: the flags a job cannot change.
fn pinned_flags(m: &Mapper, t: &Table) -> BTreeMap<String, Located<bool>> {
    let mut out = BTreeMap::new();
    if let Some((_, ff)) = table_of(t, "feature_flags") {
        for (k, v) in ff {
            if let Some(b) = v.as_bool() {
                out.insert(
                    k.name.to_string(),
                    Located {
                        value: b,
                        loc: m.loc(k.span),
                    },
                );
            }
        }
    }
    out
}

fn feature_flags(m: &Mapper, t: &Table) -> BTreeMap<String, Located<bool>> {
    let mut out = BTreeMap::new();
    // `environment` first: `[runners.feature_flags]` wins when both set a flag, as in the runner.
    if let Some((_, env)) = key_entry(t, "environment") {
        for item in env.as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let Some(s) = item.as_str() else { continue };
            let Some((k, v)) = s.split_once('=') else {
                continue;
            };
            if k.starts_with("FF_") {
                if let Some(b) = truthy(v) {
                    out.insert(
                        k.to_string(),
                        Located {
                            value: b,
                            loc: m.loc(item.span),
                        },
                    );
                }
            }
        }
    }
    out.extend(pinned_flags(m, t));
    out
}

fn entry(m: &Mapper, v: &Value, t: &Table) -> RunnerEntry {
    RunnerEntry {
        loc: m.loc(v.span),
        name: string(m, t, "name"),
        executor: string(m, t, "executor"),
        kubernetes: table_of(t, "kubernetes").map(|(kv, kt)| kubernetes(m, kv, kt)),
        feature_flags: feature_flags(m, t),
        pinned_flags: pinned_flags(m, t),
    }
}

/// Parses config `index` of the inventory.
pub fn parse(inv: &Inventory, index: usize) -> Result<RunnerConfig, ConfigError> {
    let src = &inv.runner_configs[index];
    let m = Mapper::new(src);
    let root = toml_span::parse(&src.text).map_err(|e| {
        // Inside a quoted or folded YAML string lines do not map (the loc is the key's), so the
        // message also says which TOML line it is.
        let loc = m.loc(e.span);
        let (tline, _) = m.line_col(e.span.start);
        let place = match &src.configmap {
            Some(cm) => format!(" in ConfigMap {cm}"),
            None if src.from_helm => " in Helm values `runners.config`".to_string(),
            None => String::new(),
        };
        ConfigError {
            loc,
            message: format!("invalid {}{place}: {e} (TOML line {tline})", src.label),
        }
    })?;
    let Some(top) = root.as_table() else {
        return Ok(RunnerConfig {
            source: index,
            ..RunnerConfig::default()
        });
    };
    Ok(RunnerConfig {
        source: index,
        concurrent: integer(&m, top, "concurrent"),
        session_server: key_entry(top, "session_server")
            .filter(|(_, v)| v.as_table().is_some())
            .map(|(span, _)| m.loc(span)),
        runners: tables(top, "runners")
            .into_iter()
            .map(|(v, t)| entry(&m, v, t))
            .collect(),
    })
}

/// TOML syntax errors of every runner config, as file errors naming the input file's line.
pub fn config_errors(sources: &[Source], inv: &Inventory) -> Vec<FileError> {
    (0..inv.runner_configs.len())
        .filter_map(|i| parse(inv, i).err())
        .map(|e| FileError {
            path: sources
                .get(e.loc.file)
                .map_or_else(String::new, |s| s.path.clone()),
            line: Some(e.loc.line.max(1)),
            column: Some(e.loc.col.max(1)),
            message: e.message,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv_of(files: &[(&str, &str)]) -> (Vec<Source>, Inventory) {
        let sources: Vec<Source> = files.iter().map(|(p, t)| Source::new(*p, *t)).collect();
        let inv = crate::model::build(&sources);
        (sources, inv)
    }

    const TOML: &str = "concurrent = 4
[session_server]
  listen_address = \"0.0.0.0:8093\"
[[runners]]
  name = \"k8s\"
  executor = \"kubernetes\"
  environment = [\"FF_PRINT_POD_EVENTS=true\", \"OTHER=1\"]
  [runners.kubernetes]
    namespace = \"ci\"
    bearer_token = \"s3cr3t\"
    privileged = true
    [[runners.kubernetes.pod_spec]]
      name = \"hostnet\"
    [[runners.kubernetes.volumes.host_path]]
      name = \"docker\"
      mount_path = \"/var/run/docker.sock\"
      host_path = \"/var/run/docker.sock\"
  [runners.feature_flags]
    FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY = true
";

    #[test]
    fn keys_and_lines() {
        let (_, inv) = inv_of(&[("config.toml", TOML)]);
        let c = parse(&inv, 0).expect("parses");
        assert_eq!(
            c.concurrent.as_ref().map(|l| (l.value, l.loc.line)),
            Some((4, 1))
        );
        assert_eq!(c.session_server.map(|l| l.line), Some(2));
        let r = &c.runners[0];
        assert_eq!(r.loc.line, 4);
        assert!(r.is_kubernetes());
        let k = r.kubernetes.as_ref().expect("kubernetes");
        assert_eq!(k.loc.line, 8);
        assert_eq!(
            k.namespace()
                .map(|l| (l.value.as_str(), l.loc.line, l.loc.col)),
            Some(("ci", 9, 5))
        );
        assert_eq!(k.bearer_token.map(|l| l.line), Some(10));
        assert_eq!(
            k.privileged.as_ref().map(|l| (l.value, l.loc.line)),
            Some((true, 11))
        );
        assert_eq!(k.pod_spec.len(), 1);
        assert_eq!(k.pod_spec[0].loc.line, 12);
        assert_eq!(k.host_paths[0].node_path(), "/var/run/docker.sock");
        assert_eq!(k.host_paths[0].loc.line, 14);
        assert_eq!(r.feature_flags["FF_PRINT_POD_EVENTS"].loc.line, 7);
        assert!(r.feature_flags["FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY"].value);
        assert!(!r.feature_flags.contains_key("OTHER"));
    }

    #[test]
    fn configmap_lines_map_to_the_yaml_file() {
        let yaml = "apiVersion: v1
kind: ConfigMap
metadata:
  name: runner
  namespace: ci
data:
  config.toml: |
    [[runners]]
      [runners.kubernetes]
        privileged = true
";
        let (_, inv) = inv_of(&[("cm.yaml", yaml)]);
        let c = parse(&inv, 0).expect("parses");
        let k = c.runners[0].kubernetes.as_ref().expect("kubernetes");
        let p = k.privileged.as_ref().expect("privileged");
        assert_eq!((p.loc.line, p.loc.col), (10, 9));
    }

    #[test]
    fn syntax_errors_name_the_yaml_line() {
        let yaml = "apiVersion: v1
kind: ConfigMap
metadata:
  name: runner
data:
  config.toml: |
    [[runners]]
      [runners.kubernetes]
        privileged = tru
";
        let (sources, inv) = inv_of(&[("cm.yaml", yaml)]);
        let errors = config_errors(&sources, &inv);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "cm.yaml");
        assert_eq!(errors[0].line, Some(9));
        assert!(
            errors[0].message.contains("ConfigMap runner"),
            "{}",
            errors[0].message
        );
        let (sources, inv) = inv_of(&[("config.toml", "[[runners]]\nname = \n")]);
        let errors = config_errors(&sources, &inv);
        assert_eq!(errors[0].line, Some(2));
        assert!(errors[0].message.starts_with("invalid config.toml:"));
        let (sources, inv) = inv_of(&[("config.template.toml", "[[runners]]\nname = \n")]);
        let errors = config_errors(&sources, &inv);
        assert!(
            errors[0]
                .message
                .starts_with("invalid config.template.toml:"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn quoted_configmap_values_fall_back_to_the_key() {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r\ndata:\n  config.toml: \"[[runners]]\\n[runners.kubernetes]\\nprivileged = true\\n\"\n";
        let (_, inv) = inv_of(&[("cm.yaml", yaml)]);
        let c = parse(&inv, 0).expect("parses");
        let k = c.runners[0].kubernetes.as_ref().expect("kubernetes");
        assert_eq!(k.privileged.as_ref().map(|l| l.loc.line), Some(6));
    }
}
