//! Credentials that travel inside ordinary values: URL userinfo and secret-looking command
//! arguments.
//!
//! A kubeconfig `server: https://admin:PASS@host`, a runner `host = "https://u:PASS@host"` or
//! an exec plugin `args: ["--password=PASS"]` is not under a credential-named key, so key-based
//! redaction misses it. These functions find it in any text: the core's message builders run
//! what they quote through [`text`], the CLI runs every quoted source line through
//! [`url_userinfo`] and [`Arguments`] and, as a last defence, every message of the report
//! through [`text`]. One home for the rules, so the report and the snippets agree.
//!
//! What is hidden (see the tests for the vectors):
//!
//! * URL userinfo, user and password alike: `scheme://user:pass@host` becomes
//!   `scheme://[REDACTED]@host`. The user goes too because it is often the token itself
//!   (`https://<token>@github.com`, `https://oauth2:<token>@gitlab.example`); the host stays,
//!   so the finding still says which server. A password with an unencoded `/` (not a valid
//!   URL, but a leak all the same) is caught when the part before the `/` is `user:` plus
//!   something that is not a port. `git@gitlab.com:group/repo.git` (scp-like syntax, no `://`)
//!   is kept: its user is the login name of an SSH key, never a credential.
//! * Secret-looking arguments, names matched case-insensitively with `_` read as `-`, one or
//!   two leading dashes: `--password=X`, `--password X`, `--token X`, `--client-secret X`,
//!   `--api-key X`, `--kubeconfig-token X`, `-p X`, ... (see [`secret_flag`]); the value is the
//!   rest of the word after `=` or the next word, even on the next line of a block list, and a
//!   whole quoted string when the value is one. `--user X` / `-u X` hide only what follows a
//!   `:` (curl's `user:password`). `NAME=VALUE` words whose NAME names a credential
//!   (`DB_PASSWORD=X`) and such query parameters of URLs (`?access_token=X`) hide VALUE.
//!
//! Kept: `https://host:6443`, `--namespace=ci`, `-n ci`, `--token-file /path`,
//! `--password-stdin`, RBAC verbs, resource names and paths. Like the CLI's snippet redaction it
//! errs on the side of hiding too much (`-p 8080` loses its port): a redacted word is still
//! readable, a leaked password is not. Not handled: a value glued to a short flag (`-pPASS`).

use std::borrow::Cow;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// `text` with URL userinfo and secret arguments redacted (see the module docs).
pub fn text(text: &str) -> Cow<'_, str> {
    let urls = url_userinfo(text);
    let mut arguments = Arguments::default();
    let arguments = match arguments.redact(&urls) {
        Cow::Borrowed(_) => urls,
        Cow::Owned(redacted) => Cow::Owned(redacted),
    };
    match token_patterns(&arguments) {
        Cow::Borrowed(_) => arguments,
        Cow::Owned(redacted) => Cow::Owned(redacted),
    }
}

/// [`text`], in place: `text` is only written when it held a credential.
pub fn in_place(text: &mut String) {
    if let Cow::Owned(redacted) = self::text(text) {
        *text = redacted;
    }
}

