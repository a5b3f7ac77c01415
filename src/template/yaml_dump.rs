//! `to_yaml` and `to_nice_yaml`: YAML written as Ansible writes it
//! (`yaml.dump` with its `SafeDumper` on libyaml, sorted keys,
//! `allow_unicode`), for the values a template can hold. A port of the
//! parts of PyYAML's `Emitter` those values reach (the scalar analysis that
//! picks plain, single- or double-quoted style, flow and block collections,
//! folding at 80 columns), with libyaml's differences where they show.

use super::{entries, list_of, require_defined};
use minijinja::Error;
use minijinja::value::{Value, ValueKind};
use regex::Regex;
use std::sync::LazyLock;

/// How collections are laid out (PyYAML's `default_flow_style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FlowStyle {
    /// `None`: flow for collections of scalars only (`to_yaml`).
    Auto,
    /// `False`: block everywhere but empty collections (`to_nice_yaml`).
    Block,
    /// `True`: flow everywhere.
    Flow,
}

/// A represented node: scalars carry their text and whether a plain
/// scalar would read back as the same type.
enum Node {
    Scalar {
        text: String,
        plain_ok: bool,
    },
    Seq {
        items: Vec<Node>,
        flow: bool,
    },
    Map {
        pairs: Vec<(Node, Node)>,
        flow: bool,
    },
}

/// `yaml.dump(value, indent=indent, default_flow_style=style)`.
pub(super) fn dump(value: &Value, indent: usize, style: FlowStyle) -> Result<String, Error> {
    let node = represent(value, style)?;
    let mut e = Emitter {
        best_indent: if (2..10).contains(&indent) { indent } else { 2 },
        ..Emitter::default()
    };
    e.node(&node, Context::Root);
    // libyaml writes neither `---` before an empty scalar nor `...` after
    // a plain one, unlike PyYAML's own emitter.
    e.write_indent();
    Ok(e.out)
}

/// SafeRepresenter: sorted keys, Python's text for numbers.
fn represent(value: &Value, style: FlowStyle) -> Result<Node, Error> {
    require_defined(value)?;
    let flow_for = |children_are_scalars: bool| match style {
        FlowStyle::Auto => children_are_scalars,
        FlowStyle::Block => false,
        FlowStyle::Flow => true,
    };
    let is_scalar = |n: &Node| matches!(n, Node::Scalar { .. });
    Ok(match value.kind() {
        ValueKind::None | ValueKind::Undefined => scalar("null", true),
        ValueKind::Bool => scalar(if value.is_true() { "true" } else { "false" }, true),
        ValueKind::Number if value.is_integer() => scalar(&value.to_string(), true),
        ValueKind::Number => scalar(&python_float(f64::try_from(value.clone())?), true),
        ValueKind::Seq | ValueKind::Iterable => {
            let items = (list_of(value)?.iter())
                .map(|v| represent(v, style))
                .collect::<Result<Vec<_>, _>>()?;
            let flow = flow_for(items.iter().all(is_scalar));
            Node::Seq { items, flow }
        }
        ValueKind::Map => {
            let mut pairs = entries(value, "to_yaml")?.into_iter().collect::<Vec<_>>();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            let pairs = (pairs.iter())
                .map(|(k, v)| Ok((represent(k, style)?, represent(v, style)?)))
                .collect::<Result<Vec<_>, Error>>()?;
            let flow = flow_for(pairs.iter().all(|(k, v)| is_scalar(k) && is_scalar(v)));
            Node::Map { pairs, flow }
        }
        _ => {
            let text = value.to_string();
            let plain_ok = !resolves_to_other_type(&text);
            Node::Scalar { text, plain_ok }
        }
    })
}

fn scalar(text: &str, plain_ok: bool) -> Node {
    Node::Scalar {
        text: text.to_string(),
        plain_ok,
    }
}

/// Python's `repr(float)` as PyYAML writes it (`1e+20` → `1.0e+20`).
fn python_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    // Shortest round-trip digits, then Python's choice of notation.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let text = if (-4..16).contains(&exp) {
        let point = exp + 1;
        if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{int}.{frac}")
        }
    } else {
        // PyYAML adds `.0` to a mantissa without a point: `1.0e+20`.
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{first}.{rest}e{exp_sign}{:02}", exp.abs())
    };
    format!("{sign}{text}")
}

