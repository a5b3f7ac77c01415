//! YAML documents as a tree of [`Node`]s that remember where they came from.
//!
//! Every later error (an unknown keyword, a bad argument, an undefined
//! variable) points at the file, line and column of the node that caused it,
//! so the loaders work on this tree rather than on plain serde values.

use serde_json::Value as Json;
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys keep their order and their own locations.
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

/// A syntax error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub span: Span,
    pub message: String,
    /// What to do about it, when it is not a syntax error (a `!vault`
    /// value that cannot be decrypted).
    pub help: Option<&'static str>,
}

impl Node {
    pub fn new(value: Value, span: Span) -> Self {
        Node { value, span }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// A mapping node's entry for `key`: the key node (for errors about
    /// the key itself) and its value.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.key_text() == key)
            .map(|(k, v)| (k, v))
    }

    /// The text of a node used as a mapping key (scalars of any type).
    pub fn key_text(&self) -> String {
        match &self.value {
            Value::Str(s) => s.clone(),
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Seq(_) | Value::Map(_) => self.to_json().to_string(),
        }
    }

    /// A short description of the node's type for error messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// Converts to a JSON value (mapping keys become strings), for variables.
    pub fn to_json(&self) -> Json {
        match &self.value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(Json::Number)
                .unwrap_or_else(|| Json::String(f.to_string())),
            Value::Str(s) => Json::String(s.clone()),
            Value::Seq(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(pairs) => Json::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parses every document of a YAML stream.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| YamlError {
        span: span_of(e.marker()),
        message: e.info().to_string(),
        help: None,
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.docs)
}

/// Parses a stream that holds at most one document; an empty stream is null.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut docs = parse_documents(text)?;
    match docs.len() {
        0 => Ok(Node::new(Value::Null, Span { line: 1, col: 1 })),
        1 => Ok(docs.remove(0)),
        _ => Err(YamlError {
            span: docs[1].span,
            message: "expected a single YAML document, found several".into(),
            help: None,
        }),
    }
}

fn span_of(m: &Marker) -> Span {
    Span {
        line: m.line(),
        col: m.col() + 1,
    }
}

/// Builds nodes from parser events; anchors are resolved by copying.
#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    /// Open collections: the node being filled and its anchor id.
    stack: Vec<(Node, usize)>,
    /// Per open mapping: a key waiting for its value, and the keys that came
    /// from a merge key (an explicit key may override those).
    pending_keys: Vec<(Option<Node>, Vec<String>)>,
    anchors: HashMap<usize, Node>,
    error: Option<YamlError>,
}

impl Builder {
    fn push_value(&mut self, node: Node) {
        let Some((parent, _)) = self.stack.last_mut() else {
            self.docs.push(node);
            return;
        };
        match &mut parent.value {
            Value::Seq(items) => items.push(node),
            Value::Map(pairs) => {
                let (slot, merged) = self
                    .pending_keys
                    .last_mut()
                    .expect("mapping has a key slot");
                match slot.take() {
                    None => *slot = Some(node),
                    Some(key) => {
                        let text = key.key_text();
                        // Merge keys (`<<: *anchor`) splice the anchored mapping in.
                        if key.as_str() == Some("<<") {
                            merge_into(pairs, node, merged);
                        } else if let Some(i) = merged.iter().position(|m| *m == text) {
                            merged.remove(i);
                            pairs.retain(|(k, _)| k.key_text() != text);
                            pairs.push((key, node));
                        } else if pairs.iter().any(|(k, _)| k.key_text() == text) {
                            if self.error.is_none() {
                                self.error = Some(YamlError {
                                    span: key.span,
                                    message: format!("duplicate key '{}'", key.key_text()),
                                    help: None,
                                });
                            }
                        } else {
                            pairs.push((key, node));
                        }
                    }
                }
            }
            _ => unreachable!("only collections are pushed on the stack"),
        }
    }
}

/// `!vault |` (Ansible's tag for an encrypted scalar).
fn is_vault_tag(tag: &Tag) -> bool {
    tag.suffix == "vault" && matches!(tag.handle.as_str(), "!" | "")
}

impl Builder {
    /// A `!vault` scalar, decrypted now: an error names its line, so a
    /// wrong or missing password is found before anything runs.
    fn vault_value(&mut self, text: &str, span: Span) -> Value {
        match crate::vault::decrypt_inline(text) {
            Ok(plain) => Value::Str(plain),
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(YamlError {
                        span: self.value_key_span().unwrap_or(span),
                        message: format!("cannot decrypt this !vault value: {e}"),
                        help: e.help(),
                    });
                }
                Value::Null
            }
        }
    }
}

impl Builder {
    /// The key the next value belongs to, when it goes into a mapping
    /// (an error about a value is clearer on its key's line).
    fn value_key_span(&self) -> Option<Span> {
        let (parent, _) = self.stack.last()?;
        if !matches!(parent.value, Value::Map(_)) {
            return None;
        }
        self.pending_keys.last()?.0.as_ref().map(|key| key.span)
    }
}

