//! `--config-from-rev REV`: the gate's config read from a trusted git revision (in a merge
//! request, the target branch) instead of from the tree under check.
//!
//! The merge request is what the gate judges, so its own `.rbac-gate.yaml` cannot be the
//! policy: it could disable the very rule that blocks it. The config at `REV` is the policy;
//! the tree's config is handed to the core as the *proposed* one, and the core reports what it
//! would loosen (`policy-changed`).

use crate::collect;
use rbac_gate_core::Source;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Largest config file read from a revision.
const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// The configs of a `--config-from-rev` run.
#[derive(Debug)]
pub struct TrustedConfig {
    /// The config at the revision (`None`: the revision has none; the defaults apply). Its
    /// path reads as git names it, `REV:path`.
    pub trusted: Option<Source>,
    /// The config in the tree under check, if there is one.
    pub proposed: Option<Source>,
    /// The tree's config file, which is never an input, whether it exists or not.
    pub proposed_path: PathBuf,
}

/// Reads the config named by `--config` (or `.rbac-gate.yaml` in `cwd`) at `revision`, and the
/// same file in the working tree.
pub fn read(revision: &str, named: Option<&Path>, cwd: &Path) -> Result<TrustedConfig, String> {
    check_revision(revision)?;
    let proposed_path = match named {
        Some(path) => cwd.join(path),
        None => cwd.join(".rbac-gate.yaml"),
    };
    let display = collect::display_path(&proposed_path, cwd);
    let top = toplevel(cwd)?;
    let in_repo = repo_path(&proposed_path, cwd, &top).ok_or_else(|| {
        format!(
            "--config-from-rev: the config file {display} is outside the git work tree at {}",
            top.display()
        )
    })?;
    // The path is taken by name: a directory on the way that the merge request turned into a
    // symlink would make the tree's config some other file, compared with itself.
    if let Some(link) = symlinked_directory(&top, &in_repo) {
        return Err(format!(
            "--config-from-rev: {link} (on the way to the config file {display}) is a symlink; \
             the config must be reached through real directories"
        ));
    }
    let commit = format!("{revision}^{{commit}}");
    if git(&top, &["cat-file", "-e", "--end-of-options", &commit]).is_err() {
        return Err(format!(
            "--config-from-rev: revision `{revision}` is not in this clone, so the trusted \
             config cannot be read; fetch it first (`git fetch origin {revision}`, or \
             `GIT_DEPTH: 0` in CI)"
        ));
    }
    let object = format!("{revision}:{in_repo}");
    // `cat-file -e` tells "no such file at that revision" (the defaults apply) from a failure.
    let trusted = match git(&top, &["cat-file", "-e", "--end-of-options", &object]) {
        Err(_) => None,
        Ok(_) => {
            let bytes = git(&top, &["cat-file", "blob", "--end-of-options", &object])
                .map_err(|e| format!("--config-from-rev: cannot read {object}: {e}"))?;
            if bytes.len() > MAX_CONFIG_BYTES {
                return Err(format!(
                    "--config-from-rev: {object} is larger than {} KiB",
                    MAX_CONFIG_BYTES / 1024
                ));
            }
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("--config-from-rev: {object} is not UTF-8 text"))?;
            Some(Source::new(format!("{revision}:{display}"), text))
        }
    };
    // The tree's file is read without following a symlink: a link named `.rbac-gate.yaml`
    // must not make a manifest read as a config.
    let proposed = match std::fs::symlink_metadata(&proposed_path) {
        Err(_) => None,
        Ok(meta) if !meta.is_file() => {
            return Err(format!(
                "the config file {display} is not a regular file (a symlink or a directory); \
                 commit the config itself"
            ))
        }
        Ok(_) => Some(
            std::fs::read_to_string(&proposed_path)
                .map(|text| Source::new(display.clone(), text))
                .map_err(|e| format!("cannot read config file {display}: {e}"))?,
        ),
    };
    Ok(TrustedConfig {
        trusted,
        proposed,
        proposed_path,
    })
}

/// A revision is a name or a hash, never an option (`--output=...`): refuse anything else
/// before git sees it.
fn check_revision(revision: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_./^~@{}-".contains(c);
    if revision.is_empty() || revision.starts_with('-') || !revision.chars().all(allowed) {
        return Err(format!(
            "--config-from-rev: `{revision}` is not a revision (a commit SHA or a branch name)"
        ));
    }
    Ok(())
}

/// The top of the git work tree holding `cwd`.
fn toplevel(cwd: &Path) -> Result<PathBuf, String> {
    let out = git(cwd, &["rev-parse", "--show-toplevel"]).map_err(|e| {
        format!(
            "--config-from-rev needs a git checkout to read the trusted config from, and {} \
             is not one ({e}); clone with git (GIT_STRATEGY: fetch or clone) or drop the flag",
            cwd.display()
        )
    })?;
    let text = String::from_utf8_lossy(&out);
    let top = PathBuf::from(text.trim_end_matches(['\n', '\r']));
    Ok(std::fs::canonicalize(&top).unwrap_or(top))
}

/// `path` relative to the work tree's top, `/`-separated, taken by name: only the working
/// directory (the job's, trusted) is resolved, never a directory of the tree under check.
fn repo_path(path: &Path, cwd: &Path, top: &Path) -> Option<String> {
    let base = std::fs::canonicalize(cwd).ok()?;
    let relative = path.strip_prefix(cwd).unwrap_or(path);
    let mut full = if relative.is_absolute() {
        PathBuf::new()
    } else {
        base
    };
    for component in relative.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                full.pop();
            }
            other => full.push(other.as_os_str()),
        }
    }
    let inside = full.strip_prefix(top).ok()?;
    let parts: Vec<String> = inside
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The first directory below `top` on the way to `in_repo` that is a symlink in the work tree.
fn symlinked_directory(top: &Path, in_repo: &str) -> Option<String> {
    let mut dir = top.to_path_buf();
    let mut shown = Vec::new();
    let parts: Vec<&str> = in_repo.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        dir.push(part);
        shown.push(*part);
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some(shown.join("/"));
        }
    }
    None
}

/// Runs git in `dir` without the system config, a pager or a prompt; stdout on success.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(stderr.lines().next().unwrap_or("git failed").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_are_names_not_options() {
        for ok in [
            "main",
            "origin/main",
            "a1b2c3d4",
            "HEAD~1",
            "v1.2.3",
            "main@{1}",
        ] {
            assert!(check_revision(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-p", "--output=/tmp/x", "main;rm", "a b", "$(id)"] {
            assert!(check_revision(bad).is_err(), "{bad}");
        }
    }
}
