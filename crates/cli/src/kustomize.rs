//! Kustomize: a folder with a kustomization is judged by what `kubectl apply -k` deploys.
//!
//! The host renders each kustomization among the inputs (`kustomize build`, or `kubectl
//! kustomize`, whichever is on PATH; the pure core never runs a program) and hands the core
//! the rendered objects. Kustomize's origin annotations say which file produced each object;
//! after the evaluation every finding is moved back to a source file and line: the line of
//! the rendered field in the object's own file, else in a patch or kustomization of the
//! overlay (a patch that turns a RoleBinding into a ClusterRoleBinding, a `namespace:` that
//! moves a Role), else the object's first line.
//!
//! A kustomization that another one among the inputs builds on (a base) is judged as each
//! overlay renders it, not on its own; a `kind: Component` cannot render alone. Files a
//! kustomization consumes (its resources, patches, generator inputs) are not judged again as
//! plain files.
//!
//! The kustomization is the merge request author's: it renders with kustomize's defaults
//! (no exec or container plugins, no Helm, load restrictor `LoadRestrictionsRootOnly`),
//! remote resources are refused before anything runs (and the network is closed to the
//! renderer in case one slips through), the render has a time limit, and every file it read
//! must lie in the checked tree.

use crate::collect::{display_path, lexical_absolute};
use rbac_gate_core::yaml::{self, Node};
use rbac_gate_core::{Report, Source};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// File names kustomize reads as a kustomization.
pub const KUSTOMIZATION_NAMES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Longest a render may take.
const RENDER_TIMEOUT: Duration = Duration::from_secs(60);

/// Origin annotations for every object, and which transformers touched it.
const BUILD_METADATA: &str = "buildMetadata: [originAnnotations, transformerAnnotations]";

/// Whether `path` names a kustomization file.
pub fn is_kustomization(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| KUSTOMIZATION_NAMES.contains(&n))
}

/// The renderers kustomize can be run through, in order of preference.
#[derive(Debug, Clone)]
enum Renderer {
    Kustomize(PathBuf),
    Kubectl(PathBuf),
}

impl Renderer {
    fn find() -> Option<Renderer> {
        let path = std::env::var_os("PATH")?;
        let lookup = |name: &str| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|candidate| is_executable(candidate))
        };
        lookup("kustomize")
            .map(Renderer::Kustomize)
            .or_else(|| lookup("kubectl").map(Renderer::Kubectl))
    }

    fn command(&self, dir: &Path) -> std::process::Command {
        let (program, verb) = match self {
            Renderer::Kustomize(p) => (p, "build"),
            Renderer::Kubectl(p) => (p, "kustomize"),
        };
        let mut command = std::process::Command::new(program);
        // Kustomize's defaults, stated: plugins (`--enable-alpha-plugins`, `--enable-exec`)
        // and `--enable-helm` stay off, and no file outside a kustomization's root is read.
        command
            .arg(verb)
            .arg("--load-restrictor")
            .arg("LoadRestrictionsRootOnly")
            .arg(dir);
        command
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// One rendered object and where its lines come from.
#[derive(Debug, Clone)]
struct RenderedDoc {
    /// Its lines in the text handed to the core (1-based, inclusive).
    first_line: u32,
    last_line: u32,
    /// Its rendered lines.
    lines: Vec<String>,
    kind: String,
    name: String,
    /// The file that holds the object (`None` for generated objects).
    origin: Option<PathBuf>,
    /// Patches and kustomizations that changed it or generated it, in render order.
    touched_by: Vec<PathBuf>,
}

/// What the rendered sources of one overlay are made of.
#[derive(Debug, Clone)]
struct Attribution {
    /// The overlay's folder, as shown in reports.
    overlay: String,
    docs: Vec<RenderedDoc>,
}

/// The kustomize renders of a run: what the core is given in place of the consumed files,
/// and how to move its findings back onto them.
#[derive(Debug, Default)]
pub struct Renders {
    /// By the path of the rendered source handed to the core.
    attributions: BTreeMap<String, Attribution>,
    cwd: PathBuf,
}

/// What rendering the kustomizations below one checked tree gave.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Rendered objects, one source per (overlay, origin file), and errors of renders that
    /// failed (at the kustomization's path).
    pub sources: Vec<Source>,
    /// Display paths of the inputs the renders consumed: not judged on their own.
    pub consumed: BTreeSet<String>,
}

