//! The central bucket, laid out after Kubecost's federated layout (which stores bingen objects
//! under `…/etl/bingen/allocations/1d/<start>-<end>`; ampfed writes Parquet, see
//! `docs/etl-format.md` and [`crate::layout`]):
//! `federated/<cluster>/etl/{allocations,assets}/{1d,1h}/<start>-<end>.parquet` per cluster and
//! `federated/combined/etl/{allocations,assets}/{1d,1h}/<start>-<end>.parquet` after federation.
//! Only UTC days are filed under `1d/` and only whole UTC hours (3600 s) under `1h/`
//! ([`Resolution`]), and only cluster ids that [`check_cluster_id`] accepts.
//! Readers also accept the first format's `.json` objects (migrated on read,
//! [`crate::parquet::decode_any`]); when a window has both, the `.parquet` object is the one.
//!
//! Besides the typed sets, the store offers the raw operations the federator is built from:
//! a listing with ETags, a read that returns the ETag of what it read, and writes that are
//! conditional (`If-None-Match: *`, `If-Match: <etag>`). Every S3 failure is classified
//! ([`S3Failure`]) so that callers know whether to retry, re-read or give up.

use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::RequestChecksumCalculation;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::direct::Direct;
use crate::layout::{self, check_cluster_id, Kind, Resolution};
use crate::object::{classify, BodyBuffer};
pub use crate::object::{damaged, damaged_in_transit, is_md5_etag, md5_etag, Fetched};
use crate::parquet::MAX_OBJECT_BYTES;
use crate::{FederationError, S3Failure};
use ampfed_allocation::{AllocationSet, AssetSet, Window};

pub use crate::layout::{COMBINED, FEDERATED_PREFIX};

/// Time to connect to S3 before an attempt fails (and is retried).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time one attempt of an S3 call may take, answer included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Time one S3 call may take, retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

/// How to reach the bucket.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// The bucket holding the federated ETL.
#[derive(Clone, Debug)]
pub struct Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    region: String,
    source: Option<String>,
    /// The reads sent without the SDK's pipeline (plain-HTTP endpoints; see [`crate::direct`]).
    direct: Option<Arc<Direct>>,
    /// Runs of folders [`Store::list`] lists at once; 1 lists page after page.
    list_runs: usize,
}

pub use crate::object::Listed;
use crate::object::{Level, Span};

/// Runs of folders that [`Store::list`] lists at once, unless told otherwise
/// ([`Store::with_list_runs`]).
pub const LIST_RANGES: usize = 8;

/// A key just before every key in `folder` (a common prefix, ending in `/`): the folder's
/// name with a `.` for the `/`, the byte before it. Between the two come only keys that
/// extend the name with a `.` (a run drops them); `None` (list from the prefix's start) for
/// a folder that does not end in `/`.
fn just_before(folder: &str) -> Option<String> {
    folder.strip_suffix('/').map(|name| format!("{name}."))
}

/// The condition of a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Write whatever is there.
    Always,
    /// `If-None-Match: *`: only if there is no object at the key.
    IfAbsent,
    /// `If-Match: <etag>`: only if the object at the key is that version.
    IfMatch(String),
}

/// What a conditional write ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Put {
    /// The bytes are at the key, with this ETag: written now, or found there already (a
    /// retried write whose first attempt was applied but whose answer was lost).
    Written(String),
    /// The condition did not hold and the key holds other bytes: someone else wrote.
    Lost,
}

/// The S3 error code and message when S3 answered, the whole error chain otherwise, and the
/// class of the failure.
fn s3_error<E>(operation: &'static str, target: &str, e: SdkError<E, HttpResponse>) -> FederationError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let failure = match &e {
        SdkError::ConstructionFailure(_) => S3Failure::Local,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            S3Failure::Transient
        }
        SdkError::ServiceError(_) => classify(status, e.code()),
        _ => S3Failure::Local,
    };
    let message = match (e.code(), e.message()) {
        (Some(code), message) => format!("{code}: {}", message.unwrap_or("(no message)")),
        _ => ampfed_aws::error_text(&e),
    };
    FederationError::S3 { operation, target: target.to_owned(), message, failure }
}

