//! Kubecost's filter language v2 (`filter=`), as OpenCost's lexer and parser read it, with
//! errors that name the position (1-based, in characters of the decoded parameter).
//!
//! ```text
//! filter     := ε | group
//! group      := element ( ('+' element)* | ('|' element)* )     one operator per level
//! element    := '(' group ')' | comparison
//! comparison := field ('[' key ']')? op value (',' value)*
//! op         := ':' | '!:' | '~:' | '!~:' | '<~:' | '!<~:' | '~>:' | '!~>:'
//! value      := '"' anything but '"' '"'
//! ```
//!
//! `:` is equals, `~:` contains, `<~:` starts with, `~>:` ends with; `!` negates. Several
//! values: a positive operator matches any of them, a negated one must miss all of them. On
//! a list field (`services`) `:` and `~:` mean "some element equals", `<~:`/`~>:` "some
//! element starts/ends with"; on a map field without a key (`label:"app"`) they test the
//! keys. A missing label reads as `""`, and the value `"__unallocated__"` is taken as `""`.
//! Whitespace outside quotes and brackets is ignored; field names are case-sensitive; keys
//! are sanitised like Prometheus label names.

use std::borrow::Cow;
use std::collections::BTreeMap;

use ampfed_allocation::{sanitize, UNALLOCATED};

/// What a filter field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A string (`namespace`); label aliases (`team`) are strings too.
    Text,
    /// A list of strings (`services`).
    List,
    /// A map (`label`, `annotation`), with an optional `[key]`.
    Map,
}

/// The fields one endpoint's filters may use.
#[derive(Clone, Copy, Debug)]
pub struct FieldSet {
    /// What the fields belong to, for messages (`allocation`).
    pub what: &'static str,
    pub fields: &'static [(&'static str, FieldKind)],
}

/// The allocation filter fields (Kubecost's, OpenCost's `AllocationField`s).
pub const ALLOCATION_FIELDS: FieldSet = FieldSet {
    what: "allocation",
    fields: &[
        ("cluster", FieldKind::Text),
        ("node", FieldKind::Text),
        ("namespace", FieldKind::Text),
        ("controllerName", FieldKind::Text),
        ("controllerKind", FieldKind::Text),
        ("container", FieldKind::Text),
        ("pod", FieldKind::Text),
        ("provider", FieldKind::Text),
        ("services", FieldKind::List),
        ("label", FieldKind::Map),
        ("annotation", FieldKind::Map),
        ("department", FieldKind::Text),
        ("environment", FieldKind::Text),
        ("owner", FieldKind::Text),
        ("product", FieldKind::Text),
        ("team", FieldKind::Text),
    ],
};

/// The asset filter fields (Kubecost's assets filter v2).
pub const ASSET_FIELDS: FieldSet = FieldSet {
    what: "asset",
    fields: &[
        ("cluster", FieldKind::Text),
        ("name", FieldKind::Text),
        ("type", FieldKind::Text),
        ("category", FieldKind::Text),
        ("provider", FieldKind::Text),
        ("providerID", FieldKind::Text),
        ("account", FieldKind::Text),
        ("project", FieldKind::Text),
        ("service", FieldKind::Text),
        ("label", FieldKind::Map),
    ],
};

impl FieldSet {
    fn kind(&self, name: &str) -> Option<FieldKind> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    fn names(&self) -> String {
        let names: Vec<String> = self
            .fields
            .iter()
            .map(|(n, k)| if *k == FieldKind::Map { format!("{n}[<key>]") } else { (*n).to_owned() })
            .collect();
        names.join(", ")
    }
}

/// A filter that cannot be parsed: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {message}")]
pub struct FilterError {
    /// 1-based, in characters; one past the end for "at the end".
    pub position: usize,
    pub message: String,
}

/// How a comparison compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

/// One comparison: `field[key] op "v1","v2"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    pub field: String,
    pub kind: FieldKind,
    /// The sanitised key of a map field, if given.
    pub key: Option<String>,
    pub op: Op,
    pub negated: bool,
    pub values: Vec<String>,
}

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    All(Vec<Expr>),
    Any(Vec<Expr>),
    Compare(Comparison),
}

/// What a filter is evaluated on: an allocation or an asset.
pub trait Subject {
    /// A string field (aliases included); `""` when absent.
    fn text(&self, field: &str) -> Cow<'_, str>;
    /// A list field; empty when absent.
    fn list(&self, field: &str) -> &[String];
    /// A map field.
    fn map(&self, field: &str) -> Option<&BTreeMap<String, String>>;
}

