//! Where everything lives in the central bucket, and what a key says about its object: the
//! per-cluster inputs `federated/<cluster>/etl/{allocations,assets}/{1d,1h}/<start>-<end>.parquet`
//! (and the first format's `.json`, still read), one UTC day under `1d/` and one UTC hour
//! under `1h/` ([`Resolution`]),
//! the combined outputs under `federated/combined/`, the federator's manifest and lease next
//! to them, and copies of distrusted objects under `quarantine/<original key>`.
//!
//! A cluster id must be usable as one path segment that cannot be mistaken for the layout:
//! [`check_cluster_id`] refuses the reserved names (`combined`, `quarantine`), `/`, and the
//! rest listed there. A key is never trusted to be well formed: [`classify`] parses it and
//! says why it is misfiled when it is.

use ampfed_allocation::{Window, DAY_SECS};

use crate::FederationError;

/// The prefix every cluster writes under.
pub const FEDERATED_PREFIX: &str = "federated/";
/// The combined cluster id (Kubecost's `federated/combined/`).
pub const COMBINED: &str = "combined";
/// The cluster id reserved for quarantined objects, which live at the bucket root under
/// [`QUARANTINE_PREFIX`], outside `federated/`.
pub const QUARANTINE: &str = "quarantine";
/// Where copies of distrusted objects go: `quarantine/<original key>`, with the reason next
/// to each as `quarantine/<original key>.reason.json`.
pub const QUARANTINE_PREFIX: &str = "quarantine/";
/// Ids no cluster may take, compared without regard to ASCII case.
pub const RESERVED_CLUSTER_IDS: [&str; 2] = [COMBINED, QUARANTINE];
/// The longest cluster id accepted, in bytes (a Kubernetes DNS subdomain's limit).
pub const MAX_CLUSTER_ID_BYTES: usize = 253;
/// The federator's record of what it combined (`crate::manifest`): one object per window,
/// `<prefix><1d|1h>/<start>-<end>.json` ([`manifest_window_key`]), and
/// [`MANIFEST_MISFILED_KEY`].
pub const MANIFEST_PREFIX: &str = "federated/combined/etl/manifest/";
/// The manifest's record of the misfiled objects.
pub const MANIFEST_MISFILED_KEY: &str = "federated/combined/etl/manifest/misfiled.json";
/// The manifest as one object, as earlier builds wrote it: ignored, every window recombined
/// once, then deleted (`docs/federation.md`).
pub const LEGACY_MANIFEST_KEY: &str = "federated/combined/etl/manifest.json";
/// The federators' lease (`crate::lease`).
pub const LEASE_KEY: &str = "federated/combined/etl/.lease";

/// The suffix of what the store writes (`crate::parquet`).
pub const PARQUET_SUFFIX: &str = ".parquet";
/// The suffix of the first format's JSON objects (`crate::format`), read but no longer written.
pub const JSON_SUFFIX: &str = ".json";

/// How an object is encoded, by its key's suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Encoding {
    /// `.parquet`: the Parquet codec (`crate::parquet`).
    Parquet,
    /// `.json`: the first ETL format (`crate::format`, version 1).
    Json,
}

impl Encoding {
    pub fn suffix(self) -> &'static str {
        match self {
            Encoding::Parquet => PARQUET_SUFFIX,
            Encoding::Json => JSON_SUFFIX,
        }
    }
}

/// The two kinds of ETL object (the one `Kind` of the crate; `crate::parquet` re-exports it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Allocations,
    Assets,
}

impl Kind {
    /// The folder of this kind under `etl/`, and the `ampfed.kind` metadata value:
    /// `allocations`, `assets`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Allocations => "allocations",
            Kind::Assets => "assets",
        }
    }

    /// The folder of this kind under `etl/` (the same as [`Kind::as_str`]).
    pub fn dir(self) -> &'static str {
        self.as_str()
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "allocations" => Some(Kind::Allocations),
            "assets" => Some(Kind::Assets),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Seconds in an hour: the window of an hourly set.