/// The userinfo of every URL in `text` (`scheme://userinfo@host`) replaced by [`REDACTED`].
/// Also finds JSON's escaped form `scheme:\/\/userinfo@host`.
pub fn url_userinfo(text: &str) -> Cow<'_, str> {
    if !SEPARATORS.iter().any(|sep| text.contains(sep)) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some((colon, separator)) = next_separator(text, from) {
        let start = colon + separator;
        from = start;
        let has_scheme = colon > 0 && bytes[colon - 1].is_ascii_alphanumeric();
        if !has_scheme {
            continue;
        }
        let word_end = url_end(text, start);
        let word = &text[start..word_end];
        // RFC 3986: the authority ends at the path, query or fragment (or an escaped `\/`).
        let authority_end = word.find(['/', '?', '#', '\\']).unwrap_or(word.len());
        let at = match word[..authority_end].rfind('@') {
            Some(at) => Some(at),
            // `user:pa/ss@host`: a `:` followed by something that is no port, then an `@`
            // further on: a password with a raw `/` (or `?`, `#`) in it.
            None if password_before(&word[..authority_end]) => word.rfind('@'),
            None => None,
        };
        let Some(at) = at.filter(|at| *at > 0) else {
            continue;
        };
        if &word[..at] == REDACTED {
            from = start + at;
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = start + at;
        from = copied;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The ways a text writes the `://` of a URL: plainly, JSON's `\/`, JSON's `\u002f` and YAML's
/// `\x2f` escapes.
const SEPARATORS: &[&str] = &[
    "://",
    ":\\/\\/",
    ":\\u002f\\u002f",
    ":\\u002F\\u002F",
    ":\\x2f\\x2f",
    ":\\x2F\\x2F",
];

/// The next URL separator at or after `from`: (index of the `:`, length of the separator).
fn next_separator(text: &str, from: usize) -> Option<(usize, usize)> {
    let rest = text.get(from..)?;
    SEPARATORS
        .iter()
        .filter_map(|sep| rest.find(sep).map(|n| (from + n, sep.len())))
        .min()
}

/// Where the URL starting at `start` ends: at whitespace or `<`/`>`, or at a quote that closes
/// the string holding it (followed by the end, whitespace or `,;:}])>`). A quote inside the
/// userinfo (`admin:Se'cret@host`, valid in a password) does not end it.
fn url_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() || b == b'<' || b == b'>' {
            return i;
        }
        if matches!(b, b'"' | b'\'' | b'`') {
            let next = bytes.get(i + 1).copied();
            let closes = next.is_none_or(|n| {
                n.is_ascii_whitespace()
                    || matches!(n, b',' | b';' | b':' | b'}' | b']' | b')' | b'>')
            });
            if closes {
                return i;
            }
        }
        i += 1;
    }
    bytes.len()
}

/// `user:x...` where `x...` is not a port number: a password cut short by a raw `/`.
fn password_before(authority: &str) -> bool {
    authority
        .split_once(':')
        .is_some_and(|(_, after)| !after.is_empty() && !after.bytes().all(|b| b.is_ascii_digit()))
}

/// How a secret argument's value is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretValue {
    /// All of it.
    Whole,
    /// What follows the first `:` (`--user name:password`); a value without `:` is a user name
    /// and is kept.
    AfterColon,
}

/// Name endings that make a flag or a `NAME=` a credential wherever the name ends with them
/// (`--db-password`, `--apitoken`, `--client-secret`).
const SECRET_ENDINGS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "token",
    "secret",
    "apikey",
    "api-key",
    "access-key",
    "secret-key",
    "private-key",
    "credential",
    "credentials",
];

/// Short endings that count only as a whole word of the name (`--pass`, `--db-pwd`,
/// `--basic-auth`, `--key`), not inside another word (`--bypass`, `--monkey`).
const SECRET_WORDS: &[&str] = &["pass", "pwd", "pw", "auth", "key"];

/// Whether `name` (a flag without its dashes, or the NAME of `NAME=VALUE`) names a credential.
fn secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('_', "-");
    SECRET_ENDINGS.iter().any(|end| name.ends_with(end))
        || SECRET_WORDS.iter().any(|word| {
            name.strip_suffix(word)
                .is_some_and(|before| before.is_empty() || before.ends_with(['-', '.']))
        })
}

/// Whether `word` is a flag whose value is a secret, e.g. `--password`, `-p`, `--Client_Secret`
/// (no `=VALUE` part).
pub fn secret_flag(word: &str) -> Option<SecretValue> {
    let name = word.strip_prefix("--").or_else(|| word.strip_prefix('-'))?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return None;
    }
    if !name.as_bytes()[0].is_ascii_alphabetic() {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    // Short flags take one dash: `--p` is no `-p`.
    let short = word.len() == 2;
    if short && lower == "p" {
        return Some(SecretValue::Whole);
    }
    if (short && lower == "u") || lower == "user" {
        return Some(SecretValue::AfterColon);
    }
    secret_name(name).then_some(SecretValue::Whole)
}

/// Redacts secret arguments line by line, remembering a flag whose value is on the next line
/// (`- --token` then `- VALUE` in a block list, or a pretty-printed JSON array).
#[derive(Debug, Clone, Copy, Default)]
pub struct Arguments {
    /// A secret flag was the last word seen; its value is the next word.
    pending: Option<SecretValue>,
}

/// Characters that end a word (besides whitespace) when looking for flags.
fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b',' | b'[' | b']' | b'{' | b'}' | b'(' | b')' | b'`')
}

