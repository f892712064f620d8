//! One ListObjectsV2 answer read as S3 writes it, for the direct listing
//! ([`crate::direct`]): the key, ETag and size of each `<Contents>`, the prefix of each
//! `<CommonPrefixes>` (a listing by delimiter), and the continuation token of a truncated
//! page.
//!
//! aws-sdk-s3 reads the same page through a general XML decoder (and first scans the whole
//! body to know whether it is an error): a federation lists its bucket twice, 60,000 keys at
//! 1000 clusters and 30 days, and that decoding took two seconds of one thread on this
//! machine while nothing else could run. S3, LocalStack, MinIO and the embedded server write
//! the page as flat elements without attributes, comments or CDATA, and element text never
//! holds a `<` (it is escaped), so each element is found by its tags. A page written any other
//! way is [`Unread`], and the caller lists through the SDK instead.

use ampfed_common::xml::unescape;

use crate::object::Listed;

/// One page: its objects and common prefixes in the order given, and the token of the next
/// page when the listing is truncated.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) listed: Vec<Listed>,
    pub(crate) prefixes: Vec<String>,
    pub(crate) next: Option<String>,
}

/// Why a page was not read here.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unread(pub(crate) String);

/// The page of `xml`, a `ListBucketResult` document.
pub(crate) fn page(xml: &str) -> Result<Page, Unread> {
    let unread = |why: &str| Unread(why.to_owned());
    if xml.contains("<![CDATA[") || xml.contains("<!--") {
        return Err(unread("the page has CDATA or comments"));
    }
    let root = xml.find("<ListBucketResult").ok_or_else(|| unread("no <ListBucketResult> element"))?;
    let body = &xml[root..];
    let mut listed = Vec::new();
    for object in elements(body, "Contents") {
        let object = object?;
        // The SDK's path skips an object without a key likewise.
        let Some(key) = text(object, "<Key>", "</Key>")? else { continue };
        let etag = text(object, "<ETag>", "</ETag>")?.unwrap_or_default();
        let size = match text(object, "<Size>", "</Size>")? {
            Some(s) => s.trim().parse::<i64>().map_err(|_| Unread(format!("the size {s:?} of {key:?}")))?,
            None => 0,
        };
        listed.push(Listed { key, etag, size });
    }
    let mut prefixes = Vec::new();
    for common in elements(body, "CommonPrefixes") {
        prefixes.extend(text(common?, "<Prefix>", "</Prefix>")?);
    }
    // Found in the whole page: no element of an object is named either.
    let truncated = text(body, "<IsTruncated>", "</IsTruncated>")?;
    let next = match truncated.as_deref().map(str::trim) {
        Some("true") => Some(
            text(body, "<NextContinuationToken>", "</NextContinuationToken>")?
                .filter(|t| !t.is_empty())
                .ok_or_else(|| unread("a truncated page without a NextContinuationToken"))?,
        ),
        Some("false") | None => None,
        Some(other) => return Err(Unread(format!("IsTruncated is {other:?}"))),
    };
    Ok(Page { listed, prefixes, next })
}

/// The content of each element `name` in `within`, in order; an error for one never closed.
fn elements<'x>(within: &'x str, name: &str) -> impl Iterator<Item = Result<&'x str, Unread>> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut rest = Some(within);
    std::iter::from_fn(move || {
        let inner = {
            let r = rest?;
            let at = r.find(&open)?;
            &r[at + open.len()..]
        };
        match inner.find(&close) {
            Some(end) => {
                rest = Some(&inner[end + close.len()..]);
                Some(Ok(&inner[..end]))
            }
            None => {
                rest = None;
                Some(Err(Unread(format!("a {open} is never closed"))))
            }
        }
    })
}