/// One kustomization's render.
struct Render {
    dir: PathBuf,
    display: String,
    docs: Vec<RenderedDoc>,
    text: String,
    /// Every file it read: origins, patches, kustomizations, generator inputs.
    read: BTreeSet<PathBuf>,
}

impl Renders {
    /// Renders the kustomizations `found` (display path, file) below the canonical `tree`.
    pub fn render(
        &mut self,
        kustomizations: &[(String, PathBuf)],
        tree: &Path,
        cwd: &Path,
        max_output: u64,
    ) -> Outcome {
        self.cwd = cwd.to_path_buf();
        let mut outcome = Outcome::default();
        if kustomizations.is_empty() {
            return outcome;
        }
        let Some(renderer) = Renderer::find() else {
            for (display, _) in kustomizations {
                outcome.sources.push(error_source(
                    display,
                    "a kustomization is judged by what it renders, and neither `kustomize` nor \
                     `kubectl` is on PATH: install one (Debian: `apt-get install kustomize`; or \
                     kubectl, which has `kubectl kustomize`), or --exclude this folder"
                        .to_string(),
                ));
            }
            return outcome;
        };
        let mut renders = Vec::new();
        for (display, file) in kustomizations {
            outcome.consumed.insert(display.clone());
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let Some(dir) = file.parent().and_then(|d| std::fs::canonicalize(d).ok()) else {
                continue;
            };
            let root = yaml::parse_stream(&text)
                .ok()
                .and_then(|docs| docs.into_iter().next())
                .map(|d| d.root);
            // A component only renders as part of a kustomization that lists it.
            if root
                .as_ref()
                .and_then(|r| r.get("kind"))
                .and_then(Node::as_str)
                == Some("Component")
            {
                continue;
            }
            if let Some(remote) = root.as_ref().and_then(remote_resource) {
                outcome.sources.push(error_source(
                    display,
                    format!(
                        "kustomization uses the remote resource `{remote}`: rbac-gate renders \
                         only what the repository holds (no network); vendor it into the \
                         repository and refer to it by a relative path"
                    ),
                ));
                continue;
            }
            let rendered = render_one(&renderer, &dir, max_output).and_then(|(text, wrapper)| {
                read_render(&text, &wrapper, tree).map(|(docs, read)| (text, docs, read))
            });
            match rendered {
                Ok((text, docs, read)) => renders.push(Render {
                    display: display_path(&dir, cwd),
                    dir,
                    docs,
                    text,
                    read,
                }),
                Err(message) => outcome.sources.push(error_source(display, message)),
            }
        }
        // A kustomization another one builds on is judged as that one renders it.
        let bases: BTreeSet<PathBuf> = renders
            .iter()
            .flat_map(|r| {
                r.docs
                    .iter()
                    .filter_map(|d| d.origin.as_ref()?.parent().map(Path::to_path_buf))
                    .filter(move |dir| *dir != r.dir)
            })
            .collect();
        for render in renders {
            for file in &render.read {
                outcome.consumed.insert(display_path(file, cwd));
            }
            if bases.contains(&render.dir) {
                continue;
            }
            self.add(render, &mut outcome);
        }
        outcome
    }

    /// Hands the core one source per (overlay, origin file) of `render`.
    fn add(&mut self, render: Render, outcome: &mut Outcome) {
        let lines: Vec<&str> = render.text.lines().collect();
        let mut groups: BTreeMap<String, (String, Vec<RenderedDoc>)> = BTreeMap::new();
        for doc in render.docs {
            let shown = doc
                .origin
                .as_ref()
                .or(doc.touched_by.last())
                .map(|p| display_path(p, &self.cwd))
                .unwrap_or_else(|| render.display.clone());
            let path = format!("{shown} (as kustomize renders {})", render.display);
            let (text, docs) = groups.entry(path).or_default();
            let first = text.lines().count() as u32 + 1;
            for line in lines
                .get(doc.first_line as usize - 1..doc.last_line as usize)
                .unwrap_or(&[])
            {
                text.push_str(line);
                text.push('\n');
            }
            text.push_str("---\n");
            let span = doc.last_line - doc.first_line;
            docs.push(RenderedDoc {
                first_line: first,
                last_line: first + span,
                ..doc
            });
        }
        for (path, (text, docs)) in groups {
            outcome.sources.push(Source::new(path.clone(), text));
            self.attributions.insert(
                path,
                Attribution {
                    overlay: render.display.clone(),
                    docs,
                },
            );
        }
    }

