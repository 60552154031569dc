//! Templates as a tree of positioned nodes: YAML through `yaml-rust2`'s
//! event parser (which reports tags and positions), JSON through a small
//! reader of its own (which knows where each object closes).
//!
//! YAML short tags become the long form: `!Ref X` is the map `{Ref: X}`,
//! `!GetAtt A.B` is `{Fn::GetAtt: A.B}`, `!Condition C` is `{Condition: C}`,
//! any other `!Name v` is `{Fn::Name: v}`. Anchors, aliases and merge keys
//! (`<<`) are resolved here, so the evaluator only sees plain data.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A value of the document with the lines it spans (1-based).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    /// The line where the value starts.
    pub line: u32,
    /// The last line of the value as far as the parser knows it: the
    /// closing bracket in JSON, the last line holding a scalar in YAML.
    pub end_line: u32,
}

/// The data of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Number(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` entry of a mapping, with the position of its key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    /// Line (1-based) and column (0-based) of the key.
    pub line: u32,
    pub col: u32,
    pub value: Node,
}

impl Node {
    fn new(kind: Kind, line: u32) -> Node {
        Node {
            kind,
            line,
            end_line: line,
        }
    }

    /// The entry `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .rev()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }

    /// The entries of a mapping; empty for other values.
    pub fn entries(&self) -> &[Entry] {
        match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A document that does not parse: 1-based line and column, the parser's
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Whether the text is JSON (its first significant character opens an
/// object) rather than YAML.
pub(crate) fn looks_like_json(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
}

/// Reads the first document of a JSON or YAML text; `None` for an empty one.
/// A text that looks like JSON but is not is read as YAML (a flow mapping);
/// when that fails too, the JSON error is reported.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    if !looks_like_json(text) {
        return parse_yaml(text);
    }
    match parse_json(text) {
        Ok(node) => Ok(Some(node)),
        Err(e) => parse_yaml(text).map_err(|_| e),
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------- YAML ----

/// Reads the first YAML document into a tree.
pub(crate) fn parse_yaml(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| SyntaxError {
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    match builder.error {
        Some(e) => Err(e),
        None => Ok(builder.root),
    }
}

/// A collection being read.
enum Frame {
    Seq {
        line: u32,
        anchor: usize,
        tag: Option<Tag>,
        items: Vec<Node>,
    },
    Map {
        line: u32,
        anchor: usize,
        tag: Option<Tag>,
        entries: Vec<Entry>,
        /// `<<` values, merged when the mapping ends.
        merges: Vec<Node>,
        /// The key read, waiting for its value: text, line, column.
        key: Option<(String, u32, u32)>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    /// Anchored values and their size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes copied by aliases so far (bounded, against alias bombs).
    expanded: usize,
    root: Option<Node>,
    error: Option<SyntaxError>,
}

impl Builder {
    fn fail(&mut self, mark: Marker, message: &str) {
        if self.error.is_none() {
            self.error = Some(SyntaxError {
                line: mark.line(),
                column: mark.col() + 1,
                message: message.to_string(),
            });
        }
    }

    /// Whether the next scalar is a mapping key.
    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// Hands a complete value to the collection around it.
    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size(&node)));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                merges,
                key,
                ..
            }) => {
                if let Some((key, line, col)) = key.take() {
                    if key == "<<" {
                        merges.push(node);
                    } else {
                        entries.push(Entry {
                            key,
                            line,
                            col,
                            value: node,
                        });
                    }
                }
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = to_u32(mark.line());
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                if self.expects_key() {
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some((text, line, to_u32(mark.col())));
                    }
                    return;
                }
                let node = scalar(text, style, tag, line);
                self.finish(node, anchor);
            }
            Event::Alias(id) => {
                if self.expects_key() {
                    return self.fail(mark, "an alias cannot be a mapping key here");
                }
                let Some((node, n)) = self.anchors.get(&id) else {
                    return self.fail(mark, "alias of an unknown anchor");
                };
                self.expanded += n;
                if self.expanded > MAX_EXPANDED {
                    return self.fail(
                        mark,
                        "aliases expand to more than 1,000,000 values (an alias bomb?)",
                    );
                }
                let node = node.clone();
                self.finish(node, 0);
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if self.expects_key() => self.fail(
                mark,
                "a mapping key must be a scalar, not a list or mapping",
            ),
            Event::SequenceStart(anchor, tag) => self.stack.push(Frame::Seq {
                line,
                anchor,
                tag,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, tag) => self.stack.push(Frame::Map {
                line,
                anchor,
                tag,
                entries: Vec::new(),
                merges: Vec::new(),
                key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return;
                };
                let (node, anchor) = match frame {
                    Frame::Seq {
                        line,
                        anchor,
                        tag,
                        items,
                    } => {
                        let end = items.iter().map(|n| n.end_line).max().unwrap_or(line);
                        let node = Node {
                            kind: Kind::Seq(items),
                            line,
                            end_line: end.max(line),
                        };
                        (tagged(node, tag), anchor)
                    }
                    Frame::Map {
                        line,
                        anchor,
                        tag,
                        mut entries,
                        merges,
                        ..
                    } => {
                        merge(&mut entries, merges);
                        let end = entries
                            .iter()
                            .map(|e| e.value.end_line.max(e.line))
                            .max()
                            .unwrap_or(line);
                        let node = Node {
                            kind: Kind::Map(entries),
                            line,
                            end_line: end.max(line),
                        };
                        (tagged(node, tag), anchor)
                    }
                };
                self.finish(node, anchor);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// How many nodes aliases may copy in one document.
const MAX_EXPANDED: usize = 1_000_000;

/// The number of nodes of a value.
fn size(n: &Node) -> usize {
    1 + match &n.kind {
        Kind::Seq(items) => items.iter().map(size).sum(),
        Kind::Map(entries) => entries.iter().map(|e| size(&e.value)).sum(),
        _ => 0,
    }
}

/// Merge keys: the entries of the merged mappings that the mapping does not
/// set itself (the first merged mapping wins over later ones).
fn merge(entries: &mut Vec<Entry>, merges: Vec<Node>) {
    for m in merges {
        let sources = match m.kind {
            Kind::Seq(items) => items,
            other => vec![Node { kind: other, ..m }],
        };
        for source in sources {
            if let Kind::Map(merged) = source.kind {
                for e in merged {
                    if !entries.iter().any(|x| x.key == e.key) {
                        entries.push(e);
                    }
                }
            }
        }
    }
}

const CORE_TAG: &str = "tag:yaml.org,2002:";

/// A scalar event as a node: plain scalars are typed as YAML's core schema
/// types them; quoted and block scalars are strings.
fn scalar(text: String, style: TScalarStyle, tag: Option<Tag>, line: u32) -> Node {
    let kind = match &tag {
        Some(t) if t.handle == CORE_TAG => match t.suffix.as_str() {
            "str" => Kind::Str(text),
            "null" => Kind::Null,
            _ => plain(text),
        },
        Some(_) => Kind::Str(text),
        None if style == TScalarStyle::Plain => plain(text),
        None => Kind::Str(text),
    };
    tagged(Node::new(kind, line), tag)
}

/// The type of a plain scalar: null, boolean, number or string.
fn plain(text: String) -> Kind {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => Kind::Null,
        "true" | "True" | "TRUE" => Kind::Bool(true),
        "false" | "False" | "FALSE" => Kind::Bool(false),
        s if is_number(s) => s.parse().map_or(Kind::Str(text), Kind::Number),
        _ => Kind::Str(text),
    }
}

/// YAML 1.2 core schema numbers: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`,
/// except integers with a leading zero (`012345678901` is an account id,
/// not a number).
fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    if b.get(i) == Some(&b'0') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int = digits(&mut i);
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac = digits(&mut i);
    }
    if int == 0 && frac == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A value under a local tag (`!Ref`, `!Sub`, …) as the long-form intrinsic.
fn tagged(node: Node, tag: Option<Tag>) -> Node {
    let Some(tag) = tag.filter(|t| t.handle == "!") else {
        return node;
    };
    let key = match tag.suffix.as_str() {
        "Ref" | "Condition" => tag.suffix,
        name => format!("Fn::{name}"),
    };
    let (line, end_line) = (node.line, node.end_line);
    Node {
        kind: Kind::Map(vec![Entry {
            key,
            line,
            col: 0,
            value: node,
        }]),
        line,
        end_line,
    }
}

// ---------------------------------------------------------------- JSON ----

/// Reads a JSON text into a tree; errors carry serde_json's message.
pub(crate) fn parse_json(text: &str) -> Result<Node, SyntaxError> {
    let mut reader = Json {
        b: text.as_bytes(),
        i: 0,
        line: 1,
        line_start: 0,
    };
    match reader.document() {
        Ok(node) => Ok(node),
        Err(mine) => Err(
            match serde_json::from_str::<serde_json::Value>(text.trim_start_matches('\u{feff}')) {
                Err(e) => SyntaxError {
                    line: e.line().max(1),
                    column: e.column().max(1),
                    message: without_position(e.to_string()),
                },
                Ok(_) => mine,
            },
        ),
    }
}

/// serde_json's message without its ` at line L column C` (reported apart).
fn without_position(mut message: String) -> String {
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    message
}

struct Json<'a> {
    b: &'a [u8],
    i: usize,
    line: u32,
    line_start: usize,
}

impl Json<'_> {
    fn error(&self, message: &str) -> SyntaxError {
        SyntaxError {
            line: self.line as usize,
            column: self.i - self.line_start + 1,
            message: message.to_string(),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.line_start = self.i;
                }
                b' ' | b'\t' | b'\r' => self.i += 1,
                _ => break,
            }
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn document(&mut self) -> Result<Node, SyntaxError> {
        if self.b.starts_with("\u{feff}".as_bytes()) {
            self.i = 3;
            self.line_start = 3;
        }
        let node = self.value()?;
        self.skip_ws();
        if self.i < self.b.len() {
            return Err(self.error("trailing characters after the JSON value"));
        }
        Ok(node)
    }

