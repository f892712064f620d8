//! The federator: reads every cluster's daily and hourly sets, merges those of the same window
//! (a day and its hours are windows of their own), and writes the result to
//! `federated/combined/`. The combined objects are a function of the input
//! objects alone (sorted, no time, no federator id), so any number of runs, in any
//! interleaving, converge on the same bytes.
//!
//! A run ([`federate_with`]) takes the lease (`crate::lease`), then works in passes. Each pass
//! lists `federated/` once (keys and ETags), reads the manifest (`crate::manifest`), and plans:
//! a window whose inputs and outputs are listed with the ETags the manifest recorded is
//! skipped; any other window is recombined (its inputs read and checked, `crate::trust`), and
//! a window left with no inputs has its combined objects removed. Outputs are written with
//! `If-Match` on the ETag listed (`If-None-Match: *` when there was none) and skipped when
//! S3 already holds the same bytes; the manifest likewise, one record per window, only
//! those of the windows worked on, every [`Options::checkpoint_every`] windows and at the end
//! of the pass. A lost condition
//! (another federator wrote first) ends the pass early. The run ends with a pass that finds
//! nothing to do, which is what makes it safe: whoever writes last also checks last.
//!
//! Allocation inputs are checked and combined as Arrow columns (`parquet::allocation_piece`,
//! `parquet::encode_combined_allocations`: the same bytes as combining their rows); an input
//! the columns cannot vouch for takes the row path, which names what is wrong with it.
//!
//! Distrusted objects are copied to `quarantine/<key>` with a reason object next to them,
//! recorded in the manifest by ETag (so an unchanged one is not read again) and reported;
//! the original stays in place (see `docs/federation.md`), and the other objects go on.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ampfed_allocation::{AssetSet, Window};
use ampfed_common::wait::Cancel;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::format::Decoded;
use crate::layout::{self, classify, Classified, Kind, ManifestObject};
use crate::lease::{Lease, LeaseConfig, Taken};
use crate::manifest::{self, Input, Manifest, Misfiled, Stored, WindowEntry};
use crate::parquet;
use crate::retry::Retry;
use crate::store::{damaged_in_transit, md5_etag, Condition, Fetched, Listed, Put, Store};
use crate::trust::{self, Distrust};
use crate::{FederationError, S3Failure};

/// Whether a run recombines only what changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Windows whose inputs and outputs match the manifest are skipped.
    #[default]
    Incremental,
    /// Every window with inputs is recombined (then checked like an incremental run).
    Full,
}

/// How a run goes.
#[derive(Clone, Debug)]
pub struct Options {
    /// The clusters to combine (Kubecost's `federatedETL.federator.clusters`); all when `None`.
    pub only: Option<Vec<String>>,
    pub mode: Mode,
    /// Take the lease before working (the default). Off, federators at once still end right
    /// (conditional writes), only with duplicate work.
    pub lease: bool,
    /// The lease holder id: stable across restarts of one federator, unique among federators.
    pub holder: String,
    pub lease_ttl: Duration,
    /// How long to wait for a lease another federator holds.
    pub lease_wait: Duration,
    /// How long one S3 call may keep failing transiently (after the SDK's own retries).
    pub retry_for: Duration,
    /// The most passes a run makes before it gives up ([`FederationError::NotConverged`]).
    pub max_passes: usize,
    /// Windows combined between two writes of the manifest.
    pub checkpoint_every: usize,
    /// Inputs read (and decoded and checked) at once; the next window's inputs are read while
    /// a window is combined and written.
    pub reads_in_flight: usize,
    /// The largest input read: a larger object is quarantined as `too-large` without more of
    /// it being read (the default, [`parquet::MAX_OBJECT_BYTES`], is what a decoder accepts).
    pub max_input_bytes: u64,
    /// Set to stop the run at its next pause.
    pub cancel: Option<Cancel>,
}

/// A holder id unique to this process: `$HOSTNAME` (the pod name) or `federator`, the
/// process id and the start time.
pub fn default_holder() -> String {
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "federator".into());
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{host}-{}-{nanos:x}", std::process::id())
}

impl Default for Options {
    fn default() -> Options {
        Options {
            only: None,
            mode: Mode::Incremental,
            lease: true,
            holder: default_holder(),
            lease_ttl: Duration::from_secs(120),
            lease_wait: Duration::from_secs(300),
            retry_for: Duration::from_secs(60),
            max_passes: 8,
            checkpoint_every: 32,
            reads_in_flight: 16,
            max_input_bytes: parquet::MAX_OBJECT_BYTES,
            cancel: None,
        }
    }
}

/// What a window looks like after the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowReport {
    pub window: Window,
    /// The clusters whose allocation set was combined.
    pub clusters: Vec<String>,
    /// Clusters with an input in some window but no trusted allocation set in this one.
    pub missing: Vec<String>,
    /// Clusters with an asset input in some window but no trusted asset set in this one.
    pub missing_assets: Vec<String>,
    /// Inputs of this window that were quarantined.
    pub quarantined: Vec<String>,
}

/// A distrusted object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuarantineRecord {
    pub key: String,
    pub etag: String,
    /// The rule broken (`crate::trust`), `misfiled`, `unreadable` or `too-large`.
    pub code: String,
    pub message: String,
    /// Where its copy is (`None` when it could not be read).
    pub copy: Option<String>,
}

/// Two writers claiming one cluster id: objects of `cluster` naming different sources, or an
/// object rewritten by another source than the one recorded for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceConflict {
    pub cluster: String,
    /// By source: the keys it wrote.
    pub claims: BTreeMap<String, Vec<String>>,
}

/// How the run held the lease.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The run took no lease ([`Options::lease`] off).
    #[default]
    Unused,
    /// None was held, or it was released.
    Acquired,
    /// This holder's own, left behind by a run that did not end.
    Resumed,
    /// Another holder's, left unrenewed for its TTL.
    TakenOver { from: String },
}