    /// Moves the findings and errors of rendered sources onto the files that produced them,
    /// and puts those files in place of the rendered sources (for the text report's quotes).
    pub fn attribute(&self, report: &mut Report, sources: &mut Vec<Source>, max_file_size: u64) {
        if self.attributions.is_empty() {
            return;
        }
        let mut files = FileCache::default();
        for finding in &mut report.findings {
            // A help text may name the place of another object of the render.
            for (synthetic, attribution) in &self.attributions {
                if finding.help.contains(synthetic.as_str()) {
                    let suffix = format!(" (as kustomize renders {})", attribution.overlay);
                    let shown = synthetic.strip_suffix(&suffix).unwrap_or(synthetic);
                    finding.help = finding.help.replace(synthetic.as_str(), shown);
                }
            }
            if let Some(attribution) = self.attributions.get(&finding.path) {
                let (file, line) = self.locate(attribution, finding.line, &mut files);
                finding.path = display_path(&file, &self.cwd);
                finding.line = line;
                finding.end_line = line;
                finding
                    .message
                    .push_str(&format!(" (as kustomize renders {})", attribution.overlay));
            }
        }
        for error in &mut report.errors {
            if let Some(attribution) = self.attributions.get(&error.path) {
                let (file, line) = self.locate(attribution, error.line.unwrap_or(1), &mut files);
                error.path = display_path(&file, &self.cwd);
                error.line = Some(line);
                error.column = None;
                error.message = format!(
                    "{} (as kustomize renders {})",
                    error.message, attribution.overlay
                );
            }
        }
        sources.retain(|s| !self.attributions.contains_key(&s.path));
        let mut present: BTreeSet<String> = sources.iter().map(|s| s.path.clone()).collect();
        for file in files.read.keys() {
            let display = display_path(file, &self.cwd);
            if present.insert(display.clone()) {
                sources.push(crate::collect::read_file(display, file, max_file_size));
            }
        }
        sources.sort_by(|a, b| a.path.cmp(&b.path));
    }

    /// The file and line that produced line `line` of a rendered source.
    fn locate(
        &self,
        attribution: &Attribution,
        line: u32,
        files: &mut FileCache,
    ) -> (PathBuf, u32) {
        let Some(doc) = attribution
            .docs
            .iter()
            .find(|d| (d.first_line..=d.last_line).contains(&line))
            .or(attribution.docs.first())
        else {
            return (self.cwd.clone(), 1);
        };
        let rendered = doc
            .lines
            .get((line.saturating_sub(doc.first_line)) as usize)
            .map(|l| l.trim())
            .unwrap_or("");
        // The object's own file, where the object is.
        let object = doc.origin.as_ref().map(|origin| {
            (
                origin.clone(),
                files.object_span(origin, &doc.kind, &doc.name),
            )
        });
        if let Some((origin, (start, end))) = &object {
            if let Some(found) = files.find_line(origin, rendered, *start, *end) {
                return (origin.clone(), found);
            }
        }
        // A patch or kustomization that wrote the line, the last one first.
        for file in doc.touched_by.iter().rev() {
            if let Some(found) = files.find_line(file, rendered, 1, u32::MAX) {
                return (file.clone(), found);
            }
        }
        if let Some((origin, (start, end))) = object {
            let key = rendered
                .trim_start_matches("- ")
                .split(':')
                .next()
                .unwrap_or("");
            let by_key = (!key.is_empty() && rendered.contains(':'))
                .then(|| files.find_key(&origin, key, start, end))
                .flatten();
            return (origin, by_key.unwrap_or(start));
        }
        match doc.touched_by.last() {
            Some(file) => (file.clone(), 1),
            None => (attribution_dir(attribution, &self.cwd), 1),
        }
    }
}

fn attribution_dir(attribution: &Attribution, cwd: &Path) -> PathBuf {
    cwd.join(&attribution.overlay).join("kustomization.yaml")
}

/// Source files read to place findings, by path.
#[derive(Default)]
struct FileCache {
    read: BTreeMap<PathBuf, String>,
}

impl FileCache {
    fn text(&mut self, path: &Path) -> &str {
        self.read
            .entry(path.to_path_buf())
            .or_insert_with(|| std::fs::read_to_string(path).unwrap_or_default())
    }

