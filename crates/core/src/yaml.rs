//! A span-aware YAML tree, decoded as kubectl decodes it.
//!
//! serde_yaml loses line numbers once a value is deserialised, and every finding must point at a
//! line, so the core builds its own small tree from yaml-rust2's event stream. The builder is
//! iterative (it pulls events one at a time instead of using yaml-rust2's recursive `load`, so
//! 10,000-deep nesting cannot overflow the stack, not even the 1 MiB stack of the wasm policy
//! module), bounds the depth, and expands aliases against a node budget (alias bombs fail
//! instead of exhausting memory). Every bound stops the parse of that file at once with an
//! error at its line; the other files of a run are still checked.
//!
//! kubectl reads manifests with sigs.k8s.io/yaml, which decodes with its fork of goyaml.v2,
//! non-strict, and the tree follows it where the two YAML dialects differ: a repeated key keeps
//! its last value (and is listed in [`Document::duplicates`] for the gate to report), merge
//! keys (`<<`) are resolved where they are written, plain scalars read as YAML 1.1 booleans
//! ([`Node::as_bool`]), and anchors hold within one document.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted. Real manifests rarely pass 20.
pub const MAX_DEPTH: usize = 256;
/// Nodes written in one file. A memory guard only: a 100,000-object `kubectl get -o yaml` dump
/// has about 3 million.
pub const MAX_NODES: usize = 16_000_000;
/// Nodes that aliases expand to, plus the anchored nodes kept for them, in one file.
pub const MAX_ALIAS_NODES: usize = 2_000_000;
/// Mappings with more entries than this look duplicate keys up in an index instead of scanning
/// (a ConfigMap with 200,000 keys must not take quadratic time).
const INDEX_KEYS_FROM: usize = 16;

/// 1-based line and column of a node's first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// A scalar and its quoting style; plain scalars are typed on use (`true`, numbers).
    Str(String, Style),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    /// `|` block; the node's position is that of its first content line.
    Literal,
    Folded,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    /// Line of the last character (for multi-line spans such as a whole rule).
    pub end_line: u32,
    pub value: Value,
}

/// A parse failure with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

/// One document of a YAML stream.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document as kubectl decodes it: of a repeated key, the last value.
    pub root: Node,
    /// Keys this document sets more than once, in the order they were replaced.
    pub duplicates: Vec<Duplicate>,
}

/// A key set twice in one mapping. goyaml.v2 decodes non-strict into a Go map, so the later
/// value silently replaces the earlier (kubectl applies it without a word); a reader of the
/// file, or a strict YAML tool, may take the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The field: `metadata.name`, `subjects[0].name`, `items`, `data["config.toml"]`.
    pub path: String,
    /// The key whose value is dropped.
    pub dropped: Pos,
    /// The key whose value applies: the repeated key, or the merge key `<<` written after it.
    pub applied: Pos,
    /// Whether a merge key written after the key replaced it (goyaml.v2 applies a merge where
    /// it is written; YAML 1.2 tools keep the explicit key).
    pub by_merge: bool,
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node of `key`, for pointing at a field name.
    pub fn key_node(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, _)| k),
            _ => None,
        }
    }

    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s, _) => Some(s),
            _ => None,
        }
    }

    /// Scalar as a string, or "" for null.
    pub fn str_or_empty(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s, _) => Some(s),
            Value::Null => Some(""),
            _ => None,
        }
    }

    /// The line holding the first line of this scalar's text. A literal block (`|`) keeps
    /// its leading empty lines in its value, but is positioned at its first non-empty line.
    pub fn text_first_line(&self) -> u32 {
        match &self.value {
            Value::Str(text, Style::Literal) => {
                let blank = text.bytes().take_while(|b| *b == b'\n').count();
                self.pos
                    .line
                    .saturating_sub(u32::try_from(blank).unwrap_or(u32::MAX))
                    .max(1)
            }
            _ => self.pos.line,
        }
    }

    /// A plain scalar read as a boolean the way goyaml.v2 resolves it (resolve.go's table,
    /// YAML 1.1: `y`, `yes`, `on`, `n`, `no`, `off` besides `true`/`false`, each in lower,
    /// capitalised and upper case). A quoted `"yes"` is a string.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Str(s, Style::Plain) => match s.as_str() {
                "true" | "True" | "TRUE" | "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On"
                | "ON" => Some(true),
                "false" | "False" | "FALSE" | "n" | "N" | "no" | "No" | "NO" | "off" | "Off"
                | "OFF" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match &self.value {
            Value::Str(s, Style::Plain) => s.parse().ok(),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// A list of strings; a lone scalar counts as a one-item list and null as empty.
    pub fn string_list(&self) -> Vec<(String, Pos)> {
        match &self.value {
            Value::Seq(items) => items
                .iter()
                .filter_map(|n| n.str_or_empty().map(|s| (s.to_string(), n.pos)))
                .collect(),
            Value::Str(s, _) => vec![(s.clone(), self.pos)],
            _ => Vec::new(),
        }
    }

    /// Map entries whose key is a string, as (key, value) pairs.
    pub fn string_entries(&self) -> Vec<(&str, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .filter_map(|(k, v)| k.as_str().map(|k| (k, v)))
                .collect(),
            _ => Vec::new(),
        }
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
        /// Items finished so far, handed over or kept: the index of the one being built.
        seen: usize,
    },
    Map(MapFrame),
}