/// The text of the first element `open`…`close` in `within`, its references resolved;
/// `Some("")` for the element written empty (`<Key/>`).
fn text(within: &str, open: &str, close: &str) -> Result<Option<String>, Unread> {
    let Some(at) = within.find(open) else {
        let empty = format!("{}/>", &open[..open.len() - 1]);
        return Ok(within.contains(&empty).then(String::new));
    };
    let inner = &within[at + open.len()..];
    let end = inner.find(close).ok_or_else(|| Unread(format!("{open} is never closed")))?;
    unescape(&inner[..end]).map(|t| Some(t.into_owned())).map_err(Unread)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(key: &str, etag: &str, size: i64) -> Listed {
        Listed { key: key.to_owned(), etag: etag.to_owned(), size }
    }

    /// A page as S3 writes it (the ListObjectsV2 example of the S3 API reference, two objects
    /// with awkward keys, an owner and a checksum algorithm).
    const TRUNCATED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
        <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>\
        <Prefix>federated/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>\
        <IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\
        <Contents><Key>federated/a &amp; b/&lt;x&gt; +&#13;.parquet</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>\
        <ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>\
        <Size>1234</Size><Owner><ID>o</ID><DisplayName>d</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>\
        <Contents><Key>federated/é</Key><ETag>\"x-2\"</ETag><Size>0</Size></Contents>\
        </ListBucketResult>";

    #[test]
    fn a_page_gives_its_objects_and_next_token() {
        let page = page(TRUNCATED).unwrap();
        assert_eq!(
            page.listed,
            vec![
                listed("federated/a & b/<x> +\r.parquet", "\"0123456789abcdef0123456789abcdef\"", 1234),
                listed("federated/é", "\"x-2\"", 0),
            ]
        );
        assert_eq!(page.next.as_deref(), Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="));
    }

    #[test]
    fn the_last_page_and_an_empty_one_have_no_token() {
        let last = "<ListBucketResult><IsTruncated>false</IsTruncated>\
            <Contents><Key>k</Key><ETag>\"e\"</ETag><Size>7</Size></Contents></ListBucketResult>";
        assert_eq!(page(last).unwrap(), Page { listed: vec![listed("k", "\"e\"", 7)], ..Page::default() });
        let empty =
            "<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>";
        assert_eq!(page(empty).unwrap(), Page::default());
        // An object without a key is skipped, as the SDK's path skips it; one without ETag
        // or size has them empty and zero.
        let odd = "<ListBucketResult><Contents><Size>3</Size></Contents><Contents><Key/></Contents></ListBucketResult>";
        assert_eq!(page(odd).unwrap().listed, vec![listed("", "", 0)]);
    }

    #[test]
    fn a_listing_by_delimiter_gives_its_common_prefixes() {
        // As S3 writes a ListObjectsV2 with `delimiter=/`: the request's prefix and delimiter
        // first, the objects at this level, then a `<CommonPrefixes>` a folder.
        let xml = "<ListBucketResult><Name>b</Name><Prefix>federated/</Prefix><Delimiter>/</Delimiter>\
            <KeyCount>3</KeyCount><IsTruncated>false</IsTruncated>\
            <Contents><Key>federated/stray</Key><ETag>\"e\"</ETag><Size>1</Size></Contents>\
            <CommonPrefixes><Prefix>federated/a &amp; b/</Prefix></CommonPrefixes>\
            <CommonPrefixes><Prefix>federated/combined/</Prefix></CommonPrefixes></ListBucketResult>";
        let page = page(xml).unwrap();
        assert_eq!(page.listed, vec![listed("federated/stray", "\"e\"", 1)]);
        assert_eq!(page.prefixes, ["federated/a & b/", "federated/combined/"]);
        assert_eq!(page.next, None);
    }

    #[test]
    fn what_it_does_not_read_is_left_to_the_sdk() {
        for xml in [
            "<ListBucketResult><Contents><Key><![CDATA[k]]></Key></Contents></ListBucketResult>",
            "<ListBucketResult><!-- c --><IsTruncated>false</IsTruncated></ListBucketResult>",
            "<Error><Code>AccessDenied</Code></Error>",
            "<ListBucketResult><Contents><Key>k</Key>",
            "<ListBucketResult><Contents><Key>k</Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>k&bogus;</Key></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>k</Key><Size>big</Size></Contents></ListBucketResult>",
            "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
            "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
            "<ListBucketResult><CommonPrefixes><Prefix>p/</Prefix></ListBucketResult>",
            "<ListBucketResult><CommonPrefixes><Prefix>p&bogus;/</Prefix></CommonPrefixes></ListBucketResult>",
        ] {
            assert!(page(xml).is_err(), "{xml}");
        }
    }
}