    /// The lines of the document of `path` that holds the object `kind`/`name` (a patch may
    /// have changed the kind: the name alone is the fallback), else the whole file.
    fn object_span(&mut self, path: &Path, kind: &str, name: &str) -> (u32, u32) {
        let docs = yaml::parse_stream(self.text(path)).unwrap_or_default();
        let named = |d: &&yaml::Document| {
            d.root.path(&["metadata", "name"]).and_then(Node::as_str) == Some(name)
        };
        fn kind_of<'d>(d: &&'d yaml::Document) -> Option<&'d str> {
            d.root.get("kind").and_then(Node::as_str)
        }
        let of_kind = docs.iter().filter(named).find(|d| kind_of(d) == Some(kind));
        // A patch may change the kind (a RoleBinding made a ClusterRoleBinding): the source is
        // then the document of the same family, not just any document of that name (a
        // ServiceAccount, Role and RoleBinding often share one).
        let family = |k: &str| k.strip_prefix("Cluster").unwrap_or(k).to_string();
        let of_family = || {
            docs.iter()
                .filter(named)
                .find(|d| kind_of(d).is_some_and(|k| family(k) == family(kind)))
        };
        match of_kind
            .or_else(of_family)
            .or_else(|| docs.iter().find(named))
        {
            Some(doc) => (doc.root.pos.line, doc.root.end_line.max(doc.root.pos.line)),
            None => (1, u32::MAX),
        }
    }

    /// The first line in `start..=end` of `path` that reads `wanted` (trimmed).
    fn find_line(&mut self, path: &Path, wanted: &str, start: u32, end: u32) -> Option<u32> {
        if wanted.is_empty() {
            return None;
        }
        let unquoted = wanted.replace(['"', '\''], "");
        self.lines_in(path, start, end)
            .find(|(_, l)| *l == wanted || l.replace(['"', '\''], "") == unquoted)
            .map(|(n, _)| n)
    }

    /// The first line in `start..=end` of `path` that sets `key`.
    fn find_key(&mut self, path: &Path, key: &str, start: u32, end: u32) -> Option<u32> {
        let prefix = format!("{key}:");
        self.lines_in(path, start, end)
            .find(|(_, l)| l.trim_start_matches("- ").starts_with(&prefix))
            .map(|(n, _)| n)
    }

    fn lines_in(
        &mut self,
        path: &Path,
        start: u32,
        end: u32,
    ) -> impl Iterator<Item = (u32, String)> {
        let lines: Vec<(u32, String)> = self
            .text(path)
            .lines()
            .enumerate()
            .map(|(i, l)| (i as u32 + 1, l.trim().to_string()))
            .filter(|(n, _)| (start..=end).contains(n))
            .collect();
        lines.into_iter()
    }
}

/// The first `resources`, `bases` or `components` entry that kustomize would fetch.
fn remote_resource(root: &Node) -> Option<String> {
    ["resources", "bases", "components"]
        .iter()
        .filter_map(|key| root.get(key))
        .flat_map(|list| list.string_list())
        .map(|(entry, _)| entry)
        .find(|entry| {
            entry.contains("://")
                || entry.starts_with("git@")
                || entry.contains("?ref=")
                || entry.contains("?version=")
                || ["github.com/", "gitlab.com/", "bitbucket.org/"]
                    .iter()
                    .any(|host| entry.starts_with(host))
        })
}

fn error_source(display: &str, message: String) -> Source {
    Source {
        path: display.to_string(),
        text: String::new(),
        read_error: Some(message),
    }
}