fn is_quote(b: u8) -> bool {
    b == b'"' || b == b'\''
}

/// Words that only structure a list or mapping: never a value.
fn is_structural(word: &str) -> bool {
    matches!(word, "-" | ":" | "?" | "|" | ">" | "|-" | ">-" | "=")
}

impl Arguments {
    /// `line` with secret argument values redacted; call it on the lines of one text in order.
    pub fn redact<'a>(&mut self, line: &'a str) -> Cow<'a, str> {
        if self.pending.is_none() && !may_hold_argument(line) {
            return Cow::Borrowed(line);
        }
        self.scan(line)
    }

    /// [`Arguments::redact`], word by word.
    fn scan<'a>(&mut self, line: &'a str) -> Cow<'a, str> {
        let bytes = line.as_bytes();
        let mut out = String::new();
        let mut copied = 0;
        let mut quote: Option<u8> = None;
        let mut quote_start = usize::MAX;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if let Some(q) = quote {
                if b == q {
                    if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    quote = None;
                    i += 1;
                    continue;
                }
            } else if is_quote(b) {
                quote = Some(b);
                quote_start = i + 1;
                i += 1;
                continue;
            }
            if is_delimiter(b) || (quote.is_some() && is_quote(b)) {
                i += 1;
                continue;
            }
            let word_end = word_end(bytes, i, quote);
            let word = &line[i..word_end];
            // The word opens its quoted string (delimiters aside): a value may be all of it.
            let quoted_whole = quote.is_some()
                && line
                    .get(quote_start..i)
                    .is_some_and(|before| before.bytes().all(is_delimiter));
            if let Some(kind) = self.pending {
                if is_structural(word) {
                    i = word_end;
                    continue;
                }
                self.pending = None;
                if is_key(bytes, i, word_end, quote) {
                    i = word_end;
                    continue;
                }
                if word == "REDACTED" && i > 0 && bytes[i - 1] == b'[' {
                    i = word_end;
                    continue;
                }
                let from = if quoted_whole { quote_start } else { i };
                let value = value_span(bytes, from, quote, quoted_whole);
                if let Some((from, to)) = hidden_part(line, value.from, value.to, kind) {
                    splice(&mut out, line, &mut copied, from, to);
                }
                i = value.resume.max(word_end);
                continue;
            }
            if let Some(kind) = secret_flag(word) {
                self.pending = Some(kind);
                i = word_end;
                continue;
            }
            // `--password=VALUE`, `DB_PASSWORD=VALUE`.
            if let Some((from, kind)) = assignment(line, i, word_end) {
                let value = value_span(bytes, from, quote, quoted_whole);
                if let Some((from, to)) = hidden_part(line, value.from, value.to, kind) {
                    splice(&mut out, line, &mut copied, from, to);
                }
                i = value.resume.max(word_end);
                continue;
            }
            // `https://host/x?access_token=VALUE`.
            if word.contains("://") {
                for (from, to) in query_secrets(word) {
                    splice(&mut out, line, &mut copied, i + from, i + to);
                }
                i = word_end;
                continue;
            }
            i = word_end;
        }
        if copied == 0 {
            return Cow::Borrowed(line);
        }
        out.push_str(line.get(copied..).unwrap_or(""));
        Cow::Owned(out)
    }
}

/// Appends `line[copied..from]` and [`REDACTED`] to `out`, and moves `copied` past `to`. A
/// range that overlaps what is already copied, or splits a character, is hidden from where the
/// copy stands (never a panic on odd input).
fn splice(out: &mut String, line: &str, copied: &mut usize, from: usize, to: usize) {
    let from = from.max(*copied);
    let (Some(kept), true) = (
        line.get(*copied..from),
        line.is_char_boundary(to.min(line.len())),
    ) else {
        return;
    };
    out.push_str(kept);
    out.push_str(REDACTED);
    *copied = to.min(line.len()).max(from);
}

/// Whether a line may hold a secret argument: a credential-like name, or a `-p` / `-u` word.
/// Most lines of a large dump hold neither, and the scan looks at every word; this is one pass
/// over the bytes (the text report redacts every line of a file it quotes, 100 MB ones too).
fn may_hold_argument(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes
        .iter()
        .enumerate()
        .any(|(i, b)| match b.to_ascii_lowercase() {
            b'-' => short_flag_at(bytes, i),
            b'p' | b't' | b's' | b'k' | b'a' | b'c' | b'u' => ARGUMENT_HINTS.iter().any(|hint| {
                bytes
                    .get(i..i + hint.len())
                    .is_some_and(|window| window.eq_ignore_ascii_case(hint.as_bytes()))
            }),
            _ => false,
        })
}

