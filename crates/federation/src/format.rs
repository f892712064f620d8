//! The ETL objects: one allocation set and one asset set per cluster and window, versioned
//! JSON with the field names of Kubecost's allocation and assets APIs. Allocations are sorted
//! by name, assets by cluster and name, and numbers are written as computed, so the same
//! inputs give byte-identical objects.

use ampfed_allocation::{Allocation, AllocationSet, AssetSet, Window};
use serde::{Deserialize, Serialize};

use crate::FederationError;

/// Bumped on any change readers must know about.
pub const FORMAT_VERSION: u32 = 1;

/// An object as written: the format version, then the set.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Written<'a> {
    version: u32,
    clusters: &'a [String],
    window: Window,
    allocations: &'a [Allocation],
}

/// An object as read: every field required, no other field allowed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Read {
    version: u32,
    clusters: Vec<String>,
    window: Window,
    allocations: Vec<Allocation>,
}

/// The bytes stored in S3 for `set`.
pub fn to_bytes(set: &AllocationSet) -> Vec<u8> {
    let written = Written {
        version: FORMAT_VERSION,
        clusters: &set.clusters,
        window: set.window,
        allocations: &set.allocations,
    };
    let mut bytes =
        serde_json::to_vec_pretty(&written).unwrap_or_else(|e| unreachable!("plain structs serialise: {e}"));
    bytes.push(b'\n');
    bytes
}

/// Reads the stored bytes of object `key`, refusing other format versions.
pub fn from_bytes(key: &str, bytes: &[u8]) -> Result<AllocationSet, FederationError> {
    let fail = |message: String| FederationError::Format { key: key.to_owned(), message };
    let read: Read = serde_json::from_slice(bytes).map_err(|e| fail(e.to_string()))?;
    if read.version != FORMAT_VERSION {
        return Err(fail(format!("format version {} (this build reads {FORMAT_VERSION})", read.version)));
    }
    if read.window.end <= read.window.start {
        return Err(fail(format!(
            "window {}-{} ends before it starts; regenerate the object with the cost model",
            read.window.start, read.window.end
        )));
    }
    Ok(AllocationSet { clusters: read.clusters, window: read.window, allocations: read.allocations })
}

/// An asset object as written and read: the format version, then the set.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AssetObject {
    version: u32,
    assets: AssetSet,
}

/// The bytes stored in S3 for `assets`, in their canonical order.
pub fn assets_to_bytes(assets: &AssetSet) -> Vec<u8> {
    let mut assets = assets.clone();
    assets.sort();
    let object = AssetObject { version: FORMAT_VERSION, assets };
    let mut bytes =
        serde_json::to_vec_pretty(&object).unwrap_or_else(|e| unreachable!("plain structs serialise: {e}"));
    bytes.push(b'\n');
    bytes
}

/// Reads the stored bytes of asset object `key`, refusing other format versions.
pub fn assets_from_bytes(key: &str, bytes: &[u8]) -> Result<AssetSet, FederationError> {
    let fail = |message: String| FederationError::Format { key: key.to_owned(), message };
    let read: AssetObject = serde_json::from_slice(bytes).map_err(|e| fail(e.to_string()))?;
    if read.version != FORMAT_VERSION {
        return Err(fail(format!("format version {} (this build reads {FORMAT_VERSION})", read.version)));
    }
    if read.assets.window.end <= read.assets.window.start {
        return Err(fail(
            "the window ends before it starts; regenerate the object with the cost model".into(),
        ));
    }
    Ok(read.assets)
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
    fn other_versions_are_refused() {
        let set = AllocationSet::new(vec![], Window { start: 0, end: 1 }, vec![]);
        let text = String::from_utf8(to_bytes(&set)).unwrap().replace("\"version\": 1", "\"version\": 99");
        let err = from_bytes("k", text.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("format version 99"), "{err}");
    }
}
