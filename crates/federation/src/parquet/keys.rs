//! Where ETL objects live, after Kubecost 1.x's federated ETL:
//! `federated/<cluster>/etl/{allocations,assets}/{1d,1h}/<start>-<end>.parquet`, with
//! `combined` as the cluster of the federator's output. An [`EtlKey`] builds and parses these
//! keys; the [`Resolution`] is part of the key and of the window, never of the schema.

use std::fmt;

use ampfed_allocation::Window;

use crate::layout;

/// What an object holds: the layout's one [`Kind`] (`crate::layout`), whose `as_str` is the
/// key segment and the `ampfed.kind` metadata value.
pub use crate::layout::Kind;

/// How long an object's window is (`1d`, `1h`): the layout's one [`Resolution`]
/// (`crate::layout`).
pub use crate::layout::Resolution;

/// How an object is encoded, by its key's suffix: the layout's one [`Encoding`]
/// (`crate::layout`).
pub use crate::layout::Encoding;

/// The key of one ETL object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EtlKey {
    /// A cluster id, or `combined` for the federator's output.
    pub cluster: String,
    pub kind: Kind,
    pub resolution: Resolution,
    pub window: Window,
    pub encoding: Encoding,
}

impl EtlKey {
    /// The Parquet key of `cluster`'s `kind` object for `window`; `None` when the window is
    /// neither a UTC day nor a UTC hour, or the cluster id is empty or holds a `/`.
    pub fn parquet(cluster: &str, kind: Kind, window: Window) -> Option<EtlKey> {
        if cluster.is_empty() || cluster.contains('/') {
            return None;
        }
        Some(EtlKey {
            cluster: cluster.to_owned(),
            kind,
            resolution: Resolution::of(window)?,
            window,
            encoding: Encoding::Parquet,
        })
    }

    /// The folder holding `cluster`'s `kind` objects at `resolution`, ending in `/` (what to
    /// list): [`crate::layout::folder`].
    pub fn folder(cluster: &str, kind: Kind, resolution: Resolution) -> String {
        layout::folder(cluster, kind, resolution)
    }

    /// Reads a key of the layout (`.parquet` or `.json`); `None` for anything else, including
    /// a window that is not of the folder's resolution or not in its one spelling. The
    /// layout's own reading (`crate::layout`), which the federator's listing also goes by.
    pub fn parse(key: &str) -> Option<EtlKey> {
        let (cluster, tail) = key.strip_prefix(layout::FEDERATED_PREFIX)?.split_once('/')?;
        let (kind, resolution, file) = layout::etl_path(tail)?;
        if cluster.is_empty() || file.contains('/') {
            return None;
        }
        let (window, encoding) = layout::window_of(file, resolution).ok()?;
        Some(EtlKey { cluster: cluster.to_owned(), kind, resolution, window, encoding })
    }
}

impl fmt::Display for EtlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&layout::object_key(
            &self.cluster,
            self.kind,
            self.resolution,
            self.window,
            self.encoding,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_carry_their_resolution() {
        let day = Window { start: 1_690_761_600, end: 1_690_848_000 };
        let key = EtlKey::parquet("c1", Kind::Allocations, day).unwrap();
        assert_eq!(key.to_string(), "federated/c1/etl/allocations/1d/1690761600-1690848000.parquet");
        assert_eq!(EtlKey::parse(&key.to_string()), Some(key));
        let hour = Window { start: 1_690_761_600, end: 1_690_765_200 };
        let key = EtlKey::parquet("combined", Kind::Assets, hour).unwrap();
        assert_eq!(key.to_string(), "federated/combined/etl/assets/1h/1690761600-1690765200.parquet");
        assert_eq!(EtlKey::parse(&key.to_string()), Some(key));
        let json = EtlKey::parse("federated/c1/etl/allocations/1d/1690761600-1690848000.json").unwrap();
        assert_eq!(json.encoding, Encoding::Json);
    }

    #[test]
    fn other_keys_and_windows_are_not_of_the_layout() {
        let odd = Window { start: 1_690_761_601, end: 1_690_848_001 };
        assert_eq!(EtlKey::parquet("c1", Kind::Allocations, odd), None);
        assert_eq!(EtlKey::parquet("a/b", Kind::Allocations, Window { start: 0, end: 86_400 }), None);
        for key in [
            "federated/c1/etl/allocations/1h/1690761600-1690848000.parquet",
            "federated/c1/etl/allocations/1d/+1690761600-1690848000.parquet",
            "federated/c1/etl/bingen/allocations/1d/1690761600-1690848000",
            "federated/c1/etl/allocations/1d/1690761600-1690848000.csv",
            "federated//etl/allocations/1d/0-86400.parquet",
            "other/c1/etl/allocations/1d/0-86400.parquet",
            // A second spelling of a window, and a nested file.
            "federated/c1/etl/allocations/1d/0086400-0172800.parquet",
            "federated/c1/etl/allocations/1d/x/86400-172800.parquet",
        ] {
            assert_eq!(EtlKey::parse(key), None, "{key}");
            let listed = crate::layout::classify(key);
            assert!(!matches!(listed, crate::layout::Classified::Input { .. }), "{key}: {listed:?}");
        }
    }
}
