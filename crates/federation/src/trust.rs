//! Nothing in an object is trusted: its key says which cluster and window it must hold, and
//! the object must agree. [`check_set`] and [`check_asset_set`] compare a decoded object with
//! its key; [`Distrust`] names the rule broken, and the federator quarantines the object.
//!
//! The rules, for an object at `federated/<cluster>/etl/<kind>/1d/<start>-<end>.parquet` (or
//! the first format's `.json`):
//! - it decodes as a schema or format version this build reads (`undecodable`,
//!   `unsupported-version`; [`unreadable`] sorts the codec's errors);
//! - its `window` is the key's (`window-mismatch`) and its `clusters` are exactly `[<cluster>]`
//!   (`cluster-mismatch`);
//! - every allocation names `<cluster>` in its `properties.cluster` and its name starts with
//!   `<cluster>/` (`foreign-allocation`), no two share a name (`duplicate-allocation`), and each
//!   runs inside the window (`allocation-outside-window`);
//! - every asset names `<cluster>` (`foreign-asset`) and runs inside the window
//!   (`asset-outside-window`).

use std::collections::BTreeSet;

use ampfed_allocation::{AllocationSet, AssetSet, Window};
use serde::{Deserialize, Serialize};

use crate::format::{DecodeError, DecodeReason};
use crate::parquet::{ErrorKind, ParquetError};

/// Why an object is not trusted: a stable code and a sentence.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Distrust {
    pub code: String,
    pub message: String,
}

impl Distrust {
    pub fn new(code: &str, message: impl Into<String>) -> Distrust {
        Distrust { code: code.to_owned(), message: message.into() }
    }
}

/// What a failure of the Parquet codec (`crate::parquet::decode_*`) means for the object: a
/// key naming another window than the object holds is a `window-mismatch`, as when the set
/// decodes; a JSON object of another format version is `unsupported-version`, as a newer
/// Parquet schema; the rest as [`undecodable`].
pub fn unreadable(e: ParquetError) -> Distrust {
    match &e.kind {
        ErrorKind::KeyMismatch { detail } if detail.starts_with("the key names window") => {
            Distrust::new("window-mismatch", detail.clone())
        }
        // A first-format JSON object of another format version (`format::DecodeError::message`).
        ErrorKind::Json { detail } if detail.starts_with("format version ") => {
            Distrust::new("unsupported-version", detail.clone())
        }
        _ => undecodable(&DecodeError::from(e)),
    }
}

/// What a decoding failure means for the object.
pub fn undecodable(e: &DecodeError) -> Distrust {
    match e.reason {
        DecodeReason::Version { .. } => Distrust::new("unsupported-version", e.message()),
        _ => Distrust::new("undecodable", e.message()),
    }
}

fn check_header(
    cluster: &str,
    window: Window,
    clusters: &[String],
    set_window: Window,
) -> Result<(), Distrust> {
    if set_window != window {
        return Err(Distrust::new(
            "window-mismatch",
            format!(
                "the key files window {} but the object holds {}",
                window.file_stem(),
                set_window.file_stem()
            ),
        ));
    }
    if clusters != [cluster] {
        return Err(Distrust::new(
            "cluster-mismatch",
            format!("the key files cluster {cluster:?} but the object names clusters {clusters:?}"),
        ));
    }
    Ok(())
}

fn inside(window: Window, start: i64, end: i64) -> bool {
    window.start <= start && start <= end && end <= window.end
}

/// Checks an allocation set read from the key of `cluster` and `window`.
pub fn check_set(cluster: &str, window: Window, set: &AllocationSet) -> Result<(), Distrust> {
    check_header(cluster, window, &set.clusters, set.window)?;
    let prefix = format!("{cluster}/");
    let mut names = BTreeSet::new();
    for a in &set.allocations {
        if a.properties.cluster != cluster || !a.name.starts_with(&prefix) {
            return Err(Distrust::new(
                "foreign-allocation",
                format!(
                    "allocation {:?} (cluster {:?}) is filed under cluster {cluster:?}",
                    a.name, a.properties.cluster
                ),
            ));
        }
        if !names.insert(a.name.as_str()) {
            return Err(Distrust::new(
                "duplicate-allocation",
                format!("allocation {:?} appears twice", a.name),
            ));
        }
        if !inside(window, a.start, a.end) {
            return Err(Distrust::new(
                "allocation-outside-window",
                format!(
                    "allocation {:?} runs {}..{}, outside {}",
                    a.name,
                    a.start,
                    a.end,
                    window.file_stem()
                ),
            ));
        }
    }
    Ok(())
}

