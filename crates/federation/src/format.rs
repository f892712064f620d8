//! The ETL objects: one allocation set and one asset set per cluster and window, versioned
//! JSON with the field names of Kubecost's allocation and assets APIs. Allocations are sorted
//! by name, assets by cluster and name, and numbers are written as computed, so the same
//! inputs give byte-identical objects.
//!
//! An object may name its writer in an optional `source` field (the cost model's stable
//! instance id, e.g. the cluster's `kube-system` namespace UID), which the federator uses to
//! see two clusters claiming one cluster id. Objects without it are written, and read, exactly
//! as before it existed.
//!
//! Every encoding and decoding of an ETL object goes through this module ([`encode_set`],
//! [`decode_set`], [`encode_asset_set`], [`decode_asset_set`], [`CONTENT_TYPE`]), so that
//! another codec replaces it in one place.

use ampfed_allocation::{Allocation, AllocationSet, AssetSet, Window};
use serde::{Deserialize, Serialize};

use crate::FederationError;

/// Bumped on any change readers must know about.
pub const FORMAT_VERSION: u32 = 1;
/// The `Content-Type` stored with every ETL object.
pub const CONTENT_TYPE: &str = "application/json";

/// An object as written: the format version, then the set.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Written<'a> {
    version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    clusters: &'a [String],
    window: Window,
    allocations: &'a [Allocation],
}

/// An object as read: every field required but `source`, no other field allowed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Read {
    version: u32,
    #[serde(default)]
    source: Option<String>,
    clusters: Vec<String>,
    window: Window,
    allocations: Vec<Allocation>,
}

/// A decoded object: the set and who says they wrote it.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded<T> {
    pub set: T,
    /// The writer's id, when the object names one.
    pub source: Option<String>,
}

/// Why an object's bytes are no ETL set of this build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeReason {
    /// Another format version (newer cost model, or older format).
    Version { found: u32 },
    /// Not the format at all: not JSON, wrong or missing fields, wrong types.
    Malformed(String),
    /// The window ends before it starts.
    Window(String),
}

/// An object that could not be decoded, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub key: String,
    pub reason: DecodeReason,
}

impl DecodeError {
    /// The reason in words (what [`FederationError::Format`] shows).
    pub fn message(&self) -> String {
        match &self.reason {
            DecodeReason::Version { found } => {
                format!("format version {found} (this build reads {FORMAT_VERSION})")
            }
            DecodeReason::Malformed(m) | DecodeReason::Window(m) => m.clone(),
        }
    }
}

impl From<DecodeError> for FederationError {
    fn from(e: DecodeError) -> FederationError {
        FederationError::Format { message: e.message(), key: e.key }
    }
}

fn pretty<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes =
        serde_json::to_vec_pretty(value).unwrap_or_else(|e| unreachable!("plain structs serialise: {e}"));
    bytes.push(b'\n');
    bytes
}

/// The bytes stored in S3 for `set`, naming `source` as its writer when given.
pub fn encode_set(set: &AllocationSet, source: Option<&str>) -> Vec<u8> {
    pretty(&Written {
        version: FORMAT_VERSION,
        source,
        clusters: &set.clusters,
        window: set.window,
        allocations: &set.allocations,
    })
}

/// Reads the stored bytes of object `key`, refusing other format versions.
pub fn decode_set(key: &str, bytes: &[u8]) -> Result<Decoded<AllocationSet>, DecodeError> {
    let fail = |reason: DecodeReason| DecodeError { key: key.to_owned(), reason };
    let read: Read =
        serde_json::from_slice(bytes).map_err(|e| fail(DecodeReason::Malformed(e.to_string())))?;
    if read.version != FORMAT_VERSION {
        return Err(fail(DecodeReason::Version { found: read.version }));
    }
    if read.window.end <= read.window.start {
        return Err(fail(DecodeReason::Window(format!(
            "window {}-{} ends before it starts; regenerate the object with the cost model",
            read.window.start, read.window.end
        ))));
    }
    Ok(Decoded {
        set: AllocationSet { clusters: read.clusters, window: read.window, allocations: read.allocations },
        source: read.source,
    })
}

/// The bytes stored in S3 for `set` (no `source`).
pub fn to_bytes(set: &AllocationSet) -> Vec<u8> {
    encode_set(set, None)
}

/// Reads the stored bytes of object `key`, refusing other format versions.
pub fn from_bytes(key: &str, bytes: &[u8]) -> Result<AllocationSet, FederationError> {
    Ok(decode_set(key, bytes)?.set)
}

/// An asset object as written: the format version, then the set.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AssetWritten<'a> {
    version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    assets: &'a AssetSet,
}

/// An asset object as read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AssetRead {
    version: u32,
    #[serde(default)]
    source: Option<String>,
    assets: AssetSet,
}

/// The bytes stored in S3 for `assets`, in their canonical order, naming `source` when given.
pub fn encode_asset_set(assets: &AssetSet, source: Option<&str>) -> Vec<u8> {
    let mut assets = assets.clone();
    assets.sort();
    pretty(&AssetWritten { version: FORMAT_VERSION, source, assets: &assets })
}