/// What a federation run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FederationReport {
    pub clusters: Vec<String>,
    /// Input objects read (allocation and asset sets).
    pub objects_read: usize,
    /// The combined daily allocation sets of the windows recombined (written, or left as they
    /// were when S3 already held the same bytes), in window order.
    pub objects_written: Vec<String>,
    /// The combined daily asset sets of the windows recombined, in window order.
    pub asset_objects_written: Vec<String>,
    /// Allocations in the combined daily sets of the windows recombined.
    pub allocations: usize,
    /// The combined hourly (`1h/`) allocation sets of the windows recombined, in window order.
    pub hourly_objects_written: Vec<String>,
    /// The combined hourly asset sets of the windows recombined, in window order.
    pub hourly_asset_objects_written: Vec<String>,
    /// Allocations in the combined hourly sets of the windows recombined.
    pub hourly_allocations: usize,
    /// Every window with inputs, after the run.
    pub windows: Vec<WindowReport>,
    pub recombined: Vec<Window>,
    /// Windows left as they were (inputs and outputs as the manifest recorded).
    pub skipped: Vec<Window>,
    /// Windows whose inputs are gone: their combined objects were removed.
    pub removed: Vec<Window>,
    /// Every input currently quarantined.
    pub quarantined: Vec<QuarantineRecord>,
    /// The keys quarantined by this run.
    pub newly_quarantined: Vec<String>,
    pub conflicts: Vec<SourceConflict>,
    pub passes: usize,
    /// S3 calls that failed transiently and were asked again (beyond the SDK's retries).
    pub retries: usize,
    /// Some of the stored manifest could not be used (an object of a window unreadable,
    /// malformed, too large or of another version; or only the single manifest of an earlier
    /// build was there): those windows were recombined and their records rewritten.
    pub manifest_rebuilt: bool,
    pub lease: LeaseOutcome,
}

/// Combines the clusters in `only` (all clusters when `None`): every window, recombined
/// ([`Mode::Full`]), so that two runs on the same bucket give the same report.
pub async fn federate(store: &Store, only: Option<&[String]>) -> Result<FederationReport, FederationError> {
    let options = Options { only: only.map(<[String]>::to_vec), mode: Mode::Full, ..Options::default() };
    federate_with(store, &options).await
}

/// One run of the federator as `options` say (incremental by default).
pub async fn federate_with(store: &Store, options: &Options) -> Result<FederationReport, FederationError> {
    let retry = Retry { deadline: options.retry_for, cancel: options.cancel.clone() };
    let retried = AtomicUsize::new(0);
    let mut lease = match options.lease {
        true => {
            let config = LeaseConfig {
                holder: options.holder.clone(),
                ttl: options.lease_ttl,
                wait: options.lease_wait,
            };
            Some(Lease::acquire(store, &config, &retry, &retried).await?)
        }
        false => None,
    };
    let outcome = match &lease {
        None => LeaseOutcome::Unused,
        Some(l) => match &l.taken {
            Taken::Fresh => LeaseOutcome::Acquired,
            Taken::Resumed => LeaseOutcome::Resumed,
            Taken::TakenOver { from } => LeaseOutcome::TakenOver { from: from.clone() },
        },
    };
    let mut run = Run::new(store, options, retry, &retried, lease.as_mut());
    let result = run.passes().await;
    let retry = run.retry.clone();
    drop(run);
    if let Some(held) = lease {
        if !matches!(result, Err(FederationError::LeaseLost { .. })) {
            held.release(store, &retry, &retried).await;
        }
    }
    let mut report = result?;
    report.lease = outcome;
    report.retries = retried.load(Ordering::Relaxed);
    tracing::info!(
        clusters = report.clusters.len(),
        recombined = report.recombined.len(),
        skipped = report.skipped.len(),
        quarantined = report.quarantined.len(),
        passes = report.passes,
        "federated"
    );
    Ok(report)
}

/// An input as listed: whose, which kind, which version.
#[derive(Clone, Debug)]
struct Listing {
    cluster: String,
    kind: Kind,
    etag: String,
}

/// One listing of `federated/`, classified.
#[derive(Debug, Default)]
struct Snapshot {
    clusters: BTreeSet<String>,
    inputs: BTreeMap<Window, BTreeMap<String, Listing>>,
    outputs: BTreeMap<Window, BTreeMap<String, String>>,
    misfiled: BTreeMap<String, (String, String)>,
    /// The manifest's objects (`crate::manifest`), as listed.
    manifest: Vec<Listed>,
    /// Whether the single manifest of earlier builds is there (it is deleted).
    legacy_manifest: bool,
}

impl Snapshot {
    fn new(listed: Vec<Listed>, only: Option<&[String]>) -> Snapshot {
        let in_scope = |folder: &str| only.is_none_or(|only| only.iter().any(|c| c == folder));
        let mut s = Snapshot::default();
        for Listed { key, etag, size } in listed {
            match classify(&key) {
                Classified::Input { cluster, kind, window } if in_scope(&cluster) => {
                    s.clusters.insert(cluster.clone());
                    s.inputs.entry(window).or_default().insert(key, Listing { cluster, kind, etag });
                }
                Classified::Output { window, .. } => {
                    s.outputs.entry(window).or_default().insert(key, etag);
                }
                Classified::Manifest(ManifestObject::Legacy) => s.legacy_manifest = true,
                Classified::Manifest(_) => s.manifest.push(Listed { key, etag, size }),
                Classified::Misfiled { folder, reason } if in_scope(&folder) => {
                    if layout::check_cluster_id(&folder).is_ok() {
                        s.clusters.insert(folder);
                    }
                    s.misfiled.insert(key, (etag, reason));
                }
                Classified::Ignored { folder: Some(folder) } if in_scope(&folder) => {
                    s.clusters.insert(folder);
                }
                _ => {}
            }
        }
        // A window's legacy `.json` input whose `.parquet` twin is listed too is the same set
        // written before the store switched to Parquet: the `.parquet` object is the one (no
        // false duplicate); the `.json` one is left alone.
        for inputs in s.inputs.values_mut() {
            let shadowed: Vec<String> = inputs
                .keys()
                .filter(|k| layout::parquet_sibling(k).is_some_and(|p| inputs.contains_key(&p)))
                .cloned()
                .collect();
            for key in shadowed {
                inputs.remove(&key);
            }
        }
        s
    }