/// A secret argument's name holds one of these (any case), or it is `-p` / `-u`.
const ARGUMENT_HINTS: &[&str] = &[
    "pass",
    "pw",
    "token",
    "secret",
    "key",
    "auth",
    "credential",
    "user",
];

/// `-p` or `-u` (any case) as a word of its own at `bytes[at]`.
fn short_flag_at(bytes: &[u8], at: usize) -> bool {
    let flag = bytes
        .get(at + 1)
        .is_some_and(|b| matches!(b, b'p' | b'P' | b'u' | b'U'));
    let starts_word = at
        .checked_sub(1)
        .is_none_or(|before| !bytes[before].is_ascii_alphanumeric() && bytes[before] != b'-');
    let ends_word = bytes
        .get(at + 2)
        .is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'-' && *b != b'_');
    flag && starts_word && ends_word
}

/// Where the word starting at `start` ends: at a delimiter, or at the closing quote.
fn word_end(bytes: &[u8], start: usize, quote: Option<u8>) -> usize {
    let mut end = start;
    while end < bytes.len() {
        let b = bytes[end];
        if is_delimiter(b) {
            break;
        }
        match quote {
            Some(q) if b == q => break,
            Some(b'"') if b == b'\\' => end += 1,
            None if end > start && is_quote(b) && bytes[end - 1] == b'=' => break,
            _ => {}
        }
        end += 1;
    }
    end.min(bytes.len())
}

/// A secret value: `from..to`, and where the scan goes on.
struct ValueSpan {
    from: usize,
    to: usize,
    resume: usize,
}

/// The secret value starting at `start`. A value that is a whole quoted string runs to its
/// closing quote (spaces and commas included); otherwise to whitespace or a quote, less the
/// `,`, `]`, `}` and `)` that close a flow list or mapping around it.
fn value_span(bytes: &[u8], start: usize, quote: Option<u8>, quoted_whole: bool) -> ValueSpan {
    // `--password="a b"`: the value opens a quoted string of its own, closed here too.
    let (quote, quoted_whole, start, own_quote) = match bytes.get(start) {
        Some(&q) if quote.is_none() && is_quote(q) => (Some(q), true, start + 1, true),
        _ => (quote, quoted_whole, start, false),
    };
    let mut end = start;
    while end < bytes.len() {
        let b = bytes[end];
        match quote {
            Some(q) if b == q => {
                if q == b'\'' && bytes.get(end + 1) == Some(&b'\'') {
                    end += 2;
                    continue;
                }
                break;
            }
            Some(b'"') if b == b'\\' => {
                end += 2;
                continue;
            }
            Some(_) if quoted_whole => {}
            _ if b.is_ascii_whitespace() || is_quote(b) || b == b'`' => break,
            _ => {}
        }
        end += 1;
    }
    let closed = end < bytes.len();
    let mut to = end.min(bytes.len());
    if !quoted_whole {
        while to > start && matches!(bytes[to - 1], b',' | b']' | b'}' | b')') {
            to -= 1;
        }
    }
    let resume = if own_quote && closed { to + 1 } else { to };
    ValueSpan {
        from: start,
        to,
        resume,
    }
}

/// The part of the value `line[start..end]` to replace, if any: none when it is empty or
/// already redacted.
fn hidden_part(line: &str, start: usize, end: usize, kind: SecretValue) -> Option<(usize, usize)> {
    let value = line.get(start..end)?;
    if value.is_empty() || line[start..].starts_with(REDACTED) {
        return None;
    }
    match kind {
        SecretValue::Whole => Some((start, end)),
        SecretValue::AfterColon => {
            let colon = value.find(':')?;
            let from = start + colon + 1;
            let already = line
                .get(from..)
                .is_some_and(|rest| rest.starts_with(REDACTED));
            (from < end && !already).then_some((from, end))
        }
    }
}

