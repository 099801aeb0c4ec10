//! What every rule sees: the inputs, the inventory, the authorizer and the runner model, plus
//! the helper that turns a location into a finding.

use crate::api::Source;
use crate::authz::{Authz, Identity};
use crate::model::{Inventory, Loc};
use crate::report::{fingerprint, Finding, Severity};
use crate::rules::RuleMeta;
use crate::runner::RunnerModel;
use crate::settings::Settings;

pub struct Ctx<'a> {
    pub sources: &'a [Source],
    pub inv: &'a Inventory,
    pub authz: &'a Authz,
    pub runner: &'a RunnerModel,
    pub settings: &'a Settings,
    /// Byte offset of each line start, per source: rules that look a line up must not rescan
    /// the file from its start (that is quadratic on a large dump). Built on the first lookup
    /// in that file; most files are never looked into.
    line_starts: Vec<std::cell::OnceCell<Vec<u32>>>,
    /// The escalation analysis, shared by its rule and the identity report (it is the most
    /// expensive step; computing it twice doubled the time on a large dump).
    escalations: std::cell::OnceCell<Vec<crate::rules::privilege::escalation_path::Path>>,
    /// Answers of `Site::scopes_where`, which depend on the subject only.
    scopes: std::cell::RefCell<ScopesCache>,
    /// The first ServiceAccount of each (namespace, name): rules ask for the account of every
    /// workload, and a scan per question was quadratic on a large dump.
    service_accounts: std::collections::BTreeMap<(&'a str, &'a str), usize>,
}

type ScopesCache = std::collections::BTreeMap<
    crate::rules::privilege::caps::ScopesKey,
    std::rc::Rc<[Option<String>]>,
>;

/// A finding under construction; `emit` fills in the path and the fingerprint.
pub struct Draft {
    pub rule: &'static RuleMeta,
    pub severity: Severity,
    pub loc: Loc,
    pub message: String,
    pub help: String,
    pub object: Option<String>,
    pub identity: Option<String>,
    pub steps: Vec<String>,
    /// What distinguishes this finding from others of the same rule on the same object
    /// (e.g. the rule text or the permission). Part of the fingerprint; never a line number.
    pub key: String,
}

impl Draft {
    pub fn severity(mut self, s: Severity) -> Self {
        self.severity = s;
        self
    }
    pub fn object(mut self, o: impl Into<String>) -> Self {
        self.object = Some(o.into());
        self
    }
    pub fn identity(mut self, id: &Identity) -> Self {
        self.identity = Some(id.id());
        self
    }
    pub fn identity_str(mut self, id: impl Into<String>) -> Self {
        self.identity = Some(id.into());
        self
    }
    pub fn steps(mut self, steps: Vec<String>) -> Self {
        self.steps = steps;
        self
    }
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }
}

