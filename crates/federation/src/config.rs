//! Kubecost's `federated-store.yaml` (the secret `kubecostModel.federatedStorageConfigSecret`
//! holds it): a Thanos-objstore-style file naming the central bucket,
//!
//! ```yaml
//! type: S3
//! config:
//!   bucket: kubecost-federated
//!   endpoint: 127.0.0.1:4566
//!   region: us-east-1
//!   insecure: true
//!   access_key: AKIA…        # optional, with secret_key; else the standard credential chain
//!   secret_key: …
//! ```
//!
//! [`read`] and [`parse`] accept every key Kubecost documents for S3 (`docs/amp-setup.md`):
//! ampfed uses `bucket`, `endpoint`, `region`, `insecure`, `access_key`/`secret_key` and
//! `aws_sdk_auth`; the others (`signature_version2`, `put_user_metadata`, `http_config`, `trace`,
//! `part_size`, `sts_endpoint`, `sse_config`, `list_objects_version`) are read, checked for
//! their shape and reported as [`FederatedStore::warnings`], since they change nothing here.
//! Anything else is refused, with the file, line and column (`federated-store.yaml:7:3: …`), as
//! are a missing bucket or endpoint, a `type` other than `S3`, a `prefix` (ampfed's layout
//! starts at the bucket root), half a key pair, keys together with `aws_sdk_auth`, an endpoint
//! written as a URL (Thanos reads `host[:port]`). `insecure: false` (Thanos's default) is HTTPS,
//! through the SDK's rustls client with the system's roots. A file over [`MAX_FILE_BYTES`] is not read.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use serde::Deserialize;

use crate::store::StoreConfig;

/// The largest `federated-store.yaml` read, in bytes (Kubecost's is a few hundred).
pub const MAX_FILE_BYTES: u64 = 64 * 1024;
/// The region when the file names none (Thanos's S3 client defaults the same way).
pub const DEFAULT_REGION: &str = "us-east-1";

/// Why a `federated-store.yaml` was refused; `at` is `file`, `file:line` or `file:line:column`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreFileError {
    #[error("{file}: cannot be read: {message}")]
    Read { file: String, message: String },
    #[error("{file}: larger than {MAX_FILE_BYTES} bytes; a federated-store.yaml is a few hundred")]
    TooLarge { file: String },
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },
}

/// The bucket a `federated-store.yaml` names, as ampfed uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FederatedStore {
    pub bucket: String,
    /// `host[:port]`, as written.
    pub endpoint: String,
    /// `insecure: true`: plain HTTP; else HTTPS (the system's roots).
    pub insecure: bool,
    pub region: String,
    /// `access_key` and `secret_key`; `None`: the standard credential chain.
    pub keys: Option<(String, String)>,
    /// `file:line: …` for each key read but not used by ampfed.
    pub warnings: Vec<String>,
}

impl FederatedStore {
    /// The endpoint as a URL: `http://<endpoint>` when `insecure`, else `https://<endpoint>`.
    pub fn endpoint_url(&self) -> String {
        let scheme = if self.insecure { "http" } else { "https" };
        format!("{scheme}://{}", self.endpoint)
    }

    /// A [`StoreConfig`] with the file's keys, or with `fallback`'s when it has none.
    pub fn store_config(&self, fallback: (String, String)) -> StoreConfig {
        let (access_key_id, secret_access_key) = self.keys.clone().unwrap_or(fallback);
        StoreConfig {
            endpoint: self.endpoint_url(),
            region: self.region.clone(),
            bucket: self.bucket.clone(),
            access_key_id,
            secret_access_key,
        }
    }

    /// The store: with the file's keys, or else with the credentials `chain` finds for the
    /// region (the caller's credential chain); `chain`'s error says what it tried.
    pub fn open<E>(
        &self,
        chain: impl FnOnce(&str) -> Result<aws_credential_types::provider::SharedCredentialsProvider, E>,
    ) -> Result<crate::Store, E> {
        let config = self.store_config((String::new(), String::new()));
        if self.keys.is_some() {
            return Ok(crate::Store::new(&config));
        }
        Ok(crate::Store::with_credentials(&config, chain(&self.region)?))
    }
}

/// The one store type ampfed reads.
#[derive(Debug, Deserialize)]
enum StoreType {
    S3,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "type")]
    kind: StoreType,
    config: S3Config,
    #[serde(default)]
    prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct S3Config {
    bucket: String,
    endpoint: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    access_key: Option<String>,
    #[serde(default)]
    secret_key: Option<String>,
    #[serde(default)]
    aws_sdk_auth: bool,
    // Kubecost's, read for their shape only.
    #[serde(default)]
    signature_version2: Option<bool>,
    #[serde(default)]
    put_user_metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    http_config: Option<HttpConfig>,
    #[serde(default)]
    trace: Option<Trace>,
    #[serde(default)]
    part_size: Option<u64>,
    #[serde(default)]
    sts_endpoint: Option<String>,
    #[serde(default)]
    sse_config: Option<serde_yaml::Value>,
    #[serde(default)]
    list_objects_version: Option<String>,
}

/// Kubecost's `http_config`, read for its shape only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct HttpConfig {
    #[serde(default)]
    idle_conn_timeout: Option<String>,
    #[serde(default)]
    response_header_timeout: Option<String>,
    #[serde(default)]
    insecure_skip_verify: Option<bool>,
    #[serde(default)]
    tls_config: Option<serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trace {
    #[serde(default)]
    enable: bool,
}

