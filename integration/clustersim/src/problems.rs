//! Problems found in a fixture, each tied to the field it is about, so that an error can say
//! file, line, field and what was expected.

use std::fmt;

/// One step of a path into a fixture document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Where in a fixture a value sits, such as `workloads[2].containers[0].cpu_request`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    /// The document itself.
    pub fn root() -> FieldPath {
        FieldPath(Vec::new())
    }

    /// The value under `key` of this mapping.
    pub fn key(mut self, key: &str) -> FieldPath {
        self.0.push(Seg::Key(key.to_owned()));
        self
    }

    /// Item `i` of this sequence.
    pub fn index(mut self, i: usize) -> FieldPath {
        self.0.push(Seg::Index(i));
        self
    }
}

impl FieldPath {
    fn segs(&self) -> Vec<crate::spans::Seg<'_>> {
        self.0
            .iter()
            .map(|s| match s {
                Seg::Key(k) => crate::spans::Seg::Key(k),
                Seg::Index(i) => crate::spans::Seg::Index(*i),
            })
            .collect()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::spans::display(&self.segs()))
    }
}

/// A problem with a fixture: the field, where it is written when the text is known, and what
/// is wrong and expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: FieldPath,
    /// 1-based line and column of the field (or of its nearest written parent).
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}:{c}: ")?,
            (Some(l), None) => write!(f, "line {l}: ")?,
            _ => {}
        }
        write!(f, "`{}`: {}", self.field, self.message)
    }
}

/// The problems found so far.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub(crate) Vec<Problem>);

impl Problems {
    pub(crate) fn push(&mut self, field: FieldPath, message: String) {
        self.0.push(Problem { field, line: None, column: None, message });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Fills in lines and columns from the fixture's text.
    pub(crate) fn locate(&mut self, text: &str) {
        locate(&mut self.0, text);
    }
}

/// Fills in the lines and columns of `problems` from `text`, the YAML they are about: for
/// other YAML files that report problems the same way (a rules file, `ampfed-rules lint`).
pub fn locate(problems: &mut [Problem], text: &str) {
    let spans = crate::spans::Spans::parse(text);
    for p in problems {
        if let Some((line, column)) = spans.locate(&p.field.segs()) {
            p.line = Some(line);
            p.column = Some(column);
        }
    }
}