pub const HOUR_SECS: i64 = 3_600;

/// How long an object's window is: one UTC day (`1d`) or one UTC hour (`1h`), as Kubecost's
/// daily and hourly ETL (the layout's one `Resolution`; `crate::parquet` re-exports it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resolution {
    Day,
    Hour,
}

impl Resolution {
    /// Both, in folder order.
    pub const ALL: [Resolution; 2] = [Resolution::Day, Resolution::Hour];

    /// The key segment: `1d`, `1h`.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Day => "1d",
            Resolution::Hour => "1h",
        }
    }

    pub fn parse(s: &str) -> Option<Resolution> {
        match s {
            "1d" => Some(Resolution::Day),
            "1h" => Some(Resolution::Hour),
            _ => None,
        }
    }

    /// The resolution whose objects have this window: a UTC day (midnight to midnight) or a
    /// UTC hour (on the hour, 3600 s); `None` for anything else.
    pub fn of(window: Window) -> Option<Resolution> {
        Resolution::ALL.into_iter().find(|r| r.check(window).is_ok())
    }

    /// The window's length in seconds.
    pub fn secs(self) -> i64 {
        match self {
            Resolution::Day => DAY_SECS,
            Resolution::Hour => HOUR_SECS,
        }
    }

    /// Ok when `window` is one window of this resolution: 00:00:00Z to the next midnight, or
    /// on the hour (UTC) for exactly 3600 s; the sentence says why not.
    pub fn check(self, window: Window) -> Result<(), String> {
        match self {
            Resolution::Day => window.check_utc_day().map_err(|e| e.to_string()),
            Resolution::Hour
                if window.start.rem_euclid(HOUR_SECS) == 0 && window.duration_secs() == HOUR_SECS =>
            {
                Ok(())
            }
            Resolution::Hour => Err(format!(
                "window {}..{} is not one UTC hour: an hourly set starts on the hour and lasts 3600 s",
                window.start, window.end
            )),
        }
    }
}

impl std::fmt::Display for Resolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The folder of `cluster`'s (or `combined`'s) objects of `kind` at `resolution`, ending in
/// `/` (what to list).
pub fn folder(cluster: &str, kind: Kind, resolution: Resolution) -> String {
    format!("{FEDERATED_PREFIX}{cluster}/etl/{}/{resolution}/", kind.dir())
}

/// The key of `cluster`'s (or `combined`'s) object of `kind` for `window`: the Parquet object
/// the store writes, under `1h/` for a UTC hour and `1d/` otherwise (the store refuses a
/// window that is neither, [`Resolution::of`]).
pub fn key(cluster: &str, kind: Kind, window: Window) -> String {
    object_key(cluster, kind, resolution_of(window), window, Encoding::Parquet)
}

/// The key the first format gave the same object (`.json`), which readers still accept.
pub fn legacy_json_key(cluster: &str, kind: Kind, window: Window) -> String {
    object_key(cluster, kind, resolution_of(window), window, Encoding::Json)
}

/// The one spelling of an object's key: its folder, then `<start>-<end>` and the encoding's
/// suffix (what [`window_of`] reads back).
pub(crate) fn object_key(
    cluster: &str,
    kind: Kind,
    resolution: Resolution,
    window: Window,
    encoding: Encoding,
) -> String {
    format!("{}{}{}", folder(cluster, kind, resolution), window.file_stem(), encoding.suffix())
}

/// The folder a window is filed under: `1h/` for a UTC hour, `1d/` for anything else.
fn resolution_of(window: Window) -> Resolution {
    Resolution::of(window).unwrap_or(Resolution::Day)
}

/// For a legacy `.json` key, the `.parquet` key of the same object; `None` for other keys.
pub fn parquet_sibling(key: &str) -> Option<String> {
    key.strip_suffix(JSON_SUFFIX).map(|stem| format!("{stem}{PARQUET_SUFFIX}"))
}