    /// The windows to work on, with what to do, and whether it is all up to date.
    fn plan(&self, manifest: &Manifest, recombine_all: bool) -> BTreeMap<Window, Action> {
        let no_outputs = BTreeMap::new();
        let mut plan = BTreeMap::new();
        for (window, inputs) in &self.inputs {
            let outputs = self.outputs.get(window).unwrap_or(&no_outputs);
            let clean = manifest.windows.get(&window.file_stem()).is_some_and(|entry| {
                entry.inputs.len() == inputs.len()
                    && inputs.iter().all(|(k, l)| entry.inputs.get(k).is_some_and(|i| i.etag == l.etag))
                    && entry.outputs == *outputs
            });
            if recombine_all || !clean {
                plan.insert(*window, Action::Recombine);
            }
        }
        for window in self.outputs.keys() {
            if !self.inputs.contains_key(window) {
                plan.insert(*window, Action::Remove);
            }
        }
        plan
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Recombine,
    Remove,
}

/// How a pass ended.
enum PassEnd {
    /// Nothing to do: the bucket is as the manifest says.
    Settled,
    /// Work done; another pass checks it.
    Worked,
    /// Another federator wrote first; the next pass looks again.
    Conflict(String),
}

/// A window combined: its manifest entry and what the report says of it.
struct Combined {
    entry: WindowEntry,
    allocations_key: Option<String>,
    assets_key: Option<String>,
    allocations: usize,
}

/// What S3 holds of the manifest, as far as this pass knows: the ETag of every manifest object
/// (the condition of its next write) and the misfiled record last written.
struct Written {
    etags: BTreeMap<String, String>,
    misfiled: BTreeMap<String, Misfiled>,
    /// The stored misfiled record could not be used: it is written whatever it holds.
    misfiled_unusable: bool,
}

/// Windows combined and encoded at once (on the blocking pool), besides the next window's
/// reads: two, so that a window's encoding, one thread's work, overlaps the next one's.
const ENCODES_IN_FLIGHT: usize = 2;

/// A window whose trusted sets are being combined and encoded on the blocking pool: its
/// manifest entry so far, and the task giving the allocation count and the two objects' bytes.
struct Encoding {
    window: Window,
    entry: WindowEntry,
    #[allow(clippy::type_complexity)]
    task: tokio::task::JoinHandle<Result<(usize, Option<Vec<u8>>, Option<Vec<u8>>), FederationError>>,
}

/// What the reason object of a quarantined key says.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReasonObject<'a> {
    key: &'a str,
    etag: &'a str,
    code: &'a str,
    message: &'a str,
    copy: Option<String>,
}

/// One run's state across its passes.
struct Run<'a> {
    store: &'a Store,
    options: &'a Options,
    retry: Retry,
    retried: &'a AtomicUsize,
    lease: Option<&'a mut Lease>,
    objects_read: usize,
    /// By window: the last recombination's outputs and allocation count.
    recombined: BTreeMap<Window, (Option<String>, Option<String>, usize)>,
    removed: BTreeSet<Window>,
    newly_quarantined: BTreeSet<String>,
    /// (cluster, key, source before, source now) of inputs rewritten by another source.
    takeovers: Vec<(String, String, String, String)>,
    manifest_rebuilt: bool,
    /// Bounds the inputs read at once ([`Options::reads_in_flight`]), across windows.
    permits: Arc<Semaphore>,
}

/// What reading, decoding and checking one input found.
enum Judged {
    /// Listed, then gone.
    Gone,
    /// S3 refuses to serve it.
    Unreadable(Distrust),
    /// Read: the ETag of the version read, the writer it names, and the set, or why it is
    /// distrusted with the bytes read (for the quarantine copy).
    Read { etag: String, source: Option<String>, verdict: Result<Trusted, (Distrust, Vec<u8>)> },
}

/// A set that passed the trust checks: allocations as Arrow columns, combined without rows.
enum Trusted {
    Allocations(parquet::AllocationPiece),
    Assets(AssetSet),
}

/// One window's inputs being read and judged by tasks of their own (each holds one of the
/// run's permits while it reads and decodes); dropped, it aborts them. `count` inputs, each
/// answered with its index in key order, so that the results are taken in key order whatever
/// order they finish in.
struct Reads {
    tasks: JoinSet<(usize, usize, Result<Judged, FederationError>)>,
    count: usize,
}

/// A window's inputs, read and judged: its manifest entry so far and the trusted sets, in
/// key order.
struct Gathered {
    entry: WindowEntry,
    sets: Vec<parquet::AllocationPiece>,
    asset_sets: Vec<AssetSet>,
}

/// The manifest's record of `key` when it is the version listed and was quarantined: it is
/// not read again.
fn known_quarantined<'m>(before: Option<&'m WindowEntry>, key: &str, listing: &Listing) -> Option<&'m Input> {
    before.and_then(|b| b.inputs.get(key)).filter(|k| k.etag == listing.etag && k.quarantined.is_some())
}

/// How an input's body is checked against its ETag when read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyCheck {
    /// Not at once: the object's own checksum is verified on decoding, and the ETag is looked
    /// at only when the object is distrusted (so a sound body costs no MD5).
    Later,
    /// On reading: a body that does not match its MD5 ETag is read again (transient).
    Now,
}

/// The quarantine codes of inputs that were not read (so not copied): S3 refused them, or
/// they are over [`Options::max_input_bytes`].
const UNREADABLE: &str = "unreadable";
const TOO_LARGE: &str = "too-large";
const UNREAD_CODES: [&str; 2] = [UNREADABLE, TOO_LARGE];

/// Reads an input of at most `limit` bytes: `Ok(None)` when it is gone, `Err(Ok(distrust))`
/// when S3 refuses it or it is larger.
async fn read_object(
    store: &Store,
    retry: &Retry,
    retried: &AtomicUsize,
    key: &str,
    check: BodyCheck,
    limit: u64,
) -> Result<Result<Option<Fetched>, Distrust>, FederationError> {
    let read = match check {
        BodyCheck::Later => retry.call("GetObject", retried, || store.fetch_unverified(key, limit)).await,
        BodyCheck::Now => retry.call("GetObject", retried, || store.fetch_limited(key, limit)).await,
    };
    match read {
        Ok(fetched) => Ok(Ok(Some(fetched))),
        Err(e @ FederationError::TooLarge { .. }) => Ok(Err(Distrust::new(TOO_LARGE, e.to_string()))),
        Err(e) => match e.s3_failure() {
            Some(S3Failure::NotFound) => Ok(Ok(None)),
            Some(S3Failure::Refused | S3Failure::NotImplemented) => {
                Ok(Err(Distrust::new(UNREADABLE, e.to_string())))
            }
            _ => Err(e),
        },
    }
}

/// The combined sets of a window as Parquet (`None` for a kind without trusted sets), and the
/// number of allocations combined.
#[allow(clippy::type_complexity)]
fn encode_window(
    window: Window,
    sets: Vec<parquet::AllocationPiece>,
    asset_sets: Vec<AssetSet>,
) -> Result<(usize, Option<Vec<u8>>, Option<Vec<u8>>), FederationError> {
    let (allocations, allocations_bytes) = match sets.is_empty() {
        true => (0, None),
        false => {
            let (rows, bytes) = parquet::encode_combined_allocations(window, sets)?;
            (rows, Some(bytes))
        }
    };
    let assets_bytes =
        AssetSet::combine(&asset_sets).map(|combined| parquet::encode_assets(&combined, None)).transpose()?;
    Ok((allocations, allocations_bytes, assets_bytes))
}

