//! A span-aware YAML tree.
//!
//! serde_yaml loses line numbers once a value is deserialised, and every finding must point at a
//! line, so the core builds its own small tree from yaml-rust2's event stream. The builder is
//! iterative (it pulls events one at a time instead of using yaml-rust2's recursive `load`, so
//! 10,000-deep nesting cannot overflow the stack, not even the 1 MiB stack of the wasm policy
//! module), bounds the depth, expands aliases against a node budget (alias bombs fail instead of
//! exhausting memory), and reports duplicate mapping keys, which Kubernetes' strict decoding
//! rejects. Every bound stops the parse of that file at once with an error at its line; the
//! other files of a run are still checked.

use std::collections::{BTreeMap, HashMap};
use yaml_rust2::parser::{Event, Parser};
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
    pub root: Node,
    /// Set when this document was split off the previous one at this line because a top-level
    /// key repeated (a missing `---`).
    pub joined_at: Option<u32>,
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

    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Str(s, Style::Plain) => match s.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
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
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
        /// String keys and their lines, once the mapping has [`INDEX_KEYS_FROM`] entries.
        index: Option<BTreeMap<String, u32>>,
    },
}

/// What [`parse_stream_each`] hands over, in input order.
#[derive(Debug)]
pub enum Streamed {
    /// One item of a document's top-level `items:` sequence (a `kind: List` dump), handed over
    /// as soon as it is complete so that the whole list never has to be in memory at once. The
    /// document keeps an empty `items` sequence in its place.
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
    nodes: usize,
    alias_nodes: usize,
    last_line: u32,
    error: Option<YamlError>,
    pending_join: Option<u32>,
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

impl Builder<'_> {
    fn emit(&mut self, doc: Document) {
        (self.each)(Streamed::Document(doc, self.streamed));
        self.streamed = 0;
    }

