//! Where the API reads the ETL from, one UTC day at a time: the [`EtlSource`] trait, an
//! in-memory [`MemorySource`] for tests and tools, and the [`StoreSource`] over the central
//! bucket's combined objects (`federated/combined/etl/{allocations,assets}/1d/…`).
//!
//! The engine asks for one day, computes it and drops it before it asks for the next, so a
//! query holds one day's rows at a time: the source is asked per day, never for a window.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use ampfed_allocation::{AllocationSet, AssetSet, Window};
use ampfed_federation::store::COMBINED;
use ampfed_federation::{FederationError, S3Failure, Store};
use bytes::Bytes;

use crate::error::SourceError;

/// A boxed future, so that sources can be used as `dyn EtlSource`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One day's allocation object as stored, for engines that read it by column.
#[derive(Clone, Debug)]
pub enum DayObject {
    /// The source does not hold objects (it holds sets): ask [`EtlSource::allocation_day`].
    Unsupported,
    /// There is no set for the day.
    Missing,
    /// The object's key and bytes, not yet checked or decoded, and the ETag they were read
    /// with (`None`: nothing to check them against), which the reader looks at only when the
    /// object's own checksum fails or it has none (the first format's JSON).
    Object { key: String, bytes: Bytes, etag: Option<String> },
}

/// A set and the version (ETag) it was read from, when the source names one.
pub type Versioned<T> = (T, Option<String>);

/// The ETags of one day's objects, `None` for one that is missing (or, for the assets, not asked for).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayVersions {
    pub allocations: Option<String>,
    pub assets: Option<String>,
}

/// The daily allocation and asset sets the API answers from.
pub trait EtlSource: Send + Sync {
    /// The allocation object of one UTC day as stored; [`DayObject::Unsupported`] (the
    /// default) for sources that hold decoded sets.
    fn allocation_object(&self, day: Window) -> BoxFuture<'_, Result<DayObject, SourceError>> {
        let _ = day;
        Box::pin(async { Ok(DayObject::Unsupported) })
    }
    /// The allocation set of one UTC day, `None` when there is none.
    fn allocation_day(&self, day: Window) -> BoxFuture<'_, Result<Option<AllocationSet>, SourceError>>;
    /// The asset set of one UTC day, `None` when there is none.
    fn asset_day(&self, day: Window) -> BoxFuture<'_, Result<Option<AssetSet>, SourceError>>;
    /// [`EtlSource::asset_day`] with the version read (its ETag), for keeping answers
    /// ([`crate::cache`]); the default names no version.
    fn asset_day_versioned(
        &self,
        day: Window,
    ) -> BoxFuture<'_, Result<Option<Versioned<AssetSet>>, SourceError>> {
        Box::pin(async move { Ok(self.asset_day(day).await?.map(|set| (set, None))) })
    }
    /// The versions (ETags) of one day's allocation object and, `with_assets`, asset object
    /// as they are now, each `None` when missing (the asset one also without `with_assets`);
    /// `Ok(None)` (the default) for a source without versions, whose answers are not kept.
    fn day_versions(
        &self,
        day: Window,
        with_assets: bool,
    ) -> BoxFuture<'_, Result<Option<DayVersions>, SourceError>> {
        let _ = (day, with_assets);
        Box::pin(async { Ok(None) })
    }
    /// Where the allocations of `day` live, for messages (an object key, or `memory`).
    fn allocation_name(&self, day: Window) -> String;
    /// Where the assets of `day` live, for messages.
    fn asset_name(&self, day: Window) -> String;
}

/// Daily sets held in memory; sets added for the same day are combined (as the federator
/// combines clusters).
#[derive(Clone, Debug, Default)]
pub struct MemorySource {
    allocations: BTreeMap<Window, AllocationSet>,
    assets: BTreeMap<Window, AssetSet>,
}

impl MemorySource {
    pub fn new() -> MemorySource {
        MemorySource::default()
    }

    /// Adds a set; one already held for its window is combined with it.
    pub fn add_allocations(&mut self, set: AllocationSet) {
        let merged = match self.allocations.remove(&set.window) {
            Some(held) => {
                let mut clusters = held.clusters;
                clusters.extend(set.clusters);
                let mut allocations = held.allocations;
                allocations.extend(set.allocations);
                AllocationSet::new(clusters, set.window, allocations)
            }
            None => set,
        };
        self.allocations.insert(merged.window, merged);
    }

