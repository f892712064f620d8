//! Name rules: what Prometheus accepts as metric and label names, and what AMP accepts as a
//! workspace id or rule groups namespace name.

/// AMP's pattern for workspace ids and namespace names, as its error messages quote it.
pub(crate) const RESOURCE_NAME_PATTERN: &str = "[0-9A-Za-z][-.0-9A-Z_a-z]*";

/// A Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An AMP resource name ([`RESOURCE_NAME_PATTERN`]); lengths are checked separately.
pub(crate) fn is_resource_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}
