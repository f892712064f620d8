//! The S3 operations: a request whose body has been read is authenticated, routed by method,
//! path (path style: `/<bucket>/<key>`) and query, and answered as S3 answers it.
//!
//! Service: ListBuckets. Buckets: CreateBucket, HeadBucket, DeleteBucket,
//! GetBucketLocation, ListObjectsV2, ListObjects (v1), DeleteObjects. Objects: PutObject
//! (conditional with `If-None-Match: *` / `If-Match`), CopyObject, GetObject and HeadObject
//! (one `Range`, `If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`,
//! `response-*` overrides), DeleteObject (conditional with `If-Match`). Any other
//! sub-resource (`?acl`, `?uploads`, `?versioning`, …) is `501 NotImplemented`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use ampfed_sigv4::IncomingRequest;
use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, SubsecRound, Utc};
use http::{HeaderMap, Method};
use md5::{Digest as _, Md5};
use percent_encoding::percent_decode_str;
use sha2::Digest as _;

use crate::auth::Auth;
use crate::chunked::{self, ChunkError, UNSIGNED_TRAILER};
use crate::config::Config;
use crate::reply::{host_id, Reply, S3Error};
use crate::store::{self, ListQuery, Object, Store, WriteCondition, MAX_KEY_BYTES, MAX_LIST_KEYS};
use crate::xml::{self, element, escape, NAMESPACE};

/// Largest body of a request that is not an object upload (a `DeleteObjects` of 1000 keys of
/// 1024 bytes is about 1.1 MiB).
pub(crate) const MAX_REQUEST_BODY: usize = 4 << 20;
/// Most bytes of user metadata (`x-amz-meta-*` names and values), as S3.
const MAX_METADATA_BYTES: usize = 2048;
/// The content type S3 gives an object uploaded without one.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";
/// The object headers stored on upload and sent back on reads.
const STORED_HEADERS: [&str; 6] = [
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];
/// Query parameters naming S3 sub-resources this server does not implement.
const UNSUPPORTED: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metadataTable",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "partNumber",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "renameObject",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "session",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versioning",
    "versions",
    "website",
];

