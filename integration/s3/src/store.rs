//! The buckets and their objects, in memory: a `BTreeMap` of buckets, each a `BTreeMap` of
//! keys, so listings come in S3's order (UTF-8 byte order of the keys) and are the same every
//! run. One lock guards everything, so a conditional write's check and write are one step:
//! two `If-None-Match: *` writers of one key cannot both win.
//!
//! Objects are shared (`Arc`) so a read releases the lock before its body is sent.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::reply::S3Error;

/// The longest key S3 accepts, in UTF-8 bytes.
pub(crate) const MAX_KEY_BYTES: usize = 1024;
/// Most entries (keys and common prefixes) of one listing page.
pub(crate) const MAX_LIST_KEYS: usize = 1000;

/// One stored object.
#[derive(Debug)]
pub(crate) struct Object {
    pub(crate) body: Bytes,
    /// The quoted MD5 hex of the body, as S3 writes it.
    pub(crate) etag: String,
    pub(crate) last_modified: DateTime<Utc>,
    /// `Content-Type`, `Cache-Control`, … as given on upload (lower-case names).
    pub(crate) headers: Vec<(&'static str, String)>,
    /// `x-amz-meta-*` as given (lower-case names with the prefix).
    pub(crate) metadata: Vec<(String, String)>,
    /// The base64 CRC32 the client sent and the server checked, if any.
    pub(crate) crc32: Option<String>,
}

impl Object {
    /// Whether `etag` (quoted or not; `*` matches any) names this object.
    pub(crate) fn etag_matches(&self, etag: &str) -> bool {
        let etag = etag.trim();
        etag == "*" || etag.trim_matches('"') == self.etag.trim_matches('"')
    }
}

#[derive(Debug)]
struct Bucket {
    created: DateTime<Utc>,
    objects: BTreeMap<String, Arc<Object>>,
}

/// What a write requires of the object it replaces.
#[derive(Debug, Default, Clone)]
pub(crate) struct WriteCondition {
    /// `If-Match`: the key must exist with this ETag (404 if it does not exist, 412 if the
    /// ETag differs).
    pub(crate) if_match: Option<String>,
    /// `If-None-Match: *`: the key must not exist (412 if it does).
    pub(crate) if_none_match: bool,
}

impl WriteCondition {
    fn check(&self, key: &str, existing: Option<&Arc<Object>>) -> Result<(), S3Error> {
        if let Some(etag) = &self.if_match {
            match existing {
                None => return Err(S3Error::no_such_key(key)),
                Some(object) if !object.etag_matches(etag) => {
                    return Err(S3Error::precondition_failed("If-Match"))
                }
                Some(_) => {}
            }
        }
        if self.if_none_match && existing.is_some() {
            return Err(S3Error::precondition_failed("If-None-Match"));
        }
        Ok(())
    }
}

/// A listing request, already validated.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListQuery {
    pub(crate) prefix: String,
    /// `None` or empty: no rolling up.
    pub(crate) delimiter: Option<String>,
    pub(crate) max_keys: usize,
    /// Start after this (a continuation token's marker, `start-after` or `marker`): keys
    /// after it, and common prefixes after it (those up to it were on earlier pages).
    pub(crate) after: Option<String>,
}

/// One listing page.
#[derive(Debug, Default)]
pub(crate) struct ListPage {
    pub(crate) contents: Vec<(String, Arc<Object>)>,
    pub(crate) common_prefixes: Vec<String>,
    pub(crate) truncated: bool,
    /// Where the next page starts, when truncated: the last key or common prefix of this one.
    pub(crate) next: Option<String>,
}

/// Every bucket of the server.
#[derive(Debug, Default)]
pub(crate) struct Store {
    buckets: Mutex<BTreeMap<String, Bucket>>,
}