/// Whether a plain string would be read back as another type (PyYAML's
/// implicit resolvers: bool, float, int, merge, null, timestamp, value).
fn resolves_to_other_type(s: &str) -> bool {
    static OTHER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
            r"|[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+",
            r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
            r"|<<|~|null|Null|NULL|",
            r"|[0-9]{4}-[0-9]{2}-[0-9]{2}",
            r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?",
            r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?",
            r"|=)$"
        ))
        .expect("a valid pattern")
    });
    OTHER.is_match(s)
}

/// Where a node is written (PyYAML's `*_context` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Root,
    Sequence,
    Mapping,
    SimpleKey,
}

/// What [`analyze`] found out about a scalar.
struct Analysis {
    empty: bool,
    multiline: bool,
    allow_flow_plain: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
}

const BREAKS: &str = "\n\u{85}\u{2028}\u{2029}";
const SPACE_OR_BREAK: &str = "\0 \t\r\n\u{85}\u{2028}\u{2029}";

/// PyYAML's `Emitter.analyze_scalar` (with `allow_unicode`).
fn analyze(scalar: &str) -> Analysis {
    let chars: Vec<char> = scalar.chars().collect();
    if chars.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_flow_plain: false,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
    }
    let mut block_indicators = scalar.starts_with("---") || scalar.starts_with("...");
    let mut flow_indicators = block_indicators;
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_ws = true;
    let last = chars.len() - 1;
    for (index, &ch) in chars.iter().enumerate() {
        let followed_by_ws = chars
            .get(index + 1)
            .is_none_or(|c| SPACE_OR_BREAK.contains(*c));
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                flow_indicators = true;
                block_indicators = true;
            }
            if "?:".contains(ch) {
                flow_indicators = true;
                block_indicators |= followed_by_ws;
            }
            if ch == '-' && followed_by_ws {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(ch) {
                flow_indicators = true;
            }
            if ch == ':' {
                flow_indicators = true;
                block_indicators |= followed_by_ws;
            }
            if ch == '#' && preceded_by_ws {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        if BREAKS.contains(ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || (' '..='~').contains(&ch) || printable_unicode(ch)) {
            special = true;
        }
        if ch == ' ' {
            leading_space |= index == 0;
            trailing_space |= index == last;
            break_space |= previous_break;
            (previous_space, previous_break) = (true, false);
        } else if BREAKS.contains(ch) {
            leading_break |= index == 0;
            trailing_break |= index == last;
            space_break |= previous_space;
            (previous_space, previous_break) = (false, true);
        } else {
            (previous_space, previous_break) = (false, false);
        }
        preceded_by_ws = SPACE_OR_BREAK.contains(ch);
    }
    let mut flow_plain = !(leading_space || leading_break || trailing_space || trailing_break);
    let mut block_plain = flow_plain;
    let mut single_quoted = true;
    if break_space {
        (flow_plain, block_plain, single_quoted) = (false, false, false);
    }
    if space_break || special {
        (flow_plain, block_plain, single_quoted) = (false, false, false);
    }
    if line_breaks {
        (flow_plain, block_plain) = (false, false);
    }
    Analysis {
        empty: false,
        multiline: line_breaks,
        allow_flow_plain: flow_plain && !flow_indicators,
        allow_block_plain: block_plain && !block_indicators,
        allow_single_quoted: single_quoted,
    }
}

/// libyaml's `IS_PRINTABLE` beyond ASCII (with `allow_unicode`): no NEL,
/// no BOM, nothing past the BMP.
fn printable_unicode(ch: char) -> bool {
    (('\u{A0}'..='\u{D7FF}').contains(&ch) || ('\u{E000}'..='\u{FFFD}').contains(&ch))
        && ch != '\u{FEFF}'
}

/// The emitter's state, as PyYAML keeps it.
struct Emitter {
    out: String,
    best_indent: usize,
    best_width: usize,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    flow_level: usize,
    column: usize,
    whitespace: bool,
    indention: bool,
}

impl Default for Emitter {
    fn default() -> Self {
        Emitter {
            out: String::new(),
            best_indent: 2,
            best_width: 80,
            indent: None,
            indents: Vec::new(),
            flow_level: 0,
            column: 0,
            whitespace: true,
            indention: true,
        }
    }
}

