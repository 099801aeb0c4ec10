//! `rbac-gate generate`: the minimal RBAC for a runner, from the needs table.

use super::{call, print_errors, read_manifests};
use crate::cli::{print_stdout, Evaluator, EXIT_ERROR};
use clap::Args;
use rbac_gate_core::generate::{
    GenerateFormat, GenerateRequest, GenerateResponse, JobFlags, FEATURES,
};
use serde::Serialize;

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// GitLab Runner version, X.Y (default: the newest the tool knows).
    #[arg(long, value_name = "X.Y")]
    runner_version: Option<String>,

    /// A feature the runner uses (repeatable; `NAME=false` turns a default-on one off).
    /// `--list-features` shows them.
    #[arg(long = "feature", value_name = "NAME")]
    features: Vec<String>,

    /// Read the features, job namespace and ServiceAccount names from a config.toml (or a
    /// ConfigMap holding one) or gitlab-runner Helm values; flags override it.
    #[arg(long = "from", value_name = "FILE")]
    from: Vec<String>,

    /// Namespace of the runner manager (default: from --from, else gitlab-runner).
    #[arg(long, short = 'n', value_name = "NS")]
    namespace: Option<String>,

    /// Namespace where jobs run (repeatable; default: from --from, else the runner's).
    #[arg(long = "job-namespace", value_name = "NS")]
    job_namespaces: Vec<String>,

    /// The runner manager's ServiceAccount (default: gitlab-runner).
    #[arg(long, value_name = "NAME")]
    service_account: Option<String>,

    /// The job pods' ServiceAccount (default: gitlab-runner-job).
    #[arg(long, value_name = "NAME")]
    job_service_account: Option<String>,

    /// Output: manifests (YAML), helm (chart values), json (everything, for tools).
    #[arg(long, short = 'f', value_parser = ["manifests", "helm", "json"], default_value = "manifests")]
    format: String,

    /// Feature flags a job can set (those config.toml does not pin in [runners.feature_flags]):
    /// `pin` prints the block that pins them off; `grant` grants what they need.
    #[arg(long, value_parser = ["pin", "grant"], default_value = "pin")]
    job_flags: String,

    /// Also grant the verbs GitLab's docs list but the runner never sends (commented as such).
    #[arg(long)]
    include_documented: bool,

    /// With --format json: the values (or manifests) as Helm values.
    #[arg(long, hide = true)]
    helm: bool,

    /// List the feature names and exit.
    #[arg(long)]
    list_features: bool,
}

#[derive(Serialize)]
struct Request<'a> {
    op: &'static str,
    #[serde(flatten)]
    generate: &'a GenerateRequest,
}

pub(crate) fn run(args: &GenerateArgs, evaluator: &Evaluator) -> Result<i32, String> {
    if args.list_features {
        let width = FEATURES.iter().map(|(n, _)| n.len()).max().unwrap_or(10);
        let text: String = FEATURES
            .iter()
            .map(|(n, what)| format!("{n:width$}  {what}\n"))
            .collect();
        return print_stdout(&text);
    }
    let request = GenerateRequest {
        runner_version: args.runner_version.clone(),
        features: args.features.clone(),
        sources: read_manifests(&args.from)?,
        namespace: args.namespace.clone(),
        job_namespaces: args.job_namespaces.clone(),
        service_account: args.service_account.clone(),
        job_service_account: args.job_service_account.clone(),
        format: if args.format == "helm" || args.helm {
            GenerateFormat::Helm
        } else {
            GenerateFormat::Manifests
        },
        job_flags: if args.job_flags == "grant" {
            JobFlags::Grant
        } else {
            JobFlags::Pin
        },
        include_documented: args.include_documented,
    };
    let response: GenerateResponse = call(
        evaluator,
        &Request {
            op: "generate",
            generate: &request,
        },
    )?;
    if !response.errors.is_empty() {
        print_errors(&response.errors);
        return Ok(EXIT_ERROR);
    }
    for note in &response.notes {
        eprintln!("rbac-gate: note: {note}");
    }
    if args.format == "json" {
        let text = serde_json::to_string_pretty(&response).map_err(|e| e.to_string())? + "\n";
        return print_stdout(&text);
    }
    print_stdout(&response.text)
}