/// A parsed filter; the empty filter matches everything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub expr: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Key(String),
    Str(String),
    Op(Op, bool),
    Comma,
    Plus,
    Pipe,
    Open,
    Close,
    End,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    /// 1-based character position.
    pos: usize,
}

fn err(position: usize, message: impl Into<String>) -> FilterError {
    FilterError { position, message: message.into() }
}

const OPERATORS: &str = "':', '!:', '~:', '!~:', '<~:', '!<~:', '~>:' or '!~>:'";

fn lex(text: &str) -> Result<Vec<Token>, FilterError> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // `c[i..]` starts with `s`.
    let at = |i: usize, s: &str| s.chars().enumerate().all(|(k, ch)| c.get(i + k) == Some(&ch));
    while i < c.len() {
        let pos = i + 1;
        let ch = c[i];
        let (tok, len) = match ch {
            ' ' | '\t' | '\n' | '\r' => {
                i += 1;
                continue;
            }
            ':' => (Tok::Op(Op::Equals, false), 1),
            ',' => (Tok::Comma, 1),
            '+' => (Tok::Plus, 1),
            '|' => (Tok::Pipe, 1),
            '(' => (Tok::Open, 1),
            ')' => (Tok::Close, 1),
            '!' | '~' | '<' => {
                let negated = ch == '!';
                let j = if negated { i + 1 } else { i };
                let found =
                    [("~>:", Op::EndsWith), ("<~:", Op::StartsWith), ("~:", Op::Contains), (":", Op::Equals)]
                        .into_iter()
                        .find(|(s, op)| at(j, s) && (negated || *op != Op::Equals));
                match found {
                    Some((s, op)) => (Tok::Op(op, negated), s.len() + usize::from(negated)),
                    None => {
                        return Err(err(pos, format!("unexpected '{ch}': the operators are {OPERATORS}")))
                    }
                }
            }
            '"' | '[' => {
                let close = if ch == '"' { '"' } else { ']' };
                let Some(len) = c[i + 1..].iter().position(|&x| x == close) else {
                    let what = if ch == '"' { "string" } else { "key" };
                    return Err(err(
                        pos,
                        format!("the {what} that starts here is never closed with '{close}'"),
                    ));
                };
                let inner: String = c[i + 1..i + 1 + len].iter().collect();
                (if ch == '"' { Tok::Str(inner) } else { Tok::Key(inner) }, len + 2)
            }
            _ if ch.is_alphanumeric() || ch == '_' || ch == '-' => {
                let len =
                    c[i..].iter().take_while(|x| x.is_alphanumeric() || **x == '_' || **x == '-').count();
                (Tok::Ident(c[i..i + len].iter().collect()), len)
            }
            _ => {
                return Err(err(
                    pos,
                    format!("unexpected character '{ch}': a comparison is field:\"value\", joined by + or |"),
                ))
            }
        };
        out.push(Token { tok, pos });
        i += len;
    }
    out.push(Token { tok: Tok::End, pos: c.len() + 1 });
    Ok(out)
}

fn found(t: &Token) -> String {
    match &t.tok {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Key(s) => format!("'[{s}]'"),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::Op(op, negated) => {
            let s = match op {
                Op::Equals => ":",
                Op::Contains => "~:",
                Op::StartsWith => "<~:",
                Op::EndsWith => "~>:",
            };
            format!("'{}{s}'", if *negated { "!" } else { "" })
        }
        Tok::Comma => "','".into(),
        Tok::Plus => "'+'".into(),
        Tok::Pipe => "'|'".into(),
        Tok::Open => "'('".into(),
        Tok::Close => "')'".into(),
        Tok::End => "the end".into(),
    }
}