struct MapFrame {
    pos: Pos,
    anchor: usize,
    entries: Vec<(Node, Node)>,
    pending_key: Option<Node>,
    /// Whether the pending key is a merge key (`<<`).
    pending_merge: bool,
    /// Entry index of each string key, once the mapping has [`INDEX_KEYS_FROM`] entries.
    index: Option<BTreeMap<String, usize>>,
    /// Keys whose value came from a merge key. An explicit key written after the merge
    /// replaces such a value: that is how merges are meant to be used, not a duplicate.
    merged: BTreeSet<String>,
    /// Position of the first key written, and the last line of any value: entries can be
    /// replaced in place and merged entries keep the positions of their anchor.
    first_key: Option<Pos>,
    end_line: u32,
}

/// A key set more than once in a mapping, for the caller to report: keys replaced this way
/// no longer appear in the tree.
struct Replaced {
    key: String,
    dropped: Pos,
    applied: Pos,
    by_merge: bool,
}

impl MapFrame {
    fn new(pos: Pos, anchor: usize) -> MapFrame {
        MapFrame {
            pos,
            anchor,
            entries: Vec::new(),
            pending_key: None,
            pending_merge: false,
            index: None,
            merged: BTreeSet::new(),
            first_key: None,
            end_line: pos.line,
        }
    }

    fn find(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self
                .entries
                .iter()
                .position(|(existing, _)| existing.as_str() == Some(key)),
        }
    }

    /// Sets `key` to `value`, the last value winning as in goyaml.v2's non-strict decoding
    /// (`d.setMapIndex`, a plain Go map assignment). Returns the position of the key it
    /// replaced. Keys that are not strings (rare in manifests) are not compared.
    fn set(&mut self, key: Node, value: Node) -> Option<Pos> {
        match key.as_str().map(|name| self.find(name)) {
            Some(Some(i)) => {
                let dropped = self.entries[i].0.pos;
                self.entries[i] = (key, value);
                Some(dropped)
            }
            found => {
                if let (Some(None), Some(index), Some(name)) =
                    (found, self.index.as_mut(), key.as_str())
                {
                    index.insert(name.to_string(), self.entries.len());
                }
                self.entries.push((key, value));
                if self.index.is_none() && self.entries.len() >= INDEX_KEYS_FROM {
                    self.index = Some(
                        self.entries
                            .iter()
                            .enumerate()
                            .filter_map(|(i, (k, _))| k.as_str().map(|s| (s.to_string(), i)))
                            .collect(),
                    );
                }
                None
            }
        }
    }

    /// An explicit `key: value`.
    fn set_explicit(&mut self, key: Node, value: Node) -> Option<Replaced> {
        let was_merged =
            !self.merged.is_empty() && key.as_str().is_some_and(|k| self.merged.remove(k));
        let applied = key.pos;
        let name = key.as_str().map(str::to_string);
        let dropped = self.set(key, value)?;
        // A merged value overridden by a key written after the merge is the merge idiom.
        (!was_merged).then(|| Replaced {
            key: name.unwrap_or_default(),
            dropped,
            applied,
            by_merge: false,
        })
    }

    /// A merge key (`<<`) and its value, as goyaml.v2 decodes it (decode.go, `merge` and
    /// `mapping`, gopkg.in/yaml.v2 2.4.0, which sigs.k8s.io/yaml forks as goyaml.v2): the
    /// merge is applied where it is written, so it replaces keys written before it and keys
    /// written after it replace what it merged; of a sequence of mappings, the earlier
    /// mappings win ("Step backwards as earlier nodes take precedence"). Anything but a
    /// mapping or a sequence of mappings is an error there ("map merge requires map or
    /// sequence of maps as the value"), and so here.
    fn merge(&mut self, at: Pos, value: Node) -> Result<Vec<Replaced>, ()> {
        let sources = match value.value {
            Value::Map(_) => vec![value],
            Value::Seq(items) if items.iter().all(|i| matches!(i.value, Value::Map(_))) => items,
            _ => return Err(()),
        };
        let from_sequence = sources.len() > 1;
        let mut set_by_this_merge = BTreeSet::new();
        let mut replaced = Vec::new();
        for source in sources {
            let Value::Map(entries) = source.value else {
                continue;
            };
            for (key, value) in entries {
                let Some(name) = key.as_str().map(str::to_string) else {
                    self.entries.push((key, value));
                    continue;
                };
                if from_sequence && !set_by_this_merge.insert(name.clone()) {
                    continue;
                }
                if let Some(dropped) = self.set(key, value) {
                    replaced.push(Replaced {
                        key: name.clone(),
                        dropped,
                        applied: at,
                        by_merge: true,
                    });
                }
                self.merged.insert(name);
            }
        }
        Ok(replaced)
    }
}