/// A private scratch folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, String> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = std::fs::canonicalize(std::env::temp_dir())
            .map_err(|e| format!("cannot use the temporary directory: {e}"))?;
        for _ in 0..100 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = base.join(format!("rbac-gate-kustomize-{}-{n}", std::process::id()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(Scratch(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot create a temporary directory: {e}")),
            }
        }
        Err("cannot create a temporary directory".to_string())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `to` relative to `from` (both canonical).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to[common..] {
        out.push(part.as_os_str());
    }
    out
}

/// Renders the kustomization in `dir` (canonical) through a wrapper that adds the build
/// metadata: the output, and the wrapper's folder (origins are relative to it).
fn render_one(
    renderer: &Renderer,
    dir: &Path,
    max_output: u64,
) -> Result<(String, PathBuf), String> {
    let scratch = Scratch::new()?;
    let wrapper = scratch.0.join("wrapper");
    std::fs::create_dir(&wrapper)
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let target = relative(&wrapper, dir);
    let kustomization = format!(
        "resources:\n- {}\n{BUILD_METADATA}\n",
        serde_json::to_string(&target.to_string_lossy()).unwrap_or_default()
    );
    std::fs::write(wrapper.join("kustomization.yaml"), kustomization)
        .map_err(|e| format!("cannot write a temporary file: {e}"))?;
    let stdout_path = scratch.0.join("stdout");
    let stderr_path = scratch.0.join("stderr");
    let stdout = std::fs::File::create(&stdout_path).map_err(|e| e.to_string())?;
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
    let mut command = renderer.command(&wrapper);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &scratch.0)
        // No network: a remote resource fails closed.
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("http_proxy", "http://127.0.0.1:9")
        .env("https_proxy", "http://127.0.0.1:9")
        .env("NO_PROXY", "")
        .env("GIT_ALLOW_PROTOCOL", "none")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .current_dir(&scratch.0)
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run the kustomize renderer: {e}"))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > RENDER_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "kustomize did not finish rendering within {} s; the render is refused",
                    RENDER_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot wait for the kustomize renderer: {e}")),
        }
    };
    if !status.success() {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let reason = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let reason: String = reason.chars().take(600).collect();
        return Err(format!(
            "kustomize cannot render this kustomization ({status}): {reason}"
        ));
    }
    let size = std::fs::metadata(&stdout_path)
        .map(|m| m.len())
        .unwrap_or(0);
    if size > max_output {
        return Err(format!(
            "the kustomize render is too large ({size} bytes; the limit is {} MiB)",
            max_output / (1024 * 1024)
        ));
    }
    let text = std::fs::read_to_string(&stdout_path)
        .map_err(|e| format!("cannot read the kustomize render: {e}"))?;
    Ok((text, wrapper))
}

/// The rendered documents, with their origins resolved and checked to lie in `tree`, and
/// every file the render read.
fn read_render(
    text: &str,
    wrapper: &Path,
    tree: &Path,
) -> Result<(Vec<RenderedDoc>, BTreeSet<PathBuf>), String> {
    let parsed = yaml::parse_stream(text)
        .map_err(|e| format!("kustomize printed YAML that does not parse: {}", e.message))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut docs = Vec::new();
    let mut read = BTreeSet::new();
    let inside = |relative_path: &str| -> Result<PathBuf, String> {
        let path = lexical_absolute(Path::new(relative_path), wrapper);
        if path.starts_with(tree) {
            Ok(path)
        } else {
            Err(format!(
                "the kustomization reads {}, outside the checked tree; check that folder too, or \
                 keep what a kustomization uses inside the repository",
                path.display()
            ))
        }
    };
    for doc in &parsed {
        let root = &doc.root;
        let annotations = root.path(&["metadata", "annotations"]);
        let annotation = |key: &str| {
            annotations
                .and_then(|a| a.get(key))
                .and_then(Node::as_str)
                .and_then(|t| yaml::parse_stream(t).ok())
                .and_then(|d| d.into_iter().next())
                .map(|d| d.root)
        };
        let origin_note = annotation("config.kubernetes.io/origin");
        let mut touched_by = Vec::new();
        let mut origin = None;
        if let Some(note) = &origin_note {
            if note.get("repo").is_some() {
                return Err(
                    "the kustomization renders a remote resource: rbac-gate renders only what \
                     the repository holds; vendor it and refer to it by a relative path"
                        .to_string(),
                );
            }
            if let Some(path) = note.get("path").and_then(Node::as_str) {
                origin = Some(inside(path)?);
            }
            if let Some(configured) = note.get("configuredIn").and_then(Node::as_str) {
                touched_by.push(inside(configured)?);
            }
        }
        if let Some(transformations) = annotation("alpha.config.kubernetes.io/transformations") {
            for step in transformations.as_seq().unwrap_or(&[]) {
                if let Some(configured) = step.get("configuredIn").and_then(Node::as_str) {
                    let kustomization = inside(configured)?;
                    for patch in patch_files(&kustomization) {
                        touched_by.push(inside(&relative_from(wrapper, &patch))?);
                    }
                    touched_by.push(kustomization);
                }
            }
        }
        // Each document starts at `apiVersion`/`kind`: its root position.
        let first_line = root.pos.line.max(1);
        let last_line = root.end_line.max(first_line);
        read.extend(origin.iter().cloned());
        read.extend(touched_by.iter().cloned());
        docs.push(RenderedDoc {
            first_line,
            last_line,
            lines: lines
                .get(first_line as usize - 1..(last_line as usize).min(lines.len()))
                .unwrap_or(&[])
                .iter()
                .map(|l| l.to_string())
                .collect(),
            kind: root
                .get("kind")
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_string(),
            name: root
                .path(&["metadata", "name"])
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_string(),
            origin,
            touched_by,
        });
    }
    // Every kustomization of the chain, and what each names as input, is consumed too.
    let kustomizations: Vec<PathBuf> = read
        .iter()
        .filter(|p| is_kustomization(p))
        .cloned()
        .collect();
    for kustomization in kustomizations {
        for file in input_files(&kustomization) {
            if file.starts_with(tree) {
                read.insert(file);
            }
        }
    }
    Ok((docs, read))
}