/// Why S3 would refuse `name` as a bucket name (the general purpose bucket rules), if it
/// would.
pub(crate) fn bucket_name_problem(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Some("bucket names are 3 to 63 characters long");
    }
    if !bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-') {
        return Some("bucket names hold only lower-case letters, digits, dots and hyphens");
    }
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().is_some_and(alnum) || !bytes.last().is_some_and(alnum) {
        return Some("bucket names start and end with a letter or a digit");
    }
    if name.contains("..") {
        return Some("bucket names have no two adjacent dots");
    }
    if name.split('.').count() == 4 && name.split('.').all(|part| part.parse::<u8>().is_ok()) {
        return Some("bucket names are not IP addresses");
    }
    None
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Bucket>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates `name`; `Ok(false)` when it already existed.
    pub(crate) fn create_bucket(&self, name: &str, now: DateTime<Utc>) -> bool {
        let mut buckets = self.lock();
        if buckets.contains_key(name) {
            return false;
        }
        buckets.insert(name.to_owned(), Bucket { created: now, objects: BTreeMap::new() });
        true
    }

    pub(crate) fn bucket_exists(&self, name: &str) -> bool {
        self.lock().contains_key(name)
    }

    /// Every bucket and when it was created, by name.
    pub(crate) fn buckets(&self) -> Vec<(String, DateTime<Utc>)> {
        self.lock().iter().map(|(name, b)| (name.clone(), b.created)).collect()
    }

    /// Deletes an empty bucket.
    pub(crate) fn delete_bucket(&self, name: &str) -> Result<(), S3Error> {
        let mut buckets = self.lock();
        match buckets.get(name) {
            None => Err(S3Error::no_such_bucket(name)),
            Some(bucket) if !bucket.objects.is_empty() => {
                Err(S3Error::new(409, "BucketNotEmpty", "The bucket you tried to delete is not empty")
                    .field("BucketName", name))
            }
            Some(_) => {
                buckets.remove(name);
                Ok(())
            }
        }
    }

    /// Stores `object` under `key` if `condition` holds for what is there now.
    pub(crate) fn put(
        &self,
        bucket: &str,
        key: &str,
        object: Object,
        condition: &WriteCondition,
    ) -> Result<Arc<Object>, S3Error> {
        let mut buckets = self.lock();
        let objects = &mut buckets.get_mut(bucket).ok_or_else(|| S3Error::no_such_bucket(bucket))?.objects;
        condition.check(key, objects.get(key))?;
        let object = Arc::new(object);
        objects.insert(key.to_owned(), object.clone());
        Ok(object)
    }

    pub(crate) fn get(&self, bucket: &str, key: &str) -> Result<Arc<Object>, S3Error> {
        let buckets = self.lock();
        let objects = &buckets.get(bucket).ok_or_else(|| S3Error::no_such_bucket(bucket))?.objects;
        objects.get(key).cloned().ok_or_else(|| S3Error::no_such_key(key))
    }

    /// Deletes `key` (nothing to do when it does not exist, as S3), or, with `if_match`,
    /// only the object with that ETag.
    pub(crate) fn delete(&self, bucket: &str, key: &str, if_match: Option<&str>) -> Result<(), S3Error> {
        let mut buckets = self.lock();
        let objects = &mut buckets.get_mut(bucket).ok_or_else(|| S3Error::no_such_bucket(bucket))?.objects;
        if let Some(etag) = if_match {
            match objects.get(key) {
                None => return Err(S3Error::no_such_key(key)),
                Some(object) if !object.etag_matches(etag) => {
                    return Err(S3Error::precondition_failed("If-Match"))
                }
                Some(_) => {}
            }
        }
        objects.remove(key);
        Ok(())
    }

    /// One page of `bucket`'s keys under `query.prefix`, rolled up at `query.delimiter`.
    /// Keys and common prefixes count alike towards `max_keys`, as in S3.
    pub(crate) fn list(&self, bucket: &str, query: &ListQuery) -> Result<ListPage, S3Error> {
        let buckets = self.lock();
        let objects = &buckets.get(bucket).ok_or_else(|| S3Error::no_such_bucket(bucket))?.objects;
        let mut page = ListPage::default();
        if query.max_keys == 0 {
            // An empty, complete page: a token that would not move is no use to a paginator.
            return Ok(page);
        }
        let prefix = query.prefix.as_str();
        let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty());
        let after = query.after.as_deref();
        let start = match after {
            Some(marker) if marker >= prefix => Bound::Excluded(marker),
            _ => Bound::Included(prefix),
        };
        let mut last_prefix: Option<&str> = None;
        let mut count = 0usize;
        for (key, object) in objects.range::<str, _>((start, Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                break;
            }
            let rolled = delimiter
                .and_then(|d| key[prefix.len()..].find(d).map(|at| &key[..prefix.len() + at + d.len()]));
            if let Some(common) = rolled {
                // A prefix up to the marker was rolled up on an earlier page.
                if last_prefix == Some(common) || after.is_some_and(|m| common <= m) {
                    continue;
                }
                if count == query.max_keys {
                    page.truncated = true;
                    break;
                }
                page.common_prefixes.push(common.to_owned());
                last_prefix = Some(common);
            } else {
                if count == query.max_keys {
                    page.truncated = true;
                    break;
                }
                page.contents.push((key.clone(), object.clone()));
            }
            count += 1;
        }
        if page.truncated {
            let last_key = page.contents.last().map(|(k, _)| k.as_str());
            let last_prefix = page.common_prefixes.last().map(String::as_str);
            page.next = last_key.max(last_prefix).map(str::to_owned);
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(body: &'static [u8]) -> Object {
        Object {
            body: Bytes::from_static(body),
            etag: format!("\"{}\"", body.len()),
            last_modified: DateTime::<Utc>::UNIX_EPOCH,
            headers: Vec::new(),
            metadata: Vec::new(),
            crc32: None,
        }
    }

    fn store_with(keys: &[&str]) -> Store {
        let store = Store::default();
        store.create_bucket("b", DateTime::<Utc>::UNIX_EPOCH);
        for key in keys {
            store.put("b", key, object(b"x"), &WriteCondition::default()).unwrap();
        }
        store
    }

    fn page(
        store: &Store,
        prefix: &str,
        delimiter: Option<&str>,
        max: usize,
        after: Option<String>,
    ) -> ListPage {
        let query = ListQuery {
            prefix: prefix.into(),
            delimiter: delimiter.map(str::to_owned),
            max_keys: max,
            after,
        };
        store.list("b", &query).unwrap()
    }

    fn keys(page: &ListPage) -> Vec<&str> {
        page.contents.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn pages_walk_every_key_once_in_order() {
        let store = store_with(&["c", "a", "b", "d", "e"]);
        let first = page(&store, "", None, 2, None);
        assert_eq!(keys(&first), ["a", "b"]);
        assert!(first.truncated);
        let second = page(&store, "", None, 2, first.next.clone());
        assert_eq!(keys(&second), ["c", "d"]);
        let third = page(&store, "", None, 2, second.next.clone());
        assert_eq!(keys(&third), ["e"]);
        assert!(!third.truncated && third.next.is_none());
    }

    #[test]
    fn a_delimiter_rolls_keys_up_and_a_prefix_page_resumes_past_its_keys() {
        let store = store_with(&["f/a/1", "f/a/2", "f/b/1", "f/c", "g/x", "f/"]);
        let all = page(&store, "f/", Some("/"), 1000, None);
        assert_eq!(all.common_prefixes, ["f/a/", "f/b/"]);
        assert_eq!(keys(&all), ["f/", "f/c"]);
        let first = page(&store, "f/", Some("/"), 2, None);
        assert_eq!((keys(&first), first.common_prefixes.clone()), (vec!["f/"], vec!["f/a/".to_owned()]));
        assert_eq!(first.next.as_deref(), Some("f/a/"));
        let second = page(&store, "f/", Some("/"), 2, first.next.clone());
        assert_eq!((keys(&second), second.common_prefixes.clone()), (vec!["f/c"], vec!["f/b/".to_owned()]));
        assert!(!second.truncated);
    }

    #[test]
    fn zero_max_keys_is_an_empty_complete_page() {
        let store = store_with(&["a"]);
        let empty = page(&store, "", None, 0, None);
        assert!(empty.contents.is_empty() && !empty.truncated && empty.next.is_none());
    }

    #[test]
    fn conditional_writes_check_and_write_in_one_step() {
        let store = store_with(&["k"]);
        let create_only = WriteCondition { if_none_match: true, ..WriteCondition::default() };
        assert_eq!(store.put("b", "k", object(b"y"), &create_only).unwrap_err().status, 412);
        assert!(store.put("b", "new", object(b"y"), &create_only).is_ok());
        let swap = |etag: &str| WriteCondition { if_match: Some(etag.into()), ..WriteCondition::default() };
        assert_eq!(store.put("b", "k", object(b"zz"), &swap("\"9\"")).unwrap_err().status, 412);
        assert!(store.put("b", "k", object(b"zz"), &swap("\"1\"")).is_ok());
        assert!(store.put("b", "k", object(b"zz"), &swap("2")).is_ok(), "an unquoted ETag matches too");
        assert_eq!(store.put("b", "missing", object(b"z"), &swap("\"1\"")).unwrap_err().code, "NoSuchKey");
    }

    #[test]
    fn bucket_names_follow_s3s_rules() {
        for good in ["etl", "ampfed-etl", "a.b-c", "123"] {
            assert_eq!(bucket_name_problem(good), None, "{good}");
        }
        for bad in ["ab", "Upper", "-start", "end-", "a..b", "127.0.0.1", "under_score", &"x".repeat(64)] {
            assert!(bucket_name_problem(bad).is_some(), "{bad}");
        }
    }
}