/// Where the copy of a quarantined object goes.
pub fn quarantine_key(key: &str) -> String {
    format!("{QUARANTINE_PREFIX}{key}")
}

/// Where the reason a quarantined object was distrusted goes.
pub fn quarantine_reason_key(key: &str) -> String {
    format!("{QUARANTINE_PREFIX}{key}.reason.json")
}

/// Ok when `id` can name a cluster's folder: not empty, at most [`MAX_CLUSTER_ID_BYTES`], no
/// `/` or `\`, no control characters, no leading or trailing white space, not `.` or `..`,
/// and none of [`RESERVED_CLUSTER_IDS`] in any ASCII case (`Combined` would look like the
/// combined folder to a reader that folds case).
pub fn check_cluster_id(id: &str) -> Result<(), FederationError> {
    let refuse = |reason: String| Err(FederationError::ClusterId { id: id.to_owned(), reason });
    if id.is_empty() {
        return refuse("it is empty".into());
    }
    if id.len() > MAX_CLUSTER_ID_BYTES {
        return refuse(format!("it is {} bytes long (at most {MAX_CLUSTER_ID_BYTES})", id.len()));
    }
    if let Some(reserved) = RESERVED_CLUSTER_IDS.iter().find(|r| r.eq_ignore_ascii_case(id)) {
        return refuse(format!(
            "`{reserved}` is reserved by the bucket layout (federated/{COMBINED}/ holds the combined \
             sets, {QUARANTINE_PREFIX} the distrusted objects); set another clusterName"
        ));
    }
    if id.contains(['/', '\\']) {
        return refuse("it contains a path separator (`/` or `\\`), which would nest folders".into());
    }
    if id == "." || id == ".." {
        return refuse("`.` and `..` are path segments, not names".into());
    }
    if id.chars().any(char::is_control) {
        return refuse("it contains control characters".into());
    }
    if id.trim() != id {
        return refuse("it starts or ends with white space".into());
    }
    Ok(())
}

/// What a key under `federated/` is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Classified {
    /// A cluster's daily or hourly object, well placed (its [`Resolution::of`] the window).
    Input { cluster: String, kind: Kind, window: Window },
    /// A combined daily or hourly set.
    Output { kind: Kind, window: Window },
    /// An object of the federator's manifest (`crate::manifest`).
    Manifest(ManifestObject),
    /// The federators' lease.
    Lease,
    /// In a cluster's `etl/{allocations,assets}/{1d,1h}/` folder (or in a folder whose name
    /// is no cluster id) but not where an object of that resolution can be: `reason` says why.
    Misfiled { folder: String, reason: String },
    /// Not an object ampfed writes or reads (Kubecost's `bingen/` files, other tools' files);
    /// left alone. `folder` is the cluster folder, when there is one.
    Ignored { folder: Option<String> },
}

/// Which object of the manifest a key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestObject {
    /// The record of one window (a UTC day or a UTC hour).
    Window(Window),
    /// The record of the misfiled objects.
    Misfiled,
    /// The single manifest of earlier builds ([`LEGACY_MANIFEST_KEY`]).
    Legacy,
}

/// The key of the manifest's record of `window`; `None` for a window that is neither a UTC
/// day nor a UTC hour (no input has one).
pub fn manifest_window_key(window: Window) -> Option<String> {
    let resolution = Resolution::of(window)?;
    Some(format!("{MANIFEST_PREFIX}{resolution}/{}{JSON_SUFFIX}", window.file_stem()))
}

/// What a key under [`MANIFEST_PREFIX`] (given without it) is: `None` for anything the
/// federator does not write there.
fn manifest_object(file: &str) -> Option<ManifestObject> {
    if file == "misfiled.json" {
        return Some(ManifestObject::Misfiled);
    }
    let (resolution, name) = file.split_once('/')?;
    let resolution = Resolution::parse(resolution)?;
    if !name.ends_with(JSON_SUFFIX) {
        return None;
    }
    window_of(name, resolution).ok().map(|(window, _)| ManifestObject::Window(window))
}