impl Emitter {
    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        self.indent = match self.indent {
            None if flow => Some(self.best_indent),
            None => Some(0),
            Some(i) if !indentless => Some(i + self.best_indent),
            same => same,
        };
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().flatten();
    }

    fn node(&mut self, node: &Node, ctx: Context) {
        match node {
            Node::Scalar { text, plain_ok } => {
                self.increase_indent(true, false);
                self.scalar(text, *plain_ok, ctx);
                self.pop_indent();
            }
            Node::Seq { items, flow } if self.flow_level > 0 || *flow || items.is_empty() => {
                self.flow_collection(("[", "]"), items.len(), |e, i| {
                    e.node(&items[i], Context::Sequence)
                });
            }
            Node::Map { pairs, flow } if self.flow_level > 0 || *flow || pairs.is_empty() => {
                self.flow_collection(("{", "}"), pairs.len(), |e, i| {
                    e.flow_pair(&pairs[i].0, &pairs[i].1)
                });
            }
            Node::Seq { items, .. } => {
                let indentless = ctx == Context::Mapping && !self.indention;
                self.increase_indent(false, indentless);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, Context::Sequence);
                }
                self.pop_indent();
            }
            Node::Map { pairs, .. } => {
                self.increase_indent(false, false);
                for (key, value) in pairs {
                    self.write_indent();
                    if is_simple_key(key) {
                        self.node(key, Context::SimpleKey);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.node(key, Context::Mapping);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(value, Context::Mapping);
                }
                self.pop_indent();
            }
        }
    }

    /// `[a, b]` or `{k: v}`: items separated by ", ", a new line once past
    /// the width.
    fn flow_collection(
        &mut self,
        (open, close): (&str, &str),
        len: usize,
        mut item: impl FnMut(&mut Self, usize),
    ) {
        self.write_indicator(open, true, true, false);
        self.flow_level += 1;
        self.increase_indent(true, false);
        for i in 0..len {
            if i > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent();
            }
            item(self, i);
        }
        self.pop_indent();
        self.flow_level -= 1;
        self.write_indicator(close, false, false, false);
    }

    fn flow_pair(&mut self, key: &Node, value: &Node) {
        if is_simple_key(key) {
            self.node(key, Context::SimpleKey);
            self.write_indicator(":", false, false, false);
        } else {
            self.write_indicator("?", true, false, false);
            self.node(key, Context::Mapping);
            if self.column > self.best_width {
                self.write_indent();
            }
            self.write_indicator(":", true, false, false);
        }
        self.node(value, Context::Mapping);
    }

    /// PyYAML's `choose_scalar_style` and the writer it picks.
    fn scalar(&mut self, text: &str, plain_ok: bool, ctx: Context) {
        let a = analyze(text);
        let simple_key = ctx == Context::SimpleKey;
        let plain = if self.flow_level > 0 {
            a.allow_flow_plain
        } else {
            a.allow_block_plain
        };
        let split = !simple_key;
        if plain_ok && !(simple_key && (a.empty || a.multiline)) && plain {
            self.write_plain(text, split);
        } else if a.allow_single_quoted && !(simple_key && a.multiline) {
            self.write_single_quoted(text, split);
        } else {
            self.write_double_quoted(text, split);
        }
    }

    fn write(&mut self, data: &str) {
        self.column += data.chars().count();
        self.out.push_str(data);
    }

    fn write_indicator(&mut self, indicator: &str, need_ws: bool, ws: bool, indention: bool) {
        if !self.whitespace && need_ws {
            self.write(" ");
        }
        self.write(indicator);
        self.whitespace = ws;
        self.indention = self.indention && indention;
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break(None);
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.write(&pad);
        }
    }

    fn write_line_break(&mut self, data: Option<char>) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push(data.unwrap_or('\n'));
    }

    /// The line breaks of a run, as PyYAML's writers fold them: a `\n` run
    /// gets one more break, then the indent.
    fn write_breaks(&mut self, run: &[char]) {
        if run.first() == Some(&'\n') {
            self.write_line_break(None);
        }
        for &br in run {
            self.write_line_break((br != '\n').then_some(br));
        }
        self.write_indent();
    }

    fn write_plain(&mut self, text: &str, split: bool) {
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        self.write_runs(text, split, false);
    }

    fn write_single_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("'", true, false, false);
        self.write_runs(text, split, true);
        self.write_indicator("'", false, false, false);
    }

    /// The body of a plain or single-quoted scalar: words, runs of spaces
    /// (one space past the width folds the line) and runs of breaks.
    fn write_runs(&mut self, text: &str, split: bool, quoted: bool) {
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    // A quoted scalar never folds at its first or last space.
                    let inner = !quoted || (start != 0 && end != chars.len());
                    if start + 1 == end && self.column > self.best_width && split && inner {
                        self.write_indent();
                        if !quoted {
                            self.whitespace = false;
                            self.indention = false;
                        }
                    } else {
                        self.write(&chars[start..end].iter().collect::<String>());
                    }
                    start = end;
                }
            } else if breaks {
                if ch.is_none_or(|c| !BREAKS.contains(c)) {
                    self.write_breaks(&chars[start..end]);
                    if !quoted {
                        self.whitespace = false;
                        self.indention = false;
                    }
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || BREAKS.contains(c) || (quoted && c == '\''))
                && start < end
            {
                self.write(&chars[start..end].iter().collect::<String>());
                start = end;
            }
            if quoted && ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = BREAKS.contains(c);
            }
        }
    }

    /// libyaml's writer (PyYAML's own folds differently): a long line
    /// breaks at a space, which the break replaces.
    fn write_double_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            let printable = (' '..='~').contains(&c) || printable_unicode(c);
            if !printable || "\"\\\u{2028}\u{2029}".contains(c) {
                self.write(&double_quoted_escape(c));
                spaces = false;
            } else if c == ' ' {
                if split
                    && !spaces
                    && self.column > self.best_width
                    && i != 0
                    && i + 1 != chars.len()
                {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.write("\\");
                    }
                } else {
                    self.write(" ");
                }
                spaces = true;
            } else {
                self.write(c.encode_utf8(&mut [0; 4]));
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
    }
}