fn relative_from(wrapper: &Path, absolute: &Path) -> String {
    relative(wrapper, absolute).to_string_lossy().into_owned()
}

/// The patch files a kustomization names (absolute, resolved by name).
fn patch_files(kustomization: &Path) -> Vec<PathBuf> {
    named_files(
        kustomization,
        &["patches", "patchesJson6902", "patchesStrategicMerge"],
    )
}

/// Every file a kustomization names as input: patches, generator inputs, replacements.
fn input_files(kustomization: &Path) -> Vec<PathBuf> {
    named_files(
        kustomization,
        &[
            "patches",
            "patchesJson6902",
            "patchesStrategicMerge",
            "replacements",
            "configMapGenerator",
            "secretGenerator",
            "resources",
            "crds",
            "configurations",
        ],
    )
}

fn named_files(kustomization: &Path, keys: &[&str]) -> Vec<PathBuf> {
    let Some(dir) = kustomization.parent() else {
        return Vec::new();
    };
    let text = std::fs::read_to_string(kustomization).unwrap_or_default();
    let Some(root) = yaml::parse_stream(&text)
        .ok()
        .and_then(|d| d.into_iter().next())
        .map(|d| d.root)
    else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for key in keys {
        for entry in root.get(key).and_then(Node::as_seq).unwrap_or(&[]) {
            if let Some(name) = entry.as_str().filter(|s| !s.contains('\n')) {
                names.push(name.to_string());
            }
            if let Some(name) = entry.get("path").and_then(Node::as_str) {
                names.push(name.to_string());
            }
            for list in ["files", "envs"] {
                for (name, _) in entry.get(list).map(|l| l.string_list()).unwrap_or_default() {
                    // `key=path` names the file after `=`.
                    names.push(name.rsplit('=').next().unwrap_or(&name).to_string());
                }
            }
            if let Some(env) = entry.get("env").and_then(Node::as_str) {
                names.push(env.to_string());
            }
        }
    }
    names
        .into_iter()
        .map(|n| lexical_absolute(Path::new(&n), dir))
        .filter(|p| p.is_file())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_resources_are_recognised() {
        let root = |text: &str| yaml::parse_stream(text).expect("parses")[0].root.clone();
        for remote in [
            "resources: [\"https://github.com/a/b//base?ref=v1\"]",
            "resources: [github.com/a/b/base]",
            "bases: [\"git@gitlab.com:a/b.git\"]",
            "components: [\"../c?ref=main\"]",
        ] {
            assert!(remote_resource(&root(remote)).is_some(), "{remote}");
        }
        assert_eq!(
            remote_resource(&root("resources: [../../base, role.yaml]")),
            None
        );
    }

    #[test]
    fn relative_paths_climb_to_the_common_folder() {
        assert_eq!(
            relative(
                Path::new("/tmp/x/wrapper"),
                Path::new("/work/repo/overlays/a")
            ),
            Path::new("../../../work/repo/overlays/a")
        );
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/b/c")),
            Path::new("c")
        );
    }

    #[test]
    fn kustomization_names() {
        assert!(is_kustomization(Path::new("a/kustomization.yaml")));
        assert!(is_kustomization(Path::new("a/Kustomization")));
        assert!(!is_kustomization(Path::new("a/kustomization.json")));
    }
}
