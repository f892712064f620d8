//! XML as S3 speaks it: escaping text for the documents the server writes, and reading the
//! two request bodies clients send as XML (`CreateBucketConfiguration`, `Delete`), with the
//! `xmlparser` tokenizer. Parse failures are plain strings; `ops` answers them as
//! `MalformedXML`.

use std::borrow::Cow;

use ampfed_common::xml::unescape;
use xmlparser::{ElementEnd, Token, Tokenizer};

/// The S3 namespace of every document the server writes.
pub(crate) const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The XML declaration every document starts with.
pub(crate) const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Most keys a `DeleteObjects` request may name (S3's limit).
pub(crate) const MAX_DELETE_KEYS: usize = 1000;

/// `text` escaped for element content: `&`, `<`, `>`, quotes, and control characters as
/// character references (S3 writes a key's `\r` as `&#13;`).
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    let needs = |c: char| matches!(c, '&' | '<' | '>' | '"' | '\'') || (c.is_control() && c != '\n');
    // A byte look first (a listing escapes every key): the five, the C0 controls and DEL,
    // and 0xC2, the lead byte of the C1 controls (U+0080 to U+009F) in UTF-8.
    let may_need =
        |b: &u8| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'' | 0x7f | 0xc2) || (*b < 0x20 && *b != b'\n');
    if !text.as_bytes().iter().any(may_need) || !text.contains(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' => out.push_str(&format!("&#{};", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Appends `<name>text</name>` with `text` escaped.
pub(crate) fn element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// What [`walk`] reports: an element opening, or an element's text (unescaped, CDATA as
/// is), each with the local names of the open elements from the root down.
enum Event<'p> {
    Start(&'p [String]),
    Text(&'p [String], String),
}

/// Walks the elements of `body` (one root element, every element closed), reporting each
/// opening and each text to `on`.
fn walk(body: &[u8], mut on: impl FnMut(Event<'_>) -> Result<(), String>) -> Result<(), String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
    let mut path: Vec<String> = Vec::new();
    let mut roots = 0;
    for token in Tokenizer::from(text) {
        match token.map_err(|e| e.to_string())? {
            Token::ElementStart { local, .. } => {
                if path.is_empty() {
                    roots += 1;
                    if roots > 1 {
                        return Err("more than one root element".to_owned());
                    }
                }
                path.push(local.as_str().to_owned());
                on(Event::Start(&path))?;
            }
            Token::ElementEnd { end: ElementEnd::Empty, .. } => {
                path.pop();
            }
            Token::ElementEnd { end: ElementEnd::Close(_, local), .. } => match path.pop() {
                Some(open) if open == local.as_str() => {}
                _ => return Err(format!("</{}> closes no open element", local.as_str())),
            },
            Token::Text { text } if !path.is_empty() => {
                on(Event::Text(&path, unescape(text.as_str())?.into_owned()))?
            }
            Token::Cdata { text, .. } if !path.is_empty() => {
                on(Event::Text(&path, text.as_str().to_owned()))?
            }
            _ => {}
        }
    }
    if roots == 0 {
        return Err("no root element".to_owned());
    }
    if !path.is_empty() {
        return Err(format!("<{}> is never closed", path.join("><")));
    }
    Ok(())
}

/// The `LocationConstraint` of a `CreateBucketConfiguration` body; `None` for an empty body
/// or one without the element.
pub(crate) fn location_constraint(body: &[u8]) -> Result<Option<String>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let mut found: Option<String> = None;
    walk(body, |event| {
        match event {
            Event::Start([root]) if root != "CreateBucketConfiguration" => {
                return Err(format!("the root element is <{root}>, not <CreateBucketConfiguration>"))
            }
            Event::Text([_, leaf], text) if leaf == "LocationConstraint" => {
                found.get_or_insert_with(String::new).push_str(&text)
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(found.map(|s| s.trim().to_owned()))
}

/// A `DeleteObjects` request body: the keys to delete, and whether only errors are reported.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DeleteRequest {
    pub(crate) keys: Vec<String>,
    pub(crate) quiet: bool,
}

/// Reads `<Delete><Object><Key>…</Key></Object>…<Quiet>true</Quiet></Delete>`. Every
/// `Object` needs one non-empty `Key`; at most [`MAX_DELETE_KEYS`] objects; `VersionId` and
/// `ETag` are accepted and not used (buckets are unversioned).
pub(crate) fn delete_request(body: &[u8]) -> Result<DeleteRequest, String> {
    let mut keys: Vec<String> = Vec::new();
    let mut quiet = String::new();
    walk(body, |event| {
        match event {
            Event::Start([root]) if root != "Delete" => {
                return Err(format!("the root element is <{root}>, not <Delete>"))
            }
            Event::Start([_, object]) if object == "Object" => {
                if keys.len() == MAX_DELETE_KEYS {
                    return Err(format!("more than {MAX_DELETE_KEYS} objects"));
                }
                keys.push(String::new());
            }
            Event::Text([_, object, key], text) if object == "Object" && key == "Key" => {
                if let Some(last) = keys.last_mut() {
                    last.push_str(&text);
                }
            }
            Event::Text([_, leaf], text) if leaf == "Quiet" => quiet.push_str(&text),
            _ => {}
        }
        Ok(())
    })?;
    if keys.is_empty() {
        return Err("no <Object> to delete".to_owned());
    }
    if keys.iter().any(String::is_empty) {
        return Err("an <Object> without a <Key>".to_owned());
    }
    let quiet = match quiet.trim() {
        "" | "false" => false,
        "true" => true,
        other => return Err(format!("<Quiet> is {other:?}, not true or false")),
    };
    Ok(DeleteRequest { keys, quiet })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_quotes_and_controls() {
        assert_eq!(escape("plain/key.json"), "plain/key.json");
        assert_eq!(escape("a&b<c>\"d\"'e'\r"), "a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;&#13;");
        // Past the byte look: DEL, a C1 control, and letters whose UTF-8 starts with 0xC2 or
        // holds the C1 controls' second bytes, which are no controls.
        assert_eq!(escape("a\u{7f}b\u{85}c"), "a&#127;b&#133;c");
        assert_eq!(escape("\u{a9}\u{e9}\u{105}\n"), "\u{a9}\u{e9}\u{105}\n");
        assert!(matches!(escape("\u{a9} 2026"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_delete_body_gives_its_keys_in_order() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
            <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Object><Key>b&amp;1</Key></Object>
              <Object><Key>a</Key><VersionId>null</VersionId></Object>
              <Quiet>true</Quiet>
            </Delete>"#;
        let parsed = delete_request(body).unwrap();
        assert_eq!(parsed, DeleteRequest { keys: vec!["b&1".into(), "a".into()], quiet: true });
    }

    #[test]
    fn malformed_delete_bodies_are_refused() {
        assert!(delete_request(b"<Delete></Delete>").is_err(), "no object");
        assert!(delete_request(b"<Delete><Object></Object></Delete>").is_err(), "no key");
        assert!(delete_request(b"<Delete><Object><Key>a</Key></Object>").is_err(), "unclosed");
        assert!(delete_request(b"<Remove><Object><Key>a</Key></Object></Remove>").is_err(), "root");
        assert!(delete_request(b"<Delete><Object><Key>a</Key></Object><Quiet>yes</Quiet></Delete>").is_err());
        let many: String =
            (0..=MAX_DELETE_KEYS).map(|i| format!("<Object><Key>{i}</Key></Object>")).collect();
        assert!(delete_request(format!("<Delete>{many}</Delete>").as_bytes()).is_err(), "too many");
    }

    #[test]
    fn the_location_constraint_is_read_or_absent() {
        let body = b"<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                     <LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>";
        assert_eq!(location_constraint(body).unwrap().as_deref(), Some("us-west-2"));
        assert_eq!(location_constraint(b"").unwrap(), None);
        assert_eq!(location_constraint(b"<CreateBucketConfiguration/>").unwrap(), None);
        assert!(location_constraint(b"<Other><LocationConstraint>x</LocationConstraint></Other>").is_err());
        assert!(location_constraint(b"not xml").is_err());
    }
}
