//! Where each value of a YAML fixture is written: a field path → its 1-based line and column.
//!
//! `serde_yaml` reports a line only for syntax errors; a semantic error found after
//! deserializing (`workloads[2].containers[0].cpu_request` is not a quantity) has no position.
//! [`Spans::parse`] reads the same text a second time with an event parser (`saphyr-parser`,
//! pure Rust, no `unsafe`) and keeps the position of every node of the first document, so such
//! an error can still say `cluster-a.yaml:57:9: workloads[2].containers[0].cpu_request: …`.
//!
//! - [`Spans::locate`] gives the position of the value at a path: for a mapping key, where the
//!   key is written (`cpu_request:`); for a sequence item, where the item starts. A path that
//!   is not in the text (a defaulted field, an index past the end) falls back to its nearest
//!   ancestor that is, so `workloads[2].replicas` left out points at `workloads[2]`.
//! - [`Spans::index_where`] finds the sequence item whose field has a given scalar value
//!   (`nodes[i]` whose `name` is `ip-10-0-0-1`), for errors about a named item.
//! - [`display`] writes a path the way messages show it:
//!   `workloads[2].containers[0].cpu_request`, `nodes[0].labels["eks.amazonaws.com/nodegroup"]`.
//!
//! Block and flow style, quoted keys, anchors and aliases (an alias is a leaf: it is never
//! followed) and multi-document input (only the first document counts) are handled. Columns
//! count characters, not bytes. Text the parser rejects gives an empty map: the serde parse
//! reports those errors with their own positions. The work is bounded: nodes nested deeper
//! than `MAX_DEPTH` (64) and nodes past the first `MAX_NODES` (200 000) are not recorded (their
//! nearest recorded ancestor answers for them), and recursion never goes deeper than that.

use std::fmt::Write as _;

use saphyr_parser::{Event, Parser, Span, StrInput};

/// Nesting depth (of mappings and sequences) beyond which nodes are not recorded.
const MAX_DEPTH: usize = 64;
/// Number of recorded nodes beyond which nothing more is recorded.
const MAX_NODES: usize = 200_000;

/// One step of a field path: a mapping key or a sequence index (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// A 1-based (line, column) position; the column counts characters.
type Pos = (usize, usize);

/// The positions of the nodes of the first document in a YAML text.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    /// Every recorded node in document order; the root, if any, is `nodes[0]`.
    nodes: Vec<Node>,
}

#[derive(Debug)]
struct Node {
    pos: Pos,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Scalar,
    /// `*name`: recorded where it is written, never followed.
    Alias,
    /// Items, as indices into `Spans::nodes`.
    Sequence(Vec<usize>),
    /// Entries whose key is a scalar, in document order; other keys are left out.
    Mapping(Vec<Entry>),
}

#[derive(Debug)]
struct Entry {
    key: String,
    /// Where the key is written.
    pos: Pos,
    /// The value, as an index into `Spans::nodes`.
    value: usize,
}

impl Spans {
    /// Reads `text`; never panics. Text that is not valid YAML gives an empty map.
    pub(crate) fn parse(text: &str) -> Spans {
        Self::parse_bounded(text, MAX_DEPTH, MAX_NODES)
    }

    fn parse_bounded(text: &str, max_depth: usize, max_nodes: usize) -> Spans {
        // The parser is not expected to panic; if it ever does on some odd input, positions
        // are a nicety for error messages and must not turn a fixture error into a crash.
        let nodes = std::panic::catch_unwind(|| {
            let mut builder =
                Builder { events: Parser::new_from_str(text), nodes: Vec::new(), max_depth, max_nodes };
            builder.document().map(|()| builder.nodes)
        });
        match nodes {
            Ok(Ok(nodes)) => Spans { nodes },
            Ok(Err(Invalid)) | Err(_) => Spans::default(),
        }
    }

    /// The position of the value at `path` (for a mapping key, where the key is written), or
    /// of its nearest ancestor in the text when `path` itself is not there. `None` only when
    /// there is no document at all (empty or invalid text).
    pub(crate) fn locate(&self, path: &[Seg]) -> Option<(usize, usize)> {
        let mut node = self.nodes.first()?;
        let mut pos = node.pos;
        for &seg in path {
            match self.child(node, seg) {
                Some((at, child)) => {
                    pos = at;
                    node = child;
                }
                None => break,
            }
        }
        Some(pos)
    }