/// Reads one input of `window`, decodes it and checks it against its key; the bytes are kept
/// only when the object is distrusted.
async fn judge(
    store: &Store,
    retry: &Retry,
    retried: &AtomicUsize,
    key: &str,
    listing: &Listing,
    window: Window,
    limit: u64,
) -> Result<Judged, FederationError> {
    // A distrusted object whose body does not match its ETag was damaged on the way, not in
    // the bucket: it is read again with the body checked (and retried) before it is judged.
    for check in [BodyCheck::Later, BodyCheck::Now] {
        let fetched = match read_object(store, retry, retried, key, check, limit).await? {
            Ok(Some(fetched)) => fetched,
            Ok(None) => return Ok(Judged::Gone),
            Err(unreadable) => return Ok(Judged::Unreadable(unreadable)),
        };
        let Fetched { bytes, etag } = fetched;
        // Decoded and checked here, on the runtime's worker, still under the read's permit
        // (so at most `reads_in_flight` at once): the other worker takes the reads' and
        // writes' I/O meanwhile. A hand-off to the blocking pool for each of the tens of
        // thousands of inputs cost more than it freed (thread wake-ups, frees across
        // threads): about a tenth of the run's CPU time, measured side by side.
        let (source, verdict) = decode_and_check(key, bytes, listing, window);
        let damaged = match &verdict {
            Err((_, bytes)) => check == BodyCheck::Later && damaged_in_transit(bytes, &etag),
            Ok(_) => false,
        };
        if !damaged {
            return Ok(Judged::Read { etag, source, verdict });
        }
        tracing::debug!(key, "a distrusted input does not match its ETag: reading it again");
    }
    unreachable!("the second read checks the body, so it is never taken as damaged")
}

/// Decodes an input and checks it against its key: the writer it names, and the trusted set
/// or why it is distrusted with its bytes (for the quarantine copy).
#[allow(clippy::type_complexity)]
fn decode_and_check(
    key: &str,
    bytes: Vec<u8>,
    listing: &Listing,
    window: Window,
) -> (Option<String>, Result<Trusted, (Distrust, Vec<u8>)>) {
    let bytes = bytes::Bytes::from(bytes);
    let (source, verdict) = match listing.kind {
        // Checked in its columns and kept as such; anything the columns cannot vouch for
        // (another version, JSON, a failed check) takes the row path, which says what is wrong.
        Kind::Allocations => match parquet::allocation_piece(key, bytes.clone(), &listing.cluster, window) {
            Some((piece, source)) => (source, Ok(Trusted::Allocations(piece))),
            None => match parquet::decode_allocations(key, &bytes) {
                Ok(Decoded { set, source }) => (
                    source,
                    trust::check_set(&listing.cluster, window, &set).and_then(|()| {
                        parquet::allocation_piece_of(&set)
                            .map(Trusted::Allocations)
                            .map_err(trust::unreadable)
                    }),
                ),
                Err(e) => (None, Err(trust::unreadable(e))),
            },
        },
        Kind::Assets => match parquet::decode_assets(key, &bytes) {
            Ok(Decoded { set, source }) => (
                source,
                trust::check_asset_set(&listing.cluster, window, &set).map(|()| Trusted::Assets(set)),
            ),
            Err(e) => (None, Err(trust::unreadable(e))),
        },
    };
    (source, verdict.map_err(|reason| (reason, Vec::from(bytes))))
}