struct Parser<'a> {
    toks: Vec<Token>,
    i: usize,
    fields: &'a FieldSet,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    /// A group; `open` is the position of its `(` (None at the top level).
    fn group(&mut self, open: Option<usize>) -> Result<Expr, FilterError> {
        let first = self.element()?;
        let mut members = vec![first];
        let op = match self.peek().tok {
            Tok::Plus | Tok::Pipe => Some(self.peek().tok.clone()),
            _ => None,
        };
        if let Some(op) = &op {
            while &self.peek().tok == op {
                self.next();
                members.push(self.element()?);
            }
        }
        let t = self.peek().clone();
        match (&t.tok, open) {
            (Tok::Close, Some(_)) => {
                self.next();
            }
            (Tok::End, None) => {}
            (Tok::End, Some(p)) => return Err(err(p, "this '(' is never closed with ')'")),
            (Tok::Close, None) => return Err(err(t.pos, "this ')' has no matching '('")),
            (Tok::Plus | Tok::Pipe, _) => {
                return Err(err(
                    t.pos,
                    "'+' (and) and '|' (or) cannot be mixed at one level: group with parentheses, \
                     e.g. (a:\"x\"|a:\"y\")+b:\"z\"",
                ))
            }
            _ => {
                return Err(err(
                    t.pos,
                    format!(
                        "expected '+', '|', ')' or the end, found {} (a raw '+' in a URL decodes to a \
                         space: write it as %2B)",
                        found(&t)
                    ),
                ))
            }
        }
        Ok(match op {
            Some(Tok::Plus) => Expr::All(members),
            Some(_) => Expr::Any(members),
            None => members.remove(0),
        })
    }

    fn element(&mut self) -> Result<Expr, FilterError> {
        if self.peek().tok == Tok::Open {
            let open = self.next().pos;
            return self.group(Some(open));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, FilterError> {
        let t = self.next();
        let Tok::Ident(field) = &t.tok else {
            return Err(err(
                t.pos,
                format!("expected a field ({}), found {}", self.fields.names(), found(&t)),
            ));
        };
        let Some(kind) = self.fields.kind(field) else {
            return Err(err(
                t.pos,
                format!(
                    "unknown {} filter field '{field}' (names are case-sensitive): use {}",
                    self.fields.what,
                    self.fields.names()
                ),
            ));
        };
        let mut key = None;
        if let Tok::Key(k) = &self.peek().tok {
            let k = k.clone();
            let at = self.next().pos;
            if kind != FieldKind::Map {
                return Err(err(
                    at,
                    format!("'{field}' takes no [key]: only label[...] and annotation[...] do"),
                ));
            }
            if k.trim().is_empty() {
                return Err(err(at, format!("the key of {field}[] is empty")));
            }
            key = Some(sanitize(k.trim()));
        }
        let t = self.next();
        let Tok::Op(op, negated) = t.tok else {
            return Err(err(
                t.pos,
                format!("expected an operator after '{field}' ({OPERATORS}), found {}", found(&t)),
            ));
        };
        let mut values = Vec::new();
        loop {
            let t = self.next();
            let Tok::Str(v) = t.tok else {
                return Err(err(t.pos, format!("expected a double-quoted value, found {}", found(&t))));
            };
            values.push(v);
            if self.peek().tok != Tok::Comma {
                break;
            }
            self.next();
        }
        Ok(Expr::Compare(Comparison { field: field.clone(), kind, key, op, negated, values }))
    }
}

fn compare(op: Op, have: &str, want: &str) -> bool {
    match op {
        Op::Equals => have == want,
        Op::Contains => have.contains(want),
        Op::StartsWith => have.starts_with(want),
        Op::EndsWith => have.ends_with(want),
    }
}

impl Comparison {
    fn matches(&self, s: &dyn Subject) -> bool {
        let hit = |v: &String| {
            let v = if v == UNALLOCATED { "" } else { v.as_str() };
            let element = |e: &String| match self.op {
                Op::Equals | Op::Contains => e == v,
                op => compare(op, e, v),
            };
            match (self.kind, &self.key) {
                (FieldKind::Map, None) => s.map(&self.field).is_some_and(|m| m.keys().any(element)),
                (FieldKind::Map, Some(k)) => {
                    let have = s.map(&self.field).and_then(|m| m.get(k)).map(String::as_str).unwrap_or("");
                    compare(self.op, have, v)
                }
                (FieldKind::List, _) => s.list(&self.field).iter().any(element),
                (FieldKind::Text, _) => compare(self.op, &s.text(&self.field), v),
            }
        };
        let any = self.values.iter().any(hit);
        any != self.negated
    }
}

impl Expr {
    fn matches(&self, s: &dyn Subject) -> bool {
        match self {
            Expr::All(xs) => xs.iter().all(|x| x.matches(s)),
            Expr::Any(xs) => xs.iter().any(|x| x.matches(s)),
            Expr::Compare(c) => c.matches(s),
        }
    }
}

impl Filter {
    /// Parses `text` with the fields of `fields`.
    pub fn parse(text: &str, fields: &FieldSet) -> Result<Filter, FilterError> {
        let toks = lex(text)?;
        if toks.len() == 1 {
            return Ok(Filter { expr: None });
        }
        let mut p = Parser { toks, i: 0, fields };
        Ok(Filter { expr: Some(p.group(None)?) })
    }

    /// Whether `s` passes the filter.
    pub fn matches(&self, s: &dyn Subject) -> bool {
        self.expr.as_ref().is_none_or(|e| e.matches(s))
    }

    /// Whether the filter lets everything through (no comparison at all).
    pub fn is_empty(&self) -> bool {
        self.expr.is_none()
    }
}

/// An allocation as a filter sees it.
pub struct AllocationSubject<'a> {
    pub allocation: &'a ampfed_allocation::Allocation,
    pub labels: &'a ampfed_allocation::LabelConfig,
}