fn double_quoted_escape(c: char) -> String {
    let short = match c {
        '\0' => '0',
        '\u{7}' => 'a',
        '\u{8}' => 'b',
        '\t' => 't',
        '\n' => 'n',
        '\u{b}' => 'v',
        '\u{c}' => 'f',
        '\r' => 'r',
        '\u{1b}' => 'e',
        '"' => '"',
        '\\' => '\\',
        '\u{85}' => 'N',
        '\u{a0}' => '_',
        '\u{2028}' => 'L',
        '\u{2029}' => 'P',
        _ => {
            return match u32::from(c) {
                n if n <= 0xff => format!("\\x{n:02X}"),
                n if n <= 0xffff => format!("\\u{n:04X}"),
                n => format!("\\U{n:08X}"),
            };
        }
    };
    format!("\\{short}")
}

/// PyYAML's `check_simple_key` for our nodes.
fn is_simple_key(node: &Node) -> bool {
    match node {
        Node::Scalar { text, .. } => {
            let a = analyze(text);
            text.chars().count() < 128 && !a.empty && !a.multiline
        }
        Node::Seq { items, .. } => items.is_empty(),
        Node::Map { pairs, .. } => pairs.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::value::Serde;

    /// Values and what Ansible 2.19's filters (on libyaml) made of them,
    /// recorded once: `to_yaml`, `to_nice_yaml`, `to_nice_yaml(indent=2)`,
    /// `to_yaml(default_flow_style=False)` and `(…=True)`.
    const CASES: &str = include_str!("yaml_dump_cases.json");

    #[test]
    fn writes_what_ansible_writes() {
        let cases: Vec<serde_json::Value> = serde_json::from_str(CASES).unwrap();
        let mut failures = Vec::new();
        for case in &cases {
            let value = Value::from(Serde(&case["value"]));
            for (key, indent, style) in [
                ("to_yaml", 2, FlowStyle::Auto),
                ("to_nice_yaml", 4, FlowStyle::Block),
                ("nice_indent_2", 2, FlowStyle::Block),
                ("block", 2, FlowStyle::Block),
                ("flow", 2, FlowStyle::Flow),
            ] {
                let got = dump(&value, indent, style).unwrap();
                if got != case[key] {
                    failures.push(format!(
                        "{key} of {}:\n{got:?}\n{:?}",
                        case["value"], case[key]
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    #[test]
    fn floats_as_python_writes_them() {
        for (f, want) in [
            (1.5, "1.5"),
            (1e20, "1.0e+20"),
            (1.5e-7, "1.5e-07"),
            (100.0, "100.0"),
            (0.0001, "0.0001"),
            (-2.0, "-2.0"),
        ] {
            assert_eq!(python_float(f), want);
        }
    }
}
