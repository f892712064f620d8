//! The federator's manifest: per window, every input object it combined (key, ETag, the
//! writer it named, or why it was quarantined) and every combined object it wrote (key,
//! ETag). A window whose inputs and outputs S3 still lists with exactly those ETags is not
//! combined again; any difference (a new, rewritten or deleted input, an output changed or
//! missing) recombines exactly that window.
//!
//! It is stored as one object per window, `federated/combined/etl/manifest/<1d|1h>/<start>-<end>.json`
//! ([`layout::manifest_window_key`]), plus the misfiled objects in
//! `federated/combined/etl/manifest/misfiled.json` (absent when there are none), so a run
//! writes only the records of the windows it recombined. Each object holds no time and no
//! federator id, and its maps are sorted, so the same bucket gives the same bytes whichever
//! federator wrote them, and however many runs it took. [`read_all`] reads them back as one
//! [`Manifest`]; an object that cannot be used (unreadable, malformed, too large, another
//! version, another window than its key's) is left out, so its window is recombined.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ampfed_allocation::Window;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::layout::{self, Classified, ManifestObject};
use crate::retry::Retry;
use crate::store::{Listed, Store};
use crate::trust::Distrust;
use crate::{FederationError, S3Failure};

/// Bumped on any change readers must know about; an object of another version is not used
/// (its window is recombined). Version 1 was the single `manifest.json`.
pub const MANIFEST_VERSION: u32 = 2;

/// The largest manifest object read (a window's record is about 150 bytes per input: this
/// is some 400,000 inputs); a larger one is not used, and its window is recombined.
pub const MAX_OBJECT_BYTES: u64 = 64 << 20;

/// Manifest objects read at once by [`read_all`].
pub const READS_IN_FLIGHT: usize = 16;

/// The whole manifest, as read from its objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// By window, keyed `<start>-<end>`.
    pub windows: BTreeMap<String, WindowEntry>,
    /// Objects in a cluster's daily folders that no window can take (a bad file name, a
    /// refused cluster id), quarantined, by key.
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

/// Why a stored manifest object was not used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("not a manifest object: {0}")]
    Malformed(String),
    #[error("manifest version {found} (this build reads {MANIFEST_VERSION})")]
    Version { found: u32 },
    #[error("it records window {found}, its key window {expected}")]
    OtherWindow { found: String, expected: String },
}

/// A window's record as stored: the version, then the entry's fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WindowOut<'a> {
    version: u32,
    start: i64,
    end: i64,
    inputs: &'a BTreeMap<String, Input>,
    outputs: &'a BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WindowIn {
    version: u32,
    start: i64,
    end: i64,
    inputs: BTreeMap<String, Input>,
    outputs: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MisfiledOut<'a> {
    version: u32,
    misfiled: &'a BTreeMap<String, Misfiled>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MisfiledIn {
    version: u32,
    misfiled: BTreeMap<String, Misfiled>,
}

/// Only the version, to tell another version from a malformed object.
#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

fn pretty<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes =
        serde_json::to_vec_pretty(value).unwrap_or_else(|e| unreachable!("plain structs serialise: {e}"));
    bytes.push(b'\n');
    bytes
}

/// Parses `bytes` as `T`; an error names another version when the object has one.
fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8], version: impl Fn(&T) -> u32) -> Result<T, ManifestError> {
    match serde_json::from_slice::<T>(bytes) {
        Ok(value) if version(&value) == MANIFEST_VERSION => Ok(value),
        Ok(value) => Err(ManifestError::Version { found: version(&value) }),
        Err(e) => match serde_json::from_slice::<VersionOnly>(bytes) {
            Ok(VersionOnly { version }) if version != MANIFEST_VERSION => {
                Err(ManifestError::Version { found: version })
            }
            _ => Err(ManifestError::Malformed(e.to_string())),
        },
    }
}

impl Manifest {
    pub fn new() -> Manifest {
        Manifest::default()
    }
}

/// The bytes stored for one window's record.
pub fn window_to_bytes(entry: &WindowEntry) -> Vec<u8> {
    pretty(&WindowOut {
        version: MANIFEST_VERSION,
        start: entry.start,
        end: entry.end,
        inputs: &entry.inputs,
        outputs: &entry.outputs,
    })
}