impl Store {
    /// A store with the default time limits ([`CONNECT_TIMEOUT`], [`ATTEMPT_TIMEOUT`],
    /// [`OPERATION_TIMEOUT`]) and the SDK's standard retries.
    pub fn new(config: &StoreConfig) -> Store {
        Store::with_s3_config(config, |builder| builder)
    }

    /// A store whose S3 client configuration `adjust` changes last (retries, time-outs,
    /// interceptors): what tests and tools that need another client use.
    pub fn with_s3_config(
        config: &StoreConfig,
        adjust: impl FnOnce(aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder,
    ) -> Store {
        let keys = Credentials::new(
            config.access_key_id.clone(),
            config.secret_access_key.clone(),
            None,
            None,
            "ampfed-store",
        );
        Store::build(config, SharedCredentialsProvider::new(keys), adjust)
    }

    /// A store signing with `provider`'s credentials (the standard credential chain's, for a
    /// `federated-store.yaml` without keys) instead of `config`'s keys, which are not read.
    pub fn with_credentials(config: &StoreConfig, provider: SharedCredentialsProvider) -> Store {
        Store::build(config, provider, |builder| builder)
    }

    fn build(
        config: &StoreConfig,
        provider: SharedCredentialsProvider,
        adjust: impl FnOnce(aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder,
    ) -> Store {
        let region = config.region.clone();
        let sdk = ampfed_aws::sdk_config(&config.endpoint, &config.region)
            .credentials_provider(provider.clone())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .build();
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired);
        let s3 = adjust(s3).build();
        // The direct reads sign with the same credentials and keep the time limits of the
        // adjusted configuration.
        let timeouts = s3.timeout_config();
        let direct = Direct::new(
            &config.endpoint,
            &config.bucket,
            &region,
            provider,
            timeouts.and_then(|t| t.connect_timeout()).unwrap_or(CONNECT_TIMEOUT),
            timeouts.and_then(|t| t.operation_attempt_timeout()).unwrap_or(ATTEMPT_TIMEOUT),
        );
        Store {
            client: aws_sdk_s3::Client::from_conf(s3),
            bucket: config.bucket.clone(),
            region,
            source: None,
            direct: direct.map(Arc::new),
            list_runs: LIST_RANGES,
        }
    }

    /// The same store listing in at most `runs` runs of folders at once ([`Store::list`]);
    /// 1 lists page after page on the caller's task, a request a page and no more (for a
    /// backend that counts requests more than time).
    pub fn with_list_runs(mut self, runs: usize) -> Store {
        self.list_runs = runs.max(1);
        self
    }

    /// The same store reading through the SDK too: every call it makes then passes the
    /// client's interceptors (what a test counting or cutting every request needs).
    pub fn without_direct_reads(mut self) -> Store {
        self.direct = None;
        self
    }

    /// Whether reads bypass the SDK's pipeline ([`crate::direct`]: plain-HTTP endpoints).
    pub fn reads_directly(&self) -> bool {
        self.direct.is_some()
    }

    /// The HTTP requests the direct reads sent (every attempt; the SDK's calls are not
    /// counted here, an interceptor sees those).
    pub fn direct_requests(&self) -> u64 {
        self.direct.as_ref().map_or(0, |d| d.sent())
    }

    /// The same store, naming `source` as the writer of every set it puts (the cost model's
    /// stable id; see [`crate::format`]).
    pub fn with_source(mut self, source: impl Into<String>) -> Store {
        self.source = Some(source.into());
        self
    }

    /// The writer id put into every set, if any.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The S3 client, for what the store does not offer.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// Creates the bucket unless it exists.
    pub async fn ensure_bucket(&self) -> Result<(), FederationError> {
        if self.client.head_bucket().bucket(&self.bucket).send().await.is_ok() {
            return Ok(());
        }
        let mut create = self.client.create_bucket().bucket(&self.bucket);
        // Outside us-east-1, S3 wants the region as the location constraint.
        if self.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        create.send().await.map_err(|e| s3_error("CreateBucket", &self.bucket, e))?;
        Ok(())
    }

    /// The key of a cluster's (or `combined`) allocation set of `window` (`1h/` for a UTC
    /// hour, else `1d/`).
    pub fn allocation_key(cluster: &str, window: Window) -> String {
        layout::key(cluster, Kind::Allocations, window)
    }

    /// The key of a cluster's (or `combined`) asset set of `window` (as
    /// [`Store::allocation_key`]).
    pub fn asset_key(cluster: &str, window: Window) -> String {
        layout::key(cluster, Kind::Assets, window)
    }

    /// Checks what a cost model may file: a cluster id the layout cannot mistake, one UTC day
    /// or one UTC hour.
    fn check_filing(cluster: &str, key: &str, window: Window) -> Result<(), FederationError> {
        check_cluster_id(cluster)?;
        match Resolution::of(window) {
            Some(_) => Ok(()),
            None => Err(FederationError::Window {
                key: key.to_owned(),
                message: format!(
                    "window {}..{} is neither one UTC day (00:00:00Z to the next midnight) nor one \
                     UTC hour (on the hour, 3600 s)",
                    window.start, window.end
                ),
            }),
        }
    }

    /// Writes a daily or hourly set under `cluster`'s prefix and returns its key; a cluster id
    /// that [`check_cluster_id`] refuses (`combined`, `quarantine`, anything with `/`) and a
    /// window that is neither one UTC day nor one UTC hour are refused, never filed.
    pub async fn put_set(&self, cluster: &str, set: &AllocationSet) -> Result<String, FederationError> {
        let key = Store::allocation_key(cluster, set.window);
        Store::check_filing(cluster, &key, set.window)?;
        let bytes = crate::parquet::encode_allocations(set, self.source())?;
        self.put_object(&key, bytes, crate::parquet::CONTENT_TYPE, &Condition::Always).await?;
        Ok(key)
    }

    /// Writes a daily or hourly asset set under `cluster`'s prefix and returns its key (same checks as
    /// [`Store::put_set`]).
    pub async fn put_assets(&self, cluster: &str, assets: &AssetSet) -> Result<String, FederationError> {
        let key = Store::asset_key(cluster, assets.window);
        Store::check_filing(cluster, &key, assets.window)?;
        let bytes = crate::parquet::encode_assets(assets, self.source())?;
        self.put_object(&key, bytes, crate::parquet::CONTENT_TYPE, &Condition::Always).await?;
        Ok(key)
    }

    /// Writes `bytes` at `key` under `condition`; the new ETag. A lost condition is an
    /// [`S3Failure::Precondition`] (412) or, for `If-Match` on a missing key, an
    /// [`S3Failure::NotFound`] (404).
    pub async fn put_object(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        condition: &Condition,
    ) -> Result<String, FederationError> {
        // Shared with the request's body (no copy), for the fallback ETag below.
        let bytes = bytes::Bytes::from(bytes);
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes.clone()));
        put = match condition {
            Condition::Always => put,
            Condition::IfAbsent => put.if_none_match("*"),
            Condition::IfMatch(etag) => put.if_match(etag),
        };
        let out = put.send().await.map_err(|e| s3_error("PutObject", key, e))?;
        // An answer without an ETag (some S3-compatible stores): S3's own rule for the body.
        // (Computed only then: a combined window's MD5 is not free.)
        Ok(out.e_tag().map_or_else(|| md5_etag(&bytes), str::to_owned))
    }

    /// Writes `bytes` at `key` under `condition`, and when the condition does not hold, reads
    /// the key: if it already holds exactly `bytes`, the write counts as done ([`Put::Written`]
    /// with that ETag), else it was lost ([`Put::Lost`]). So a write retried after its answer
    /// was lost is not mistaken for someone else's.
    pub async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        condition: &Condition,
    ) -> Result<Put, FederationError> {
        let lost = match self.put_object(key, bytes.clone(), content_type, condition).await {
            Ok(etag) => return Ok(Put::Written(etag)),
            Err(e) if *condition != Condition::Always => match e.s3_failure() {
                Some(S3Failure::Precondition | S3Failure::NotFound) => e,
                _ => return Err(e),
            },
            Err(e) => return Err(e),
        };
        match self.fetch(key).await {
            Ok(current) if current.bytes == bytes => Ok(Put::Written(current.etag)),
            Ok(_) => Ok(Put::Lost),
            Err(e) if e.s3_failure() == Some(S3Failure::NotFound) => {
                tracing::debug!(key, error = %lost, "conditional write lost; the key is gone");
                Ok(Put::Lost)
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes `key` (no condition: LocalStack refuses conditional deletes with 501).
    pub async fn delete_object(&self, key: &str) -> Result<(), FederationError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("DeleteObject", key, e))?;
        Ok(())
    }

    /// Reads one asset set: Parquet, or the first format's JSON.
    pub async fn get_assets(&self, key: &str) -> Result<AssetSet, FederationError> {
        Ok(self.get_assets_versioned(key).await?.0)
    }

    /// [`Store::get_assets`] and the ETag of the version read.
    pub async fn get_assets_versioned(&self, key: &str) -> Result<(AssetSet, String), FederationError> {
        let fetched = self.fetch(key).await?;
        Ok((crate::parquet::decode_assets(key, &fetched.bytes)?.set, fetched.etag))
    }

    /// Reads one set: Parquet, or the first format's JSON.
    pub async fn get_set(&self, key: &str) -> Result<AllocationSet, FederationError> {
        let fetched = self.fetch(key).await?;
        Ok(crate::parquet::decode_allocations(key, &fetched.bytes)?.set)
    }

    /// Reads one object whole, with the ETag of the version read. When that ETag is an MD5,
    /// the body is checked against it: a mismatch (a body damaged on the way) is transient.
    /// An object over [`MAX_OBJECT_BYTES`] (the largest ETL object a reader accepts) is
    /// refused ([`FederationError::TooLarge`]) before more of it is read.
    pub async fn fetch(&self, key: &str) -> Result<Fetched, FederationError> {
        self.fetch_limited(key, MAX_OBJECT_BYTES).await
    }

    /// Reads one object whole, as [`Store::fetch`], refusing one larger than `limit` bytes
    /// ([`FederationError::TooLarge`]) before reading more than `limit` bytes of it.
    pub async fn fetch_limited(&self, key: &str, limit: u64) -> Result<Fetched, FederationError> {
        let fetched = self.read_body(key, limit).await?;
        match fetched.damaged_in_transit() {
            false => Ok(fetched),
            true => Err(damaged(key, fetched.bytes.len(), &fetched.etag)),
        }
    }

    /// Reads one object whole without checking the body against its ETag: for a reader that
    /// verifies the object's own checksum first (an ETL object's SHA-256) and asks
    /// [`Fetched::damaged_in_transit`] only when that fails, so that a sound body costs no MD5.
    /// Refuses an object over `limit` bytes, as [`Store::fetch_limited`].
    pub async fn fetch_unverified(&self, key: &str, limit: u64) -> Result<Fetched, FederationError> {
        self.read_body(key, limit).await
    }

    /// The GetObject of every fetch: the body read into one buffer sized by the length S3
    /// declares, refused past `limit` bytes.
    async fn read_body(&self, key: &str, limit: u64) -> Result<Fetched, FederationError> {
        if let Some(direct) = &self.direct {
            return direct.get(key, limit).await;
        }
        let mut out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("GetObject", key, e))?;
        let declared = out.content_length().and_then(|l| u64::try_from(l).ok());
        let mut body = BodyBuffer::new(key, declared, limit)?;
        let etag = out.e_tag().map(str::to_owned);
        loop {
            let chunk = out.body.try_next().await.map_err(|e| FederationError::S3 {
                operation: "GetObject body",
                target: key.to_owned(),
                message: ampfed_aws::error_text(&e),
                failure: S3Failure::Transient,
            })?;
            let Some(chunk) = chunk else { break };
            body.push(&chunk)?;
        }
        Ok(body.finish(etag))
    }

    /// The ETag of the object at `key` now (HeadObject), `None` when there is none.
    pub async fn head_etag(&self, key: &str) -> Result<Option<String>, FederationError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(out.e_tag().map(str::to_owned)),
            Err(e) => match s3_error("HeadObject", key, e) {
                e if e.s3_failure() == Some(S3Failure::NotFound) => Ok(None),
                e => Err(e),
            },
        }
    }

    /// Every object under `prefix`, with its ETag, in key order.
    ///
    /// A listing's pages come one after another (each names the next): the 60,000 keys of a
    /// federated bucket at 1000 clusters and 30 days took a second of one thread, with
    /// nothing else to run, at each end of a federation. So the level of `prefix` is listed
    /// by delimiter (`/`: its own objects, and its folders, a cluster's each), and the
    /// folders are cut into at most [`LIST_RANGES`] runs (or as set by
    /// [`Store::with_list_runs`]), each listed on a task of its own
    /// from just before its first folder (`start-after`) to the next run's first folder.
    /// A run keeps only the keys in its folders, so every key is listed once; the cost is
    /// part of a page past each run's end, and a request a run.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, FederationError> {
        if self.list_runs == 1 {
            let mut listed = self.list_span(&Span { prefix, ..Span::default() }).await?.listed;
            listed.sort_by(|a, b| a.key.cmp(&b.key));
            return Ok(listed);
        }
        let level_span = Span { prefix, delimiter: Some("/"), ..Span::default() };
        let Level { mut listed, prefixes: folders } = self.list_span(&level_span).await?;
        let runs = self.list_runs.min(folders.len());
        let folders = Arc::new(folders);
        let mut running = tokio::task::JoinSet::new();
        for run in 0..runs {
            let (store, folders, prefix) = (self.clone(), Arc::clone(&folders), prefix.to_owned());
            running.spawn(async move {
                let first = folders[run * folders.len() / runs].as_str();
                let next = folders.get((run + 1) * folders.len() / runs).map(String::as_str);
                let start_after = just_before(first);
                let span = Span {
                    prefix: &prefix,
                    delimiter: None,
                    start_after: start_after.as_deref(),
                    stop_at: next,
                };
                let mut level = store.list_span(&span).await?;
                level.listed.retain(|l| {
                    l.key.as_str() >= first
                        && next.is_none_or(|n| l.key.as_str() < n)
                        && l.key.get(prefix.len()..).is_some_and(|rest| rest.contains('/'))
                });
                Ok::<_, FederationError>(level.listed)
            });
        }
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok(run) => listed.extend(run?),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => return Err(FederationError::Cancelled { what: format!("listing {prefix}") }),
            }
        }
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }

    /// What `span` asks for: directly where the store reads directly (and the pages read),
    /// through the SDK otherwise.
    async fn list_span(&self, span: &Span<'_>) -> Result<Level, FederationError> {
        if let Some(direct) = &self.direct {
            if let Some(level) = direct.list(span).await? {
                return Ok(level);
            }
        }
        self.list_through_sdk(span).await
    }

    /// [`Store::list_span`] through aws-sdk-s3's paginator, in S3's order.
    async fn list_through_sdk(&self, span: &Span<'_>) -> Result<Level, FederationError> {
        let mut level = Level::default();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(span.prefix)
            .set_delimiter(span.delimiter.map(str::to_owned))
            .set_start_after(span.start_after.map(str::to_owned))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error("ListObjectsV2", span.prefix, e))?;
            level.listed.extend(page.contents().iter().filter_map(|o| {
                Some(Listed {
                    key: o.key()?.to_owned(),
                    etag: o.e_tag().unwrap_or_default().to_owned(),
                    size: o.size().unwrap_or_default(),
                })
            }));
            level
                .prefixes
                .extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)));
            if span.stops(level.listed.last()) {
                break;
            }
        }
        Ok(level)
    }

    /// The cluster ids with a folder under `federated/`, sorted: neither `combined` nor any
    /// other folder name [`check_cluster_id`] refuses.
    pub async fn clusters(&self) -> Result<Vec<String>, FederationError> {
        let level = self
            .list_span(&Span { prefix: FEDERATED_PREFIX, delimiter: Some("/"), ..Span::default() })
            .await?;
        let mut clusters: Vec<String> = level
            .prefixes
            .iter()
            .filter_map(|p| p.strip_prefix(FEDERATED_PREFIX))
            .map(|name| name.trim_end_matches('/'))
            .filter(|name| check_cluster_id(name).is_ok())
            .map(str::to_owned)
            .collect();
        clusters.sort();
        Ok(clusters)
    }

    /// The keys of a cluster's daily allocation sets, sorted; a legacy `.json` key whose
    /// `.parquet` sibling exists is left out (one object per window).
    pub async fn allocation_keys(&self, cluster: &str) -> Result<Vec<String>, FederationError> {
        self.keys_at(cluster, Kind::Allocations, Resolution::Day).await
    }

    /// The keys of a cluster's daily asset sets, sorted (as [`Store::allocation_keys`]).
    pub async fn asset_keys(&self, cluster: &str) -> Result<Vec<String>, FederationError> {
        self.keys_at(cluster, Kind::Assets, Resolution::Day).await
    }

    /// The keys of a cluster's (or `combined`'s) sets of `kind` at `resolution` (`1d/`, `1h/`),
    /// sorted (as [`Store::allocation_keys`]).
    pub async fn keys_at(
        &self,
        cluster: &str,
        kind: Kind,
        resolution: Resolution,
    ) -> Result<Vec<String>, FederationError> {
        self.keys(&layout::folder(cluster, kind, resolution)).await
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>, FederationError> {
        Ok(prefer_parquet(self.list(prefix).await?.into_iter().map(|l| l.key).collect()))
    }
}