impl<'a> Ctx<'a> {
    pub fn new(
        sources: &'a [Source],
        inv: &'a Inventory,
        authz: &'a Authz,
        runner: &'a RunnerModel,
        settings: &'a Settings,
    ) -> Ctx<'a> {
        let line_starts = sources.iter().map(|_| std::cell::OnceCell::new()).collect();
        let mut service_accounts = std::collections::BTreeMap::new();
        for (i, sa) in inv.service_accounts.iter().enumerate() {
            let ns = sa.meta.namespace.as_deref().unwrap_or("default");
            service_accounts
                .entry((ns, sa.meta.name.as_str()))
                .or_insert(i);
        }
        Ctx {
            sources,
            inv,
            authz,
            runner,
            settings,
            line_starts,
            escalations: std::cell::OnceCell::new(),
            scopes: std::cell::RefCell::new(ScopesCache::new()),
            service_accounts,
        }
    }

    /// The ServiceAccount `namespace`/`name` declared in the inputs (the first, when repeated).
    pub fn service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<&'a crate::model::ServiceAccount> {
        let inv: &'a Inventory = self.inv;
        self.service_accounts
            .get(&(namespace, name))
            .map(|&i| &inv.service_accounts[i])
    }

    pub(crate) fn scopes_cache(&self) -> &std::cell::RefCell<ScopesCache> {
        &self.scopes
    }

    /// The escalation paths, computed on first use.
    pub(crate) fn escalations(
        &self,
        analyze: impl FnOnce() -> Vec<crate::rules::privilege::escalation_path::Path>,
    ) -> &[crate::rules::privilege::escalation_path::Path] {
        self.escalations.get_or_init(analyze)
    }

    /// Drops what the rules cached (the escalation paths, and the scopes answers), once they
    /// have all run: about 20 MB at 100,000 objects, which the rest of the check can reuse.
    /// The escalation paths go only when `keep_escalations` is false: the identity report
    /// reads them afterwards.
    pub fn release_caches(&mut self, keep_escalations: bool) {
        if !keep_escalations {
            self.escalations = std::cell::OnceCell::new();
        }
        self.scopes = std::cell::RefCell::new(ScopesCache::new());
    }

    /// Lines `first..=last` (1-based) of a source, without their line break.
    pub fn lines(
        &self,
        file: usize,
        first: u32,
        last: u32,
    ) -> impl Iterator<Item = (u32, &'a str)> + '_ {
        let text = self.sources.get(file).map_or("", |s| s.text.as_str());
        let starts = self.line_starts.get(file).map_or(&[][..], |starts| {
            starts
                .get_or_init(|| {
                    // Offsets fit in u32: the policy module's memory is 32-bit, and a file too
                    // large for that never gets here.
                    std::iter::once(0)
                        .chain(
                            text.match_indices('\n')
                                .map_while(|(i, _)| u32::try_from(i + 1).ok()),
                        )
                        .collect()
                })
                .as_slice()
        });
        let first = first.max(1);
        (first..=last).map_while(move |n| {
            let i = usize::try_from(n - 1).ok()?;
            let start = usize::try_from(*starts.get(i)?).ok()?;
            let end = starts
                .get(i + 1)
                .and_then(|e| usize::try_from(*e).ok())
                .map_or(text.len(), |e| e - 1);
            let line = text.get(start..end)?;
            Some((n, line.strip_suffix('\r').unwrap_or(line)))
        })
    }

    /// Starts a finding for `rule` at `loc` with its default severity (after config overrides).
    pub fn draft(
        &self,
        rule: &'static RuleMeta,
        loc: Loc,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Draft {
        Draft {
            rule,
            severity: rule.severity,
            loc,
            message: message.into(),
            help: help.into(),
            object: None,
            identity: None,
            steps: Vec::new(),
            key: String::new(),
        }
    }

    pub fn path(&self, file: usize) -> &str {
        self.sources
            .get(file)
            .map_or("<builtin>", |s| s.path.as_str())
    }

    pub fn emit(&self, out: &mut Vec<Finding>, mut d: Draft) {
        // Rules quote names and values from the inputs; none of them may carry a credential
        // (a URL's userinfo, a `--password` argument) into a report or a fingerprint.
        for text in [&mut d.message, &mut d.help, &mut d.key]
            .into_iter()
            .chain(d.object.iter_mut())
            .chain(d.identity.iter_mut())
            .chain(d.steps.iter_mut())
        {
            crate::redact::in_place(text);
        }
        // Messages are built by pushing and formatting, which leaves spare capacity (a third
        // of the text, measured); a report may hold 100,000 findings until it is rendered.
        d.message.shrink_to_fit();
        d.help.shrink_to_fit();
        for text in d.object.iter_mut().chain(d.identity.iter_mut()) {
            text.shrink_to_fit();
        }
        for step in &mut d.steps {
            step.shrink_to_fit();
        }
        d.steps.shrink_to_fit();
        let path = self.path(d.loc.file).to_string();
        let fp = fingerprint(&[
            d.rule.code,
            &path,
            d.object.as_deref().unwrap_or(""),
            d.identity.as_deref().unwrap_or(""),
            &d.key,
            if d.key.is_empty() { &d.message } else { "" },
        ]);
        out.push(Finding {
            code: d.rule.code.into(),
            rule: d.rule.name.into(),
            severity: d.severity,
            category: d.rule.category,
            message: d.message,
            help: d.help,
            path,
            line: d.loc.line.max(1),
            column: d.loc.col.max(1),
            end_line: d.loc.end_line.max(d.loc.line).max(1),
            object: d.object,
            identity: d.identity,
            steps: d.steps,
            fingerprint: fp,
            accepted: None,
            overridden_from: None,
        });
    }
}