/// Reads a window's record stored under the key of `window`, refusing other versions and
/// another window.
pub fn window_from_bytes(window: Window, bytes: &[u8]) -> Result<WindowEntry, ManifestError> {
    let read: WindowIn = parse(bytes, |w: &WindowIn| w.version)?;
    let entry = WindowEntry { start: read.start, end: read.end, inputs: read.inputs, outputs: read.outputs };
    if entry.window() != window {
        return Err(ManifestError::OtherWindow {
            found: entry.window().file_stem(),
            expected: window.file_stem(),
        });
    }
    Ok(entry)
}

/// The bytes stored for the misfiled objects.
pub fn misfiled_to_bytes(misfiled: &BTreeMap<String, Misfiled>) -> Vec<u8> {
    pretty(&MisfiledOut { version: MANIFEST_VERSION, misfiled })
}

/// Reads the record of the misfiled objects, refusing other versions.
pub fn misfiled_from_bytes(bytes: &[u8]) -> Result<BTreeMap<String, Misfiled>, ManifestError> {
    Ok(parse(bytes, |m: &MisfiledIn| m.version)?.misfiled)
}

/// The manifest as stored, with what a federator needs to write it back.
#[derive(Debug, Default)]
pub struct Stored {
    pub manifest: Manifest,
    /// By key, the ETag of every manifest object read or listed (a used object's is the one
    /// of the version read): the condition of its next write.
    pub etags: BTreeMap<String, String>,
    /// The objects not used, by key, and why: their windows are recombined.
    pub unusable: BTreeMap<String, String>,
    /// Windows whose record was not used.
    pub unusable_windows: BTreeSet<Window>,
}

/// How one manifest object read ended.
enum Read {
    Window(Window, WindowEntry),
    Misfiled(BTreeMap<String, Misfiled>),
    /// Listed, then gone.
    Gone,
    Unusable(String),
}

