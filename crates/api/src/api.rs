//! The API without HTTP: [`Api::get`] answers a request target (`/model/allocation?…`) with a
//! [`Reply`], which the server writes as JSON and [`crate::render_table`] as a table. Also
//! [`query_bucket`], one query against a bucket from a blocking caller (the xtask).
//!
//! Endpoints: `/model/allocation` (and OpenCost's `/allocation`, `/allocation/compute`),
//! `/model/assets` (and `/assets`), `/healthz`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ampfed_federation::{Store, StoreConfig};
use tokio::sync::Semaphore;

use crate::allocations::allocation_sets_cached;
use crate::assets::asset_sets;
use crate::cache::DayCache;
use crate::collect::Stats;
use crate::error::ApiError;
use crate::json::{AllocationJson, Reply, ReplyBody, Step};
use crate::params::{AllocationRequest, AssetRequest, Limits};
use crate::source::{EtlSource, StoreSource};
use crate::window::rfc3339;

/// Day answer rows kept by default: a few hundred days of answers by namespace or controller
/// of a thousand clusters, some hundred MiB at most.
pub const DEFAULT_CACHE_ROWS: usize = 200_000;

/// How the API runs; [`Default`] is loopback port 9090 and the limits below.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiConfig {
    /// Where the server listens: a loopback address only (port 0 picks a free one).
    pub listen: SocketAddr,
    /// "Now" for relative windows (unix seconds); `None` for the system clock. Set it to
    /// query simulated days (`window=yesterday` of a simulated 2026-01-08).
    pub now: Option<i64>,
    pub limits: Limits,
    /// Longest request target (path and query string), in bytes; 414 beyond.
    pub max_target_bytes: usize,
    /// Most request headers; the connection is refused beyond (431).
    pub max_headers: usize,
    /// How long a request head may take to arrive (and an idle keep-alive connection stay).
    pub header_read_timeout: Duration,
    /// How long one query may take (504 after it).
    pub request_timeout: Duration,
    /// Connections served at a time; more wait in the listen backlog.
    pub max_connections: usize,
    /// Queries computed at a time; more wait (within their request timeout).
    pub max_concurrent_queries: usize,
    /// Rows of day answers kept for repeated requests ([`crate::cache`]); 0 keeps none.
    pub cache_rows: usize,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 9090)),
            now: None,
            limits: Limits::default(),
            max_target_bytes: 8 * 1024,
            max_headers: 64,
            header_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            max_connections: 64,
            max_concurrent_queries: 2,
            cache_rows: DEFAULT_CACHE_ROWS,
        }
    }
}

impl ApiConfig {
    /// Refuses a listen address beyond loopback.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.listen.ip().is_loopback() {
            Ok(())
        } else {
            Err(ApiError::NotLoopback { addr: self.listen })
        }
    }
}

/// The API over one ETL source.
pub struct Api {
    source: Arc<dyn EtlSource>,
    config: ApiConfig,
    queries: Semaphore,
    cache: DayCache,
}

/// The warning of an answer with days missing.
fn missing_warning(stats: &Stats) -> Option<String> {
    let missing = &stats.missing_days;
    if missing.is_empty() {
        return None;
    }
    // Days by their date, hours by their start time.
    let hours = missing.iter().any(|w| w.duration_secs() < ampfed_allocation::DAY_SECS);
    let shown: Vec<String> = missing
        .iter()
        .take(5)
        .map(|d| if hours { rfc3339(d.start) } else { rfc3339(d.start)[..10].to_owned() })
        .collect();
    let more = if missing.len() > shown.len() {
        format!(" and {} more", missing.len() - shown.len())
    } else {
        String::new()
    };
    let unit = if hours { "hour" } else { "day" };
    Some(format!("no data for {} {unit}(s): {}{more}", missing.len(), shown.join(", ")))
}

impl Api {
    pub fn new(source: Arc<dyn EtlSource>, config: ApiConfig) -> Api {
        let queries = Semaphore::new(config.max_concurrent_queries.clamp(1, Semaphore::MAX_PERMITS));
        let cache = DayCache::new(config.cache_rows);
        Api { source, config, queries, cache }
    }

    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    /// Day answers and their rows held for repeated requests.
    pub fn cached(&self) -> (usize, usize) {
        self.cache.held()
    }

    /// "Now": the configured time, or the system clock's.
    pub fn now(&self) -> i64 {
        self.config.now.unwrap_or_else(|| chrono::Utc::now().timestamp())
    }

    /// Answers one request target, `path?query`.
    pub async fn get(&self, target: &str) -> Reply {
        if target.len() > self.config.max_target_bytes {
            return Reply::error(
                414,
                format!(
                    "the request target is {} bytes; at most {} are read",
                    target.len(),
                    self.config.max_target_bytes
                ),
            );
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let answer = match path {
            "/model/allocation" | "/allocation" | "/allocation/compute" => self.allocation(query).await,
            "/model/assets" | "/assets" => self.assets(query).await,
            "/healthz" => Ok(Reply { code: 200, body: ReplyBody::Healthy, warning: None }),
            _ => Err(ApiError::NotFound(format!(
                "no endpoint {path:?}: use /model/allocation?window=… or /model/assets?window=…"
            ))),
        };
        answer.unwrap_or_else(|e| Reply::error(e.status(), e.to_string()))
    }

    async fn allocation(&self, query: &str) -> Result<Reply, ApiError> {
        let req = AllocationRequest::parse(query, self.now(), &self.config.limits)?;
        let _turn = self.queries.acquire().await.map_err(|e| ApiError::Data(e.to_string()))?;
        let (sets, stats) = allocation_sets_cached(self.source.as_ref(), &req, &self.cache).await?;
        let steps = sets
            .into_iter()
            .map(|(window, rows)| Step {
                window,
                entries: rows.iter().map(|(k, a)| (k.clone(), AllocationJson::new(k, a, window))).collect(),
            })
            .collect();
        Ok(Reply { code: 200, body: ReplyBody::Allocations(steps), warning: missing_warning(&stats) })
    }

    async fn assets(&self, query: &str) -> Result<Reply, ApiError> {
        let req = AssetRequest::parse(query, self.now(), &self.config.limits)?;
        let _turn = self.queries.acquire().await.map_err(|e| ApiError::Data(e.to_string()))?;
        let (sets, stats) = asset_sets(self.source.as_ref(), &req).await?;
        let steps = sets
            .into_iter()
            .map(|(window, rows)| Step {
                window,
                entries: rows.iter().map(|(k, r)| (k.clone(), r.to_json(window))).collect(),
            })
            .collect();
        Ok(Reply { code: 200, body: ReplyBody::Assets(steps), warning: missing_warning(&stats) })
    }
}

/// Answers one request target (`/model/allocation?window=7d&aggregate=namespace`) from the
/// combined objects of the bucket `store`, relative windows against `now` (unix seconds;
/// `None` for the clock). Runs its own runtime: call it from blocking code, not from a
/// runtime. Errors of the query itself come back as a `Reply` with an error code.
pub fn query_bucket(store: &StoreConfig, now: Option<i64>, target: &str) -> Result<Reply, ApiError> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ApiError::Runtime)?;
    let reply = runtime.block_on(async {
        let source = Arc::new(StoreSource::new(Store::new(store)));
        let api = Api::new(source, ApiConfig { now, ..ApiConfig::default() });
        api.get(target).await
    });
    Ok(reply)
}