/// What [`parse_stream_each`] hands over, in input order.
#[derive(Debug)]
pub enum Streamed {
    /// One item of a document's top-level `items:` sequence (a `kind: List` dump), handed over
    /// as soon as it is complete so that the whole list never has to be in memory at once. The
    /// document keeps an empty `items` sequence in its place.
    ///
    /// A later `items` key (or a merge key holding one) replaces the sequence, as kubectl
    /// reads it: the document then lists a [`Duplicate`] at path `items`, and the items
    /// handed over are not what kubectl applies.
    Item(Node),
    /// A finished document, and how many of its `items` were handed over before it.
    Document(Document, usize),
}

struct Builder<'s> {
    stack: Vec<Frame>,
    /// Where finished documents (and, with `stream_items`, list items) go.
    each: &'s mut dyn FnMut(Streamed),
    /// Whether a document's top-level `items` are handed over one by one.
    stream_items: bool,
    /// List items handed over in the current document.
    streamed: usize,
    /// Last line of the last item handed over, for the end line of the emptied sequence.
    streamed_end: u32,
    /// Anchored nodes of the current document, by yaml-rust2's anchor id (unique per stream; a
    /// redefined anchor name gets a new id).
    anchors: HashMap<usize, Node>,
    /// Keys set twice in the current document.
    duplicates: Vec<Duplicate>,
    nodes: usize,
    alias_nodes: usize,
    last_line: u32,
    error: Option<YamlError>,
}

fn pos_of(mark: Marker) -> Pos {
    Pos {
        line: u32::try_from(mark.line()).unwrap_or(u32::MAX),
        col: u32::try_from(mark.col() + 1).unwrap_or(u32::MAX),
    }
}

fn node_count(node: &Node) -> usize {
    // Iterative so that a deep aliased tree cannot overflow the stack.
    let mut count = 0;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.value {
            Value::Seq(items) => todo.extend(items.iter()),
            Value::Map(entries) => {
                for (k, v) in entries {
                    todo.push(k);
                    todo.push(v);
                }
            }
            _ => {}
        }
    }
    count
}

/// Appends a key to a field path: `.name`, or `["app.kubernetes.io/name"]` when the key
/// would be ambiguous written bare.
fn push_key(path: &mut String, key: &str) {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'));
    if bare {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push_str(&format!("[{key:?}]"));
    }
}

/// Whether a key scalar is a merge key: a plain `<<` or one tagged `!!merge` (goyaml.v2's
/// `isMerge`: the value `<<`, implicit or with the merge tag; a quoted `"<<"` is a string).
fn is_merge_key(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> bool {
    text == "<<"
        && match tag {
            None => style == TScalarStyle::Plain,
            Some(tag) => tag.handle == "tag:yaml.org,2002:" && tag.suffix == "merge",
        }
}

impl Builder<'_> {
    fn emit(&mut self, root: Node) {
        let duplicates = std::mem::take(&mut self.duplicates);
        (self.each)(Streamed::Document(
            Document { root, duplicates },
            self.streamed,
        ));
        self.streamed = 0;
    }

    /// Whether a node finished now is an item of the document's top-level `items:` sequence,
    /// and items are being streamed. An anchored sequence is kept whole (an alias may copy it),
    /// and so is a second `items:` (kubectl applies it; the first one's items went out).
    fn streams_item(&self) -> bool {
        let [Frame::Map(
            map @ MapFrame {
                pending_key: Some(key),
                ..
            },
        ), Frame::Seq { anchor: 0, .. }] = self.stack.as_slice()
        else {
            return false;
        };
        self.stream_items && key.as_str() == Some("items") && map.find("items").is_none()
    }

    /// The path of the field a mapping on top of the stack is building: `subjects[0]`.
    fn path_here(&self) -> String {
        let mut path = String::new();
        for frame in &self.stack[..self.stack.len().saturating_sub(1)] {
            match frame {
                Frame::Map(map) => match map.pending_key.as_ref().and_then(Node::as_str) {
                    Some(key) => push_key(&mut path, key),
                    None => path.push_str("[?]"),
                },
                Frame::Seq { seen, .. } => path.push_str(&format!("[{seen}]")),
            }
        }
        path
    }

    fn fail(&mut self, pos: Pos, message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                line: pos.line,
                col: pos.col,
                message,
            });
        }
    }

    /// Charges `count` nodes copied for anchors and aliases; false (and an error) past the
    /// budget.
    fn charge_alias(&mut self, pos: Pos, count: usize) -> bool {
        self.alias_nodes = self.alias_nodes.saturating_add(count);
        if self.alias_nodes > MAX_ALIAS_NODES {
            self.fail(
                pos,
                format!(
                    "YAML aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?)"
                ),
            );
            return false;
        }
        true
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            // The anchored tree is kept (copied) until the document ends: that costs too, and
            // nested anchors around a big node would otherwise multiply it unseen.
            if !self.charge_alias(node.pos, node_count(&node)) {
                return;
            }
            self.anchors.insert(anchor, node.clone());
        }
        if self.streams_item() {
            self.streamed += 1;
            self.streamed_end = node.end_line;
            if let Some(Frame::Seq { seen, .. }) = self.stack.last_mut() {
                *seen += 1;
            }
            (self.each)(Streamed::Item(node));
            return;
        }
        let replaced = match self.stack.last_mut() {
            // An empty document (a trailing `---`) holds nothing to check.
            None if node.is_null() => return,
            None => return self.emit(node),
            Some(Frame::Seq { items, seen, .. }) => {
                items.push(node);
                *seen += 1;
                return;
            }
            Some(Frame::Map(map)) => match map.pending_key.take() {
                None => {
                    map.first_key.get_or_insert(node.pos);
                    map.pending_key = Some(node);
                    return;
                }
                Some(key) => {
                    map.end_line = map.end_line.max(node.end_line);
                    if std::mem::take(&mut map.pending_merge) {
                        match map.merge(key.pos, node) {
                            Ok(replaced) => replaced,
                            Err(()) => {
                                return self.fail(
                                    key.pos,
                                    "a merge key `<<` needs a mapping or a list of mappings as its value; kubectl rejects this document (map merge requires map or sequence of maps)".to_string(),
                                )
                            }
                        }
                    } else {
                        map.set_explicit(key, node).into_iter().collect()
                    }
                }
            },
        };
        if !replaced.is_empty() {
            let here = self.path_here();
            for r in replaced {
                let mut path = here.clone();
                push_key(&mut path, &r.key);
                self.duplicates.push(Duplicate {
                    path,
                    dropped: r.dropped,
                    applied: r.applied,
                    by_merge: r.by_merge,
                });
            }
        }
    }
}