/// Checks an asset set read from the key of `cluster` and `window`.
pub fn check_asset_set(cluster: &str, window: Window, set: &AssetSet) -> Result<(), Distrust> {
    check_header(cluster, window, &set.clusters, set.window)?;
    let spans = set
        .nodes
        .iter()
        .map(|n| ("node", &n.cluster, &n.name, n.start, n.end))
        .chain(set.disks.iter().map(|d| ("disk", &d.cluster, &d.name, d.start, d.end)))
        .chain(set.load_balancers.iter().map(|l| ("load balancer", &l.cluster, &l.name, l.start, l.end)))
        .chain(
            set.cluster_management
                .iter()
                .map(|m| ("cluster management", &m.cluster, &m.provisioner, m.start, m.end)),
        );
    for (what, owner, name, start, end) in spans {
        if owner != cluster {
            return Err(Distrust::new(
                "foreign-asset",
                format!("{what} {name:?} of cluster {owner:?} is filed under cluster {cluster:?}"),
            ));
        }
        if !inside(window, start, end) {
            return Err(Distrust::new(
                "asset-outside-window",
                format!("{what} {name:?} runs {start}..{end}, outside {}", window.file_stem()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ampfed_allocation::{Allocation, NodeAsset, Properties};

    use super::*;

    const DAY: Window = Window { start: 0, end: 86_400 };

    fn alloc(cluster: &str, name: &str) -> Allocation {
        Allocation {
            name: name.into(),
            properties: Properties { cluster: cluster.into(), ..Properties::default() },
            start: 0,
            end: 86_400,
            ..Allocation::default()
        }
    }

    fn code(r: Result<(), Distrust>) -> String {
        r.unwrap_err().code
    }

    #[test]
    fn a_set_must_match_its_key() {
        let good = AllocationSet::new(
            vec!["a".into()],
            DAY,
            vec![alloc("a", "a/n/ns/p/c"), alloc("a", "a/__idle__")],
        );
        assert_eq!(check_set("a", DAY, &good), Ok(()));
        assert_eq!(code(check_set("b", DAY, &good)), "cluster-mismatch");
        assert_eq!(code(check_set("a", Window { start: 86_400, end: 172_800 }, &good)), "window-mismatch");
        let foreign = AllocationSet::new(vec!["a".into()], DAY, vec![alloc("b", "b/n/ns/p/c")]);
        assert_eq!(code(check_set("a", DAY, &foreign)), "foreign-allocation");
        let renamed = AllocationSet::new(vec!["a".into()], DAY, vec![alloc("a", "b/n/ns/p/c")]);
        assert_eq!(code(check_set("a", DAY, &renamed)), "foreign-allocation");
        let twice = AllocationSet {
            clusters: vec!["a".into()],
            window: DAY,
            allocations: vec![alloc("a", "a/x"), alloc("a", "a/x")],
        };
        assert_eq!(code(check_set("a", DAY, &twice)), "duplicate-allocation");
        let mut late = alloc("a", "a/x");
        late.end = 90_000;
        let late = AllocationSet::new(vec!["a".into()], DAY, vec![late]);
        assert_eq!(code(check_set("a", DAY, &late)), "allocation-outside-window");
    }

    #[test]
    fn an_asset_set_must_match_its_key() {
        let mut set = AssetSet::new(vec!["a".into()], DAY);
        set.nodes.push(NodeAsset {
            cluster: "a".into(),
            name: "n1".into(),
            end: 86_400,
            ..NodeAsset::default()
        });
        assert_eq!(check_asset_set("a", DAY, &set), Ok(()));
        set.nodes.push(NodeAsset { cluster: "b".into(), name: "n2".into(), ..NodeAsset::default() });
        let e = check_asset_set("a", DAY, &set).unwrap_err();
        assert_eq!(e.code, "foreign-asset");
        assert!(e.message.contains("node \"n2\" of cluster \"b\""), "{}", e.message);
    }
}
