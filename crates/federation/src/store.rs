//! The central bucket, laid out after Kubecost's federated layout (which stores bingen objects
//! under `…/etl/bingen/allocations/1d/<start>-<end>`; ampfed writes JSON, see
//! `docs/amp-setup.md`): `federated/<cluster>/etl/{allocations,assets}/1d/<start>-<end>.json`
//! per cluster and `federated/combined/etl/{allocations,assets}/1d/<start>-<end>.json` after
//! federation. Only UTC days are filed under `1d/`.

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_s3::config::RequestChecksumCalculation;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::FederationError;
use ampfed_allocation::{AllocationSet, AssetSet, Window};

/// The prefix every cluster writes under.
pub const FEDERATED_PREFIX: &str = "federated/";
/// The combined cluster id.
pub const COMBINED: &str = "combined";

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
}

/// The S3 error code and message when S3 answered, the whole error chain otherwise.
fn s3_error<E: std::error::Error + ProvideErrorMetadata>(
    operation: &'static str,
    target: &str,
    e: E,
) -> FederationError {
    let message = match (e.code(), e.message()) {
        (Some(code), message) => format!("{code}: {}", message.unwrap_or("(no message)")),
        _ => ampfed_aws::error_text(&e),
    };
    FederationError::S3 { operation, target: target.to_owned(), message }
}

impl Store {
    pub fn new(config: &StoreConfig) -> Store {
        let region = config.region.clone();
        let sdk = ampfed_aws::sdk_config(&config.endpoint, &config.region)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                config.access_key_id.clone(),
                config.secret_access_key.clone(),
                None,
                None,
                "ampfed-store",
            )))
            .build();
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build();
        Store { client: aws_sdk_s3::Client::from_conf(s3), bucket: config.bucket.clone(), region }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
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

    /// The key of a cluster's (or `combined`) daily allocation set.
    pub fn allocation_key(cluster: &str, window: Window) -> String {
        format!("{FEDERATED_PREFIX}{cluster}/etl/allocations/1d/{}.json", window.file_stem())
    }

    /// The key of a cluster's (or `combined`) daily asset set.
    pub fn asset_key(cluster: &str, window: Window) -> String {
        format!("{FEDERATED_PREFIX}{cluster}/etl/assets/1d/{}.json", window.file_stem())
    }

    /// Writes a daily set under `cluster`'s prefix and returns its key; a window that is not
    /// one UTC day is refused, never filed under `1d/`.
    pub async fn put_set(&self, cluster: &str, set: &AllocationSet) -> Result<String, FederationError> {
        let key = Store::allocation_key(cluster, set.window);
        set.window
            .check_utc_day()
            .map_err(|e| FederationError::Window { key: key.clone(), message: e.to_string() })?;
        self.put(&key, crate::format::to_bytes(set)).await?;
        Ok(key)
    }

    /// Writes a daily asset set under `cluster`'s prefix and returns its key (UTC days only).
    pub async fn put_assets(&self, cluster: &str, assets: &AssetSet) -> Result<String, FederationError> {
        let key = Store::asset_key(cluster, assets.window);
        assets
            .window
            .check_utc_day()
            .map_err(|e| FederationError::Window { key: key.clone(), message: e.to_string() })?;
        self.put(&key, crate::format::assets_to_bytes(assets)).await?;
        Ok(key)
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FederationError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| s3_error("PutObject", key, e))?;
        Ok(())
    }

    /// Reads one asset set.
    pub async fn get_assets(&self, key: &str) -> Result<AssetSet, FederationError> {
        let bytes = self.get(key).await?;
        crate::format::assets_from_bytes(key, &bytes)
    }

    /// Reads one set.
    pub async fn get_set(&self, key: &str) -> Result<AllocationSet, FederationError> {
        let bytes = self.get(key).await?;
        crate::format::from_bytes(key, &bytes)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, FederationError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("GetObject", key, e))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| FederationError::S3 {
                operation: "GetObject body",
                target: key.to_owned(),
                message: ampfed_aws::error_text(&e),
            })?
            .into_bytes();
        Ok(bytes.to_vec())
    }

    /// The cluster ids with a folder under `federated/`, without `combined`, sorted.
    pub async fn clusters(&self) -> Result<Vec<String>, FederationError> {
        let mut clusters = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(FEDERATED_PREFIX)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error("ListObjectsV2", FEDERATED_PREFIX, e))?;
            for p in page.common_prefixes() {
                if let Some(name) = p.prefix().and_then(|p| p.strip_prefix(FEDERATED_PREFIX)) {
                    let name = name.trim_end_matches('/');
                    if name != COMBINED && !name.is_empty() {
                        clusters.push(name.to_owned());
                    }
                }
            }
        }
        clusters.sort();
        Ok(clusters)
    }

    /// The keys of a cluster's daily allocation sets, sorted.
    pub async fn allocation_keys(&self, cluster: &str) -> Result<Vec<String>, FederationError> {
        self.keys(&format!("{FEDERATED_PREFIX}{cluster}/etl/allocations/1d/")).await
    }

    /// The keys of a cluster's daily asset sets, sorted.
    pub async fn asset_keys(&self, cluster: &str) -> Result<Vec<String>, FederationError> {
        self.keys(&format!("{FEDERATED_PREFIX}{cluster}/etl/assets/1d/")).await
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>, FederationError> {
        let mut keys = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error("ListObjectsV2", prefix, e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        }
        keys.sort();
        Ok(keys)
    }
}