impl Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = pos_of(mark);
        self.last_line = self.last_line.max(pos.line);
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            self.fail(pos, format!("more than {MAX_NODES} YAML nodes in one file"));
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(Frame::Map(
                    map @ MapFrame {
                        pending_key: None, ..
                    },
                )) = self.stack.last_mut()
                {
                    map.pending_merge = is_merge_key(&text, style, tag.as_ref());
                }
                let is_null = style == TScalarStyle::Plain
                    && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
                    && tag.is_none();
                let style = match style {
                    TScalarStyle::Plain => Style::Plain,
                    TScalarStyle::Literal => Style::Literal,
                    TScalarStyle::Folded => Style::Folded,
                    _ => Style::Quoted,
                };
                // A tagged string (`!!str 123`) is a string whatever its look.
                let style = if tag.is_some() && style == Style::Plain {
                    Style::Quoted
                } else {
                    style
                };
                let lines =
                    u32::try_from(text.trim_end_matches('\n').matches('\n').count()).unwrap_or(0);
                let end_line = match style {
                    Style::Literal | Style::Folded => pos.line + lines,
                    _ => pos.line,
                };
                let value = if is_null {
                    Value::Null
                } else {
                    Value::Str(text, style)
                };
                self.finish(
                    Node {
                        pos,
                        end_line,
                        value,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(pos, format!("nesting deeper than {MAX_DEPTH} levels"));
                    return;
                }
                self.stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                    seen: 0,
                });
            }
            Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(pos, format!("nesting deeper than {MAX_DEPTH} levels"));
                    return;
                }
                self.stack.push(Frame::Map(MapFrame::new(pos, anchor)));
            }
            Event::SequenceEnd => {
                let streamed_items = self.streams_item().then_some(self.streamed_end);
                if let Some(Frame::Seq {
                    pos,
                    anchor,
                    mut items,
                    ..
                }) = self.stack.pop()
                {
                    // Growth by doubling leaves up to half of each vector unused; a collected
                    // kind: List dump keeps its whole tree alive at once, so the slack is given
                    // back.
                    items.shrink_to_fit();
                    let end_line = items
                        .last()
                        .map(|n| n.end_line)
                        .or(streamed_items.filter(|_| self.streamed > 0))
                        .unwrap_or(pos.line);
                    self.finish(
                        Node {
                            pos,
                            end_line,
                            value: Value::Seq(items),
                        },
                        anchor,
                    );
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(MapFrame {
                    pos,
                    anchor,
                    mut entries,
                    first_key,
                    end_line,
                    ..
                })) = self.stack.pop()
                {
                    entries.shrink_to_fit();
                    // yaml-rust2 marks a block mapping's start at its first `:`; the mapping
                    // really starts at its first key.
                    let pos = first_key
                        .filter(|k| (k.line, k.col) < (pos.line, pos.col))
                        .unwrap_or(pos);
                    self.finish(
                        Node {
                            pos,
                            end_line,
                            value: Value::Map(entries),
                        },
                        anchor,
                    );
                }
            }
            Event::Alias(id) => {
                let Some(count) = self.anchors.get(&id).map(node_count) else {
                    self.fail(pos, "alias to an unknown anchor".to_string());
                    return;
                };
                // Expanding an alias copies the anchored tree; count what it costs (before
                // copying) so that "billion laughs" documents stop at the budget instead of
                // eating memory.
                if !self.charge_alias(pos, count) {
                    return;
                }
                let Some(mut node) = self.anchors.get(&id).cloned() else {
                    return;
                };
                node.pos = pos;
                node.end_line = pos.line;
                self.finish(node, 0);
            }
            Event::DocumentEnd => {
                // A document holding nothing at all (`---` then `---`) yields no node.
            }
            // Anchors are scoped to their document.
            Event::DocumentStart => self.anchors.clear(),
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
}

/// Parses a YAML stream (JSON too: it is YAML 1.2 flow syntax) into documents.
pub fn parse_stream(text: &str) -> Result<Vec<Document>, YamlError> {
    let mut docs = Vec::new();
    parse_with(text, false, &mut |streamed| {
        if let Streamed::Document(doc, _) = streamed {
            docs.push(doc);
        }
    })?;
    Ok(docs)
}