fn merge_into(pairs: &mut Vec<(Node, Node)>, merged: Node, merged_keys: &mut Vec<String>) {
    let sources = match merged.value {
        Value::Seq(items) => items,
        other => vec![Node::new(other, merged.span)],
    };
    for source in sources {
        if let Value::Map(src_pairs) = source.value {
            for (k, v) in src_pairs {
                if !pairs.iter().any(|(pk, _)| pk.key_text() == k.key_text()) {
                    merged_keys.push(k.key_text());
                    pairs.push((k, v));
                }
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let span = span_of(&mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let value = if tag.as_ref().is_some_and(is_vault_tag) {
                    self.vault_value(&text, span)
                } else {
                    scalar_value(text, style, tag.as_ref())
                };
                let node = Node::new(value, span);
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push_value(node);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack
                    .push((Node::new(Value::Seq(Vec::new()), span), anchor));
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push((Node::new(Value::Map(Vec::new()), span), anchor));
                self.pending_keys.push((None, Vec::new()));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((node, anchor)) = self.stack.pop() {
                    if matches!(node.value, Value::Map(_)) {
                        self.pending_keys.pop();
                    }
                    if anchor > 0 {
                        self.anchors.insert(anchor, node.clone());
                    }
                    self.push_value(node);
                }
            }
            Event::Alias(id) => {
                let node = match self.anchors.get(&id) {
                    Some(n) => Node::new(n.value.clone(), span),
                    None => Node::new(Value::Null, span),
                };
                self.push_value(node);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// YAML 1.2 core schema resolution, plus the YAML 1.1 booleans Ansible users
/// write (`yes`, `no`, `on`, `off`).
fn scalar_value(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if style != TScalarStyle::Plain {
        return Value::Str(text);
    }
    if let Some(tag) = tag
        && tag.suffix == "str"
    {
        return Value::Str(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        _ => {}
    }
    if let Some(i) = parse_int(&text) {
        return Value::Int(i);
    }
    if let Some(f) = parse_float(&text) {
        return Value::Float(f);
    }
    Value::Str(text)
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -magnitude } else { magnitude })
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | "+.inf" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" => return Some(f64::NAN),
        _ => {}
    }
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if looks_numeric {
        text.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_based() {
        let doc = parse("a: 1\nb:\n  - x\n  - y: 2\n").unwrap();
        let b = doc.get("b").unwrap();
        let items = b.as_seq().unwrap();
        assert_eq!(items[0].span, Span { line: 3, col: 5 });
        let (k, _) = &items[1].as_map().unwrap()[0];
        assert_eq!(k.span, Span { line: 4, col: 5 });
        assert_eq!(doc.as_map().unwrap()[0].0.span, Span { line: 1, col: 1 });
    }

    #[test]
    fn scalars_resolve_like_ansible() {
        let doc = parse("a: yes\nb: '1'\nc: 1.5\nd: ~\ne: 0x10\nf: 1.2.3\n").unwrap();
        assert_eq!(doc.get("a").unwrap().value, Value::Bool(true));
        assert_eq!(doc.get("b").unwrap().value, Value::Str("1".into()));
        assert_eq!(doc.get("c").unwrap().value, Value::Float(1.5));
        assert!(doc.get("d").unwrap().is_null());
        assert_eq!(doc.get("e").unwrap().value, Value::Int(16));
        assert_eq!(doc.get("f").unwrap().value, Value::Str("1.2.3".into()));
    }

    #[test]
    fn anchors_and_merge_keys() {
        let doc = parse("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n").unwrap();
        let other = doc.get("other").unwrap().to_json();
        assert_eq!(other["x"], 1);
        assert_eq!(other["y"], 3);
    }

    #[test]
    fn vault_tagged_scalars_are_decrypted_or_name_their_line() {
        let secret = crate::vault::VaultSecret::new("yamltest", b"yaml-test-pw".to_vec());
        let envelope = crate::vault::Keyring::encrypt(&secret, b"yaml-test-value").unwrap();
        let indented: String = envelope.lines().map(|l| format!("    {l}\n")).collect();
        let text = format!("plain: 1\nkey: !vault |\n{indented}");
        // Another label's password: every secret is tried.
        crate::vault::install(crate::vault::Keyring::new(vec![
            crate::vault::VaultSecret::new("other", b"yaml-test-pw".to_vec()),
        ]));
        let doc = parse(&text).unwrap();
        assert_eq!(
            doc.get("key").unwrap().value,
            Value::Str("yaml-test-value".into())
        );
        assert_eq!(crate::vault::redact::text("yaml-test-value"), "********");
        crate::vault::install(crate::vault::Keyring::default());
        let err = parse(&text).unwrap_err();
        assert_eq!(
            err.span,
            Span { line: 2, col: 1 },
            "on the key's line: {err:?}"
        );
        assert!(err.message.contains("no vault password"), "{err:?}");
        assert_eq!(err.help, Some(crate::vault::PASSWORD_HELP));
    }

    #[test]
    fn syntax_errors_have_locations() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.span.line >= 1);
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.span, Span { line: 2, col: 1 });
        assert!(err.message.contains("duplicate key"));
    }
}