/// A request as received, its body read whole.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a Method,
    /// The raw (percent-encoded) path.
    pub(crate) path: &'a str,
    /// The raw query, without `?`.
    pub(crate) query: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: Bytes,
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The decoded query: names and values in order.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: &str) -> Query {
        Query(form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// The server's state and settings: what every request is answered from.
#[derive(Debug)]
pub(crate) struct Service {
    store: Store,
    auth: Auth,
    region: String,
    max_object_bytes: usize,
    owner_id: String,
    requests: AtomicU64,
    id_seed: u64,
}

impl Service {
    /// The service of `config`, its buckets created (their names already checked).
    pub(crate) fn new(config: &Config) -> Service {
        let store = Store::default();
        let now = now();
        for bucket in &config.buckets {
            store.create_bucket(bucket, now);
        }
        let owner_id = hex::encode(Md5::digest(config.access_key.as_bytes())).repeat(2);
        let id_seed = u64::try_from(now.timestamp_millis()).unwrap_or_default().wrapping_mul(0x9E37_79B9);
        Service {
            store,
            auth: Auth::new(&config.access_key, &config.secret_key, &config.region),
            region: config.region.clone(),
            max_object_bytes: config.max_object_bytes,
            owner_id,
            requests: AtomicU64::new(0),
            id_seed,
        }
    }

    /// A fresh request id (16 upper-case hex digits, as S3's).
    pub(crate) fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        format!("{:016X}", self.id_seed.wrapping_add(n))
    }

    /// How many body bytes a request may send, and the error refusing more. Object uploads
    /// get the object limit (plus the framing of `aws-chunked`), anything else
    /// [`MAX_REQUEST_BODY`].
    pub(crate) fn body_limit(&self, method: &Method, path: &str, headers: &HeaderMap) -> (usize, S3Error) {
        let has_key = path.trim_start_matches('/').split_once('/').is_some_and(|(_, key)| !key.is_empty());
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let upload = method == Method::PUT && has_key && header("x-amz-copy-source").is_none();
        if !upload {
            let too_big = S3Error::new(400, "MaxMessageLengthExceeded", "Your request was too big.")
                .field("MaxMessageLengthBytes", MAX_REQUEST_BODY.to_string())
                .closing();
            return (MAX_REQUEST_BODY, too_big);
        }
        let declared = header("x-amz-decoded-content-length").or_else(|| header("content-length"));
        let proposed = declared.and_then(|v| v.parse::<u64>().ok());
        let chunked = header("x-amz-content-sha256").is_some_and(|v| v.starts_with("STREAMING-"))
            || header("content-encoding").is_some_and(|v| v.contains("aws-chunked"));
        let limit = if chunked {
            self.max_object_bytes.saturating_add(self.max_object_bytes / 64).saturating_add(64 << 10)
        } else {
            self.max_object_bytes
        };
        (limit, S3Error::entity_too_large(self.max_object_bytes, proposed))
    }

    /// Whether a declared size is over the object limit already (checked before reading).
    pub(crate) fn declared_too_large(&self, headers: &HeaderMap) -> bool {
        headers
            .get("x-amz-decoded-content-length")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|n| n > self.max_object_bytes as u64)
    }

    /// The answer to `request`, with the request id headers.
    pub(crate) fn answer(&self, request: Request<'_>, request_id: &str) -> Reply {
        let head = request.method == Method::HEAD;
        let reply = self.route(request).unwrap_or_else(|e| e.reply(head, request_id));
        with_ids(reply, request_id)
    }

    fn route(&self, request: Request<'_>) -> Result<Reply, S3Error> {
        self.authenticate(&request)?;
        let query = Query::parse(request.query);
        if let Some((name, _)) = query.0.iter().find(|(k, _)| UNSUPPORTED.contains(&k.as_str())) {
            return Err(S3Error::not_implemented(&format!("?{name}")));
        }
        if query.get("versionId").is_some_and(|v| v != "null") {
            return Err(S3Error::not_implemented("?versionId"));
        }
        let (bucket, key) = split_path(request.path)?;
        let method = request.method.clone();
        match (method, bucket.as_str(), key) {
            (Method::GET, "", None) => Ok(self.list_buckets()),
            (_, "", None) => Err(method_not_allowed(request.method, "SERVICE")),
            (Method::PUT, bucket, None) => self.create_bucket(bucket, &request.body),
            (Method::HEAD, bucket, None) => self.head_bucket(bucket),
            (Method::DELETE, bucket, None) => {
                self.store.delete_bucket(bucket)?;
                Ok(Reply::empty(204))
            }
            (Method::GET, bucket, None) if query.has("location") => self.location(bucket),
            (Method::GET, bucket, None) => match query.get("list-type") {
                Some("2") => self.list_objects(bucket, &query, true),
                None => self.list_objects(bucket, &query, false),
                Some(other) => Err(S3Error::invalid_argument("Invalid list type", "list-type", other)),
            },
            (Method::POST, bucket, None) if query.has("delete") => self.delete_objects(bucket, &request),
            (_, _, None) => Err(method_not_allowed(request.method, "BUCKET")),
            (Method::PUT, bucket, Some(key)) if request.header("x-amz-copy-source").is_some() => {
                self.copy_object(bucket, &key, &request)
            }
            (Method::PUT, bucket, Some(key)) => self.put_object(bucket, &key, &request),
            (Method::GET | Method::HEAD, bucket, Some(key)) => {
                self.get_object(bucket, &key, &request, &query)
            }
            (Method::DELETE, bucket, Some(key)) => {
                let if_match = request.header("if-match");
                self.store.delete(bucket, &key, if_match)?;
                Ok(Reply::empty(204))
            }
            (_, _, Some(_)) => Err(method_not_allowed(request.method, "OBJECT")),
        }
    }

    /// SigV4 over the request as received; a body hash that does not match the body is
    /// S3's `XAmzContentSHA256Mismatch`.
    fn authenticate(&self, request: &Request<'_>) -> Result<(), S3Error> {
        let headers = ampfed_sigv4::header_pairs(request.headers);
        let incoming = IncomingRequest {
            method: request.method.as_str(),
            path: request.path,
            query: request.query,
            headers: &headers,
            body: &request.body,
        };
        let refused = match self.auth.check(&incoming) {
            Ok(()) => return Ok(()),
            Err(refused) => refused,
        };
        let claimed = request.header("x-amz-content-sha256");
        if refused.code == "SignatureDoesNotMatch" {
            if let Some(claimed) =
                claimed.filter(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                let actual = hex::encode(sha2::Sha256::digest(&request.body));
                if !claimed.eq_ignore_ascii_case(&actual) {
                    return Err(S3Error::new(
                        400,
                        "XAmzContentSHA256Mismatch",
                        "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    )
                    .field("ClientComputedContentSHA256", claimed)
                    .field("S3ComputedContentSHA256", actual));
                }
            }
        }
        Err(refused)
    }

    fn bucket_must_exist(&self, bucket: &str) -> Result<(), S3Error> {
        if self.store.bucket_exists(bucket) {
            Ok(())
        } else {
            Err(S3Error::no_such_bucket(bucket))
        }
    }

    fn list_buckets(&self) -> Reply {
        let mut doc = format!("<ListAllMyBucketsResult xmlns=\"{NAMESPACE}\">");
        self.owner(&mut doc);
        doc.push_str("<Buckets>");
        for (name, created) in self.store.buckets() {
            doc.push_str("<Bucket>");
            element(&mut doc, "Name", &name);
            element(&mut doc, "CreationDate", &iso_time(created));
            element(&mut doc, "BucketRegion", &self.region);
            doc.push_str("</Bucket>");
        }
        doc.push_str("</Buckets></ListAllMyBucketsResult>");
        Reply::xml(doc)
    }

    fn owner(&self, doc: &mut String) {
        doc.push_str("<Owner>");
        element(doc, "ID", &self.owner_id);
        element(doc, "DisplayName", "ampfed");
        doc.push_str("</Owner>");
    }

    /// CreateBucket as a regional endpoint answers it: the location constraint must name the
    /// endpoint's region (and be absent in `us-east-1`); an existing bucket is
    /// `BucketAlreadyOwnedByYou`, except in `us-east-1`, where S3 answers 200.
    fn create_bucket(&self, bucket: &str, body: &[u8]) -> Result<Reply, S3Error> {
        if let Some(problem) = store::bucket_name_problem(bucket) {
            return Err(S3Error::new(400, "InvalidBucketName", "The specified bucket is not valid.")
                .field("BucketName", bucket)
                .field("Detail", problem));
        }
        let constraint = xml::location_constraint(body).map_err(|e| S3Error::malformed_xml(&e))?;
        let constraint = constraint.filter(|c| !c.is_empty());
        let incompatible = |shown: &str| {
            S3Error::new(
                400,
                "IllegalLocationConstraintException",
                format!(
                    "The {shown} location constraint is incompatible for the region specific endpoint this \
                     request was sent to."
                ),
            )
        };
        match (self.region.as_str(), constraint.as_deref()) {
            ("us-east-1", None) => {}
            ("us-east-1", Some("us-east-1")) => {
                return Err(S3Error::new(
                    400,
                    "InvalidLocationConstraint",
                    "The specified location-constraint is not valid",
                )
                .field("LocationConstraint", "us-east-1"))
            }
            (_, Some(c)) if c == self.region => {}
            (_, Some(c)) => return Err(incompatible(c)),
            (_, None) => return Err(incompatible("unspecified")),
        }
        if !self.store.create_bucket(bucket, now()) && self.region != "us-east-1" {
            return Err(S3Error::new(
                409,
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
            )
            .field("BucketName", bucket));
        }
        Ok(Reply::empty(200).header("location", format!("/{bucket}")))
    }

    fn head_bucket(&self, bucket: &str) -> Result<Reply, S3Error> {
        self.bucket_must_exist(bucket)?;
        Ok(Reply::empty(200)
            .header("x-amz-bucket-region", self.region.clone())
            .header("x-amz-access-point-alias", "false"))
    }

    fn location(&self, bucket: &str) -> Result<Reply, S3Error> {
        self.bucket_must_exist(bucket)?;
        let region = if self.region == "us-east-1" { "" } else { self.region.as_str() };
        Ok(Reply::xml(format!(
            "<LocationConstraint xmlns=\"{NAMESPACE}\">{}</LocationConstraint>",
            escape(region)
        )))
    }

    /// ListObjectsV2 (`v2`) or ListObjects: one page, keys in UTF-8 byte order, keys and
    /// common prefixes counting alike towards `max-keys` (at most 1000).
    fn list_objects(&self, bucket: &str, query: &Query, v2: bool) -> Result<Reply, S3Error> {
        let max_keys = match query.get("max-keys") {
            None => MAX_LIST_KEYS,
            Some(v) => v.parse::<u32>().map(|n| (n as usize).min(MAX_LIST_KEYS)).map_err(|_| {
                S3Error::invalid_argument(
                    "Provided max-keys not an integer or within integer range",
                    "max-keys",
                    v,
                )
            })?,
        };
        let url_encoded = match query.get("encoding-type") {
            None => false,
            Some("url") => true,
            Some(other) => {
                return Err(S3Error::invalid_argument(
                    "Invalid Encoding Method specified in Request",
                    "encoding-type",
                    other,
                ))
            }
        };
        let token = query.get("continuation-token").filter(|_| v2);
        let after = match token {
            Some(token) => Some(decode_token(token)?),
            None if v2 => query.get("start-after").map(str::to_owned),
            None => query.get("marker").map(str::to_owned),
        };
        let list = ListQuery {
            prefix: query.get("prefix").unwrap_or_default().to_owned(),
            delimiter: query.get("delimiter").map(str::to_owned),
            max_keys,
            after,
        };
        let page = self.store.list(bucket, &list)?;

        let shown = |s: &str| -> String {
            if url_encoded {
                form_urlencoded::byte_serialize(s.as_bytes()).collect()
            } else {
                s.to_owned()
            }
        };
        let mut doc = format!("<ListBucketResult xmlns=\"{NAMESPACE}\">");
        element(&mut doc, "Name", bucket);
        element(&mut doc, "Prefix", &shown(&list.prefix));
        if v2 {
            if let Some(token) = token {
                element(&mut doc, "ContinuationToken", token);
            }
            if let Some(start_after) = query.get("start-after") {
                element(&mut doc, "StartAfter", &shown(start_after));
            }
            element(&mut doc, "KeyCount", &(page.contents.len() + page.common_prefixes.len()).to_string());
        } else {
            element(&mut doc, "Marker", &shown(query.get("marker").unwrap_or_default()));
        }
        element(&mut doc, "MaxKeys", &max_keys.to_string());
        if let Some(delimiter) = &list.delimiter {
            element(&mut doc, "Delimiter", &shown(delimiter));
        }
        if url_encoded {
            element(&mut doc, "EncodingType", "url");
        }
        element(&mut doc, "IsTruncated", if page.truncated { "true" } else { "false" });
        if let Some(next) = &page.next {
            if v2 {
                element(&mut doc, "NextContinuationToken", &encode_token(next));
            } else if list.delimiter.is_some() {
                element(&mut doc, "NextMarker", &shown(next));
            }
        }
        let with_owner = !v2 || query.get("fetch-owner") == Some("true");
        for (key, object) in &page.contents {
            doc.push_str("<Contents>");
            element(&mut doc, "Key", &shown(key));
            element(&mut doc, "LastModified", &iso_time(object.last_modified));
            element(&mut doc, "ETag", &object.etag);
            element(&mut doc, "Size", &object.body.len().to_string());
            if with_owner {
                self.owner(&mut doc);
            }
            element(&mut doc, "StorageClass", "STANDARD");
            doc.push_str("</Contents>");
        }
        for prefix in &page.common_prefixes {
            doc.push_str("<CommonPrefixes>");
            element(&mut doc, "Prefix", &shown(prefix));
            doc.push_str("</CommonPrefixes>");
        }
        doc.push_str("</ListBucketResult>");
        Ok(Reply::xml(doc))
    }

    fn delete_objects(&self, bucket: &str, request: &Request<'_>) -> Result<Reply, S3Error> {
        self.bucket_must_exist(bucket)?;
        check_content_md5(request.header("content-md5"), &request.body)?;
        let delete = xml::delete_request(&request.body).map_err(|e| S3Error::malformed_xml(&e))?;
        let mut doc = format!("<DeleteResult xmlns=\"{NAMESPACE}\">");
        for key in &delete.keys {
            match self.store.delete(bucket, key, None) {
                Ok(()) if delete.quiet => {}
                Ok(()) => {
                    doc.push_str("<Deleted>");
                    element(&mut doc, "Key", key);
                    doc.push_str("</Deleted>");
                }
                Err(e) => {
                    doc.push_str("<Error>");
                    element(&mut doc, "Key", key);
                    element(&mut doc, "Code", e.code);
                    element(&mut doc, "Message", &e.message);
                    doc.push_str("</Error>");
                }
            }
        }
        doc.push_str("</DeleteResult>");
        Ok(Reply::xml(doc))
    }

    fn put_object(&self, bucket: &str, key: &str, request: &Request<'_>) -> Result<Reply, S3Error> {
        check_key(key)?;
        let (body, trailers) = self.object_body(request)?;
        check_content_md5(request.header("content-md5"), &body)?;
        let checksum = |name: &str| {
            request
                .header(name)
                .map(str::to_owned)
                .or_else(|| trailers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
        };
        let crc32 = checksum("x-amz-checksum-crc32");
        if let Some(claimed) = &crc32 {
            let actual =
                base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(&body).to_be_bytes());
            if *claimed != actual {
                return Err(S3Error::bad_digest(
                    "The CRC32 you specified did not match the calculated checksum.",
                ));
            }
        }
        if let Some(claimed) = checksum("x-amz-checksum-sha256") {
            let actual = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&body));
            if claimed != actual {
                return Err(S3Error::bad_digest(
                    "The SHA256 you specified did not match the calculated checksum.",
                ));
            }
        }
        let condition = write_condition(request)?;
        let object = Object {
            etag: etag_of(&body),
            body,
            last_modified: now(),
            headers: stored_headers(request),
            metadata: metadata(request.headers)?,
            crc32: crc32.clone(),
        };
        let stored = self.store.put(bucket, key, object, &condition)?;
        let mut reply = Reply::empty(200).header("etag", stored.etag.clone());
        if let Some(crc32) = crc32 {
            reply = reply.header("x-amz-checksum-crc32", crc32);
        }
        Ok(reply)
    }

    /// The object bytes of an upload: the body as sent, or decoded from `aws-chunked`, with
    /// the trailers.
    fn object_body(&self, request: &Request<'_>) -> Result<(Bytes, Vec<(String, String)>), S3Error> {
        let declared_hash = request.header("x-amz-content-sha256").unwrap_or_default();
        let aws_chunked = request.header("content-encoding").is_some_and(|v| v.contains("aws-chunked"));
        if declared_hash.starts_with("STREAMING-") && declared_hash != UNSIGNED_TRAILER {
            return Err(S3Error::not_implemented("x-amz-content-sha256: signed aws-chunked payloads"));
        }
        if declared_hash != UNSIGNED_TRAILER && !aws_chunked {
            if request.body.len() > self.max_object_bytes {
                return Err(S3Error::entity_too_large(
                    self.max_object_bytes,
                    Some(request.body.len() as u64),
                ));
            }
            return Ok((request.body.clone(), Vec::new()));
        }
        let decoded = chunked::decode(&request.body, self.max_object_bytes).map_err(|e| match e {
            ChunkError::TooLarge => S3Error::entity_too_large(self.max_object_bytes, None),
            ChunkError::Malformed(detail) => {
                S3Error::new(400, "IncompleteBody", "The request body terminated unexpectedly")
                    .field("Detail", detail)
            }
        })?;
        if let Some(declared) = request.header("x-amz-decoded-content-length") {
            if declared.parse::<usize>().ok() != Some(decoded.body.len()) {
                return Err(S3Error::new(
                    400,
                    "IncompleteBody",
                    "You did not provide the number of bytes specified by the Content-Length HTTP header",
                ));
            }
        }
        Ok((Bytes::from(decoded.body), decoded.trailers))
    }

    fn copy_object(&self, bucket: &str, key: &str, request: &Request<'_>) -> Result<Reply, S3Error> {
        check_key(key)?;
        let raw = request.header("x-amz-copy-source").unwrap_or_default();
        let bad_source = || {
            S3Error::invalid_argument(
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                "x-amz-copy-source",
                raw,
            )
        };
        let decoded = percent_decode_str(raw).decode_utf8().map_err(|_| bad_source())?;
        let (source, version) = match decoded.split_once("?versionId=") {
            Some((source, version)) => (source, Some(version)),
            None => (decoded.as_ref(), None),
        };
        if version.is_some_and(|v| v != "null") {
            return Err(S3Error::not_implemented("x-amz-copy-source versionId"));
        }
        let (source_bucket, source_key) = source
            .trim_start_matches('/')
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(bad_source)?;
        let source = self.store.get(source_bucket, source_key)?;
        let copy_condition = |name: &str| request.header(name);
        if let Some(etag) = copy_condition("x-amz-copy-source-if-match") {
            if !etag_list_matches(&source, etag) {
                return Err(S3Error::precondition_failed("x-amz-copy-source-If-Match"));
            }
        }
        if let Some(etag) = copy_condition("x-amz-copy-source-if-none-match") {
            if etag_list_matches(&source, etag) {
                return Err(S3Error::precondition_failed("x-amz-copy-source-If-None-Match"));
            }
        }
        let replace = match request.header("x-amz-metadata-directive").unwrap_or("COPY") {
            "COPY" => false,
            "REPLACE" => true,
            other => {
                return Err(S3Error::invalid_argument(
                    "Unknown metadata directive.",
                    "x-amz-metadata-directive",
                    other,
                ))
            }
        };
        if !replace && source_bucket == bucket && source_key == key {
            return Err(S3Error::new(
                400,
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself without changing \
                 the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let condition = write_condition(request)?;
        let (headers, metadata) = if replace {
            (stored_headers(request), self::metadata(request.headers)?)
        } else {
            (source.headers.clone(), source.metadata.clone())
        };
        let object = Object {
            body: source.body.clone(),
            etag: source.etag.clone(),
            last_modified: now(),
            headers,
            metadata,
            crc32: source.crc32.clone(),
        };
        let stored = self.store.put(bucket, key, object, &condition)?;
        let mut doc = format!("<CopyObjectResult xmlns=\"{NAMESPACE}\">");
        element(&mut doc, "LastModified", &iso_time(stored.last_modified));
        element(&mut doc, "ETag", &stored.etag);
        doc.push_str("</CopyObjectResult>");
        Ok(Reply::xml(doc))
    }

    fn get_object(
        &self,
        bucket: &str,
        key: &str,
        request: &Request<'_>,
        query: &Query,
    ) -> Result<Reply, S3Error> {
        let object = self.store.get(bucket, key)?;
        let head = request.method == Method::HEAD;
        let validators = |reply: Reply| {
            reply.header("etag", object.etag.clone()).header("last-modified", http_time(object.last_modified))
        };
        match read_preconditions(&object, request) {
            Precondition::Proceed => {}
            Precondition::NotModified => return Ok(validators(Reply::empty(304))),
            Precondition::Failed(condition) => return Err(S3Error::precondition_failed(condition)),
        }
        let size = object.body.len() as u64;
        let range = match request.header("range").map(|r| byte_range(r, size)) {
            Some(RangeCheck::Unsatisfiable) => {
                return Err(S3Error::new(416, "InvalidRange", "The requested range is not satisfiable")
                    .field("RangeRequested", request.header("range").unwrap_or_default())
                    .field("ActualObjectSize", size.to_string()));
            }
            Some(RangeCheck::Range(first, last)) => Some((first, last)),
            Some(RangeCheck::Ignored) | None => None,
        };
        let (status, body) = match range {
            Some((first, last)) => (206, object.body.slice(first as usize..=last as usize)),
            None => (200, object.body.clone()),
        };
        let mut reply = validators(Reply::empty(status)).header("accept-ranges", "bytes");
        if let Some((first, last)) = range {
            reply = reply.header("content-range", format!("bytes {first}-{last}/{size}"));
        }
        for name in STORED_HEADERS {
            let overridden = if head { None } else { query.get(&format!("response-{name}")) };
            let stored = object.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
            if let Some(value) = overridden.or(stored) {
                reply = reply.header(name, value.to_owned());
            }
        }
        for (name, value) in &object.metadata {
            reply.headers.push((Cow::Owned(name.clone()), value.clone()));
        }
        let checksum_mode =
            request.header("x-amz-checksum-mode").is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"));
        if let (true, None, Some(crc32)) = (checksum_mode, range, &object.crc32) {
            reply = reply
                .header("x-amz-checksum-crc32", crc32.clone())
                .header("x-amz-checksum-type", "FULL_OBJECT");
        }
        if head {
            // No body: the length is the object's (or the range's), sent as a header.
            let length = body.len().to_string();
            reply = reply.header("content-length", length);
        } else {
            reply.body = body;
        }
        Ok(reply)
    }
}

/// `/<bucket>/<key>` decoded: the bucket (empty for `/`) and the key, if any.
fn split_path(raw: &str) -> Result<(String, Option<String>), S3Error> {
    let invalid = || S3Error::new(400, "InvalidURI", "Couldn't parse the specified URI.").field("URI", raw);
    let rest = raw.strip_prefix('/').ok_or_else(invalid)?;
    let decode = |s: &str| percent_decode_str(s).decode_utf8().map(Cow::into_owned).map_err(|_| invalid());
    match rest.split_once('/') {
        None => Ok((decode(rest)?, None)),
        Some((bucket, "")) => Ok((decode(bucket)?, None)),
        Some((bucket, key)) => Ok((decode(bucket)?, Some(decode(key)?))),
    }
}

fn method_not_allowed(method: &Method, resource: &str) -> S3Error {
    S3Error::new(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        .field("Method", method.as_str())
        .field("ResourceType", resource)
}

fn check_key(key: &str) -> Result<(), S3Error> {
    if key.len() > MAX_KEY_BYTES {
        return Err(S3Error::new(400, "KeyTooLongError", "Your key is too long")
            .field("MaxSizeAllowed", MAX_KEY_BYTES.to_string())
            .field("Size", key.len().to_string()));
    }
    Ok(())
}

/// `Content-MD5`, when sent, must be the base64 MD5 of the body.
fn check_content_md5(header: Option<&str>, body: &[u8]) -> Result<(), S3Error> {
    let Some(claimed) = header else { return Ok(()) };
    let invalid = || S3Error::new(400, "InvalidDigest", "The Content-MD5 you specified was invalid.");
    let claimed = base64::engine::general_purpose::STANDARD.decode(claimed.trim()).map_err(|_| invalid())?;
    if claimed.len() != 16 {
        return Err(invalid());
    }
    if claimed.as_slice() != Md5::digest(body).as_slice() {
        return Err(S3Error::bad_digest("The Content-MD5 you specified did not match what we received."));
    }
    Ok(())
}

/// The quoted MD5 hex of `body`: S3's ETag of a single-part upload.
fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Md5::digest(body)))
}

