//! XML text content as S3 documents carry it: its five named entity references and its
//! decimal and hexadecimal character references resolved. One home for the embedded S3's
//! request parser and the federator's listing reader.

use std::borrow::Cow;

/// `raw` (element text, without markup) with its references resolved; borrowed when it has
/// none. An unterminated or unknown reference, or one naming no character, is an error that
/// quotes it.
pub fn unescape(raw: &str) -> Result<Cow<'_, str>, String> {
    if !raw.contains('&') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after.find(';').ok_or_else(|| format!("an unterminated reference in {raw:?}"))?;
        let name = &after[..end];
        let resolved = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(decimal) = name.strip_prefix('#') {
                    decimal.parse::<u32>().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32).ok_or_else(|| format!("an unknown reference &{name};"))?
            }
        };
        out.push(resolved);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_resolved_and_bad_ones_refused() {
        assert_eq!(unescape("a&amp;b&#x41;&#66;&lt;&gt;&quot;&apos;").unwrap(), "a&bAB<>\"'");
        assert_eq!(unescape("k&#13;&#xE9;").unwrap(), "k\r\u{e9}");
        assert!(matches!(unescape("plain key").unwrap(), Cow::Borrowed("plain key")));
        assert!(unescape("a&bogus;").is_err());
        assert!(unescape("a&amp").is_err());
        assert!(unescape("&#xD800;").is_err(), "a surrogate names no character");
        assert!(unescape("&#;").is_err());
    }
}