    /// One step down: where the step is written and the node it leads to. Duplicate keys
    /// (which serde rejects anyway) resolve to the first.
    fn child(&self, node: &Node, seg: Seg) -> Option<(Pos, &Node)> {
        match (&node.kind, seg) {
            (Kind::Mapping(entries), Seg::Key(key)) => {
                let entry = entries.iter().find(|entry| entry.key == key)?;
                Some((entry.pos, self.nodes.get(entry.value)?))
            }
            (Kind::Sequence(items), Seg::Index(index)) => {
                let item = self.nodes.get(*items.get(index)?)?;
                Some((item.pos, item))
            }
            _ => None,
        }
    }
}

/// Writes a path as messages show it: `workloads[2].containers[0].cpu_request`. A key that is
/// not made of ASCII letters, digits, `_` and `-` is quoted, so that the path stays
/// unambiguous: `nodes[0].labels["eks.amazonaws.com/nodegroup"]`. The empty path (the whole
/// document) is `(root)`.
pub(crate) fn display(path: &[Seg]) -> String {
    if path.is_empty() {
        return "(root)".to_owned();
    }
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(key)
                if !key.is_empty()
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Seg::Key(key) => write!(out, "[{key:?}]").unwrap_or_default(),
            Seg::Index(index) => write!(out, "[{index}]").unwrap_or_default(),
        }
    }
    out
}

/// The text is not YAML the parser accepts (or ends early).
struct Invalid;

struct Builder<'a> {
    events: Parser<'a, StrInput<'a>>,
    nodes: Vec<Node>,
    max_depth: usize,
    max_nodes: usize,
}

impl<'a> Builder<'a> {
    /// Records the first document's nodes; the rest of that document must parse too.
    fn document(&mut self) -> Result<(), Invalid> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => {}
                // No document at all (empty text, only comments).
                Event::StreamEnd | Event::DocumentEnd => return Ok(()),
                _ => {
                    self.node(event, span, 0)?;
                    break;
                }
            }
        }
        match self.next()?.0 {
            Event::DocumentEnd => Ok(()),
            _ => Err(Invalid),
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), Invalid> {
        loop {
            match self.events.next_event() {
                Some(Ok((Event::Nothing, _))) => {}
                Some(Ok(event)) => return Ok(event),
                Some(Err(_)) | None => return Err(Invalid),
            }
        }
    }

    /// Records the node that starts with `event` (and its children), or skips it past the
    /// limits. Returns its index, or `None` when it was not recorded.
    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Option<usize>, Invalid> {
        if depth > self.max_depth || self.nodes.len() >= self.max_nodes {
            self.skip(&event)?;
            return Ok(None);
        }
        let id = self.nodes.len();
        let pos = position(span);
        match event {
            Event::Scalar(..) => self.nodes.push(Node { pos, kind: Kind::Scalar }),
            Event::Alias(_) => self.nodes.push(Node { pos, kind: Kind::Alias }),
            Event::SequenceStart(..) => {
                self.nodes.push(Node { pos, kind: Kind::Sequence(Vec::new()) });
                let mut items = Vec::new();
                // Once an item is not recorded, no later one is, so indices stay right.
                let mut recording = true;
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    if !recording {
                        self.skip(&event)?;
                    } else if let Some(item) = self.node(event, span, depth + 1)? {
                        items.push(item);
                    } else {
                        recording = false;
                    }
                }
                self.nodes[id].kind = Kind::Sequence(items);
            }
            Event::MappingStart(..) => {
                self.nodes.push(Node { pos, kind: Kind::Mapping(Vec::new()) });
                let mut entries = Vec::new();
                let mut recording = true;
                loop {
                    let (key_event, key_span) = self.next()?;
                    if matches!(key_event, Event::MappingEnd) {
                        break;
                    }
                    let key = match key_event {
                        Event::Scalar(key, ..) => Some(key.into_owned()),
                        // A complex key (`? [a, b]`) or an alias as key: no path reaches it.
                        other => {
                            self.skip(&other)?;
                            None
                        }
                    };
                    let (event, span) = self.next()?;
                    match key {
                        Some(key) if recording => match self.node(event, span, depth + 1)? {
                            Some(value) => entries.push(Entry { key, pos: position(key_span), value }),
                            None => recording = false,
                        },
                        _ => self.skip(&event)?,
                    }
                }
                self.nodes[id].kind = Kind::Mapping(entries);
            }
            _ => return Err(Invalid),
        }
        Ok(Some(id))
    }

    /// Consumes the rest of the node that starts with `event`, without recursion.
    fn skip(&mut self, event: &Event<'a>) -> Result<(), Invalid> {
        let mut open = usize::from(matches!(event, Event::SequenceStart(..) | Event::MappingStart(..)));
        while open > 0 {
            match self.next()?.0 {
                Event::SequenceStart(..) | Event::MappingStart(..) => open += 1,
                Event::SequenceEnd | Event::MappingEnd => open -= 1,
                _ => {}
            }
        }
        Ok(())
    }
}