/// Parses a YAML stream and hands each document to `each` as soon as it is complete, and each
/// item of a document's top-level `items:` sequence before that (see [`Streamed`]). Memory then
/// holds one object's tree at a time instead of the whole file's.
///
/// The checks are the same as [`parse_stream`]'s, but an error can come after some documents
/// were handed over: a caller that must treat a broken file as a whole (the gate does) stages
/// what it builds from them and drops it on `Err`.
pub fn parse_stream_each(text: &str, each: &mut dyn FnMut(Streamed)) -> Result<(), YamlError> {
    parse_with(text, true, each)
}

fn parse_with(
    text: &str,
    stream_items: bool,
    each: &mut dyn FnMut(Streamed),
) -> Result<(), YamlError> {
    // yaml-rust2 takes a NUL for the end of the input and accepts other control characters;
    // Kubernetes' YAML decoder rejects them. Without this check a NUL would silently hide the
    // rest of the file from the gate (and a UTF-16 file, all NULs, would read as empty).
    if let Some(at) = forbidden_char(text) {
        let (line, col) = line_col(text, at);
        let c = text[at..].chars().next().unwrap_or('\0');
        let what = if c == '\0' {
            "a NUL character (a binary or UTF-16 file? rbac-gate reads UTF-8 text)".to_string()
        } else {
            format!("the control character U+{:04X}", u32::from(c))
        };
        return Err(YamlError {
            line,
            col,
            message: format!("{what}: YAML does not allow it"),
        });
    }
    let cleaned;
    let text = if text.contains('\u{feff}') {
        cleaned = strip_document_boms(text);
        cleaned.as_str()
    } else {
        text
    };
    let mut builder = Builder {
        stack: Vec::new(),
        each,
        stream_items,
        streamed: 0,
        streamed_end: 0,
        anchors: HashMap::new(),
        nodes: 0,
        alias_nodes: 0,
        duplicates: Vec::new(),
        last_line: 0,
        error: None,
    };
    // Events are pulled one at a time: yaml-rust2's `Parser::load` recurses once per nesting
    // level, which overflows a small stack long before the depth check could stop it.
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(next) => next,
            Err(e) => {
                let m = e.marker();
                return Err(YamlError {
                    line: u32::try_from(m.line()).unwrap_or(0),
                    col: u32::try_from(m.col().saturating_add(1)).unwrap_or(0),
                    message: e.info().to_string(),
                });
            }
        };
        let end = event == Event::StreamEnd;
        builder.on_event(event, mark);
        if let Some(err) = builder.error {
            return Err(err);
        }
        if end {
            break;
        }
    }
    Ok(())
}

/// Byte offset of the first character YAML streams may not hold: C0 controls other than tab,
/// line feed and carriage return, DEL, C1 controls other than NEL, U+FFFE and U+FFFF.
fn forbidden_char(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    // UTF-8 continuation bytes (0x80-0xBF) never match a lead byte tested here.
    (0..b.len()).find(|&i| match b[i] {
        b'\t' | b'\n' | b'\r' => false,
        0x00..=0x1f | 0x7f => true,
        0xc2 => matches!(b.get(i + 1), Some(0x80..=0x84 | 0x86..=0x9f)),
        0xef => b.get(i + 1) == Some(&0xbf) && matches!(b.get(i + 2), Some(0xbe | 0xbf)),
        _ => false,
    })
}

/// 1-based line and column of a byte offset, counting line breaks as YAML does (`\r\n`, `\n`
/// or a lone `\r`).
fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let (mut line, mut col) = (1usize, 1usize);
    let mut prev_cr = false;
    for c in text.get(..offset).unwrap_or("").chars() {
        match c {
            '\n' if prev_cr => {}
            '\n' | '\r' => {
                line += 1;
                col = 1;
            }
            _ => col += 1,
        }
        prev_cr = c == '\r';
    }
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

