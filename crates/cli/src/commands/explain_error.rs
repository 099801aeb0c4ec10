//! `rbac-gate explain-error`: cause, feature, minimal rule and the Role to edit for Kubernetes
//! API errors from job logs.

use super::{call, indent, print_errors, read_config, read_manifests, read_text};
use crate::cli::{print_stdout, Evaluator, EXIT_ERROR};
use clap::Args;
use rbac_gate_core::explain_error::{ErrorKind, ExplainRequest, ExplainResponse, Explanation};
use rbac_gate_core::Options;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    rbac-gate explain-error 'pods \"runner-x\" is forbidden: User \"system:serviceaccount:ci:gitlab-runner\" cannot create resource \"pods/attach\" in API group \"\" in the namespace \"ci\"'\n  \
    kubectl logs ... | rbac-gate explain-error --manifests deploy/\n  \
    rbac-gate explain-error \"$(cat job.log)\" -- rbac.yaml runner.yaml\n\n\
    Exit codes: 0 explained, 1 no Kubernetes API error found in the input, 2 error.")]
pub struct ExplainErrorArgs {
    /// The error message (or a whole job log); `-` or nothing reads stdin.
    #[arg(value_name = "MESSAGE")]
    message: Option<String>,

    /// Manifests (files or directories) to find the Role to edit in (repeatable).
    #[arg(long = "manifests", short = 'm', value_name = "PATH")]
    manifests: Vec<String>,

    /// Manifests, after `--` (same as --manifests).
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<String>,

    /// Config file with the runner version, features and identities (default: .rbac-gate.yaml
    /// in the current directory, if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// GitLab Runner version, X.Y (overrides the config).
    #[arg(long, value_name = "X.Y")]
    runner_version: Option<String>,

    /// Output: text or json.
    #[arg(long, short = 'f', value_parser = ["text", "json"], default_value = "text")]
    format: String,
}

#[derive(Serialize)]
struct Request<'a> {
    op: &'static str,
    #[serde(flatten)]
    explain: &'a ExplainRequest,
}

pub(crate) fn run(args: &ExplainErrorArgs, evaluator: &Evaluator) -> Result<i32, String> {
    let message = match args.message.as_deref() {
        None | Some("-") => read_text("-")?,
        Some(m) => m.to_string(),
    };
    let mut paths = args.manifests.clone();
    paths.extend(args.paths.iter().cloned());
    let request = ExplainRequest {
        message,
        sources: read_manifests(&paths)?,
        options: Options {
            config: read_config(args.config.as_deref())?,
            runner_version: args.runner_version.clone(),
            ..Options::default()
        },
    };
    let response: ExplainResponse = call(
        evaluator,
        &Request {
            op: "explain_error",
            explain: &request,
        },
    )?;
    if !response.errors.is_empty() {
        print_errors(&response.errors);
    }
    let out = if args.format == "json" {
        serde_json::to_string_pretty(&response).map_err(|e| e.to_string())? + "\n"
    } else {
        text(&response)
    };
    print_stdout(&out)?;
    Ok(if !response.errors.is_empty() {
        EXIT_ERROR
    } else if response.explanations.is_empty() {
        1
    } else {
        0
    })
}

fn kind_name(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::Forbidden => "forbidden (RBAC)",
        ErrorKind::Unauthorized => "unauthorized (authentication)",
        ErrorKind::TokenExpired => "token expired",
        ErrorKind::CertificateExpired => "certificate expired",
    }
}

fn one(e: &Explanation) -> String {
    let mut s = String::new();
    let times = if e.occurrences > 1 {
        format!(" ({}×)", e.occurrences)
    } else {
        String::new()
    };
    s.push_str(&format!("{}{times}: {}\n", kind_name(e.kind), e.excerpt));
    s.push_str(&format!("  what breaks  {}\n", e.failure));
    s.push_str(&format!("  cause        {}\n", e.cause));
    if let Some(f) = e.features.first() {
        let more = if e.features.len() > 1 {
            format!(
                "; also: {}",
                e.features[1..]
                    .iter()
                    .map(|x| x.feature.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        } else {
            String::new()
        };
        s.push_str(&format!(
            "  feature      {} ({}, {}){more}\n",
            f.feature, f.impact, f.versions
        ));
    } else if e.kind == ErrorKind::Forbidden && e.path.is_none() {
        s.push_str("  feature      none: the runner never makes this request\n");
    }
    if !e.rule.is_empty() {
        let target = match e.scope.as_deref() {
            Some("cluster") => "a ClusterRole (bound with a ClusterRoleBinding)".to_string(),
            _ => format!(
                "the Role in namespace `{}`",
                e.namespace.as_deref().unwrap_or("default")
            ),
        };
        s.push_str(&format!("  rule to add  (to {target})\n"));
        s.push_str(&indent(&e.rule, 4));
    }
    s.push_str(&format!("  fix          {}\n", e.fix));
    for edit in &e.edits {
        let at = if edit.line > 0 {
            format!("{}:{}", edit.path, edit.line)
        } else {
            edit.path.clone()
        };
        s.push_str(&format!(
            "  edit         {at} {}: {}\n",
            edit.object, edit.action
        ));
    }
    for note in &e.notes {
        s.push_str(&format!("  note         {note}\n"));
    }
    s
}

fn text(r: &ExplainResponse) -> String {
    if r.explanations.is_empty() {
        return "no Kubernetes API error found (looked for `... is forbidden: User ...`, `Unauthorized`, `the server has asked for the client to provide credentials`, expired tokens and certificates)\n".to_string();
    }
    let mut out: Vec<String> = r.explanations.iter().map(one).collect();
    if r.omitted > 0 {
        out.push(format!("… and {} more distinct errors\n", r.omitted));
    }
    out.join("\n")
}