/// The parser's marks have 1-based lines and 0-based columns.
fn position(span: Span) -> Pos {
    (span.start.line(), span.start.col() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Seg::{Index as I, Key as K};

    /// A cluster fixture in the shape of `fixtures/clusters/*.yaml`. Its first line is line 1;
    /// every expected position below was counted by hand in this text.
    const FIXTURE: &str = r#"# Cluster A, trimmed for the spans tests.
name: cluster-a
region: us-east-1
nodes:
  - name: ip-10-10-1-21.ec2.internal
    instance_type: m5.xlarge
    cpu: 4
    labels: {eks.amazonaws.com/nodegroup: general, "topology.kubernetes.io/zone": us-east-1a}
  - name: 'ip-10-10-2-37.ec2.internal'
    instance_type: m5.xlarge
    cpu: 4
    labels:
      eks.amazonaws.com/nodegroup: general
namespaces:
  - name: kube-system
  - {name: shop, labels: {team: storefront}}
workloads:
  # The VPC CNI: block style all the way down.
  - namespace: kube-system
    name: aws-node
    kind: DaemonSet
    containers:
      - name: aws-node
        cpu_request: 25m
        cpu_usage: {base: 4m, amplitude: 2m}
  - {namespace: shop, name: frontend, kind: Deployment, replicas: 2,
     nodes: [ip-10-10-1-21.ec2.internal, ip-10-10-2-37.ec2.internal]}
  - namespace: shop
    name: postgres
    kind: StatefulSet
    containers:
      - name: db
        memory_usage:
          base: 1Gi
      - &sidecar
        name: logs
        cpu_request: 5m
      - *sidecar
"#;

    fn spans() -> Spans {
        Spans::parse(FIXTURE)
    }

    #[test]
    fn block_style_keys_and_items() {
        let s = spans();
        assert_eq!(s.locate(&[]), Some((2, 1)));
        assert_eq!(s.locate(&[K("name")]), Some((2, 1)));
        assert_eq!(s.locate(&[K("region")]), Some((3, 1)));
        assert_eq!(s.locate(&[K("nodes")]), Some((4, 1)));
        // A sequence item is where its content starts, after `- `.
        assert_eq!(s.locate(&[K("nodes"), I(0)]), Some((5, 5)));
        assert_eq!(s.locate(&[K("nodes"), I(1), K("name")]), Some((9, 5)));
        assert_eq!(s.locate(&[K("nodes"), I(1), K("instance_type")]), Some((10, 5)));
        assert_eq!(s.locate(&[K("workloads"), I(0), K("kind")]), Some((21, 5)));
    }

    #[test]
    fn flow_style_mappings_and_sequences() {
        let s = spans();
        // `{` of the flow mapping on line 16.
        assert_eq!(s.locate(&[K("namespaces"), I(1)]), Some((16, 5)));
        assert_eq!(s.locate(&[K("namespaces"), I(1), K("name")]), Some((16, 6)));
        assert_eq!(s.locate(&[K("namespaces"), I(1), K("labels"), K("team")]), Some((16, 27)));
        // A flow mapping spanning two lines.
        let frontend = [K("workloads"), I(1)];
        assert_eq!(s.locate(&frontend), Some((26, 5)));
        assert_eq!(s.locate(&[K("workloads"), I(1), K("replicas")]), Some((26, 57)));
        assert_eq!(s.locate(&[K("workloads"), I(1), K("nodes")]), Some((27, 6)));
        assert_eq!(s.locate(&[K("workloads"), I(1), K("nodes"), I(1)]), Some((27, 42)));
        assert_eq!(
            s.locate(&[K("workloads"), I(0), K("containers"), I(0), K("cpu_usage"), K("amplitude")]),
            Some((25, 31))
        );
    }

    #[test]
    fn keys_with_dots_slashes_and_quotes() {
        let s = spans();
        let key = "eks.amazonaws.com/nodegroup";
        assert_eq!(s.locate(&[K("nodes"), I(0), K("labels"), K(key)]), Some((8, 14)));
        assert_eq!(s.locate(&[K("nodes"), I(1), K("labels"), K(key)]), Some((13, 7)));
        // A double-quoted key: the position of its opening quote.
        let zone = "topology.kubernetes.io/zone";
        assert_eq!(s.locate(&[K("nodes"), I(0), K("labels"), K(zone)]), Some((8, 52)));
        // A key is one segment: the dots are not path separators.
        assert_eq!(
            s.locate(&[K("nodes"), I(0), K("labels"), K("eks")]),
            s.locate(&[K("nodes"), I(0), K("labels")])
        );
    }

    #[test]
    fn nested_sequences() {
        let s = spans();
        let containers = [K("workloads"), I(2), K("containers")];
        assert_eq!(s.locate(&containers), Some((31, 5)));
        assert_eq!(s.locate(&[K("workloads"), I(0), K("containers"), I(0), K("cpu_request")]), Some((24, 9)));
        assert_eq!(
            s.locate(&[K("workloads"), I(2), K("containers"), I(0), K("memory_usage"), K("base")]),
            Some((34, 11))
        );
        // An anchored item starts at its anchor.
        assert_eq!(s.locate(&[K("workloads"), I(2), K("containers"), I(1)]), Some((35, 9)));
        assert_eq!(s.locate(&[K("workloads"), I(2), K("containers"), I(1), K("cpu_request")]), Some((37, 9)));
    }

    #[test]
    fn missing_field_falls_back_to_nearest_ancestor() {
        let s = spans();
        // `replicas` is defaulted on a DaemonSet: the workload itself.
        assert_eq!(s.locate(&[K("workloads"), I(0), K("replicas")]), Some((19, 5)));
        assert_eq!(s.locate(&[K("workloads"), I(2), K("containers"), I(0), K("cpu_request")]), Some((32, 9)));
        assert_eq!(
            s.locate(&[K("workloads"), I(2), K("containers"), I(0), K("cpu_usage"), K("base")]),
            Some((32, 9))
        );
        // The mapping under `memory_usage` is there, its `amplitude` is not: the key line.
        assert_eq!(
            s.locate(&[K("workloads"), I(2), K("containers"), I(0), K("memory_usage"), K("amplitude")]),
            Some((33, 9))
        );
        // A top-level field left out: the document's first node.
        assert_eq!(s.locate(&[K("external_label")]), Some((2, 1)));
    }

    #[test]
    fn out_of_range_index_and_wrong_kind() {
        let s = spans();
        assert_eq!(s.locate(&[K("workloads"), I(7), K("name")]), Some((17, 1)));
        assert_eq!(s.locate(&[K("nodes"), I(2)]), Some((4, 1)));
        // An index into a mapping, a key into a sequence or a scalar: stop at the parent.
        assert_eq!(s.locate(&[K("nodes"), I(0), I(0)]), Some((5, 5)));
        assert_eq!(s.locate(&[K("nodes"), K("name")]), Some((4, 1)));
        assert_eq!(s.locate(&[K("name"), K("x")]), Some((2, 1)));
    }

    #[test]
    fn aliases_are_leaves() {
        let s = spans();
        let alias = [K("workloads"), I(2), K("containers"), I(2)];
        assert_eq!(s.locate(&alias), Some((38, 9)));
        // The alias is not followed into the anchored mapping.
        assert_eq!(s.locate(&[K("workloads"), I(2), K("containers"), I(2), K("name")]), Some((38, 9)));
    }

    #[test]
    fn display_formats_paths() {
        assert_eq!(
            display(&[K("workloads"), I(2), K("containers"), I(0), K("cpu_request")]),
            "workloads[2].containers[0].cpu_request"
        );
        assert_eq!(
            display(&[K("nodes"), I(0), K("labels"), K("eks.amazonaws.com/nodegroup")]),
            r#"nodes[0].labels["eks.amazonaws.com/nodegroup"]"#
        );
        assert_eq!(
            display(&[K("instance_types"), K("m5.large"), K("hourly_cost")]),
            r#"instance_types["m5.large"].hourly_cost"#
        );
        assert_eq!(display(&[K("k8s-app")]), "k8s-app");
        assert_eq!(display(&[K(r#"a "b""#), K("")]), r#"["a \"b\""][""]"#);
        assert_eq!(display(&[I(3), K("name")]), "[3].name");
        assert_eq!(display(&[]), "(root)");
    }

    #[test]
    fn invalid_or_empty_text_gives_an_empty_map() {
        for text in [
            "",
            "# only a comment\n",
            "nodes: [a, b\n",
            "name: a: b\n",
            "name: \"unterminated\n",
            "a:\n  - x\n y: 1\n",
            "a: *undefined\n",
            "- a\nb: 1\n",
        ] {
            let s = Spans::parse(text);
            assert_eq!(s.locate(&[]), None, "{text:?}");
            assert_eq!(s.locate(&[K("nodes")]), None, "{text:?}");
        }
        // No prefix of a real fixture panics, valid or not.
        for (end, _) in FIXTURE.char_indices() {
            let s = Spans::parse(&FIXTURE[..end]);
            let _ = s.locate(&[K("workloads"), I(2), K("containers"), I(1), K("name")]);
        }
    }

    #[test]
    fn first_document_only() {
        let s = Spans::parse("---\nname: a\n---\nname: b\nregion: r\n");
        assert_eq!(s.locate(&[K("name")]), Some((2, 1)));
        assert_eq!(s.locate(&[K("region")]), Some((2, 1)));
        // A broken second document does not matter (serde rejects several documents anyway).
        let s = Spans::parse("name: a\n---\nname: [\n");
        assert_eq!(s.locate(&[K("name")]), Some((1, 1)));
        // An empty first document.
        assert_eq!(Spans::parse("---\n...\n---\nname: b\n").locate(&[]), Some((2, 1)));
    }

    #[test]
    fn odd_but_valid_yaml() {
        // A complex key is skipped; the keys after it are still found.
        let s = Spans::parse("? [a, b]\n: 1\n\"c\": 2\n'd': {e: 3}\n");
        assert_eq!(s.locate(&[K("c")]), Some((3, 1)));
        assert_eq!(s.locate(&[K("d"), K("e")]), Some((4, 7)));
        // CRLF line ends, a BOM, and columns counted in characters.
        let s = Spans::parse("\u{feff}a: 1\r\nb: {é: ü, c: 2}\r\n");
        assert_eq!(s.locate(&[K("b")]), Some((2, 1)));
        assert_eq!(s.locate(&[K("b"), K("c")]), Some((2, 11)));
        // A scalar document: every path falls back to it.
        let s = Spans::parse("\n  just text\n");
        assert_eq!(s.locate(&[]), Some((2, 3)));
        assert_eq!(s.locate(&[K("name")]), Some((2, 3)));
        // A key with an empty value is where the key is.
        let s = Spans::parse("nodes:\nname: a\n");
        assert_eq!(s.locate(&[K("nodes")]), Some((1, 1)));
        assert_eq!(s.locate(&[K("nodes"), I(0)]), Some((1, 1)));
    }

    #[test]
    fn depth_and_node_limits() {
        // 200 nested flow sequences: recorded down to MAX_DEPTH, deeper paths fall back.
        let deep = format!("{}x{}", "[".repeat(200), "]".repeat(200));
        let s = Spans::parse(&deep);
        let path = vec![I(0); 200];
        assert_eq!(s.locate(&path[..MAX_DEPTH]), Some((1, MAX_DEPTH + 1)));
        assert_eq!(s.locate(&path), Some((1, MAX_DEPTH + 1)));
        // 1000 nested block mappings: no stack overflow.
        let mut deep = String::new();
        for level in 0..1000 {
            deep.push_str(&" ".repeat(level));
            deep.push_str("k:\n");
        }
        let path = vec![K("k"); 1000];
        assert_eq!(Spans::parse(&deep).locate(&path), Some((MAX_DEPTH, MAX_DEPTH)));

        // Past the node limit nothing more is recorded: items 0..=3 (nodes 1..=4 after the
        // root sequence) are there, later ones fall back to the sequence.
        let s = Spans::parse_bounded("- a\n- b\n- c\n- d\n- e\n- f\n", 64, 5);
        assert_eq!(s.locate(&[I(3)]), Some((4, 3)));
        assert_eq!(s.locate(&[I(4)]), Some((1, 1)));
        assert_eq!(s.locate(&[I(5)]), Some((1, 1)));
        let s = Spans::parse_bounded("a: 1\nb: {c: 2, d: 3}\ne: 4\n", 1, 100);
        assert_eq!(s.locate(&[K("b"), K("c")]), Some((2, 1)));
        assert_eq!(s.locate(&[K("e")]), Some((3, 1)));
    }
}