/// `If-None-Match: *` and `If-Match: <etag>` of an upload (S3 takes no other
/// `If-None-Match` value on writes).
fn write_condition(request: &Request<'_>) -> Result<WriteCondition, S3Error> {
    let if_none_match = match request.header("if-none-match").map(str::trim) {
        None => false,
        Some("*") => true,
        Some(_) => return Err(S3Error::not_implemented("If-None-Match")),
    };
    Ok(WriteCondition { if_match: request.header("if-match").map(str::to_owned), if_none_match })
}

/// The stored object headers of an upload, `Content-Type` defaulted as S3 does and
/// `aws-chunked` taken out of `Content-Encoding`.
fn stored_headers(request: &Request<'_>) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    for name in STORED_HEADERS {
        let value = request.header(name).map(str::to_owned);
        let value = match (name, value) {
            ("content-encoding", Some(v)) => {
                let kept: Vec<&str> =
                    v.split(',').map(str::trim).filter(|c| !c.is_empty() && *c != "aws-chunked").collect();
                (!kept.is_empty()).then(|| kept.join(","))
            }
            ("content-type", None) => Some(DEFAULT_CONTENT_TYPE.to_owned()),
            (_, value) => value,
        };
        if let Some(value) = value {
            headers.push((name, value));
        }
    }
    headers
}