/// Reads the manifest objects of `listed` (keys classified as [`ManifestObject::Window`] or
/// [`ManifestObject::Misfiled`]; others are skipped), at most `in_flight` at once, each
/// through `retry` when one is given (once otherwise). Objects that cannot be used are
/// reported in [`Stored::unusable`]; S3 failing otherwise fails the read.
pub async fn read_listed(
    store: &Store,
    listed: &[Listed],
    in_flight: usize,
    retry: Option<&Retry>,
    retried: &AtomicUsize,
) -> Result<Stored, FederationError> {
    let permits = Arc::new(Semaphore::new(in_flight.max(1)));
    let mut tasks = JoinSet::new();
    let mut stored = Stored::default();
    for Listed { key, etag, size } in listed {
        let Classified::Manifest(object) = layout::classify(key) else { continue };
        let window = match object {
            ManifestObject::Window(window) => Some(window),
            ManifestObject::Misfiled => None,
            ManifestObject::Legacy => continue,
        };
        stored.etags.insert(key.clone(), etag.clone());
        if u64::try_from(*size).unwrap_or(0) > MAX_OBJECT_BYTES {
            let why = format!("{size} bytes, over the {MAX_OBJECT_BYTES} read of a manifest object");
            stored.unusable_windows.extend(window);
            stored.unusable.insert(key.clone(), why);
            continue;
        }
        let (store, retry, permits, key) = (store.clone(), retry.cloned(), permits.clone(), key.clone());
        tasks.spawn(async move {
            let retried = AtomicUsize::new(0);
            let Ok(_permit) = permits.acquire_owned().await else {
                return (
                    key.clone(),
                    window,
                    0,
                    Err(FederationError::Cancelled { what: format!("reading {key}") }),
                );
            };
            let fetch = || store.fetch_limited(&key, MAX_OBJECT_BYTES);
            let fetched = match &retry {
                Some(retry) => retry.call("GetObject manifest", &retried, fetch).await,
                None => fetch().await,
            };
            let read = match fetched {
                Ok(fetched) => {
                    let parsed = tokio::task::spawn_blocking(move || {
                        let read = match window {
                            Some(window) => {
                                window_from_bytes(window, &fetched.bytes).map(|e| Read::Window(window, e))
                            }
                            None => misfiled_from_bytes(&fetched.bytes).map(Read::Misfiled),
                        };
                        (fetched.etag, read)
                    })
                    .await;
                    match parsed {
                        Ok((etag, Ok(read))) => Ok((Some(etag), read)),
                        Ok((etag, Err(e))) => Ok((Some(etag), Read::Unusable(e.to_string()))),
                        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Err(_) => Err(FederationError::Cancelled { what: format!("parsing {key}") }),
                    }
                }
                Err(e) => match e.s3_failure() {
                    Some(S3Failure::NotFound) => Ok((None, Read::Gone)),
                    _ if matches!(e, FederationError::TooLarge { .. }) => {
                        Ok((None, Read::Unusable(e.to_string())))
                    }
                    Some(S3Failure::Refused | S3Failure::NotImplemented) => {
                        Ok((None, Read::Unusable(e.to_string())))
                    }
                    _ => Err(e),
                },
            };
            (key, window, retried.into_inner(), read)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (key, window, retries, read) = match joined {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return Err(FederationError::Cancelled { what: "reading the manifest".into() }),
        };
        retried.fetch_add(retries, Ordering::Relaxed);
        let (etag, read) = read?;
        if let Some(etag) = etag {
            stored.etags.insert(key.clone(), etag);
        }
        match read {
            Read::Window(window, entry) => {
                stored.manifest.windows.insert(window.file_stem(), entry);
            }
            Read::Misfiled(misfiled) => stored.manifest.misfiled = misfiled,
            Read::Gone => {
                stored.etags.remove(&key);
            }
            Read::Unusable(why) => {
                stored.unusable_windows.extend(window);
                stored.unusable.insert(key, why);
            }
        }
    }
    Ok(stored)
}

/// Reads the whole manifest of `store`'s bucket: lists its objects and reads them,
/// [`READS_IN_FLIGHT`] at once, one attempt each; an object that cannot be used is left out
/// (as the federator does, which recombines its window). An empty manifest when there is none
/// (or no bucket: the caller's other checks say so).
pub async fn read_all(store: &Store) -> Result<Manifest, FederationError> {
    let listed = match store.list(layout::MANIFEST_PREFIX).await {
        Ok(listed) => listed,
        Err(e) if e.s3_failure() == Some(S3Failure::NotFound) => return Ok(Manifest::new()),
        Err(e) => return Err(e),
    };
    Ok(read_listed(store, &listed, READS_IN_FLIGHT, None, &AtomicUsize::new(0)).await?.manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_round_trips_byte_identical_and_other_versions_and_windows_are_refused() {
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
        let window = entry.window();
        let bytes = window_to_bytes(&entry);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\n  \"version\": 2,\n  \"start\": 0,"), "{text}");
        assert!(text.find("federated/a/").unwrap() < text.find("federated/b/").unwrap(), "{text}");
        assert_eq!(window_from_bytes(window, &bytes).unwrap(), entry);
        assert_eq!(window_to_bytes(&window_from_bytes(window, &bytes).unwrap()), bytes);
        let other = text.replace("\"version\": 2", "\"version\": 1");
        assert_eq!(window_from_bytes(window, other.as_bytes()), Err(ManifestError::Version { found: 1 }));
        let other = text.replace("\"version\": 2", "\"version\": 3").replace("\"outputs\"", "\"more\"");
        assert_eq!(window_from_bytes(window, other.as_bytes()), Err(ManifestError::Version { found: 3 }));
        assert!(matches!(window_from_bytes(window, b"nope"), Err(ManifestError::Malformed(_))));
        let elsewhere = Window { start: 86_400, end: 172_800 };
        assert!(matches!(window_from_bytes(elsewhere, &bytes), Err(ManifestError::OtherWindow { .. })));

        let misfiled = BTreeMap::from([(
            "federated/a/etl/allocations/1d/latest.json".to_owned(),
            Misfiled { etag: "\"m\"".into(), reason: Distrust::new("misfiled", "bad name") },
        )]);
        let bytes = misfiled_to_bytes(&misfiled);
        assert_eq!(misfiled_from_bytes(&bytes).unwrap(), misfiled);
        assert!(matches!(misfiled_from_bytes(b"{}"), Err(ManifestError::Malformed(_))));
    }
}