/// `NAME=VALUE` in the word `line[start..end]` with a secret NAME (a flag's or a variable's):
/// where VALUE starts, and how to hide it.
fn assignment(line: &str, start: usize, end: usize) -> Option<(usize, SecretValue)> {
    let word = &line[start..end];
    if !word.contains('=') {
        return None;
    }
    if let Some((name, _)) = word.split_once('=') {
        if name.starts_with('-') {
            return secret_flag(name).map(|kind| (start + name.len() + 1, kind));
        }
        let plain = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if plain && secret_name(name) {
            return Some((start + name.len() + 1, SecretValue::Whole));
        }
    }
    None
}

/// The values of secret query parameters in the URL `word`
/// (`https://host/x?access_token=VALUE&y=1`), as ranges of `word`.
fn query_secrets(word: &str) -> Vec<(usize, usize)> {
    let Some(query) = word.find('?') else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    let mut at = query + 1;
    for parameter in word[query + 1..].split(['&', ';', '#']) {
        if let Some((name, value)) = parameter.split_once('=') {
            if secret_name(name) && !value.is_empty() && !value.starts_with(REDACTED) {
                spans.push((at + name.len() + 1, at + parameter.len()));
            }
        }
        at += parameter.len() + 1;
    }
    spans
}

/// Whether the word starting at `start` is a mapping key that opens its line (`env:`,
/// `- name:`, `"env": [`), which ends a flag's search for its value: the flag had none on its
/// lines. Only at the start of a line: inside a line, `--password hunter2: ...` is prose and
/// `hunter2` the value.
fn is_key(bytes: &[u8], start: usize, word_end: usize, quote: Option<u8>) -> bool {
    let opening = if quote.is_some() {
        start.checked_sub(1)
    } else {
        Some(start)
    };
    let Some(opening) = opening else {
        return false;
    };
    let opens_line = bytes[..opening]
        .iter()
        .all(|b| b.is_ascii_whitespace() || matches!(b, b'-' | b'{' | b'[' | b','));
    if !opens_line {
        return false;
    }
    let colon_at = match quote {
        Some(q) if bytes.get(word_end) == Some(&q) => word_end + 1,
        Some(_) => return false,
        None if word_end > start + 1 && bytes[word_end - 1] == b':' => word_end - 1,
        None => return false,
    };
    bytes.get(colon_at) == Some(&b':')
        && bytes
            .get(colon_at + 1)
            .is_none_or(|b| b.is_ascii_whitespace() || matches!(b, b'[' | b'{' | b'"' | b'\''))
}