/// Reads a `<start>-<end>.parquet` (or legacy `<start>-<end>.json`) file name as one window
/// of `resolution` (a UTC day, a UTC hour), in its canonical spelling only, with the encoding
/// its suffix names.
pub(crate) fn window_of(file: &str, resolution: Resolution) -> Result<(Window, Encoding), String> {
    let named = || format!("`{file}` is not named <start>-<end>.parquet (or .json)");
    let Some((stem, encoding)) = [Encoding::Parquet, Encoding::Json]
        .into_iter()
        .find_map(|encoding| file.strip_suffix(encoding.suffix()).map(|stem| (stem, encoding)))
    else {
        return Err(named());
    };
    let suffix = encoding.suffix();
    let Some((start, end)) = stem.split_once('-') else {
        return Err(named());
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(start) || !digits(end) {
        return Err(format!("{} with unix seconds", named()));
    }
    let (Ok(from), Ok(to)) = (start.parse::<i64>(), end.parse::<i64>()) else {
        return Err(format!("`{file}` holds numbers out of range"));
    };
    let window = Window { start: from, end: to };
    // Digits that parse are spelled as the stem spells them unless a zero leads.
    let spelled = |s: &str| s == "0" || !s.starts_with('0');
    if !spelled(start) || !spelled(end) {
        return Err(format!("`{file}` is not spelled as {}{suffix}", window.file_stem()));
    }
    resolution.check(window).map_err(|e| format!("`{file}` in {resolution}/: {e}"))?;
    Ok((window, encoding))
}

/// The part of a key below its folder in `federated/`, `etl/<kind>/<resolution>/<file>`, read
/// segment by segment (every listed key passes here, twice a run); `None` for anything else.
pub(crate) fn etl_path(tail: &str) -> Option<(Kind, Resolution, &str)> {
    let t = tail.strip_prefix("etl/")?;
    let (kind, t) = t.split_once('/')?;
    let (resolution, file) = t.split_once('/')?;
    Some((Kind::parse(kind)?, Resolution::parse(resolution)?, file))
}

/// Classifies `key`; keys outside `federated/` are [`Classified::Ignored`].
pub fn classify(key: &str) -> Classified {
    let Some(rest) = key.strip_prefix(FEDERATED_PREFIX) else {
        return Classified::Ignored { folder: None };
    };
    let Some((folder, tail)) = rest.split_once('/') else {
        return Classified::Ignored { folder: None };
    };
    let ours = etl_path(tail);
    if folder == COMBINED {
        return match (tail, ours) {
            ("etl/manifest.json", _) => Classified::Manifest(ManifestObject::Legacy),
            (_, None) if tail.starts_with("etl/manifest/") => {
                match tail.strip_prefix("etl/manifest/").and_then(manifest_object) {
                    Some(object) => Classified::Manifest(object),
                    None => Classified::Ignored { folder: Some(folder.to_owned()) },
                }
            }
            ("etl/.lease", _) => Classified::Lease,
            (_, Some((kind, resolution, file))) => match window_of(file, resolution) {
                Ok((window, _)) => Classified::Output { kind, window },
                Err(_) => Classified::Ignored { folder: Some(folder.to_owned()) },
            },
            _ => Classified::Ignored { folder: Some(folder.to_owned()) },
        };
    }
    let refused = check_cluster_id(folder).err();
    let Some((kind, resolution, file)) = ours else {
        return match refused {
            // Another tool's file under a folder that is no cluster: not ours to judge.
            Some(_) => Classified::Ignored { folder: None },
            None => Classified::Ignored { folder: Some(folder.to_owned()) },
        };
    };
    if let Some(e) = refused {
        return Classified::Misfiled { folder: folder.to_owned(), reason: e.to_string() };
    }
    if file.contains('/') {
        return Classified::Misfiled {
            folder: folder.to_owned(),
            reason: format!("`{file}` is nested below the {resolution}/ folder"),
        };
    }
    match window_of(file, resolution) {
        Ok((window, _)) => Classified::Input { cluster: folder.to_owned(), kind, window },
        Err(reason) => Classified::Misfiled { folder: folder.to_owned(), reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Window = Window { start: 86_400, end: 172_800 };

    #[test]
    fn reserved_and_malformed_ids_are_refused_with_their_reason() {
        for ok in ["cluster-a", "cluster-b-001", "prod.eu-west-1", "c_1", "Ünïcode"] {
            assert!(check_cluster_id(ok).is_ok(), "{ok}");
        }
        let refused = |id: &str| check_cluster_id(id).unwrap_err().to_string();
        assert!(refused("combined").contains("`combined` is reserved"), "{}", refused("combined"));
        assert!(refused("Combined").contains("reserved"));
        assert!(refused("quarantine").contains("`quarantine` is reserved"));
        assert!(refused("a/b").contains("path separator"));
        assert!(refused("a\\b").contains("path separator"));
        assert!(refused("").contains("empty"));
        assert!(refused("..").contains("path segments"));
        assert!(refused("a\u{7}").contains("control"));
        assert!(refused(" a").contains("white space"));
        assert!(refused(&"x".repeat(254)).contains("254 bytes"));
        assert!(refused("combined").starts_with("cluster id \"combined\" is refused"));
    }

    #[test]
    fn keys_classify_back_to_what_they_were_built_from() {
        let k = key("cluster-a", Kind::Assets, DAY);
        assert_eq!(k, "federated/cluster-a/etl/assets/1d/86400-172800.parquet");
        let legacy = legacy_json_key("cluster-a", Kind::Assets, DAY);
        assert_eq!(legacy, "federated/cluster-a/etl/assets/1d/86400-172800.json");
        assert_eq!(parquet_sibling(&legacy).as_deref(), Some(k.as_str()));
        assert_eq!(parquet_sibling(&k), None);
        assert_eq!(
            classify(&legacy),
            Classified::Input { cluster: "cluster-a".into(), kind: Kind::Assets, window: DAY }
        );
        assert_eq!(
            classify(&k),
            Classified::Input { cluster: "cluster-a".into(), kind: Kind::Assets, window: DAY }
        );
        assert_eq!(
            classify(&key(COMBINED, Kind::Allocations, DAY)),
            Classified::Output { kind: Kind::Allocations, window: DAY }
        );
        assert_eq!(classify(LEGACY_MANIFEST_KEY), Classified::Manifest(ManifestObject::Legacy));
        assert_eq!(classify(MANIFEST_MISFILED_KEY), Classified::Manifest(ManifestObject::Misfiled));
        let hour = Window { start: 86_400 + 3600, end: 86_400 + 7200 };
        for w in [DAY, hour] {
            let k = manifest_window_key(w).unwrap();
            assert_eq!(classify(&k), Classified::Manifest(ManifestObject::Window(w)), "{k}");
        }
        assert_eq!(manifest_window_key(DAY).unwrap(), "federated/combined/etl/manifest/1d/86400-172800.json");
        assert_eq!(manifest_window_key(Window { start: 1, end: 2 }), None);
        for foreign in [
            "federated/combined/etl/manifest/1d/86400-90000.json",
            "federated/combined/etl/manifest/1d/86400-172800.parquet",
            "federated/combined/etl/manifest/1w/86400-172800.json",
            "federated/combined/etl/manifest/notes.txt",
        ] {
            assert_eq!(classify(foreign), Classified::Ignored { folder: Some(COMBINED.into()) }, "{foreign}");
        }
        assert_eq!(classify(LEASE_KEY), Classified::Lease);
        assert_eq!(quarantine_key(&k), "quarantine/federated/cluster-a/etl/assets/1d/86400-172800.parquet");
    }

    #[test]
    fn hourly_keys_are_whole_utc_hours_under_1h() {
        // 1970-01-02 10:00 to 11:00 UTC.
        let hour = Window { start: 86_400 + 10 * 3600, end: 86_400 + 11 * 3600 };
        assert_eq!(Resolution::of(hour), Some(Resolution::Hour));
        assert_eq!(Resolution::of(DAY), Some(Resolution::Day));
        assert_eq!(Resolution::of(Window { start: 1800, end: 5400 }), None);
        assert_eq!(Resolution::of(Window { start: 3600, end: 10_800 }), None);
        let k = key("cluster-a", Kind::Allocations, hour);
        assert_eq!(k, "federated/cluster-a/etl/allocations/1h/122400-126000.parquet");
        assert_eq!(
            classify(&k),
            Classified::Input { cluster: "cluster-a".into(), kind: Kind::Allocations, window: hour }
        );
        assert_eq!(
            classify(&legacy_json_key("cluster-a", Kind::Assets, hour)),
            Classified::Input { cluster: "cluster-a".into(), kind: Kind::Assets, window: hour }
        );
        assert_eq!(
            classify(&key(COMBINED, Kind::Assets, hour)),
            Classified::Output { kind: Kind::Assets, window: hour }
        );
        assert_eq!(
            key(COMBINED, Kind::Assets, hour),
            "federated/combined/etl/assets/1h/122400-126000.parquet"
        );
        assert_eq!(folder("c", Kind::Assets, Resolution::Hour), "federated/c/etl/assets/1h/");
        assert_eq!(Resolution::parse("1h"), Some(Resolution::Hour));
        assert_eq!(Resolution::Hour.secs() * 24, Resolution::Day.secs());
    }

    #[test]
    fn misfiled_keys_say_why_and_foreign_files_are_left_alone() {
        let misfiled = |k: &str| match classify(k) {
            Classified::Misfiled { reason, .. } => reason,
            other => panic!("{k}: {other:?}"),
        };
        assert!(misfiled("federated/a/etl/allocations/1d/garbage.json").contains("<start>-<end>.parquet"));
        assert!(misfiled("federated/a/etl/allocations/1d/86400-172800.csv").contains("<start>-<end>.parquet"));
        assert!(misfiled("federated/a/etl/allocations/1d/0086400-172800.parquet").contains("spelled"));
        assert!(misfiled("federated/a/etl/allocations/1d/0086400-172800.json").contains("spelled"));
        assert!(misfiled("federated/a/etl/allocations/1d/3600-90000.json").contains("not one UTC day"));
        assert!(misfiled("federated/a/etl/allocations/1d/x/86400-172800.json").contains("nested"));
        assert!(misfiled("federated/quarantine/etl/allocations/1d/86400-172800.json").contains("reserved"));
        assert!(misfiled("federated/Combined/etl/assets/1d/86400-172800.json").contains("reserved"));
        assert_eq!(
            classify("federated/a/etl/bingen/allocations/1d/86400-172800"),
            Classified::Ignored { folder: Some("a".into()) }
        );
        assert!(misfiled("federated/a/etl/allocations/1h/86400-172800.parquet").contains("not one UTC hour"));
        assert!(misfiled("federated/a/etl/assets/1h/3601-7201.parquet").contains("in 1h/"));
        assert!(misfiled("federated/a/etl/assets/1h/3600-3600.parquet").contains("not one UTC hour"));
        assert!(misfiled("federated/a/etl/allocations/1h/x/86400-90000.parquet").contains("below the 1h/"));
        assert!(misfiled("federated/a/etl/allocations/1d/86400-90000.parquet").contains("not one UTC day"));
        assert_eq!(
            classify("federated/a/etl/allocations/1w/86400-90000.json"),
            Classified::Ignored { folder: Some("a".into()) }
        );
        // A combined object of no resolution is not the federator's: left alone.
        assert_eq!(
            classify("federated/combined/etl/assets/1h/0-86400.parquet"),
            Classified::Ignored { folder: Some(COMBINED.into()) }
        );
        assert_eq!(classify("other/x"), Classified::Ignored { folder: None });
        assert_eq!(classify("federated/readme"), Classified::Ignored { folder: None });
    }
}
