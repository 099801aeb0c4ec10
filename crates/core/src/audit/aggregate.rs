//! The streaming part of the audit: Kubernetes audit events (`audit.k8s.io/v1` `Event`, one JSON
//! object per line) in, bounded counts out.
//!
//! State is one counter per (identity, verb, apiGroup, resource, namespace) plus a few small
//! maps, each capped, so memory stays constant however long the log is. Lines that cannot
//! concern a watched identity are skipped before JSON parsing (the API server never escapes
//! the characters of a ServiceAccount name, so a plain substring test is exact for them).

use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: deterministic on every target (wasm32 has no random seed) and fast on short keys.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// Default cap on distinct (identity, verb, group, resource, namespace) keys.
pub const DEFAULT_MAX_KEYS: usize = 100_000;
/// Distinct user agents kept per identity.
const MAX_AGENTS: usize = 8;
/// Distinct unexpected identities kept.
const MAX_UNEXPECTED: usize = 1_000;
/// Length kept of a denial's message.
const MAX_MESSAGE: usize = 400;
/// Bytes kept of a username, group, resource, namespace or path.
const MAX_PART: usize = 320;

/// `s` cut to at most `max` bytes, on a character boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Who the aggregator counts.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// Exact usernames of the runner manager(s).
    pub runners: Vec<String>,
    /// Exact usernames of the job identities.
    pub jobs: Vec<String>,
    /// Namespaces whose ServiceAccounts are reported when they are neither.
    pub namespaces: Vec<String>,
}

impl Watch {
    fn class(&self, user: &str) -> Option<Class> {
        if self.runners.iter().any(|r| r == user) {
            return Some(Class::Runner);
        }
        if self.jobs.iter().any(|r| r == user) {
            return Some(Class::Job);
        }
        let rest = user.strip_prefix("system:serviceaccount:")?;
        let (ns, _) = rest.split_once(':')?;
        self.namespaces
            .iter()
            .any(|n| n == ns)
            .then_some(Class::Unexpected)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Runner,
    Job,
    Unexpected,
}

/// Interned strings: keys hold indices.
#[derive(Debug, Default)]
struct Strings {
    list: Vec<String>,
    index: FnvMap<String, u32>,
}

impl Strings {
    fn get(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.list.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
    fn find(&self, s: &str) -> Option<u32> {
        self.index.get(s).copied()
    }
}

/// (identity, verb, group, resource, namespace); namespace `u32::MAX` = none.
type Key = [u32; 5];
const NO_NS: u32 = u32::MAX;

#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Authorized (whatever the outcome after authorization).
    pub allowed: u64,
    /// Refused by RBAC (403 with an authorization decision `forbid`, or 403 without one).
    pub denied: u64,
    /// Authorized, then refused with 403 by admission (e.g. Pod Security).
    pub rejected: u64,
    /// The first refusal's message.
    pub message: Option<String>,
}

/// One aggregated request shape, as returned by [`Aggregator::entries`].
#[derive(Debug, Clone)]
pub struct Entry {
    pub user: String,
    pub class: Class,
    pub verb: String,
    pub group: String,
    /// `pods/exec`; a non-resource request's path starts with `/`.
    pub resource: String,
    pub namespace: Option<String>,
    pub counts: Counts,
}

#[derive(Debug, Default, Clone)]
pub struct IdentityStats {
    pub requests: u64,
    pub impersonated: u64,
    pub agents: Vec<(String, u64)>,
    pub agents_dropped: u64,
}

/// Running totals (also what `audit_feed` answers).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    pub lines: u64,
    pub bytes: u64,
    /// Lines that hold an audit event (JSON object with `kind: Event` or event fields).
    pub events: u64,
    /// Events of a watched identity, counted once (final stage).
    pub matched: u64,
    /// Lines that are not JSON (or not an object).
    pub invalid: u64,
    /// Events of watched identities at a non-final stage (RequestReceived, ResponseStarted).
    pub other_stages: u64,
    /// Requests refused with 401 (no identity to attribute them to).
    pub unauthenticated: u64,
    /// Events not counted because a cap was reached.
    pub dropped: u64,
}

#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow, default)]
    username: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ObjectRef<'a> {
    #[serde(borrow, default)]
    resource: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    subresource: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "apiGroup")]
    api_group: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Status<'a> {
    #[serde(default)]
    code: Option<i64>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Annotations<'a> {
    #[serde(borrow, default, rename = "authorization.k8s.io/decision")]
    decision: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stage: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    verb: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "requestURI")]
    request_uri: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user: Option<User<'a>>,
    #[serde(borrow, default, rename = "impersonatedUser")]
    impersonated_user: Option<User<'a>>,
    #[serde(borrow, default, rename = "userAgent")]
    user_agent: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "objectRef")]
    object_ref: Option<ObjectRef<'a>>,
    #[serde(borrow, default, rename = "responseStatus")]
    response_status: Option<Status<'a>>,
    #[serde(borrow, default)]
    annotations: Option<Annotations<'a>>,
}