/// The `x-amz-meta-*` headers, at most [`MAX_METADATA_BYTES`] of names and values.
fn metadata(headers: &HeaderMap) -> Result<Vec<(String, String)>, S3Error> {
    let mut metadata = Vec::new();
    let mut size = 0usize;
    for (name, value) in headers {
        let Some(short) = name.as_str().strip_prefix("x-amz-meta-") else { continue };
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        size += short.len() + value.len();
        metadata.push((name.as_str().to_owned(), value));
    }
    if size > MAX_METADATA_BYTES {
        return Err(S3Error::new(
            400,
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
        )
        .field("Size", size.to_string())
        .field("MaxSizeAllowed", MAX_METADATA_BYTES.to_string()));
    }
    Ok(metadata)
}

/// Whether a comma-separated ETag list (or `*`) names `object`.
fn etag_list_matches(object: &Object, list: &str) -> bool {
    list.split(',').any(|etag| object.etag_matches(etag))
}

/// What the conditional headers of a read decide.
enum Precondition {
    Proceed,
    NotModified,
    Failed(&'static str),
}

/// RFC 7232's order, as S3 applies it: `If-Match` (else `If-Unmodified-Since`) may fail the
/// read; `If-None-Match` (else `If-Modified-Since`) may make it a 304. Unparsable dates are
/// ignored.
fn read_preconditions(object: &Object, request: &Request<'_>) -> Precondition {
    let date = |name: &str| request.header(name).and_then(|v| DateTime::parse_from_rfc2822(v.trim()).ok());
    if let Some(list) = request.header("if-match") {
        if !etag_list_matches(object, list) {
            return Precondition::Failed("If-Match");
        }
    } else if let Some(since) = date("if-unmodified-since") {
        if object.last_modified > since {
            return Precondition::Failed("If-Unmodified-Since");
        }
    }
    if let Some(list) = request.header("if-none-match") {
        if etag_list_matches(object, list) {
            return Precondition::NotModified;
        }
    } else if let Some(since) = date("if-modified-since") {
        if object.last_modified <= since {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

/// What a `Range` header asks of an object of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum RangeCheck {
    /// First and last byte, inclusive.
    Range(u64, u64),
    /// Not a single byte range: the whole object is sent (S3 serves one range per request).
    Ignored,
    Unsatisfiable,
}

fn byte_range(header: &str, size: u64) -> RangeCheck {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return RangeCheck::Ignored };
    if spec.contains(',') {
        return RangeCheck::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeCheck::Ignored };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // `bytes=-N`: the last N bytes.
        (true, false) => match number(last) {
            Some(0) => RangeCheck::Unsatisfiable,
            Some(_) if size == 0 => RangeCheck::Unsatisfiable,
            Some(n) => RangeCheck::Range(size.saturating_sub(n), size - 1),
            None => RangeCheck::Ignored,
        },
        // `bytes=A-`: from A to the end.
        (false, true) => match number(first) {
            Some(a) if a >= size => RangeCheck::Unsatisfiable,
            Some(a) => RangeCheck::Range(a, size - 1),
            None => RangeCheck::Ignored,
        },
        (false, false) => match (number(first), number(last)) {
            (Some(a), Some(b)) if a > b => RangeCheck::Ignored,
            (Some(a), Some(_)) if a >= size => RangeCheck::Unsatisfiable,
            (Some(a), Some(b)) => RangeCheck::Range(a, b.min(size - 1)),
            _ => RangeCheck::Ignored,
        },
        (true, true) => RangeCheck::Ignored,
    }
}

/// A listing marker as an opaque continuation token.
fn encode_token(marker: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("ampfed-s3:{marker}"))
}