impl<'a> Run<'a> {
    fn new(
        store: &'a Store,
        options: &'a Options,
        retry: Retry,
        retried: &'a AtomicUsize,
        lease: Option<&'a mut Lease>,
    ) -> Run<'a> {
        Run {
            store,
            options,
            retry,
            retried,
            lease,
            objects_read: 0,
            recombined: BTreeMap::new(),
            removed: BTreeSet::new(),
            newly_quarantined: BTreeSet::new(),
            takeovers: Vec::new(),
            manifest_rebuilt: false,
            permits: Arc::new(Semaphore::new(options.reads_in_flight.max(1))),
        }
    }

    async fn passes(&mut self) -> Result<FederationReport, FederationError> {
        let mut last = String::from("no pass ran");
        for pass in 1..=self.options.max_passes.max(1) {
            let recombine_all = pass == 1 && self.options.mode == Mode::Full;
            let (end, snapshot, manifest) = self.pass(recombine_all).await?;
            match end {
                PassEnd::Settled => return Ok(self.report(pass, &snapshot, &manifest)),
                PassEnd::Worked => last = format!("pass {pass} still had work"),
                PassEnd::Conflict(why) => {
                    tracing::info!(pass, why, "another writer got there first; looking again");
                    last = why;
                }
            }
        }
        Err(FederationError::NotConverged { passes: self.options.max_passes.max(1), last })
    }

    async fn keep_lease(&mut self) -> Result<(), FederationError> {
        match self.lease.as_deref_mut() {
            Some(lease) => lease.keep(self.store, &self.retry, self.retried).await,
            None => Ok(()),
        }
    }

    /// Lists, plans and works once; the snapshot and the manifest as they stand at its end.
    async fn pass(&mut self, recombine_all: bool) -> Result<(PassEnd, Snapshot, Manifest), FederationError> {
        let store = self.store;
        let listed = self
            .retry
            .call("ListObjectsV2 federated/", self.retried, || store.list(layout::FEDERATED_PREFIX))
            .await?;
        let snapshot = Snapshot::new(listed, self.options.only.as_deref());
        let Stored { mut manifest, etags, unusable, unusable_windows } =
            self.read_manifest(&snapshot).await?;
        let plan = snapshot.plan(&manifest, recombine_all);
        let mut written = Written {
            etags,
            misfiled: manifest.misfiled.clone(),
            misfiled_unusable: unusable.contains_key(layout::MANIFEST_MISFILED_KEY),
        };
        // The windows whose record may differ from the one stored: written (or deleted) at the
        // next checkpoint when it does.
        let mut dirty: BTreeSet<Window> = unusable_windows;

        // Windows with neither inputs nor outputs any more, and misfiled keys that are gone.
        manifest.windows.retain(|stem, entry| {
            let w = entry.window();
            let keep = w.file_stem() == *stem
                && (snapshot.inputs.contains_key(&w) || snapshot.outputs.contains_key(&w));
            if !keep {
                dirty.insert(w);
            }
            keep
        });
        manifest.misfiled.retain(|key, _| snapshot.misfiled.contains_key(key));
        for (key, (etag, reason)) in &snapshot.misfiled {
            if manifest.misfiled.get(key).is_some_and(|m| m.etag == *etag) {
                continue;
            }
            self.keep_lease().await?;
            let recorded = self.quarantine_misfiled(key, reason).await?;
            match recorded {
                Some(m) => manifest.misfiled.insert(key.clone(), m),
                None => manifest.misfiled.remove(key),
            };
        }

        let mut since_checkpoint = 0;
        let mut end = PassEnd::Worked;
        let recombining: Vec<Window> =
            plan.iter().filter(|(_, a)| **a == Action::Recombine).map(|(w, _)| *w).collect();
        // The next window's inputs, being read while this one is combined and written.
        let mut ahead: Option<(Window, Reads)> = None;
        // Windows being combined and encoded, oldest first: at most `ENCODES_IN_FLIGHT`, so
        // that one window's encoding overlaps the next one's (each is one thread's work).
        let mut encoding: VecDeque<Encoding> = VecDeque::new();
        for (window, action) in &plan {
            self.keep_lease().await?;
            let finished = match action {
                Action::Recombine => {
                    // `manifest` still holds this window's stored record (and the next's,
                    // whose reads may start here): a window's record is replaced only once
                    // its outputs are written.
                    let started =
                        self.start_recombine(*window, &snapshot, &manifest, &recombining, &mut ahead).await?;
                    encoding.push_back(started);
                    match encoding.len() >= ENCODES_IN_FLIGHT {
                        true => match encoding.pop_front() {
                            Some(oldest) => {
                                if let Err(why) =
                                    self.finish(oldest, &snapshot, &mut manifest, &mut dirty).await?
                                {
                                    end = PassEnd::Conflict(why);
                                    break;
                                }
                                1
                            }
                            None => 0,
                        },
                        false => 0,
                    }
                }
                Action::Remove => {
                    let outputs = snapshot.outputs.get(window).cloned().unwrap_or_default();
                    for key in outputs.keys() {
                        self.delete(key).await?;
                    }
                    manifest.windows.remove(&window.file_stem());
                    self.recombined.remove(window);
                    self.removed.insert(*window);
                    dirty.insert(*window);
                    1
                }
            };
            since_checkpoint += finished;
            if since_checkpoint >= self.options.checkpoint_every.max(1) {
                since_checkpoint = 0;
                match self.write_manifest(&manifest, &mut dirty, &mut written).await? {
                    true => {}
                    false => {
                        end = PassEnd::Conflict("the manifest changed under this federator".into());
                        break;
                    }
                }
            }
        }
        while matches!(end, PassEnd::Worked) {
            let Some(oldest) = encoding.pop_front() else { break };
            self.keep_lease().await?;
            if let Err(why) = self.finish(oldest, &snapshot, &mut manifest, &mut dirty).await? {
                end = PassEnd::Conflict(why);
            }
        }
        // Encodings left after a lost write are dropped (their results with them).
        drop(encoding);
        let misfiled_changed = written.misfiled_unusable || manifest.misfiled != written.misfiled;
        if plan.is_empty() && dirty.is_empty() && !misfiled_changed && !snapshot.legacy_manifest {
            return Ok((PassEnd::Settled, snapshot, manifest));
        }
        self.keep_lease().await?;
        if !self.write_manifest(&manifest, &mut dirty, &mut written).await? && matches!(end, PassEnd::Worked)
        {
            end = PassEnd::Conflict("the manifest changed under this federator".into());
        }
        if snapshot.legacy_manifest && matches!(end, PassEnd::Worked) {
            // Ignored (its windows were recombined as if it were not there); this pass wrote
            // their records, so it goes.
            self.delete(layout::LEGACY_MANIFEST_KEY).await?;
        }
        Ok((end, snapshot, manifest))
    }

    /// The stored manifest, read from its objects (`crate::manifest`), [`Options::reads_in_flight`]
    /// at once; an object that cannot be used is left out, so that its window is recombined.
    async fn read_manifest(&mut self, snapshot: &Snapshot) -> Result<Stored, FederationError> {
        let stored = manifest::read_listed(
            self.store,
            &snapshot.manifest,
            self.options.reads_in_flight,
            Some(&self.retry),
            self.retried,
        )
        .await?;
        for (key, why) in &stored.unusable {
            tracing::warn!(key, why, "a manifest object is unusable; its window is recombined");
        }
        if snapshot.legacy_manifest {
            tracing::warn!(
                key = layout::LEGACY_MANIFEST_KEY,
                "the single manifest of an earlier build is ignored (every window without a record of its \
                 own is recombined) and deleted"
            );
        }
        if !stored.unusable.is_empty() || (snapshot.legacy_manifest && snapshot.manifest.is_empty()) {
            self.manifest_rebuilt = true;
        }
        Ok(stored)
    }

    /// Writes the records of the `dirty` windows that differ from what S3 holds (and deletes
    /// those of windows no longer in the manifest), then the misfiled record; false when
    /// another writer changed one of them.
    async fn write_manifest(
        &mut self,
        manifest: &Manifest,
        dirty: &mut BTreeSet<Window>,
        written: &mut Written,
    ) -> Result<bool, FederationError> {
        for window in std::mem::take(dirty) {
            let Some(key) = layout::manifest_window_key(window) else { continue };
            match manifest.windows.get(&window.file_stem()) {
                Some(entry) => {
                    if !self.write_manifest_object(&key, manifest::window_to_bytes(entry), written).await? {
                        return Ok(false);
                    }
                }
                None => {
                    if written.etags.remove(&key).is_some() {
                        self.delete(&key).await?;
                    }
                }
            }
        }
        if written.misfiled_unusable || manifest.misfiled != written.misfiled {
            let key = layout::MANIFEST_MISFILED_KEY;
            if manifest.misfiled.is_empty() {
                if written.etags.remove(key).is_some() {
                    self.delete(key).await?;
                }
            } else if !self
                .write_manifest_object(key, manifest::misfiled_to_bytes(&manifest.misfiled), written)
                .await?
            {
                return Ok(false);
            }
            written.misfiled = manifest.misfiled.clone();
            written.misfiled_unusable = false;
        }
        Ok(true)
    }

    /// Writes one manifest object unless S3 holds it already (`If-Match` on the ETag read,
    /// `If-None-Match: *` when there was none); false when another writer changed it.
    async fn write_manifest_object(
        &mut self,
        key: &str,
        bytes: Vec<u8>,
        written: &mut Written,
    ) -> Result<bool, FederationError> {
        let known = written.etags.get(key);
        if known.is_some_and(|etag| *etag == md5_etag(&bytes)) {
            return Ok(true);
        }
        let condition = match known {
            Some(e) => Condition::IfMatch(e.clone()),
            None => Condition::IfAbsent,
        };
        let store = self.store;
        let put = self
            .retry
            .call("PutObject manifest", self.retried, || {
                store.put_if(key, bytes.clone(), "application/json", &condition)
            })
            .await?;
        match put {
            Put::Written(new) => {
                written.etags.insert(key.to_owned(), new);
                Ok(true)
            }
            Put::Lost => Ok(false),
        }
    }

    async fn delete(&mut self, key: &str) -> Result<(), FederationError> {
        let store = self.store;
        match self.retry.call("DeleteObject", self.retried, || store.delete_object(key)).await {
            Err(e) if e.s3_failure() != Some(S3Failure::NotFound) => Err(e),
            _ => Ok(()),
        }
    }

    /// Reads an input: `Ok(None)` when it is gone, `Err(Ok(distrust))` when S3 refuses it or
    /// it is over [`Options::max_input_bytes`].
    async fn read(&mut self, key: &str) -> Result<Result<Option<Fetched>, Distrust>, FederationError> {
        let limit = self.options.max_input_bytes;
        let read = read_object(self.store, &self.retry, self.retried, key, BodyCheck::Now, limit).await?;
        if matches!(read, Ok(Some(_))) {
            self.objects_read += 1;
        }
        Ok(read)
    }

    /// Starts reading, decoding and checking `window`'s inputs (but those the manifest holds
    /// as quarantined in the version listed), at most [`Options::reads_in_flight`] at once.
    fn start_reads(&self, window: Window, snapshot: &Snapshot, stored: &Manifest) -> Reads {
        let before = stored.windows.get(&window.file_stem());
        let mut tasks = JoinSet::new();
        let mut count = 0;
        for (key, listing) in snapshot.inputs.get(&window).into_iter().flatten() {
            if known_quarantined(before, key, listing).is_some() {
                continue;
            }
            let index = count;
            count += 1;
            let (store, retry, permits) = (self.store.clone(), self.retry.clone(), self.permits.clone());
            let (key, listing, limit) = (key.clone(), listing.clone(), self.options.max_input_bytes);
            tasks.spawn(async move {
                let retried = AtomicUsize::new(0);
                let judged = match permits.acquire_owned().await {
                    Ok(permit) => {
                        let judged = judge(&store, &retry, &retried, &key, &listing, window, limit).await;
                        drop(permit);
                        judged
                    }
                    Err(_) => Err(FederationError::Cancelled { what: format!("reading {key}") }),
                };
                (index, retried.into_inner(), judged)
            });
        }
        Reads { tasks, count }
    }

    /// Takes `reads`' results in key order: counts them, quarantines what is distrusted or
    /// unreadable, notes rewrites by another source, and keeps the trusted sets.
    async fn gather(
        &mut self,
        window: Window,
        mut reads: Reads,
        snapshot: &Snapshot,
        stored: &Manifest,
    ) -> Result<Gathered, FederationError> {
        let mut judged: Vec<Option<Judged>> = (0..reads.count).map(|_| None).collect();
        while let Some(joined) = reads.tasks.join_next().await {
            let (index, retried, result) = match joined {
                Ok(done) => done,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => {
                    return Err(FederationError::Cancelled {
                        what: format!("reading the inputs of window {}", window.file_stem()),
                    })
                }
            };
            self.retried.fetch_add(retried, Ordering::Relaxed);
            if let Some(slot) = judged.get_mut(index) {
                *slot = Some(result?);
            }
        }
        let mut judged = judged.into_iter();
        let no_inputs = BTreeMap::new();
        let inputs = snapshot.inputs.get(&window).unwrap_or(&no_inputs);
        let before = stored.windows.get(&window.file_stem());
        let mut gathered = Gathered {
            entry: WindowEntry { start: window.start, end: window.end, ..WindowEntry::default() },
            sets: Vec::new(),
            asset_sets: Vec::new(),
        };
        let entry = &mut gathered.entry;
        for (key, listing) in inputs {
            if let Some(known) = known_quarantined(before, key, listing) {
                entry.inputs.insert(key.clone(), known.clone());
                continue;
            }
            let (etag, source, verdict) = match judged.next().flatten() {
                None | Some(Judged::Gone) => continue,
                Some(Judged::Unreadable(unreadable)) => {
                    self.quarantine(key, None, &listing.etag, &unreadable).await?;
                    entry.inputs.insert(
                        key.clone(),
                        Input { etag: listing.etag.clone(), source: None, quarantined: Some(unreadable) },
                    );
                    continue;
                }
                Some(Judged::Read { etag, source, verdict }) => (etag, source, verdict),
            };
            self.objects_read += 1;
            let known = before.and_then(|b| b.inputs.get(key));
            if let (Some(was), Some(now)) = (known.and_then(|k| k.source.as_ref()), source.as_ref()) {
                if was != now {
                    self.takeovers.push((listing.cluster.clone(), key.clone(), was.clone(), now.clone()));
                }
            }
            let quarantined = match verdict {
                Ok(Trusted::Allocations(set)) => {
                    gathered.sets.push(set);
                    None
                }
                Ok(Trusted::Assets(set)) => {
                    gathered.asset_sets.push(set);
                    None
                }
                Err((reason, bytes)) => {
                    let fetched = Fetched { bytes, etag: etag.clone() };
                    self.quarantine(key, Some(&fetched), &etag, &reason).await?;
                    Some(reason)
                }
            };
            entry.inputs.insert(key.clone(), Input { etag, source, quarantined });
        }
        Ok(gathered)
    }

    /// Copies a distrusted object (when it could be read) to `quarantine/<key>` and writes
    /// the reason next to it.
    async fn quarantine(
        &mut self,
        key: &str,
        fetched: Option<&Fetched>,
        etag: &str,
        reason: &Distrust,
    ) -> Result<(), FederationError> {
        let store = self.store;
        let copy = match fetched {
            Some(f) => {
                let to = layout::quarantine_key(key);
                self.retry
                    .call("PutObject (quarantine copy)", self.retried, || {
                        store.put_object(&to, f.bytes.clone(), "application/octet-stream", &Condition::Always)
                    })
                    .await?;
                Some(to)
            }
            None => None,
        };
        let object = ReasonObject { key, etag, code: &reason.code, message: &reason.message, copy };
        let mut bytes = serde_json::to_vec_pretty(&object)
            .unwrap_or_else(|e| unreachable!("plain structs serialise: {e}"));
        bytes.push(b'\n');
        let to = layout::quarantine_reason_key(key);
        self.retry
            .call("PutObject (quarantine reason)", self.retried, || {
                store.put_object(&to, bytes.clone(), "application/json", &Condition::Always)
            })
            .await?;
        tracing::warn!(key, code = %reason.code, message = %reason.message, "quarantined");
        self.newly_quarantined.insert(key.to_owned());
        Ok(())
    }

    async fn quarantine_misfiled(
        &mut self,
        key: &str,
        reason: &str,
    ) -> Result<Option<Misfiled>, FederationError> {
        let reason = Distrust::new("misfiled", reason);
        let (fetched, reason) = match self.read(key).await? {
            Ok(Some(fetched)) => (Some(fetched), reason),
            Ok(None) => return Ok(None),
            Err(unreadable) => {
                (None, Distrust::new("misfiled", format!("{}; {}", reason.message, unreadable.message)))
            }
        };
        let etag = fetched.as_ref().map(|f| f.etag.clone()).unwrap_or_default();
        self.quarantine(key, fetched.as_ref(), &etag, &reason).await?;
        Ok(Some(Misfiled { etag, reason }))
    }

    /// Writes an encoded window's outputs and records it in `manifest` (and `dirty`); the
    /// error says why the write was lost to another federator.
    async fn finish(
        &mut self,
        encoding: Encoding,
        snapshot: &Snapshot,
        manifest: &mut Manifest,
        dirty: &mut BTreeSet<Window>,
    ) -> Result<Result<(), String>, FederationError> {
        let window = encoding.window;
        let combined = match self.write_combined(encoding, snapshot).await? {
            Ok(combined) => combined,
            Err(why) => return Ok(Err(why)),
        };
        self.recombined.insert(window, (combined.allocations_key, combined.assets_key, combined.allocations));
        self.removed.remove(&window);
        if combined.entry.inputs.is_empty() {
            manifest.windows.remove(&window.file_stem());
        } else {
            manifest.windows.insert(window.file_stem(), combined.entry);
        }
        dirty.insert(window);
        Ok(Ok(()))
    }

    /// Reads and checks one window's inputs and starts combining and encoding them on the
    /// blocking pool ([`Run::finish`] writes the result). `ahead` holds the reads started for
    /// this window, if any; once its inputs are in, the reads of the next window of
    /// `recombining` start, so that they go on while this one is combined and written.
    async fn start_recombine(
        &mut self,
        window: Window,
        snapshot: &Snapshot,
        stored: &Manifest,
        recombining: &[Window],
        ahead: &mut Option<(Window, Reads)>,
    ) -> Result<Encoding, FederationError> {
        let reads = match ahead.take() {
            Some((w, reads)) if w == window => reads,
            _ => self.start_reads(window, snapshot, stored),
        };
        let Gathered { entry, sets, asset_sets } = self.gather(window, reads, snapshot, stored).await?;
        if let Some(next) = recombining.iter().find(|w| **w > window) {
            *ahead = Some((*next, self.start_reads(*next, snapshot, stored)));
        }
        // Combined and encoded on the blocking pool: the next window's reads, and the writes
        // of the window before, go on meanwhile.
        let task = tokio::task::spawn_blocking(move || encode_window(window, sets, asset_sets));
        Ok(Encoding { window, entry, task })
    }

    /// Waits for a window's encoding and writes its outputs; the inner error says why the
    /// write was lost to another federator.
    async fn write_combined(
        &mut self,
        encoding: Encoding,
        snapshot: &Snapshot,
    ) -> Result<Result<Combined, String>, FederationError> {
        let Encoding { window, mut entry, task } = encoding;
        let listed_outputs = snapshot.outputs.get(&window);
        let listed = |key: &str| listed_outputs.and_then(|o| o.get(key)).cloned();
        let (allocations, allocations_bytes, assets_bytes) = match task.await {
            Ok(encoded) => encoded?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {
                return Err(FederationError::Cancelled {
                    what: format!("encoding window {}", window.file_stem()),
                })
            }
        };
        let mut keys = [None, None];
        for (i, (kind, bytes)) in
            [(Kind::Allocations, allocations_bytes), (Kind::Assets, assets_bytes)].into_iter().enumerate()
        {
            let key = layout::key(layout::COMBINED, kind, window);
            let current = listed(&key);
            match bytes {
                Some(bytes) => match self.write_output(&key, bytes, current).await? {
                    Some(etag) => {
                        entry.outputs.insert(key.clone(), etag);
                        keys[i] = Some(key);
                    }
                    None => return Ok(Err(format!("{key} was written by another federator"))),
                },
                None if current.is_some() => self.delete(&key).await?,
                None => {}
            }
        }
        // Combined objects of the first format (`.json`) in this window are replaced by the
        // Parquet ones just written.
        for key in listed_outputs.into_iter().flat_map(|o| o.keys()) {
            if key.ends_with(layout::JSON_SUFFIX) {
                self.delete(key).await?;
            }
        }
        let [allocations_key, assets_key] = keys;
        Ok(Ok(Combined { entry, allocations_key, assets_key, allocations }))
    }

    /// Writes a combined object unless S3 holds those bytes already; its ETag, or `None` when
    /// another federator changed it since the listing.
    async fn write_output(
        &mut self,
        key: &str,
        bytes: Vec<u8>,
        listed: Option<String>,
    ) -> Result<Option<String>, FederationError> {
        // (Hashed only when there is an output to compare with.)
        if listed.as_deref().is_some_and(|etag| etag == md5_etag(&bytes)) {
            return Ok(listed);
        }
        let condition = match listed {
            Some(etag) => Condition::IfMatch(etag),
            None => Condition::IfAbsent,
        };
        let store = self.store;
        let put = self
            .retry
            .call("PutObject (combined)", self.retried, || {
                store.put_if(key, bytes.clone(), parquet::CONTENT_TYPE, &condition)
            })
            .await?;
        Ok(match put {
            Put::Written(etag) => Some(etag),
            Put::Lost => None,
        })
    }

    fn report(&self, passes: usize, snapshot: &Snapshot, manifest: &Manifest) -> FederationReport {
        let mut report = FederationReport {
            clusters: snapshot.clusters.iter().cloned().collect(),
            objects_read: self.objects_read,
            passes,
            manifest_rebuilt: self.manifest_rebuilt,
            newly_quarantined: self.newly_quarantined.iter().cloned().collect(),
            removed: self.removed.iter().copied().collect(),
            ..FederationReport::default()
        };
        for (window, (allocations_key, assets_key, allocations)) in &self.recombined {
            report.recombined.push(*window);
            if layout::Resolution::of(*window) == Some(layout::Resolution::Hour) {
                report.hourly_objects_written.extend(allocations_key.clone());
                report.hourly_asset_objects_written.extend(assets_key.clone());
                report.hourly_allocations += allocations;
                continue;
            }
            report.objects_written.extend(allocations_key.clone());
            report.asset_objects_written.extend(assets_key.clone());
            report.allocations += allocations;
        }
        // Who has an input anywhere, and who a trusted set in each window.
        let mut seen: BTreeMap<Kind, BTreeSet<String>> = BTreeMap::new();
        let mut present: BTreeMap<(Window, Kind), BTreeSet<String>> = BTreeMap::new();
        let mut claims: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for entry in manifest.windows.values() {
            for (key, input) in &entry.inputs {
                let Classified::Input { cluster, kind, .. } = classify(key) else { continue };
                seen.entry(kind).or_default().insert(cluster.clone());
                if input.quarantined.is_none() {
                    present.entry((entry.window(), kind)).or_default().insert(cluster.clone());
                    if let Some(source) = &input.source {
                        claims
                            .entry(cluster)
                            .or_default()
                            .entry(source.clone())
                            .or_default()
                            .insert(key.clone());
                    }
                }
            }
        }
        for (cluster, key, was, _) in &self.takeovers {
            claims.entry(cluster.clone()).or_default().entry(was.clone()).or_default().insert(key.clone());
        }
        let none = BTreeSet::new();
        for entry in manifest.windows.values() {
            let window = entry.window();
            let missing = |kind: Kind| -> Vec<String> {
                let here = present.get(&(window, kind)).unwrap_or(&none);
                seen.get(&kind).unwrap_or(&none).difference(here).cloned().collect()
            };
            let quarantined: Vec<String> = entry
                .inputs
                .iter()
                .filter(|(_, i)| i.quarantined.is_some())
                .map(|(k, _)| k.clone())
                .collect();
            for (key, input) in &entry.inputs {
                if let Some(reason) = &input.quarantined {
                    report.quarantined.push(QuarantineRecord {
                        key: key.clone(),
                        etag: input.etag.clone(),
                        code: reason.code.clone(),
                        message: reason.message.clone(),
                        copy: (!UNREAD_CODES.contains(&reason.code.as_str()))
                            .then(|| layout::quarantine_key(key)),
                    });
                }
            }
            report.windows.push(WindowReport {
                window,
                clusters: present
                    .get(&(window, Kind::Allocations))
                    .unwrap_or(&none)
                    .iter()
                    .cloned()
                    .collect(),
                missing: missing(Kind::Allocations),
                missing_assets: missing(Kind::Assets),
                quarantined,
            });
            if !self.recombined.contains_key(&window) {
                report.skipped.push(window);
            }
        }
        for (key, m) in &manifest.misfiled {
            report.quarantined.push(QuarantineRecord {
                key: key.clone(),
                etag: m.etag.clone(),
                code: m.reason.code.clone(),
                message: m.reason.message.clone(),
                copy: (!m.etag.is_empty()).then(|| layout::quarantine_key(key)),
            });
        }
        report.windows.sort_by_key(|w| w.window);
        report.skipped.sort();
        report.quarantined.sort_by(|a, b| a.key.cmp(&b.key));
        for (cluster, by_source) in claims {
            if by_source.len() > 1 {
                report.conflicts.push(SourceConflict {
                    cluster,
                    claims: by_source.into_iter().map(|(s, keys)| (s, keys.into_iter().collect())).collect(),
                });
            }
        }
        for conflict in &report.conflicts {
            tracing::warn!(cluster = %conflict.cluster, sources = ?conflict.claims.keys().collect::<Vec<_>>(), "two sources claim one cluster id");
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(key: &str, etag: &str) -> Listed {
        Listed { key: key.into(), etag: etag.into(), size: 1 }
    }

    const W0: Window = Window { start: 0, end: 86_400 };
    const W1: Window = Window { start: 86_400, end: 172_800 };

    #[test]
    fn the_plan_recombines_exactly_the_windows_that_changed() {
        let a0 = layout::key("a", Kind::Allocations, W0);
        let a1 = layout::key("a", Kind::Allocations, W1);
        let c0 = layout::key(layout::COMBINED, Kind::Allocations, W0);
        let c1 = layout::key(layout::COMBINED, Kind::Allocations, W1);
        let snapshot = |a1_etag: &str| {
            Snapshot::new(
                vec![
                    listed(&a0, "\"x0\""),
                    listed(&a1, a1_etag),
                    listed(&c0, "\"o0\""),
                    listed(&c1, "\"o1\""),
                ],
                None,
            )
        };
        let mut manifest = Manifest::new();
        for (w, input, etag, output, out_etag) in
            [(W0, &a0, "\"x0\"", &c0, "\"o0\""), (W1, &a1, "\"x1\"", &c1, "\"o1\"")]
        {
            let mut entry = WindowEntry { start: w.start, end: w.end, ..WindowEntry::default() };
            entry.inputs.insert(input.clone(), Input { etag: etag.into(), ..Input::default() });
            entry.outputs.insert(output.clone(), out_etag.into());
            manifest.windows.insert(w.file_stem(), entry);
        }
        assert!(snapshot("\"x1\"").plan(&manifest, false).is_empty());
        assert_eq!(
            snapshot("\"x1-rewritten\"").plan(&manifest, false),
            BTreeMap::from([(W1, Action::Recombine)])
        );
        assert_eq!(snapshot("\"x1\"").plan(&manifest, true).len(), 2);
        // An output changed behind the manifest's back is recombined too.
        let changed =
            Snapshot::new(vec![listed(&a0, "\"x0\""), listed(&a1, "\"x1\""), listed(&c0, "\"o0\"")], None);
        assert_eq!(changed.plan(&manifest, false), BTreeMap::from([(W1, Action::Recombine)]));
        // A window whose inputs are gone has its outputs removed.
        let gone =
            Snapshot::new(vec![listed(&a0, "\"x0\""), listed(&c0, "\"o0\""), listed(&c1, "\"o1\"")], None);
        assert_eq!(gone.plan(&manifest, false), BTreeMap::from([(W1, Action::Remove)]));
    }

    #[test]
    fn the_snapshot_sorts_keys_into_inputs_outputs_and_misfiled_within_scope() {
        let s = Snapshot::new(
            vec![
                listed(&layout::key("a", Kind::Allocations, W0), "\"1\""),
                listed(&layout::key("b", Kind::Assets, W0), "\"2\""),
                listed("federated/b/etl/allocations/1d/junk.json", "\"3\""),
                listed("federated/c/etl/bingen/allocations/1d/0-86400", "\"4\""),
                listed(layout::LEGACY_MANIFEST_KEY, "\"m\""),
                listed(&layout::manifest_window_key(W0).unwrap(), "\"w\""),
                listed(layout::LEASE_KEY, "\"l\""),
            ],
            Some(&["a".to_owned(), "b".to_owned()]),
        );
        assert_eq!(s.clusters.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(s.inputs[&W0].len(), 2);
        assert_eq!(s.misfiled.keys().collect::<Vec<_>>(), ["federated/b/etl/allocations/1d/junk.json"]);
        assert!(s.legacy_manifest);
        assert_eq!(s.manifest.iter().map(|l| l.etag.as_str()).collect::<Vec<_>>(), ["\"w\""]);
    }
}