/// Bounded aggregation of audit events.
#[derive(Debug)]
pub struct Aggregator {
    watch: Watch,
    max_keys: usize,
    strings: Strings,
    keys: FnvMap<Key, Counts>,
    classes: FnvMap<u32, Class>,
    identities: FnvMap<u32, IdentityStats>,
    pub totals: Totals,
}

impl Aggregator {
    pub fn new(watch: Watch, max_keys: usize) -> Aggregator {
        Aggregator {
            watch,
            max_keys: max_keys.max(1),
            strings: Strings::default(),
            keys: FnvMap::default(),
            classes: FnvMap::default(),
            identities: FnvMap::default(),
            totals: Totals::default(),
        }
    }

    pub fn watch(&self) -> &Watch {
        &self.watch
    }

    /// Feeds a batch of lines (a partial last line is treated as a line: hosts cut at `\n`).
    pub fn feed(&mut self, text: &str) {
        self.totals.bytes += text.len() as u64;
        for line in text.split('\n') {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            self.totals.lines += 1;
            self.line(line);
        }
    }

    /// Whether a line may concern a watched identity (or be a 401): every `"username":"X"` in
    /// it is looked at. The API server never escapes the characters of a ServiceAccount name,
    /// and a `"` inside a JSON string is always escaped, so this never misses an event.
    fn relevant(&self, line: &str) -> bool {
        const KEY: &str = "\"username\":\"";
        let mut rest = line;
        let mut any_user = false;
        while let Some(i) = rest.find(KEY) {
            any_user = true;
            let value = &rest[i + KEY.len()..];
            let end = value.find('"').unwrap_or(value.len());
            let name = &value[..end];
            // A name written with escapes (`\u0040` for `@`) is compared after a full parse.
            if self.watch.class(name).is_some() || name.contains('\\') {
                return true;
            }
            rest = &value[end..];
        }
        // Failed authentication carries no user.
        !any_user && line.contains("\"code\":401")
    }

    /// The top-level `stage` when it comes before any nested object (the API server writes it
    /// fifth); `None` otherwise, and the line is parsed in full.
    fn early_stage(line: &str) -> Option<&str> {
        const KEY: &str = "\"stage\":\"";
        let head = &line[..line.len().min(1024)];
        let i = head.find(KEY)?;
        if head[..i].bytes().filter(|b| *b == b'{').count() != 1 {
            return None;
        }
        let value = &head[i + KEY.len()..];
        let end = value.find('"')?;
        Some(&value[..end])
    }