/// `keys` (sorted) without the legacy `.json` keys whose `.parquet` sibling is among them.
pub fn prefer_parquet(keys: Vec<String>) -> Vec<String> {
    let all: std::collections::BTreeSet<&str> = keys.iter().map(String::as_str).collect();
    let shadowed: Vec<bool> =
        keys.iter().map(|k| layout::parquet_sibling(k).is_some_and(|p| all.contains(p.as_str()))).collect();
    keys.into_iter().zip(shadowed).filter(|(_, s)| !s).map(|(k, _)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_etags_are_recognised() {
        let etag = md5_etag(b"hello");
        assert_eq!(etag, "\"5d41402abc4b2a76b9719d911017c592\"");
        assert!(is_md5_etag(&etag));
        assert!(!is_md5_etag("\"5d41402abc4b2a76b9719d911017c592-2\""));
        assert!(!is_md5_etag(""));
    }

    #[test]
    fn parquet_keys_shadow_their_legacy_json_twins() {
        let keys = [
            "federated/a/etl/allocations/1d/0-86400.json",
            "federated/a/etl/allocations/1d/0-86400.parquet",
            "federated/a/etl/allocations/1d/86400-172800.json",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            prefer_parquet(keys),
            [
                "federated/a/etl/allocations/1d/0-86400.parquet",
                "federated/a/etl/allocations/1d/86400-172800.json"
            ]
        );
        let w = Window { start: 0, end: 86_400 };
        assert_eq!(Store::allocation_key("a", w), "federated/a/etl/allocations/1d/0-86400.parquet");
        assert_eq!(Store::asset_key("combined", w), "federated/combined/etl/assets/1d/0-86400.parquet");
        let h = Window { start: 82_800, end: 86_400 };
        assert_eq!(Store::allocation_key("a", h), "federated/a/etl/allocations/1h/82800-86400.parquet");
        assert_eq!(Store::asset_key("combined", h), "federated/combined/etl/assets/1h/82800-86400.parquet");
    }

    #[test]
    fn only_days_and_hours_are_filed() {
        let refused = |w: Window| Store::check_filing("a", "k", w).unwrap_err().to_string();
        assert!(Store::check_filing("a", "k", Window { start: 0, end: 86_400 }).is_ok());
        assert!(Store::check_filing("a", "k", Window { start: 7200, end: 10_800 }).is_ok());
        assert!(refused(Window { start: 1800, end: 5400 }).contains("neither one UTC day"));
        assert!(refused(Window { start: 0, end: 7200 }).contains("nor one UTC hour"));
        assert!(Store::check_filing("combined", "k", Window { start: 0, end: 3600 }).is_err());
    }
}
