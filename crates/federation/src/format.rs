//! The ETL object: one allocation set per cluster and window, versioned JSON with the field
//! names of Kubecost's allocation API. Allocations are sorted by name and numbers are written
//! as computed, so the same inputs give byte-identical objects.

use ampfed_allocation::{Allocation, AllocationSet, Window};
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

#[cfg(test)]
mod tests {
    use super::*;

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