    fn line(&mut self, line: &str) {
        if !self.relevant(line) {
            // Still an event (or not); cheap shape test for the totals.
            if line.starts_with('{') {
                self.totals.events += 1;
            } else {
                self.totals.invalid += 1;
            }
            return;
        }
        // Non-final stages of watched requests are only counted: no need to parse them.
        if let Some(stage) = Self::early_stage(line) {
            if matches!(stage, "RequestReceived" | "ResponseStarted")
                && !line.contains("\"code\":401")
            {
                self.totals.events += 1;
                self.totals.other_stages += 1;
                return;
            }
        }
        let ev: Event = match serde_json::from_str(line) {
            Ok(ev) => ev,
            Err(_) => {
                self.totals.invalid += 1;
                return;
            }
        };
        if ev.kind.as_deref().is_some_and(|k| k != "Event") {
            self.totals.invalid += 1;
            return;
        }
        self.totals.events += 1;
        let code = ev.response_status.as_ref().and_then(|s| s.code);
        if code == Some(401) {
            // Failed authentication is logged once (at ResponseStarted), without a user.
            self.totals.unauthenticated += 1;
            return;
        }
        if !matches!(
            ev.stage.as_deref(),
            None | Some("ResponseComplete" | "Panic")
        ) {
            let watched = ev
                .user
                .as_ref()
                .and_then(|u| u.username.as_deref())
                .is_some_and(|u| self.watch.class(u).is_some());
            if watched {
                self.totals.other_stages += 1;
            }
            return;
        }
        let real = ev.user.as_ref().and_then(|u| u.username.as_deref());
        let imp = ev
            .impersonated_user
            .as_ref()
            .and_then(|u| u.username.as_deref());
        let Some(user) = imp.or(real) else { return };
        let Some(class) = self.watch.class(user).or_else(|| {
            // Someone else acting as a watched identity is itself unexpected.
            imp.and(real).and_then(|r| self.watch.class(r))
        }) else {
            return;
        };
        let decision = ev.annotations.as_ref().and_then(|a| a.decision.as_deref());
        let verb = ev.verb.as_deref().unwrap_or("");
        let (group, resource, namespace) = match &ev.object_ref {
            Some(o) => {
                let res = o.resource.as_deref().unwrap_or("");
                let resource = match o.subresource.as_deref() {
                    Some(sub) if !sub.is_empty() => format!("{res}/{sub}"),
                    _ => res.to_string(),
                };
                (
                    o.api_group.as_deref().unwrap_or("").to_string(),
                    resource,
                    o.namespace.as_deref().filter(|n| !n.is_empty()),
                )
            }
            None => {
                let uri = ev.request_uri.as_deref().unwrap_or("/");
                let path = uri.split('?').next().unwrap_or(uri);
                (String::new(), path.to_string(), None)
            }
        };
        // The identity counted is the effective one, or the impersonator when the effective one
        // is not watched.
        let user = if self.watch.class(user).is_some() {
            user
        } else {
            real.unwrap_or(user)
        };
        if !self.record(
            user, class, verb, &group, &resource, namespace, code, decision, &ev,
        ) {
            self.totals.dropped += 1;
            return;
        }
        self.totals.matched += 1;
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        user: &str,
        class: Class,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        code: Option<i64>,
        decision: Option<&str>,
        ev: &Event,
    ) -> bool {
        // Kubernetes names are at most 253 characters: longer parts are clipped, so a hostile
        // log cannot grow the interned strings beyond a few hundred bytes per key part.
        let (user, verb, group, resource) = (
            clip(user, MAX_PART),
            clip(verb, 64),
            clip(group, MAX_PART),
            clip(resource, MAX_PART),
        );
        let namespace = namespace.map(|n| clip(n, MAX_PART));
        let unexpected_known = self
            .strings
            .find(user)
            .is_some_and(|u| self.classes.contains_key(&u));
        if class == Class::Unexpected && !unexpected_known {
            let unexpected = self
                .classes
                .values()
                .filter(|c| **c == Class::Unexpected)
                .count();
            if unexpected >= MAX_UNEXPECTED {
                return false;
            }
        }
        let full = self.keys.len() >= self.max_keys;
        let lookup = |s: &Strings, x: &str| s.find(x);
        let key_known = |s: &Strings| -> Option<Key> {
            Some([
                lookup(s, user)?,
                lookup(s, verb)?,
                lookup(s, group)?,
                lookup(s, resource)?,
                match namespace {
                    Some(n) => lookup(s, n)?,
                    None => NO_NS,
                },
            ])
        };
        let key = match key_known(&self.strings) {
            Some(k) if self.keys.contains_key(&k) => k,
            _ if full => return false,
            _ => [
                self.strings.get(user),
                self.strings.get(verb),
                self.strings.get(group),
                self.strings.get(resource),
                namespace.map_or(NO_NS, |n| self.strings.get(n)),
            ],
        };
        self.classes.insert(key[0], class);
        let c = self.keys.entry(key).or_default();
        match (code, decision) {
            (Some(403), Some("allow")) => c.rejected += 1,
            (Some(403), _) | (_, Some("forbid")) => c.denied += 1,
            _ => c.allowed += 1,
        }
        if code == Some(403) && c.message.is_none() {
            c.message = ev
                .response_status
                .as_ref()
                .and_then(|s| s.message.as_deref())
                .map(|m| m.chars().take(MAX_MESSAGE).collect());
        }
        let stats = self.identities.entry(key[0]).or_default();
        stats.requests += 1;
        if ev.impersonated_user.is_some() {
            stats.impersonated += 1;
        }
        if let Some(agent) = ev.user_agent.as_deref() {
            // `gitlab-runner/v18.5.0 (linux/amd64) kubernetes/...` → the product token.
            let product = agent.split_whitespace().next().unwrap_or(agent);
            if let Some(i) = stats.agents.iter().position(|(a, _)| a == product) {
                stats.agents[i].1 += 1;
            } else if stats.agents.len() < MAX_AGENTS {
                stats.agents.push((product.chars().take(100).collect(), 1));
            } else {
                stats.agents_dropped += 1;
            }
        }
        true
    }