impl AllocationSubject<'_> {
    fn alias(&self, names: &str) -> Cow<'_, str> {
        let p = &self.allocation.properties;
        for name in names.split(',') {
            let name = ampfed_allocation::sanitize(name.trim());
            if let Some(v) = p.labels.get(&name).or_else(|| p.annotations.get(&name)) {
                return Cow::Borrowed(v.as_str());
            }
        }
        Cow::Borrowed("")
    }
}

impl Subject for AllocationSubject<'_> {
    fn text(&self, field: &str) -> Cow<'_, str> {
        let p = &self.allocation.properties;
        let l = self.labels;
        Cow::Borrowed(match field {
            "cluster" => &p.cluster,
            "node" => &p.node,
            "namespace" => &p.namespace,
            "controllerName" => &p.controller,
            "controllerKind" => &p.controller_kind,
            "container" => &p.container,
            "pod" => &p.pod,
            "provider" => &p.provider_id,
            "department" => return self.alias(&l.department),
            "environment" => return self.alias(&l.environment),
            "owner" => return self.alias(&l.owner),
            "product" => return self.alias(&l.product),
            "team" => return self.alias(&l.team),
            _ => "",
        })
    }

    fn list(&self, field: &str) -> &[String] {
        match field {
            "services" => &self.allocation.properties.services,
            _ => &[],
        }
    }

    fn map(&self, field: &str) -> Option<&BTreeMap<String, String>> {
        match field {
            "label" => Some(&self.allocation.properties.labels),
            "annotation" => Some(&self.allocation.properties.annotations),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Thing {
        text: BTreeMap<&'static str, &'static str>,
        services: Vec<String>,
        labels: BTreeMap<String, String>,
    }

    impl Subject for Thing {
        fn text(&self, field: &str) -> Cow<'_, str> {
            Cow::Borrowed(self.text.get(field).copied().unwrap_or(""))
        }
        fn list(&self, field: &str) -> &[String] {
            if field == "services" {
                &self.services
            } else {
                &[]
            }
        }
        fn map(&self, field: &str) -> Option<&BTreeMap<String, String>> {
            (field == "label").then_some(&self.labels)
        }
    }

    fn thing() -> Thing {
        Thing {
            text: [
                ("cluster", "c1"),
                ("namespace", "shop"),
                ("controllerKind", "deployment"),
                ("controllerName", "web-frontend"),
            ]
            .into(),
            services: vec!["web".into(), "web-admin".into()],
            labels: [
                ("team".to_owned(), "x".to_owned()),
                ("app_kubernetes_io_name".to_owned(), "web".to_owned()),
            ]
            .into(),
        }
    }

    fn matches(f: &str) -> bool {
        Filter::parse(f, &ALLOCATION_FIELDS).unwrap_or_else(|e| panic!("{f}: {e}")).matches(&thing())
    }

    fn error(f: &str) -> FilterError {
        Filter::parse(f, &ALLOCATION_FIELDS).unwrap_err()
    }

    #[test]
    fn the_documented_examples_parse_and_match() {
        assert!(matches(r#"namespace:"shop"+cluster:"c1""#));
        assert!(matches(r#"cluster:"c1","c2""#));
        assert!(matches(r#"namespace!:"kube-system","kubecost""#));
        assert!(matches(r#"(namespace:"a"|namespace:"shop")+label[team]:"x""#));
        assert!(matches(r#"controllerKind:"deployment"+controllerName<~:"web-""#));
        assert!(!matches(r#"namespace:"kube-system"+cluster:"c1""#));
        assert!(!matches(r#"namespace!:"kube-system","shop""#), "a negation must miss every value");
    }

    #[test]
    fn operators_lists_maps_and_missing_labels() {
        assert!(matches(r#"controllerName~:"front""#));
        assert!(matches(r#"controllerName~>:"-frontend""#));
        assert!(matches(r#"controllerName!~>:"-backend""#));
        assert!(matches(r#"controllerName!<~:"api-""#));
        assert!(!matches(r#"controllerName!~:"front""#));
        assert!(matches(r#"services:"web-admin""#));
        assert!(matches(r#"services~:"web""#), "on a list ~: is 'some element equals'");
        assert!(!matches(r#"services~:"we""#));
        assert!(matches(r#"services<~:"web-""#));
        assert!(matches(r#"label:"team""#), "a bare map field tests its keys");
        assert!(!matches(r#"label!:"team""#));
        assert!(matches(r#"label[app.kubernetes.io/name]:"web""#), "keys are sanitised");
        assert!(matches(r#"label[missing]:"""#), "a missing label reads as empty");
        assert!(matches(r#"label[missing]:"__unallocated__""#));
        assert!(!matches(r#"label[team]:"__unallocated__""#));
        assert!(matches(r#"pod:"""#));
        assert!(Filter::parse("  ", &ALLOCATION_FIELDS).unwrap().is_empty());
        assert!(Filter::parse("", &ALLOCATION_FIELDS).unwrap().matches(&thing()));
    }

    #[test]
    fn grouping_is_explicit() {
        let f = Filter::parse(r#"cluster:"c1" | (namespace:"a" + pod:"b")"#, &ALLOCATION_FIELDS).unwrap();
        let Some(Expr::Any(members)) = &f.expr else { panic!("{f:?}") };
        assert_eq!(members.len(), 2);
        assert!(matches!(members[1], Expr::All(_)));
        assert!(matches(r#"((cluster:"c1"))"#));
    }

    #[test]
    fn errors_name_the_position_and_what_is_allowed() {
        let e = error(r#"colour:"red""#);
        assert_eq!(e.position, 1);
        assert!(e.message.contains("unknown allocation filter field 'colour'"), "{e}");
        assert!(e.message.contains("label[<key>]"), "{e}");

        let e = error(r#"namespace="shop""#);
        assert_eq!((e.position, e.message.contains("unexpected character '='")), (10, true), "{e}");

        let e = error(r#"namespace:shop"#);
        assert_eq!(e.position, 11);
        assert!(e.message.contains("expected a double-quoted value, found 'shop'"), "{e}");

        let e = error(r#"namespace:"shop"#);
        assert_eq!(e.position, 11);
        assert!(e.message.contains("never closed"), "{e}");

        let e = error(r#"namespace "shop""#);
        assert_eq!(e.position, 11);
        assert!(e.message.contains("expected an operator after 'namespace'"), "{e}");

        // A raw `+` decoded to a space.
        let e = error(r#"namespace:"a" cluster:"c1""#);
        assert_eq!(e.position, 15);
        assert!(e.message.contains("%2B"), "{e}");

        let e = error(r#"namespace:"a"+cluster:"c1"|pod:"p""#);
        assert_eq!(e.position, 27);
        assert!(e.message.contains("cannot be mixed"), "{e}");

        let e = error(r#"(namespace:"a""#);
        assert_eq!((e.position, e.message.contains("never closed with ')'")), (1, true), "{e}");

        let e = error(r#"namespace:"a")"#);
        assert_eq!((e.position, e.message.contains("no matching '('")), (14, true), "{e}");

        let e = error(r#"namespace[x]:"a""#);
        assert!(e.message.contains("takes no [key]"), "{e}");

        let e = error(r#"label[]:"a""#);
        assert!(e.message.contains("empty"), "{e}");

        let e = error(r#"namespace:"a"+"#);
        assert_eq!(e.position, 15);
        assert!(e.message.contains("found the end"), "{e}");

        let e = error(r#"namespace!"a""#);
        assert_eq!(e.position, 10);
        assert!(e.message.contains("unexpected '!'"), "{e}");

        let e = error(r#"Namespace:"a""#);
        assert!(e.message.contains("case-sensitive"), "{e}");

        // Positions count characters, not bytes.
        let e = error("cluster:\"é\" ?");
        assert_eq!(e.position, 13);
    }

    #[test]
    fn asset_fields_are_their_own() {
        assert!(Filter::parse(r#"type:"Node"+providerID<~:"i-""#, &ASSET_FIELDS).is_ok());
        let e = Filter::parse(r#"namespace:"a""#, &ASSET_FIELDS).unwrap_err();
        assert!(e.message.contains("unknown asset filter field"), "{e}");
    }
}