    /// Whether a node finished now is an item of the document's top-level `items:` sequence,
    /// and items are being streamed. An anchored sequence is kept whole (an alias may copy it).
    /// A second `items:` key (which splits the document, see `split_root`) is not streamed: its
    /// items belong to the document the split starts.
    fn streams_item(&self) -> bool {
        let [Frame::Map {
            pending_key: Some(key),
            entries,
            index,
            ..
        }, Frame::Seq { anchor: 0, .. }] = self.stack.as_slice()
        else {
            return false;
        };
        let repeated = match index {
            Some(index) => index.contains_key("items"),
            None => entries.iter().any(|(k, _)| k.as_str() == Some("items")),
        };
        self.stream_items && key.as_str() == Some("items") && !repeated
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
        let at_root = self.stack.len() == 1;
        if self.streams_item() {
            self.streamed += 1;
            self.streamed_end = node.end_line;
            (self.each)(Streamed::Item(node));
            return;
        }
        match self.stack.last_mut() {
            // An empty document (a trailing `---`) holds nothing to check.
            None if node.is_null() => {}
            None => {
                let joined_at = self.pending_join.take();
                self.emit(Document {
                    root: node,
                    joined_at,
                });
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                index,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    let duplicate = key.as_str().and_then(|k| {
                        let first = match index {
                            Some(index) => index.get(k).copied(),
                            None => entries
                                .iter()
                                .find(|(existing, _)| existing.as_str() == Some(k))
                                .map(|(existing, _)| existing.pos.line),
                        };
                        first.map(|line| (k.to_string(), line))
                    });
                    match duplicate {
                        None => {
                            if let (Some(index), Some(k)) = (index.as_mut(), key.as_str()) {
                                index.insert(k.to_string(), key.pos.line);
                            }
                            entries.push((key, node));
                            if index.is_none() && entries.len() >= INDEX_KEYS_FROM {
                                *index = Some(
                                    entries
                                        .iter()
                                        .filter_map(|(k, _)| {
                                            k.as_str().map(|s| (s.to_string(), k.pos.line))
                                        })
                                        .collect(),
                                );
                            }
                        }
                        // A repeated key at the top of a document is a missing `---`: two objects
                        // were written as one. Split them so both are checked.
                        Some(_) if at_root => self.split_root(key, node),
                        Some((k, first)) => {
                            let at = key.pos;
                            self.fail(
                                at,
                                format!("duplicate key `{k}` (first at line {first}); Kubernetes rejects duplicate fields"),
                            );
                        }
                    }
                }
            },
        }
    }

    fn split_root(&mut self, key: Node, value: Node) {
        if let Some(Frame::Map { pos, entries, .. }) = self.stack.pop() {
            let end_line = entries.last().map_or(pos.line, |(_, v)| v.end_line);
            let joined_at = self.pending_join.take();
            self.emit(Document {
                root: Node {
                    pos,
                    end_line,
                    value: Value::Map(entries),
                },
                joined_at,
            });
        }
        self.pending_join = Some(key.pos.line);
        self.stack.push(Frame::Map {
            pos: key.pos,
            anchor: 0,
            entries: vec![(key, value)],
            pending_key: None,
            index: None,
        });
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
                });
            }
            Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(pos, format!("nesting deeper than {MAX_DEPTH} levels"));
                    return;
                }
                self.stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                    index: None,
                });
            }
            Event::SequenceEnd => {
                let streamed_items = self.streams_item().then_some(self.streamed_end);
                if let Some(Frame::Seq {
                    pos,
                    anchor,
                    mut items,
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
                if let Some(Frame::Map {
                    pos,
                    anchor,
                    mut entries,
                    ..
                }) = self.stack.pop()
                {
                    entries.shrink_to_fit();
                    let end_line = entries.last().map_or(pos.line, |(_, v)| v.end_line);
                    // yaml-rust2 marks a block mapping's start at its first `:`; the mapping
                    // really starts at its first key.
                    let pos = entries
                        .first()
                        .map(|(k, _)| k.pos)
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
        last_line: 0,
        error: None,
        pending_join: None,
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
        // The duplicate key is in the last item, after two items went out.
        let text = "kind: List\nitems:\n- a: 1\n- b: 2\n- c: 3\n  c: 4\n";
        let collected = parse_stream(text).expect_err("duplicate key");
        let mut items = 0;
        let streamed_err = parse_stream_each(text, &mut |s| {
            if matches!(s, Streamed::Item(_)) {
                items += 1;
            }
        })
        .expect_err("duplicate key");
        assert_eq!(streamed_err, collected);
        assert_eq!(items, 2);
    }

    #[test]
    fn a_repeated_items_key_is_not_streamed() {
        // Found by fuzzing: the second `items` splits the document (a missing `---`), so its
        // items belong to the second document, which is not a List.
        let text = "kind: List\nitems: [a]\nitems: [b]\n";
        let collected = parse_stream(text).expect("parses");
        assert_eq!(collected.len(), 2);
        let got = streamed(text).expect("parses");
        assert!(
            matches!(&got[0], Streamed::Item(n) if n.as_str() == Some("a")),
            "{got:?}"
        );
        assert!(matches!(&got[1], Streamed::Document(_, 1)), "{got:?}");
        match &got[2] {
            Streamed::Document(doc, 0) => assert_eq!(doc.root, collected[1].root),
            other => panic!("{other:?}"),
        }
        assert_eq!(got.len(), 3);
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
            assert_eq!(a.joined_at, b.joined_at);
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

    #[test]
    fn nested_duplicate_key_is_an_error_with_line() {
        let err = parse_stream("metadata:\n  name: a\n  name: b\n").expect_err("dup");
        assert_eq!(err.line, 3);
        assert!(err.message.contains("duplicate key `name`"));
    }

    #[test]
    fn repeated_top_level_key_splits_a_missing_separator() {
        let docs = parse_stream(
            "kind: ServiceAccount\nmetadata: {name: a}\nkind: ClusterRole\nmetadata: {name: b}\n",
        )
        .expect("split");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].joined_at, Some(3));
        assert_eq!(
            docs[1].root.get("kind").and_then(Node::as_str),
            Some("ClusterRole")
        );
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