    /// Every aggregated key, sorted.
    pub fn entries(&self) -> Vec<Entry> {
        let s = |i: u32| {
            self.strings
                .list
                .get(i as usize)
                .cloned()
                .unwrap_or_default()
        };
        let mut out: Vec<Entry> = self
            .keys
            .iter()
            .map(|(k, c)| Entry {
                user: s(k[0]),
                class: self
                    .classes
                    .get(&k[0])
                    .copied()
                    .unwrap_or(Class::Unexpected),
                verb: s(k[1]),
                group: s(k[2]),
                resource: s(k[3]),
                namespace: (k[4] != NO_NS).then(|| s(k[4])),
                counts: c.clone(),
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.user, &a.namespace, &a.group, &a.resource, &a.verb).cmp(&(
                &b.user,
                &b.namespace,
                &b.group,
                &b.resource,
                &b.verb,
            ))
        });
        out
    }

    /// Per-identity statistics, by username.
    pub fn identity_stats(&self) -> Vec<(String, Class, IdentityStats)> {
        let mut out: Vec<(String, Class, IdentityStats)> = self
            .identities
            .iter()
            .map(|(i, st)| {
                (
                    self.strings
                        .list
                        .get(*i as usize)
                        .cloned()
                        .unwrap_or_default(),
                    self.classes.get(i).copied().unwrap_or(Class::Unexpected),
                    st.clone(),
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    pub fn key_count(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> Watch {
        Watch {
            runners: vec!["system:serviceaccount:ci:gitlab-runner".into()],
            jobs: vec!["system:serviceaccount:ci:job".into()],
            namespaces: vec!["ci".into()],
        }
    }

    fn ev(user: &str, verb: &str, res: &str, sub: &str, code: u32, stage: &str) -> String {
        let sub = if sub.is_empty() {
            String::new()
        } else {
            format!(",\"subresource\":\"{sub}\"")
        };
        format!(
            "{{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"stage\":\"{stage}\",\"verb\":\"{verb}\",\"user\":{{\"username\":\"{user}\"}},\"userAgent\":\"gitlab-runner/v19.3.0 (linux/amd64)\",\"objectRef\":{{\"resource\":\"{res}\",\"namespace\":\"ci\",\"apiVersion\":\"v1\"{sub}}},\"responseStatus\":{{\"metadata\":{{}},\"code\":{code}}}}}"
        )
    }

    #[test]
    fn counts_final_stages_and_classes() {
        let mut a = Aggregator::new(watch(), 100);
        let r = "system:serviceaccount:ci:gitlab-runner";
        let lines = [
            ev(r, "create", "pods", "", 201, "RequestReceived"),
            ev(r, "create", "pods", "", 201, "ResponseComplete"),
            ev(r, "create", "pods", "attach", 403, "ResponseComplete"),
            ev(
                "system:serviceaccount:ci:default",
                "list",
                "secrets",
                "",
                200,
                "ResponseComplete",
            ),
            ev(
                "system:serviceaccount:other:x",
                "list",
                "secrets",
                "",
                200,
                "ResponseComplete",
            ),
            "not json".to_string(),
        ]
        .join("\n");
        a.feed(&lines);
        assert_eq!(a.totals.lines, 6);
        assert_eq!(a.totals.matched, 3);
        assert_eq!(a.totals.other_stages, 1);
        assert_eq!(a.totals.invalid, 1);
        let e = a.entries();
        assert_eq!(e.len(), 3);
        let attach = e
            .iter()
            .find(|x| x.resource == "pods/attach")
            .expect("attach");
        assert_eq!(attach.counts.denied, 1);
        assert!(e.iter().any(|x| x.class == Class::Unexpected));
    }

    #[test]
    fn long_parts_are_clipped() {
        let mut a = Aggregator::new(watch(), 100);
        let r = "system:serviceaccount:ci:gitlab-runner";
        let long = "x".repeat(10_000);
        a.feed(&ev(r, "get", &long, "", 200, "ResponseComplete"));
        let e = a.entries();
        assert_eq!(e[0].resource.len(), MAX_PART);
        assert_eq!(clip("aé", 2), "a");
    }

    #[test]
    fn keys_are_capped() {
        let mut a = Aggregator::new(watch(), 2);
        let r = "system:serviceaccount:ci:gitlab-runner";
        for verb in ["get", "list", "watch", "get"] {
            a.feed(&ev(r, verb, "pods", "", 200, "ResponseComplete"));
        }
        assert_eq!(a.key_count(), 2);
        assert_eq!(a.totals.dropped, 1);
        assert_eq!(a.totals.matched, 3);
    }
}