    fn value(&mut self) -> Result<Node, SyntaxError> {
        self.skip_ws();
        let line = self.line;
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut entries = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.skip_ws();
                        let (kline, kcol) = (self.line, to_u32(self.i - self.line_start));
                        if self.b.get(self.i) != Some(&b'"') {
                            return Err(self.error("expected a string key"));
                        }
                        let key = self.string()?;
                        if !self.eat(b':') {
                            return Err(self.error("expected `:`"));
                        }
                        let value = self.value()?;
                        entries.push(Entry {
                            key,
                            line: kline,
                            col: kcol,
                            value,
                        });
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.error("expected `,` or `}`"));
                        }
                    }
                }
                Ok(Node {
                    kind: Kind::Map(entries),
                    line,
                    end_line: self.line,
                })
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value()?);
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.error("expected `,` or `]`"));
                        }
                    }
                }
                Ok(Node {
                    kind: Kind::Seq(items),
                    line,
                    end_line: self.line,
                })
            }
            Some(b'"') => Ok(Node::new(Kind::Str(self.string()?), line)),
            Some(_) => {
                let start = self.i;
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || b"+-.".contains(c))
                {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.b[start..self.i]).unwrap_or_default();
                let kind = match word {
                    "null" => Kind::Null,
                    "true" => Kind::Bool(true),
                    "false" => Kind::Bool(false),
                    w => Kind::Number(w.parse().map_err(|_| self.error("expected a value"))?),
                };
                Ok(Node::new(kind, line))
            }
            None => Err(self.error("unexpected end of input")),
        }
    }

    /// A string literal, the cursor on its opening quote.
    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.i;
        self.i += 1;
        let mut escaped = false;
        loop {
            match self.b.get(self.i) {
                None | Some(b'\n') => return Err(self.error("unterminated string")),
                Some(b'\\') => {
                    escaped = true;
                    self.i += 2;
                }
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(_) => self.i += 1,
            }
        }
        let raw = std::str::from_utf8(&self.b[start..self.i.min(self.b.len())])
            .map_err(|_| self.error("invalid UTF-8 in a string"))?;
        if !escaped {
            return Ok(raw[1..raw.len() - 1].to_string());
        }
        serde_json::from_str(raw).map_err(|e| self.error(&e.to_string()))
    }
}