/// Known credential shapes wherever they appear: GitLab's token prefixes (and a few other
/// vendors'), JWTs, and the word after an HTTP authorization scheme.
pub fn token_patterns(line: &str) -> Cow<'_, str> {
    const PREFIXES: &[&str] = &[
        // GitLab's documented prefixes (docs.gitlab.com/security/tokens/#token-prefixes),
        // as the core's RG404 finds them.
        "glrt-",
        "glrtr-",
        "glpat-",
        "gldt-",
        "glptt-",
        "glcbt-",
        "glsoat-",
        "glffct-",
        "gloas-",
        "glft-",
        "glimt-",
        "glagent-",
        "glwt-",
        "GR1348941",
        "ghp_",
        "gho_",
        "github_pat_",
        "xoxb-",
        "AKIA",
    ];
    // Each pattern starts with one of these: a line holding none is left as it is.
    if !line.contains("eyJ")
        && !PREFIXES.iter().any(|p| line.contains(p))
        && !AUTH_SCHEMES.iter().any(|p| line.contains(p))
    {
        return Cow::Borrowed(line);
    }
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || !is_token_char(chars[i - 1]);
        // `Authorization: Bearer X` / `Basic X`: the credential is the next word, whatever
        // its shape.
        if boundary {
            if let Some(scheme) = AUTH_SCHEMES.iter().find(|s| starts_with_at(&chars, i, s)) {
                let value = i + scheme.chars().count();
                let mut end = value;
                while end < chars.len() && is_token_char(chars[end]) {
                    end += 1;
                }
                if end - value >= MIN_AUTH_VALUE {
                    out.extend(&chars[i..value]);
                    out.push_str(REDACTED);
                    i = end;
                    changed = true;
                    continue;
                }
            }
        }
        if boundary {
            let rest: String = chars[i..chars.len().min(i + 12)].iter().collect();
            let is_jwt = rest.starts_with("eyJ");
            let is_prefixed = PREFIXES.iter().any(|p| rest.starts_with(p));
            if is_jwt || is_prefixed {
                let mut end = i;
                while end < chars.len() && is_token_char(chars[end]) {
                    end += 1;
                }
                // Long enough to be a credential, not a word that happens to start that way.
                if end - i >= 16 {
                    out.push_str(REDACTED);
                    i = end;
                    changed = true;
                    continue;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(line)
    }
}

/// HTTP authorization schemes whose next word is a credential (`Authorization: Bearer X`).
const AUTH_SCHEMES: &[&str] = &["Bearer ", "Basic "];

/// The shortest word after an authorization scheme taken for a credential ("Basic auth" is
/// prose).
const MIN_AUTH_VALUE: usize = 8;

fn starts_with_at(chars: &[char], at: usize, prefix: &str) -> bool {
    (at..)
        .zip(prefix.chars())
        .all(|(i, p)| chars.get(i) == Some(&p))
}

pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | '+' | '/')
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_shapes_are_hidden_in_any_text() {
        for (input, want) in [
            (
                "curl -sH 'Authorization: Bearer glpat-AbCdEfGhIjKlMnOpQrSt' https://x",
                "curl -sH 'Authorization: Bearer [REDACTED]' https://x",
            ),
            ("token glrt-0123456789abcdefABCD", "token [REDACTED]"),
            (
                "Authorization: Basic dXNlcjpwYXNz",
                "Authorization: Basic [REDACTED]",
            ),
            (
                "a jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig here",
                "a jwt [REDACTED] here",
            ),
        ] {
            assert_eq!(super::text(input), want, "{input}");
        }
        for kept in [
            "basic auth is off",
            "Basic auth is off",
            "a bearer of news",
            "glpat-short",
            "kubectl create token gitlab-runner -n ci",
        ] {
            assert_eq!(super::text(kept), kept);
        }
    }

    use super::*;

    fn lines(text: &str) -> String {
        let mut arguments = Arguments::default();
        text.lines()
            .map(|line| url_userinfo(&arguments.redact(line)).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn url_userinfo_is_hidden_and_the_host_kept() {
        for (input, want) in [
            (
                "server: \"https://admin:Se'cret1@k8s.example.com:6443\"",
                "server: \"https://[REDACTED]@k8s.example.com:6443\"",
            ),
            (
                "{\"server\":\"https:\\u002f\\u002fadmin:pw@h.example\",\"x\":\"a@b\"}",
                "{\"server\":\"https:\\u002f\\u002f[REDACTED]@h.example\",\"x\":\"a@b\"}",
            ),
            (
                "server: \"https:\\x2f\\x2fadmin:pw@h.example\"",
                "server: \"https:\\x2f\\x2f[REDACTED]@h.example\"",
            ),
            (
                "{\"a\":\"https://host.example\",\"b\":\"user@example.com\"}",
                "{\"a\":\"https://host.example\",\"b\":\"user@example.com\"}",
            ),
            (
                "server: https://admin:Pw0rd@k8s.example.com:6443",
                "server: https://[REDACTED]@k8s.example.com:6443",
            ),
            (
                "host = \"https://u:p@ss@k8s.example.com/api\"",
                "host = \"https://[REDACTED]@k8s.example.com/api\"",
            ),
            (
                "url: https://glpat-abc@gitlab.example",
                "url: https://[REDACTED]@gitlab.example",
            ),
            (
                "{\"server\":\"https:\\/\\/admin:pw@h.example\\/x\"}",
                "{\"server\":\"https:\\/\\/[REDACTED]@h.example\\/x\"}",
            ),
            (
                "a https://u:pa/ss@host.example/p b",
                "a https://[REDACTED]@host.example/p b",
            ),
            (
                "[https://a:b@one.example, https://c:d@two.example]",
                "[https://[REDACTED]@one.example, https://[REDACTED]@two.example]",
            ),
            (
                "https://x.example/?next=https://u:p@y.example",
                "https://x.example/?next=https://[REDACTED]@y.example",
            ),
            (
                "ssh://git@gitlab.com/g/r.git",
                "ssh://[REDACTED]@gitlab.com/g/r.git",
            ),
            ("https://u:p@[::1]:6443/", "https://[REDACTED]@[::1]:6443/"),
        ] {
            assert_eq!(url_userinfo(input), want, "{input}");
            // Twice is once.
            assert_eq!(url_userinfo(want), want, "{want}");
        }
    }

    #[test]
    fn urls_without_userinfo_are_kept() {
        for input in [
            "server: https://k8s.example.com:6443",
            "https://k8s.example.com:6443/api/v1@x",
            "git@gitlab.com:group/repo.git",
            "contact admin@example.com",
            "https://gitlab.example.com/group/repo@main",
            "://x@y",
            "a ://u:p@h",
        ] {
            assert!(matches!(url_userinfo(input), Cow::Borrowed(_)), "{input}");
        }
    }

    #[test]
    fn secret_flags() {
        for flag in [
            "--password",
            "--PASSWORD",
            "-password",
            "--token",
            "--client-secret",
            "--client_secret",
            "--api-key",
            "--apikey",
            "--kubeconfig-token",
            "--auth-token",
            "--db-pwd",
            "--pass",
            "--secret",
            "--key",
            "--basic-auth",
            "--aws-secret-access-key",
            "-p",
            "-P",
        ] {
            assert_eq!(secret_flag(flag), Some(SecretValue::Whole), "{flag}");
        }
        for flag in ["-u", "--user", "--USER"] {
            assert_eq!(secret_flag(flag), Some(SecretValue::AfterColon), "{flag}");
        }
        for word in [
            "--namespace",
            "-n",
            "--token-file",
            "--password-stdin",
            "--service-account-extend-token-expiration",
            "--bypass",
            "--monkey",
            "--cluster-name",
            "-",
            "--",
            "token",
            "password",
            "-1",
            "--user-agent",
            "-pods",
            "--p",
            "--u",
        ] {
            assert_eq!(secret_flag(word), None, "{word}");
        }
    }

    #[test]
    fn argument_values_are_hidden_in_every_list_style() {
        for (input, want) in [
            (
                "args: [\"--password=ArgPw1\", \"--token\", \"ArgTok2\", \"-p\", \"ArgP3\"]",
                "args: [\"--password=[REDACTED]\", \"--token\", \"[REDACTED]\", \"-p\", \"[REDACTED]\"]",
            ),
            (
                "args: [--password=ArgPw1, --token, ArgTok2, -p, ArgP3, -n, ci]",
                "args: [--password=[REDACTED], --token, [REDACTED], -p, [REDACTED], -n, ci]",
            ),
            (
                "args: [--token,Tok2]",
                "args: [--token,[REDACTED]]",
            ),
            (
                "\"args\":[\"--client-secret\",\"a b,c\",\"--namespace=ci\"]",
                "\"args\":[\"--client-secret\",\"[REDACTED]\",\"--namespace=ci\"]",
            ),
            (
                "command: sh -c \"get-token --password hunter2 --verbose\"",
                "command: sh -c \"get-token --password [REDACTED] --verbose\"",
            ),
            (
                "- \"--password=my secret\"",
                "- \"--password=[REDACTED]\"",
            ),
            (
                "x --password=\"my secret\" y",
                "x --password=\"[REDACTED]\" y",
            ),
            (
                "curl -u admin:hunter2 https://x",
                "curl -u admin:[REDACTED] https://x",
            ),
            ("curl -u admin https://x", "curl -u admin https://x"),
            (
                "env DB_PASSWORD=hunter2 API_TOKEN='t k' tool",
                "env DB_PASSWORD=[REDACTED] API_TOKEN='[REDACTED]' tool",
            ),
            (
                "GET https://h.example/x?a=1&access_token=abc123&b=2",
                "GET https://h.example/x?a=1&access_token=[REDACTED]&b=2",
            ),
            (
                "[[runners]] \"x --password NamePw7\": job pods",
                "[[runners]] \"x --password [REDACTED]\": job pods",
            ),
            (
                "--password hunter2: --token Tok9",
                // A value's trailing `:` may be the secret's: hidden with it.
                "--password [REDACTED] --token [REDACTED]",
            ),
            (
                "`get-token --token abc`",
                "`get-token --token [REDACTED]`",
            ),
            (
                "- 'it''s' --password 'a''b' c",
                "- 'it''s' --password '[REDACTED]' c",
            ),
        ] {
            assert_eq!(lines(input), want, "{input}");
            assert_eq!(lines(want), want, "twice: {want}");
        }
    }

    #[test]
    fn a_flag_value_on_the_next_line_is_hidden() {
        let block = "args:\n- --token\n- BlockTok\n- -p\n- \"Block P\"\n- -n\n- ci\nenv: null";
        assert_eq!(
            lines(block),
            "args:\n- --token\n- [REDACTED]\n- -p\n- \"[REDACTED]\"\n- -n\n- ci\nenv: null"
        );
        let json = "\"args\": [\n  \"--password\",\n  \"JsonPw\",\n  \"get\"\n],";
        assert_eq!(
            lines(json),
            "\"args\": [\n  \"--password\",\n  \"[REDACTED]\",\n  \"get\"\n],"
        );
        // A flag with no value before the next key: the key is not taken for one.
        let keyed = "args: [--token]\nenv:\n- name: X\n  value: y";
        assert_eq!(lines(keyed), keyed);
        let json_keyed = "\"args\": [\"--token\"],\n\"env\": []";
        assert_eq!(lines(json_keyed), json_keyed);
    }

    #[test]
    fn ordinary_text_is_kept() {
        for input in [
            "--namespace=ci -n ci",
            "verbs: [\"get\", \"list\", \"watch\", \"create\", \"*\"]",
            "resources: [\"secrets\", \"serviceaccounts/token\", \"pods/exec\"]",
            "kubeconfig user `ci` runs `aws` (looked up through PATH) to get credentials",
            "set `automount_service_account_token = false` and `bearer_token_overwrite_allowed`",
            "--service-account-extend-token-expiration (default true) keeps tokens",
            "kubectl create token gitlab-runner -n ci --duration 1h",
            "tests/hostile/cases/kubeconfig-token-styles.yaml:12:5",
            "ClusterRole `secret-reader` grants `get` on `secrets`",
            "- --token-file\n- /var/run/token",
            "image: registry.example/gitlab-runner:v18.0.0",
            "token: [REDACTED]",
        ] {
            assert_eq!(text(input), input, "{input}");
        }
    }

    /// Lines with no secret argument, many near the shortcut's edges (`-p` inside words, hint
    /// words without a flag); the CLI's tests run the repository's inputs through it too.
    const PLAIN_LINES: &[&str] = &[
        "apiVersion: rbac.authorization.k8s.io/v1",
        "  resources: [\"pods\", \"pods/exec\", \"pods/log\"]",
        "  name: gitlab-runner-pod-reader",
        "- kind: ServiceAccount",
        "    image: registry.example/app-proxy:1.0",
        "  namespace: kube-public",
        "    - --cluster-name",
        "      args: [eks, get-token, --cluster-name, prod]",
        "# comment -p- --p -pp",
        "data:\n  0123456789abcdef",
        "verbs: [\"*\"]",
    ];

    #[test]
    fn the_shortcut_skips_only_lines_the_scan_leaves_alone() {
        let mut skipped = 0;
        for line in PLAIN_LINES {
            if !may_hold_argument(line) {
                skipped += 1;
                assert_eq!(Arguments::default().scan(line), *line, "{line:?}");
            }
            assert_eq!(text(line), *line, "{line:?}");
        }
        assert!(skipped > 5, "{skipped}");
        for hint in [
            "--Password",
            "-p",
            "-U",
            "TOKEN",
            "x_secret",
            "apikey",
            "--user",
        ] {
            assert!(may_hold_argument(&format!("a {hint} b")), "{hint}");
        }
    }

    #[test]
    fn odd_input_never_panics() {
        for input in [
            r"--password=\\",
            r#"--password="\\"#,
            r#""--token\\"#,
            "'--password='''",
            "https://@",
            "https://:@x",
            "x://é:é@é",
            r#"--token "é\é"#,
            "--password=é]]]",
            "-p",
            "--token=[REDACTED",
            "\"[REDACTED",
            "- --token\n- \"",
        ] {
            for cut in (0..=input.len()).filter(|&n| input.is_char_boundary(n)) {
                let _ = text(&input[..cut]);
                let _ = lines(&input[..cut]);
            }
        }
    }

    #[test]
    fn text_redacts_both() {
        assert_eq!(
            text("runs `get --server https://a:b@h.example --token T1`"),
            "runs `get --server https://[REDACTED]@h.example --token [REDACTED]`"
        );
    }
}