/// Reads the stored bytes of asset object `key`, refusing other format versions.
pub fn decode_asset_set(key: &str, bytes: &[u8]) -> Result<Decoded<AssetSet>, DecodeError> {
    let fail = |reason: DecodeReason| DecodeError { key: key.to_owned(), reason };
    let read: AssetRead =
        serde_json::from_slice(bytes).map_err(|e| fail(DecodeReason::Malformed(e.to_string())))?;
    if read.version != FORMAT_VERSION {
        return Err(fail(DecodeReason::Version { found: read.version }));
    }
    if read.assets.window.end <= read.assets.window.start {
        return Err(fail(DecodeReason::Window(
            "the window ends before it starts; regenerate the object with the cost model".into(),
        )));
    }
    Ok(Decoded { set: read.assets, source: read.source })
}

/// The bytes stored in S3 for `assets`, in their canonical order (no `source`).
pub fn assets_to_bytes(assets: &AssetSet) -> Vec<u8> {
    encode_asset_set(assets, None)
}

/// Reads the stored bytes of asset object `key`, refusing other format versions.
pub fn assets_from_bytes(key: &str, bytes: &[u8]) -> Result<AssetSet, FederationError> {
    Ok(decode_asset_set(key, bytes)?.set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_round_trip_byte_identical_in_canonical_order() {
        let mut assets = AssetSet::new(vec!["c1".into()], Window { start: 0, end: 86400 });
        assets.cluster_management.push(ampfed_allocation::ClusterManagementAsset {
            cluster: "c1".into(),
            provisioner: "EKS".into(),
            cost: 2.4,
            ..Default::default()
        });
        let bytes = assets_to_bytes(&assets);
        assert!(
            bytes.starts_with(b"{\n  \"version\": 1,\n  \"assets\": {\n"),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(assets_from_bytes("k", &bytes).unwrap(), assets);
        let text = String::from_utf8(bytes).unwrap().replace("\"version\": 1", "\"version\": 2");
        assert!(assets_from_bytes("k", text.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("format version 2"));
    }

    #[test]
    fn round_trip_is_byte_identical() {
        let a = Allocation { name: "b".into(), ..Allocation::default() };
        let b = Allocation { name: "a".into(), cpu_cost: 0.1, ..Allocation::default() };
        let set =
            AllocationSet::new(vec!["c2".into(), "c1".into()], Window { start: 0, end: 86400 }, vec![a, b]);
        let bytes = to_bytes(&set);
        assert!(
            bytes.starts_with(b"{\n  \"version\": 1,\n  \"clusters\": [\n"),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(from_bytes("k", &bytes).unwrap(), set);
        assert_eq!(to_bytes(&set), bytes);
    }

    #[test]
    fn a_window_that_ends_before_it_starts_is_refused() {
        let set = AllocationSet::new(vec![], Window { start: i64::MAX, end: i64::MIN }, vec![]);
        let err = from_bytes("k", &to_bytes(&set)).unwrap_err();
        assert!(err.to_string().contains("ends before it starts"), "{err}");
    }

    #[test]
    fn a_source_is_optional_and_leaves_objects_without_it_unchanged() {
        let set = AllocationSet::new(vec!["c1".into()], Window { start: 0, end: 86400 }, vec![]);
        let plain = encode_set(&set, None);
        assert_eq!(plain, to_bytes(&set));
        assert!(!String::from_utf8_lossy(&plain).contains("source"));
        assert_eq!(decode_set("k", &plain).unwrap().source, None);
        let named = encode_set(&set, Some("kube-system-uid-1"));
        assert!(named.starts_with(b"{\n  \"version\": 1,\n  \"source\": \"kube-system-uid-1\",\n"));
        let decoded = decode_set("k", &named).unwrap();
        assert_eq!((decoded.set, decoded.source.as_deref()), (set, Some("kube-system-uid-1")));
        let assets = AssetSet::new(vec!["c1".into()], Window { start: 0, end: 86400 });
        assert_eq!(encode_asset_set(&assets, None), assets_to_bytes(&assets));
        let named = decode_asset_set("k", &encode_asset_set(&assets, Some("s"))).unwrap();
        assert_eq!(named.source.as_deref(), Some("s"));
    }

    #[test]
    fn decode_errors_say_which_kind_of_failure() {
        let set = AllocationSet::new(vec![], Window { start: 0, end: 1 }, vec![]);
        let text = String::from_utf8(to_bytes(&set)).unwrap().replace("\"version\": 1", "\"version\": 7");
        assert_eq!(decode_set("k", text.as_bytes()).unwrap_err().reason, DecodeReason::Version { found: 7 });
        assert!(matches!(decode_set("k", b"{").unwrap_err().reason, DecodeReason::Malformed(_)));
        assert!(matches!(decode_asset_set("k", b"[]").unwrap_err().reason, DecodeReason::Malformed(_)));
    }

    #[test]
    fn other_versions_are_refused() {
        let set = AllocationSet::new(vec![], Window { start: 0, end: 1 }, vec![]);
        let text = String::from_utf8(to_bytes(&set)).unwrap().replace("\"version\": 1", "\"version\": 99");
        let err = from_bytes("k", text.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("format version 99"), "{err}");
    }
}
