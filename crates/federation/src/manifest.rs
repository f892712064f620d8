//! The federator's manifest (`federated/combined/etl/manifest.json`): per window, every input
//! object it combined (key, ETag, the writer it named, or why it was quarantined) and every
//! combined object it wrote (key, ETag). A window whose inputs and outputs S3 still lists with
//! exactly those ETags is not combined again; any difference (a new, rewritten or deleted
//! input, an output changed or missing) recombines exactly that window.
//!
//! It holds no time and no federator id, and its maps are sorted, so the same bucket gives
//! the same manifest bytes whichever federator wrote it, and however many runs it took.

use std::collections::BTreeMap;

use ampfed_allocation::Window;
use serde::{Deserialize, Serialize};

use crate::trust::Distrust;

/// Bumped on any change readers must know about; a manifest of another version is rebuilt.
pub const MANIFEST_VERSION: u32 = 1;

/// The whole manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    /// By window, keyed `<start>-<end>`.
    pub windows: BTreeMap<String, WindowEntry>,
    /// Objects in a cluster's daily folders that no window can take (a bad file name, a
    /// refused cluster id), quarantined, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub misfiled: BTreeMap<String, Misfiled>,
}

/// One window: what went in, what came out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowEntry {
    pub start: i64,
    pub end: i64,
    /// By key.
    pub inputs: BTreeMap<String, Input>,
    /// The combined objects, by key: their ETags.
    pub outputs: BTreeMap<String, String>,
}

impl WindowEntry {
    pub fn window(&self) -> Window {
        Window { start: self.start, end: self.end }
    }
}

/// One input object as the federator judged it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    pub etag: String,
    /// The writer the object named, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Set when the object was not combined but quarantined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<Distrust>,
}

/// A misfiled object, quarantined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Misfiled {
    pub etag: String,
    pub reason: Distrust,
}

/// Why a stored manifest was not used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("not a manifest: {0}")]
    Malformed(String),
    #[error("manifest version {found} (this build reads {MANIFEST_VERSION})")]
    Version { found: u32 },
}

impl Manifest {
    pub fn new() -> Manifest {
        Manifest { version: MANIFEST_VERSION, ..Manifest::default() }
    }

    /// The bytes stored in S3.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes =
            serde_json::to_vec_pretty(self).unwrap_or_else(|e| unreachable!("plain structs serialise: {e}"));
        bytes.push(b'\n');
        bytes
    }

    /// Reads stored bytes, refusing other versions.
    pub fn from_bytes(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        if manifest.version != MANIFEST_VERSION {
            return Err(ManifestError::Version { found: manifest.version });
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_byte_identical_and_refuses_other_versions() {
        let mut m = Manifest::new();
        let mut entry = WindowEntry { start: 0, end: 86_400, ..WindowEntry::default() };
        entry.inputs.insert(
            "federated/b/etl/allocations/1d/0-86400.json".into(),
            Input {
                etag: "\"e2\"".into(),
                quarantined: Some(Distrust::new("undecodable", "expected value")),
                ..Input::default()
            },
        );
        entry.inputs.insert(
            "federated/a/etl/allocations/1d/0-86400.json".into(),
            Input { etag: "\"e1\"".into(), source: Some("uid-a".into()), ..Input::default() },
        );
        entry.outputs.insert("federated/combined/etl/allocations/1d/0-86400.json".into(), "\"o\"".into());
        m.windows.insert("0-86400".into(), entry);
        let bytes = m.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.find("federated/a/").unwrap() < text.find("federated/b/").unwrap(), "{text}");
        assert_eq!(Manifest::from_bytes(&bytes).unwrap(), m);
        assert_eq!(Manifest::from_bytes(&bytes).unwrap().to_bytes(), bytes);
        let other = text.replace("\"version\": 1", "\"version\": 2");
        assert_eq!(Manifest::from_bytes(other.as_bytes()), Err(ManifestError::Version { found: 2 }));
        assert!(matches!(Manifest::from_bytes(b"nope"), Err(ManifestError::Malformed(_))));
    }
}
