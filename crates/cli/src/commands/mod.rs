//! The `generate`, `explain-error` and `audit` subcommands. Each builds a request of the core's
//! JSON protocol, runs it through the sandboxed policy module (the same functions the browser
//! playground calls) and renders the response.

pub mod audit;
pub mod explain_error;
pub mod generate;

use crate::cli::Evaluator;
use crate::collect::{self, CollectOptions};
use rbac_gate_core::report::FileError;
use rbac_gate_core::Source;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Reads manifests (files or directories, as `check` finds them); `-` is stdin.
pub(crate) fn read_manifests(paths: &[String]) -> Result<Vec<Source>, String> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot get the current directory: {e}"))?;
    let collected = collect::collect(
        paths,
        &CollectOptions {
            excludes: Vec::new(),
            stdin_path: "-".to_string(),
            max_file_size: collect::DEFAULT_MAX_FILE_SIZE,
            skip: Vec::new(),
            cwd,
            no_ignore: false,
        },
    )?;
    for warning in &collected.warnings {
        eprintln!("rbac-gate: warning: {warning}");
    }
    for s in &collected.sources {
        if let Some(e) = &s.read_error {
            return Err(format!("{}: {e}", s.path));
        }
    }
    Ok(collected.sources)
}

/// `--config FILE`, else `.rbac-gate.yaml` in the current directory when present.
pub(crate) fn read_config(named: Option<&Path>) -> Result<Option<Source>, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot get the current directory: {e}"))?;
    Ok(crate::cli::read_config(named, &cwd)?.0)
}

/// Sends one request and decodes the response.
pub(crate) fn call<T: DeserializeOwned>(
    evaluator: &Evaluator,
    request: &impl serde::Serialize,
) -> Result<T, String> {
    let json =
        serde_json::to_string(request).map_err(|e| format!("cannot encode the request: {e}"))?;
    let response = evaluator.evaluate(json).map_err(|e| e.to_string())?;
    decode(&response)
}

pub(crate) fn decode<T: DeserializeOwned>(response: &str) -> Result<T, String> {
    serde_json::from_str(response).map_err(|e| {
        let head: String = response.chars().take(200).collect();
        format!("policy module returned a malformed response: {e} ({head})")
    })
}

/// `path:line: message` lines for stderr.
pub(crate) fn print_errors(errors: &[FileError]) {
    for e in errors {
        let place = match (e.line, e.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}: ", e.path),
            (Some(l), None) => format!("{}:{l}: ", e.path),
            _ if e.path.starts_with('<') || e.path.starts_with('-') => format!("{}: ", e.path),
            _ => format!("{}: ", e.path),
        };
        eprintln!("rbac-gate: error: {place}{}", e.message);
    }
}

/// Reads a whole file (or stdin for `-`) as UTF-8 text.
pub(crate) fn read_text(path: &str) -> Result<String, String> {
    use std::io::Read;
    let mut buf = Vec::new();
    if path == "-" {
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
    } else {
        std::fs::File::open(PathBuf::from(path))
            .and_then(|mut f| f.read_to_end(&mut buf))
            .map_err(|e| format!("cannot read {path}: {e}"))?;
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Indents every line of `text` by `n` spaces.
pub(crate) fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("{pad}{l}\n")
            }
        })
        .collect()
}