    /// Adds an asset set; one already held for its window is combined with it.
    pub fn add_assets(&mut self, set: AssetSet) {
        let merged = match self.assets.remove(&set.window) {
            Some(held) => AssetSet::combine(&[held, set.clone()]).unwrap_or(set),
            None => set,
        };
        self.assets.insert(merged.window, merged);
    }

    /// How many allocation rows the source holds over all days.
    pub fn allocation_rows(&self) -> usize {
        self.allocations.values().map(|s| s.allocations.len()).sum()
    }
}

impl EtlSource for MemorySource {
    fn allocation_day(&self, day: Window) -> BoxFuture<'_, Result<Option<AllocationSet>, SourceError>> {
        let set = self.allocations.get(&day).cloned();
        Box::pin(async move { Ok(set) })
    }

    fn asset_day(&self, day: Window) -> BoxFuture<'_, Result<Option<AssetSet>, SourceError>> {
        let set = self.assets.get(&day).cloned();
        Box::pin(async move { Ok(set) })
    }

    fn allocation_name(&self, day: Window) -> String {
        format!("memory allocations {}", day.file_stem())
    }

    fn asset_name(&self, day: Window) -> String {
        format!("memory assets {}", day.file_stem())
    }
}

/// The central bucket's combined daily objects, read through [`Store`].
#[derive(Clone, Debug)]
pub struct StoreSource {
    store: Store,
}

/// Whether S3 said the object does not exist (a missing bucket stays an error).
fn is_missing(e: &FederationError) -> bool {
    matches!(e, FederationError::S3 { failure: S3Failure::NotFound, message, .. } if !message.starts_with("NoSuchBucket"))
}

fn checked<T>(key: String, day: Window, found: Window, set: T) -> Result<Option<T>, SourceError> {
    if found == day {
        Ok(Some(set))
    } else {
        Err(SourceError::WrongWindow { key, expected: day, found })
    }
}

impl StoreSource {
    pub fn new(store: Store) -> StoreSource {
        StoreSource { store }
    }
}

impl EtlSource for StoreSource {
    fn allocation_object(&self, day: Window) -> BoxFuture<'_, Result<DayObject, SourceError>> {
        Box::pin(async move {
            let key = Store::allocation_key(COMBINED, day);
            match self.store.fetch_unverified(&key, ampfed_federation::parquet::MAX_OBJECT_BYTES).await {
                Ok(fetched) => {
                    Ok(DayObject::Object { key, bytes: Bytes::from(fetched.bytes), etag: Some(fetched.etag) })
                }
                Err(e) if is_missing(&e) => Ok(DayObject::Missing),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn allocation_day(&self, day: Window) -> BoxFuture<'_, Result<Option<AllocationSet>, SourceError>> {
        Box::pin(async move {
            let key = Store::allocation_key(COMBINED, day);
            match self.store.get_set(&key).await {
                Ok(set) => {
                    let found = set.window;
                    checked(key, day, found, set)
                }
                Err(e) if is_missing(&e) => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn asset_day(&self, day: Window) -> BoxFuture<'_, Result<Option<AssetSet>, SourceError>> {
        Box::pin(async move { Ok(self.asset_day_versioned(day).await?.map(|(set, _)| set)) })
    }

    fn asset_day_versioned(
        &self,
        day: Window,
    ) -> BoxFuture<'_, Result<Option<Versioned<AssetSet>>, SourceError>> {
        Box::pin(async move {
            let key = Store::asset_key(COMBINED, day);
            match self.store.get_assets_versioned(&key).await {
                Ok((set, etag)) => {
                    let found = set.window;
                    Ok(checked(key, day, found, set)?.map(|set| (set, Some(etag))))
                }
                Err(e) if is_missing(&e) => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn day_versions(
        &self,
        day: Window,
        with_assets: bool,
    ) -> BoxFuture<'_, Result<Option<DayVersions>, SourceError>> {
        Box::pin(async move {
            let (allocations, assets) =
                (Store::allocation_key(COMBINED, day), Store::asset_key(COMBINED, day));
            let assets = async {
                match with_assets {
                    true => self.store.head_etag(&assets).await,
                    false => Ok(None),
                }
            };
            let (allocations, assets) = tokio::join!(self.store.head_etag(&allocations), assets);
            Ok(Some(DayVersions { allocations: allocations?, assets: assets? }))
        })
    }

    fn allocation_name(&self, day: Window) -> String {
        Store::allocation_key(COMBINED, day)
    }

    fn asset_name(&self, day: Window) -> String {
        Store::asset_key(COMBINED, day)
    }
}