/// Reads `path` (at most [`MAX_FILE_BYTES`]) and [`parse`]s it, naming it by its path.
pub fn read(path: &Path) -> Result<FederatedStore, StoreFileError> {
    let file = path.display().to_string();
    let read = |e: std::io::Error| StoreFileError::Read { file: file.clone(), message: e.to_string() };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(read)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(StoreFileError::TooLarge { file });
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| StoreFileError::Read { file: file.clone(), message: format!("not UTF-8: {e}") })?;
    parse(&file, &text)
}

/// The 1-based line where `key:` is first written (after `section:` when given), for messages
/// about a value serde accepted; `None` when it is not found (a flow-style file).
fn line_of(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let is_key = |line: &str, key: &str| {
        let t = line.trim_start().trim_start_matches(['"', '\'']);
        t.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start_matches(['"', '\'']).trim_start().starts_with(':'))
    };
    let lines: Vec<&str> = text.lines().collect();
    let from = match section {
        Some(section) => lines.iter().position(|l| is_key(l, section))? + 1,
        None => 0,
    };
    lines.iter().skip(from).position(|l| is_key(l, key)).map(|i| from + i + 1)
}

/// Parses the text of a `federated-store.yaml`; `file` names it in errors and warnings.
pub fn parse(file: &str, text: &str) -> Result<FederatedStore, StoreFileError> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(StoreFileError::TooLarge { file: file.to_owned() });
    }
    let parsed: File = serde_yaml::from_str(text).map_err(|e| {
        let at = match e.location() {
            Some(l) => format!("{file}:{}:{}", l.line(), l.column()),
            None => file.to_owned(),
        };
        StoreFileError::Invalid { at, message: e.to_string() }
    })?;
    let StoreType::S3 = parsed.kind;
    let at = |key: &str| match line_of(text, Some("config"), key) {
        Some(line) => format!("{file}:{line}"),
        None => file.to_owned(),
    };
    let refuse = |key: &str, message: String| Err(StoreFileError::Invalid { at: at(key), message });
    if let Some(prefix) = parsed.prefix.as_deref().filter(|p| !p.trim_matches('/').is_empty()) {
        let at = line_of(text, None, "prefix").map_or(file.to_owned(), |l| format!("{file}:{l}"));
        return Err(StoreFileError::Invalid {
            at,
            message: format!(
                "prefix {prefix:?} is not supported: ampfed's layout starts at the bucket root (federated/…)"
            ),
        });
    }
    let c = parsed.config;
    if c.bucket.trim().is_empty() {
        return refuse("bucket", "config.bucket is empty: name the central bucket".into());
    }
    let endpoint = c.endpoint.trim();
    if endpoint.is_empty() {
        return refuse("endpoint", "config.endpoint is empty: give host[:port] of the S3 API".into());
    }
    if endpoint.contains("://") || endpoint.contains('/') {
        return refuse(
            "endpoint",
            format!(
                "config.endpoint {endpoint:?} is host[:port], without a scheme or path (Thanos's \
                 form); HTTP or HTTPS is `insecure`"
            ),
        );
    }
    let keys = match (c.access_key.filter(|k| !k.is_empty()), c.secret_key.filter(|k| !k.is_empty())) {
        (Some(key), Some(secret)) => Some((key, secret)),
        (None, None) => None,
        (Some(_), None) => {
            return refuse("access_key", "config.access_key is set but secret_key is not".into())
        }
        (None, Some(_)) => {
            return refuse("secret_key", "config.secret_key is set but access_key is not".into())
        }
    };
    if c.aws_sdk_auth && keys.is_some() {
        return refuse(
            "aws_sdk_auth",
            "config.aws_sdk_auth uses the credential chain and cannot be combined with access_key".into(),
        );
    }
    let mut warnings = Vec::new();
    let mut ignored = |key: &str, present: bool, why: &str| {
        if present {
            warnings.push(format!("{}: config.{key} is read but not used by ampfed ({why})", at(key)));
        }
    };
    ignored("signature_version2", c.signature_version2 == Some(true), "requests are signed with SigV4");
    ignored(
        "put_user_metadata",
        c.put_user_metadata.is_some_and(|m| !m.is_empty()),
        "no user metadata is written",
    );
    ignored("http_config", c.http_config.is_some(), "ampfed's own time limits apply");
    ignored("trace", c.trace.is_some_and(|t| t.enable), "ampfed logs through tracing");
    ignored("part_size", c.part_size.is_some(), "ETL objects are written in one part");
    ignored("sts_endpoint", c.sts_endpoint.is_some(), "the credential chain finds STS itself");
    ignored("sse_config", c.sse_config.is_some(), "no server-side encryption is asked for");
    ignored("list_objects_version", c.list_objects_version.is_some(), "listings use ListObjectsV2");
    Ok(FederatedStore {
        bucket: c.bucket.trim().to_owned(),
        endpoint: endpoint.to_owned(),
        insecure: c.insecure,
        region: c.region.filter(|r| !r.trim().is_empty()).unwrap_or_else(|| DEFAULT_REGION.to_owned()),
        keys,
        warnings,
    })
}