fn decode_token(token: &str) -> Result<String, S3Error> {
    let invalid = || {
        S3Error::invalid_argument("The continuation token provided is incorrect", "continuation-token", token)
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix("ampfed-s3:").map(str::to_owned).ok_or_else(invalid)
}

/// The server's clock, to the second (S3's `Last-Modified` has whole seconds).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// `2024-05-01T12:00:00.000Z`, as in S3's XML (from the fields: a listing writes one an
/// object, and a format string is parsed again at each).
fn iso_time(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.timestamp_subsec_millis().min(999)
    )
}

/// `Wed, 01 May 2024 12:00:00 GMT`, as in HTTP headers.
fn http_time(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Adds S3's request id headers to every answer.
fn with_ids(reply: Reply, request_id: &str) -> Reply {
    reply.header("x-amz-request-id", request_id.to_owned()).header("x-amz-id-2", host_id(request_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_7233_for_one_range() {
        assert_eq!(byte_range("bytes=0-4", 10), RangeCheck::Range(0, 4));
        assert_eq!(byte_range("bytes=5-", 10), RangeCheck::Range(5, 9));
        assert_eq!(byte_range("bytes=-3", 10), RangeCheck::Range(7, 9));
        assert_eq!(byte_range("bytes=-30", 10), RangeCheck::Range(0, 9));
        assert_eq!(byte_range("bytes=8-100", 10), RangeCheck::Range(8, 9));
        assert_eq!(byte_range("bytes=10-", 10), RangeCheck::Unsatisfiable);
        assert_eq!(byte_range("bytes=-0", 10), RangeCheck::Unsatisfiable);
        assert_eq!(byte_range("bytes=0-0", 0), RangeCheck::Unsatisfiable);
        assert_eq!(byte_range("bytes=4-2", 10), RangeCheck::Ignored);
        assert_eq!(byte_range("bytes=0-1,3-4", 10), RangeCheck::Ignored);
        assert_eq!(byte_range("items=0-1", 10), RangeCheck::Ignored);
    }

    #[test]
    fn tokens_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(decode_token(&encode_token("a/b\u{e9}")).unwrap(), "a/b\u{e9}");
        assert_eq!(decode_token("not base64!").unwrap_err().code, "InvalidArgument");
        let foreign = base64::engine::general_purpose::STANDARD.encode("other");
        assert_eq!(decode_token(&foreign).unwrap_err().code, "InvalidArgument");
    }

    #[test]
    fn paths_split_into_bucket_and_decoded_key() {
        assert_eq!(split_path("/").unwrap(), (String::new(), None));
        assert_eq!(split_path("/b").unwrap(), ("b".into(), None));
        assert_eq!(split_path("/b/").unwrap(), ("b".into(), None));
        assert_eq!(split_path("/b/a%20b/c%2Bd+e").unwrap(), ("b".into(), Some("a b/c+d+e".into())));
        assert_eq!(split_path("/b/%FF").unwrap_err().code, "InvalidURI");
    }

    #[test]
    fn times_are_written_as_s3_writes_them() {
        // Against chrono's own formatting of the same instants.
        for (secs, nanos) in
            [(0, 0), (1_767_225_600, 5_000_000), (1_798_761_599, 999_999_999), (951_782_400, 123_456_789)]
        {
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            assert_eq!(iso_time(t), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        }
        assert_eq!(
            iso_time(DateTime::from_timestamp(1_767_225_600, 5_000_000).unwrap()),
            "2026-01-01T00:00:00.005Z"
        );
    }

    #[test]
    fn the_etag_is_the_quoted_md5_hex() {
        assert_eq!(etag_of(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
        assert_eq!(etag_of(b"hello"), "\"5d41402abc4b2a76b9719d911017c592\"");
    }

    #[test]
    fn content_md5_is_checked_when_sent() {
        assert!(check_content_md5(None, b"x").is_ok());
        assert!(check_content_md5(Some("XUFAKrxLKna5cZ2REBfFkg=="), b"hello").is_ok());
        assert_eq!(
            check_content_md5(Some("XUFAKrxLKna5cZ2REBfFkg=="), b"other").unwrap_err().code,
            "BadDigest"
        );
        assert_eq!(check_content_md5(Some("@@"), b"x").unwrap_err().code, "InvalidDigest");
    }
}