/// Drops byte-order marks at the start of the text and of any line. Kubernetes splits a stream
/// at `---` and decodes each document on its own, so a BOM opening a later document is read as
/// a BOM there; yaml-rust2 would make it part of the first key (`\u{feff}apiVersion`), and the
/// object would silently go unchecked.
fn strip_document_boms(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut line_start = true;
    for c in text.chars() {
        if !(c == '\u{feff}' && line_start) {
            out.push(c);
        }
        line_start = c == '\n' || c == '\r';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything a streaming parse hands over, in order.
    fn streamed(text: &str) -> Result<Vec<Streamed>, YamlError> {
        let mut got = Vec::new();
        parse_stream_each(text, &mut |s| got.push(s))?;
        Ok(got)
    }

    const LIST: &str = "apiVersion: v1\nitems:\n- kind: Role\n  metadata: {name: a}\n- kind: ServiceAccount\n  metadata:\n    name: b\n- plain\nkind: List\n---\nkind: Role\n";

    #[test]
    fn streaming_hands_over_list_items_as_the_collected_tree_has_them() {
        let collected = parse_stream(LIST).expect("parses");
        let items = collected[0]
            .root
            .get("items")
            .and_then(Node::as_seq)
            .expect("items");
        let got = streamed(LIST).expect("parses");
        assert_eq!(got.len(), 5, "{got:?}");
        for (i, item) in items.iter().enumerate() {
            match &got[i] {
                Streamed::Item(node) => assert_eq!(node, item),
                other => panic!("expected item {i}, got {other:?}"),
            }
        }
        let Streamed::Document(list, 3) = &got[3] else {
            panic!("expected the list document after its 3 items: {:?}", got[3]);
        };
        // The same document, with the items taken out, ending where it ended.
        assert_eq!(list.root.get("items").and_then(Node::as_seq), Some(&[][..]));
        assert_eq!(list.root.get("kind"), collected[0].root.get("kind"));
        assert_eq!(list.root.end_line, collected[0].root.end_line);
        assert_eq!(
            list.root.get("items").map(|n| n.end_line),
            collected[0].root.get("items").map(|n| n.end_line)
        );
        match &got[4] {
            Streamed::Document(doc, 0) => assert_eq!(doc.root, collected[1].root),
            other => panic!("expected the second document, got {other:?}"),
        }
    }

    #[test]
    fn only_top_level_unanchored_items_stream() {
        for text in [
            // `items` below the top
            "kind: X\nspec:\n  items:\n  - a\n  - b\n",
            // an anchored sequence may be copied by an alias, so it stays whole
            "kind: List\nitems: &all\n- a\n- b\ncopy: *all\n",
            // `items` that is a mapping
            "kind: List\nitems:\n  a: b\n",
        ] {
            let collected = parse_stream(text).expect("parses");
            let got = streamed(text).expect("parses");
            assert_eq!(got.len(), 1, "{text}: {got:?}");
            match &got[0] {
                Streamed::Document(doc, 0) => assert_eq!(doc.root, collected[0].root, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn streaming_reports_the_same_errors_after_items_were_handed_over() {
        // The bad merge key is in the last item, after two items went out.
        let text = "kind: List\nitems:\n- a: 1\n- b: 2\n- c: 3\n  <<: 4\n";
        let collected = parse_stream(text).expect_err("bad merge");
        let mut items = 0;
        let streamed_err = parse_stream_each(text, &mut |s| {
            if matches!(s, Streamed::Item(_)) {
                items += 1;
            }
        })
        .expect_err("bad merge");
        assert_eq!(streamed_err, collected);
        assert_eq!((collected.line, items), (6, 2));
    }

    #[test]
    fn a_repeated_items_key_replaces_the_streamed_items_and_says_so() {
        // Found by fuzzing (then as a split document). kubectl keeps the second `items`; the
        // first one's items went out already, and the document says they were replaced, so
        // that the caller reads the file again whole.
        let text = "kind: List\nitems: [a]\nitems: [b]\n";
        let collected = parse_stream(text).expect("parses");
        assert_eq!(collected.len(), 1);
        let items = collected[0].root.get("items").and_then(Node::as_seq);
        assert_eq!(items.map(|i| i.len()), Some(1));
        assert_eq!(items.and_then(|i| i[0].as_str()), Some("b"));
        let got = streamed(text).expect("parses");
        assert!(
            matches!(&got[0], Streamed::Item(n) if n.as_str() == Some("a")),
            "{got:?}"
        );
        match &got[1] {
            Streamed::Document(doc, 1) => {
                assert_eq!(doc.root, collected[0].root);
                assert_eq!(doc.duplicates, collected[0].duplicates);
                assert_eq!(doc.duplicates[0].path, "items");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn documents_stream_one_by_one_in_order() {
        let text = "a: 1\n---\nb: 2\nb: 3\n---\n";
        let collected = parse_stream(text).expect("parses");
        let got = streamed(text).expect("parses");
        let docs: Vec<&Document> = got
            .iter()
            .map(|s| match s {
                Streamed::Document(doc, 0) => doc,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(docs.len(), collected.len());
        for (a, b) in docs.iter().zip(&collected) {
            assert_eq!(a.root, b.root);
            assert_eq!(a.duplicates, b.duplicates);
        }
    }

    #[test]
    fn positions_are_one_based() {
        let docs = parse_stream("a: 1\nb:\n  - x\n  - y\n").expect("parses");
        let root = &docs[0].root;
        assert_eq!(
            root.key_node("b").map(|n| n.pos),
            Some(Pos { line: 2, col: 1 })
        );
        let items = root.get("b").and_then(Node::as_seq).expect("seq");
        assert_eq!(items[1].pos, Pos { line: 4, col: 5 });
    }

    #[test]
    fn block_mappings_start_at_their_first_key() {
        let docs = parse_stream("kind: RoleBinding\nroleRef:\n  apiGroup: x\n  kind: Role\n")
            .expect("parses");
        assert_eq!(docs[0].root.pos, Pos { line: 1, col: 1 });
        let rr = docs[0].root.get("roleRef").expect("roleRef");
        assert_eq!((rr.pos, rr.end_line), (Pos { line: 3, col: 3 }, 4));
    }

    #[test]
    fn multi_document_and_bom() {
        let docs = parse_stream("\u{feff}a: 1\n---\nb: 2\n---\n").expect("parses");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].root.pos.line, 3);
    }

    fn one(text: &str) -> Document {
        let mut docs = parse_stream(text).expect("parses");
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.remove(0)
    }

    fn str_at<'a>(root: &'a Node, path: &[&str]) -> Option<&'a str> {
        root.path(path).and_then(Node::as_str)
    }

    #[test]
    fn a_duplicate_key_keeps_its_last_value_and_is_listed() {
        let doc = one("metadata:\n  name: a\n  namespace: ci\n  name: b\n");
        assert_eq!(str_at(&doc.root, &["metadata", "name"]), Some("b"));
        assert_eq!(
            doc.root
                .path(&["metadata"])
                .and_then(Node::as_map)
                .map(<[_]>::len),
            Some(2)
        );
        // The key node is the applied one, for findings that point at the field.
        let key = doc.root.get("metadata").and_then(|m| m.key_node("name"));
        assert_eq!(key.map(|k| k.pos.line), Some(4));
        assert_eq!(
            doc.duplicates,
            [Duplicate {
                path: "metadata.name".into(),
                dropped: Pos { line: 2, col: 3 },
                applied: Pos { line: 4, col: 3 },
                by_merge: false,
            }]
        );
    }

    #[test]
    fn duplicate_paths_name_list_items_and_dotted_keys() {
        let doc = one("subjects:\n- {kind: User, name: a}\n- {kind: User, name: b, name: c}\nlabels: {app.kubernetes.io/name: x, app.kubernetes.io/name: y}\n");
        let paths: Vec<&str> = doc.duplicates.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            ["subjects[1].name", "labels[\"app.kubernetes.io/name\"]"]
        );
        // In a streamed List too, where the items are handed over instead of kept.
        let text = "kind: List\nitems:\n- a: 1\n- a: 2\n  a: 3\n";
        let got = streamed(text).expect("parses");
        let Some(Streamed::Document(doc, 2)) = got.last() else {
            panic!("{got:?}");
        };
        assert_eq!(doc.duplicates[0].path, "items[1].a");
        assert_eq!(doc.duplicates, one(text).duplicates);
    }

    #[test]
    fn a_repeated_top_level_key_is_one_object_as_kubectl_applies_it() {
        // No longer split into two objects: kubectl applies one, the last values of each key.
        let doc = one(
            "kind: ServiceAccount\nmetadata: {name: a}\nkind: ClusterRole\nmetadata: {name: b}\n",
        );
        assert_eq!(str_at(&doc.root, &["kind"]), Some("ClusterRole"));
        assert_eq!(str_at(&doc.root, &["metadata", "name"]), Some("b"));
        let lines: Vec<(u32, u32)> = doc
            .duplicates
            .iter()
            .map(|d| (d.dropped.line, d.applied.line))
            .collect();
        assert_eq!(lines, [(1, 3), (2, 4)]);
        // The document still spans all four lines, starting at its first key.
        assert_eq!((doc.root.pos.line, doc.root.end_line), (1, 4));
    }

    #[test]
    fn a_merge_key_resolves_an_alias_to_a_mapping() {
        let doc = one("admin: &admin {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nroleRef: {<<: *admin}\n");
        assert_eq!(
            str_at(&doc.root, &["roleRef", "name"]),
            Some("cluster-admin")
        );
        assert_eq!(str_at(&doc.root, &["roleRef", "kind"]), Some("ClusterRole"));
        assert!(doc.root.path(&["roleRef", "<<"]).is_none());
        assert!(doc.duplicates.is_empty());
        // Inline, and tagged `!!merge`; a quoted "<<" is an ordinary key.
        let doc = one("a: {<<: {x: 1}}\nb: {!!merge <<: {x: 2}}\nc: {\"<<\": {x: 3}}\n");
        assert_eq!(str_at(&doc.root, &["a", "x"]), Some("1"));
        assert_eq!(str_at(&doc.root, &["b", "x"]), Some("2"));
        assert!(doc.root.path(&["c", "x"]).is_none());
        assert!(doc.root.path(&["c", "<<", "x"]).is_some());
    }

    #[test]
    fn merges_apply_in_document_order_as_goyaml_v2_does() {
        // Keys after the merge override it (the usual idiom, not a duplicate)...
        let doc = one("base: &b {name: a, kind: Role}\nref:\n  <<: *b\n  name: c\n");
        assert_eq!(str_at(&doc.root, &["ref", "name"]), Some("c"));
        assert_eq!(str_at(&doc.root, &["ref", "kind"]), Some("Role"));
        assert!(doc.duplicates.is_empty(), "{:?}", doc.duplicates);
        // ...and a merge after a key overrides it (YAML 1.2 tools would keep `c`): reported.
        let doc = one("base: &b {name: a, kind: Role}\nref:\n  name: c\n  <<: *b\n");
        assert_eq!(str_at(&doc.root, &["ref", "name"]), Some("a"));
        assert_eq!(
            doc.duplicates,
            [Duplicate {
                path: "ref.name".into(),
                dropped: Pos { line: 3, col: 3 },
                applied: Pos { line: 4, col: 3 },
                by_merge: true,
            }]
        );
    }

    #[test]
    fn of_a_sequence_of_merged_mappings_the_earlier_wins() {
        let doc =
            one("a: &a {name: first, x: 1}\nb: &b {name: second, y: 2}\nc:\n  <<: [*a, *b]\n");
        assert_eq!(str_at(&doc.root, &["c", "name"]), Some("first"));
        assert_eq!(str_at(&doc.root, &["c", "x"]), Some("1"));
        assert_eq!(str_at(&doc.root, &["c", "y"]), Some("2"));
        assert!(doc.duplicates.is_empty(), "{:?}", doc.duplicates);
        // Merges nest: a merged mapping's own merges are already resolved.
        let doc = one("a: &a {name: x}\nb: &b {<<: *a, kind: Role}\nc: {<<: *b}\n");
        assert_eq!(str_at(&doc.root, &["c", "name"]), Some("x"));
        assert_eq!(str_at(&doc.root, &["c", "kind"]), Some("Role"));
    }

    #[test]
    fn a_merge_of_anything_but_mappings_is_an_error_as_in_kubectl() {
        for (text, line) in [
            ("a: {<<: 1}\n", 1),
            ("x: &x [1]\na:\n  <<: *x\n", 3),
            ("a:\n  b: 1\n  <<: [{c: 1}, 2]\n", 3),
            ("a:\n  <<:\n", 2),
        ] {
            let err = parse_stream(text).expect_err(text);
            assert_eq!(err.line, line, "{text}: {err:?}");
            assert!(err.message.contains("merge key"), "{}", err.message);
        }
    }

    #[test]
    fn anchors_hold_within_their_document() {
        let err = parse_stream("a: &x {name: n}\n---\nb: {<<: *x}\n").expect_err("anchor");
        assert_eq!(err.line, 3, "{err:?}");
    }

    #[test]
    fn booleans_read_as_goyaml_v2_resolves_them() {
        let doc = one("t: [y, Y, yes, Yes, YES, on, On, ON, true, True, TRUE]\nf: [n, N, no, No, NO, off, Off, OFF, false, False, FALSE]\ns: [\"yes\", 'no', yEs, oN, 1, 0, ~]\n");
        let values = |key: &str| -> Vec<Option<bool>> {
            doc.root
                .get(key)
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .map(Node::as_bool)
                .collect()
        };
        assert!(
            values("t").iter().all(|b| *b == Some(true)),
            "{:?}",
            values("t")
        );
        assert!(
            values("f").iter().all(|b| *b == Some(false)),
            "{:?}",
            values("f")
        );
        assert!(values("s").iter().all(Option::is_none), "{:?}", values("s"));
        assert_eq!(values("t").len() + values("f").len(), 22);
    }

    #[test]
    fn alias_bomb_is_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse_stream(&text).expect_err("bomb");
        assert!(err.message.contains("alias"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = parse_stream(&text).expect_err("deep");
        assert!(err.line >= 1, "{err:?}");
    }

    #[test]
    fn control_characters_are_errors_with_their_position() {
        // A NUL would otherwise end the input early and hide what follows.
        let err =
            parse_stream("kind: Role\nmetadata:\n  name: a\u{0}b\nrules: []\n").expect_err("NUL");
        assert_eq!((err.line, err.col), (3, 10), "{err:?}");
        assert!(err.message.contains("NUL"), "{}", err.message);
        let err = parse_stream("a: 1\r\nb: \u{1b}[2J\n").expect_err("ESC");
        assert_eq!((err.line, err.col), (2, 4), "{err:?}");
        assert!(err.message.contains("U+001B"), "{}", err.message);
        let err = parse_stream("a: 1\rb: \u{9b}\n").expect_err("C1");
        assert_eq!(err.line, 2, "{err:?}");
        // Tabs, NEL and ordinary non-ASCII text are fine.
        assert!(parse_stream("a: b\tc\u{85}d\ne: caf\u{e9} \u{1F600}\n").is_ok());
    }

    #[test]
    fn a_bom_opening_a_later_document_is_dropped() {
        let docs = parse_stream("kind: A\n---\n\u{feff}kind: B\n").expect("parses");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].root.get("kind").and_then(Node::as_str), Some("B"));
    }

    #[test]
    fn literal_blocks_start_at_their_leading_blank_lines() {
        let docs = parse_stream("data:\n  k: |\n\n\n    a = 1\n").expect("parses");
        let v = docs[0].root.path(&["data", "k"]).expect("value");
        assert_eq!((v.pos.line, v.text_first_line()), (5, 3));
    }

    #[test]
    fn json_parses_as_yaml() {
        let docs = parse_stream("{\"kind\": \"Role\", \"rules\": [{\"verbs\": [\"get\"]}]}")
            .expect("json");
        assert_eq!(
            docs[0].root.get("kind").and_then(Node::as_str),
            Some("Role")
        );
    }

    #[test]
    fn literal_block_keeps_its_start_line() {
        let docs = parse_stream("data:\n  config.toml: |\n    a = 1\n    b = 2\n").expect("parses");
        let v = docs[0].root.path(&["data", "config.toml"]).expect("value");
        // The position of a block scalar is its first content line, so TOML line N inside it
        // sits at YAML line pos.line + N - 1.
        assert_eq!((v.pos.line, v.end_line), (3, 4));
        assert!(matches!(v.value, Value::Str(_, Style::Literal)));
    }
}
