//! Building YAML values with sorted keys, and writing them as one multi-document file with
//! a comment header. Sorted keys and no timestamps make the output byte-for-byte repeatable.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

/// A mapping with its keys sorted, whatever order they come in.
pub(crate) fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
    let sorted: BTreeMap<String, Value> = pairs.into_iter().map(|(k, v)| (k.into(), v)).collect();
    Value::Mapping(sorted.into_iter().map(|(k, v)| (Value::String(k), v)).collect::<Mapping>())
}

/// A string.
pub(crate) fn s(text: impl Into<String>) -> Value {
    Value::String(text.into())
}

/// An integer.
pub(crate) fn int(n: u64) -> Value {
    Value::Number(n.into())
}

/// A sequence.
pub(crate) fn seq(items: impl IntoIterator<Item = Value>) -> Value {
    Value::Sequence(items.into_iter().collect())
}

/// A sequence of strings.
pub(crate) fn strings<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> Value {
    seq(items.into_iter().map(|i| s(i.as_ref())))
}

/// A string-to-string mapping (labels, annotations, data).
pub(crate) fn string_map(pairs: &BTreeMap<String, String>) -> Value {
    map(pairs.iter().map(|(k, v)| (k.clone(), s(v.clone()))))
}

/// `metadata` with a name, an optional namespace, and the labels and annotations that are not
/// empty.
pub(crate) fn metadata(
    name: &str,
    namespace: Option<&str>,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Value {
    let mut pairs = vec![("name", s(name))];
    if let Some(ns) = namespace {
        pairs.push(("namespace", s(ns)));
    }
    if !labels.is_empty() {
        pairs.push(("labels", string_map(labels)));
    }
    if !annotations.is_empty() {
        pairs.push(("annotations", string_map(annotations)));
    }
    map(pairs)
}

/// `value` as YAML text.
pub(crate) fn to_text(value: &Value) -> String {
    // Serializing a `Value` built here cannot fail: every key is a string.
    serde_yaml::to_string(value).unwrap_or_default()
}

/// A file: `# ` before each header line, then the documents separated by `---`.
pub(crate) fn file(header: &[String], documents: &[Value]) -> String {
    let mut out = String::new();
    for line in header {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    for doc in documents {
        out.push_str("---\n");
        out.push_str(&to_text(doc));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_out_sorted() {
        let v = map([("spec", int(1)), ("apiVersion", s("v1")), ("kind", s("X"))]);
        assert_eq!(to_text(&v), "apiVersion: v1\nkind: X\nspec: 1\n");
    }

    #[test]
    fn a_file_has_its_header_and_separated_documents() {
        let text = file(&["one".into(), String::new()], &[map([("a", int(1))]), map([("b", int(2))])]);
        assert_eq!(text, "# one\n#\n---\na: 1\n---\nb: 2\n");
    }
}
