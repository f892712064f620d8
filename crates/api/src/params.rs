//! Query strings → requests: Kubecost's parameters of `/model/allocation` and `/model/assets`
//! checked and mapped onto [`AllocationRequest`] (`QueryOptions` for `ampfed_allocation::query`)
//! and [`AssetRequest`]. Every refusal is a 400 naming the parameter and what it allows.
//!
//! Booleans parse like Go's `strconv.ParseBool`; lists are comma-separated and trimmed; a
//! parameter given twice, an unknown one, or a Kubecost parameter ampfed does not compute
//! (with other than its no-op value) is refused rather than ignored.

use std::collections::BTreeMap;

use ampfed_allocation::{parse_properties, sanitize, QueryOptions, ShareSplit, Window, DAY_SECS};

use crate::collect::Accumulate;
use crate::error::ApiError;
use crate::filter::{FieldSet, Filter, ALLOCATION_FIELDS, ASSET_FIELDS};
use crate::window::{daily, describe, hourly, parse_duration, parse_window, step_count, steps, HOUR_SECS};

/// Bounds on what one query may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest window, in days.
    pub max_window_days: i64,
    /// Longest window at hourly resolution (one not of whole UTC days, or a step of hours),
    /// in hours: each hour is a set of its own to read.
    pub max_window_hours: i64,
    /// Most sets one query may be cut into.
    pub max_steps: i64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_window_days: 400, max_window_hours: 7 * 24, max_steps: 400 }
    }
}

/// A checked `/model/allocation` query.
#[derive(Clone, Debug, PartialEq)]
pub struct AllocationRequest {
    /// Whole UTC days, or whole UTC hours (`unit`).
    pub window: Window,
    /// Whole units, in seconds.
    pub step: i64,
    /// The sets read: a day ([`DAY_SECS`], `…/1d/`) or an hour (3600, `…/1h/`).
    pub unit: i64,
    pub accumulate: Accumulate,
    pub options: QueryOptions,
    pub filter: Option<Filter>,
}

/// One property to aggregate assets by (`aggregate=` of `/model/assets`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssetProperty {
    Account,
    Category,
    Cluster,
    Name,
    Project,
    Provider,
    ProviderId,
    Service,
    Type,
    /// `label:<key>`, the key sanitised.
    Label(String),
}

/// A checked `/model/assets` query.
#[derive(Clone, Debug, PartialEq)]
pub struct AssetRequest {
    pub window: Window,
    pub step: i64,
    /// As [`AllocationRequest::unit`].
    pub unit: i64,
    pub accumulate: Accumulate,
    /// Empty: one entry per asset.
    pub aggregate: Vec<AssetProperty>,
    pub filter: Option<Filter>,
    /// `disableAdjustments=true`: adjustments left out of every cost.
    pub disable_adjustments: bool,
}

const ALLOCATION_PARAMS: &[&str] = &[
    "window",
    "aggregate",
    "step",
    "accumulate",
    "idle",
    "includeIdle",
    "shareIdle",
    "splitIdle",
    "idleByNode",
    "shareNamespaces",
    "shareLabels",
    "shareSplit",
    "shareTenancyCosts",
    "filter",
    "format",
];

const ASSET_PARAMS: &[&str] =
    &["window", "aggregate", "step", "accumulate", "filter", "disableAdjustments", "format"];

/// Kubecost parameters ampfed does not compute, and the one value each may have (what ampfed
/// does anyway).
const NOT_COMPUTED: &[(&str, &str)] = &[
    ("shareCost", "0"),
    ("reconcile", "false"),
    ("external", "false"),
    ("includeSharedCostBreakdown", "false"),
    ("includeProportionalAssetResourceCosts", "false"),
    ("includeAggregatedMetadata", "false"),
    ("sharelb", "false"),
    ("costUnit", "cumulative"),
    ("offset", "0"),
];

/// Kubecost's older filter parameters, read only without `filter`.
const OLD_FILTERS: &[&str] = &[
    "filterClusters",
    "filterNodes",
    "filterNamespaces",
    "filterControllerKinds",
    "filterControllers",
    "filterPods",
    "filterContainers",
    "filterLabels",
    "filterAnnotations",
    "filterServices",
    "filterDepartments",
    "filterEnvironments",
    "filterOwners",
    "filterProducts",
    "filterTeams",
];

/// The decoded parameters of a query string.
#[derive(Clone, Debug, Default)]
struct Params(BTreeMap<String, String>);

fn parse_query(query: &str, endpoint: &str, allowed: &[&str]) -> Result<Params, ApiError> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let (k, v) = (k.into_owned(), v.into_owned());
        if k.is_empty() && v.is_empty() {
            continue;
        }
        if out.contains_key(&k) {
            return Err(ApiError::bad(&k, "given more than once; give it once"));
        }
        if !allowed.contains(&k.as_str()) {
            if let Some((_, value)) = NOT_COMPUTED.iter().find(|(name, _)| *name == k) {
                if v.trim().eq_ignore_ascii_case(value) {
                    continue;
                }
                return Err(ApiError::bad(
                    &k,
                    format!("ampfed does not compute it (see docs/allocation-api.md); leave it out or give {value}"),
                ));
            }
            if OLD_FILTERS.contains(&k.as_str()) {
                return Err(ApiError::bad(
                    &k,
                    "Kubecost's older filter parameters are not read: use filter= (filter language v2), \
                     e.g. filter=namespace:\"kube-system\"",
                ));
            }
            return Err(ApiError::bad(
                &k,
                format!("{endpoint} takes no such parameter; it takes {}", allowed.join(", ")),
            ));
        }
        out.insert(k, v);
    }
    Ok(Params(out))
}

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    fn boolean(&self, k: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| {
                ApiError::bad(k, format!("{v:?} is not a boolean: use true or false (or 1, t, T, TRUE, True, 0, f, F, FALSE, False)"))
            }),
        }
    }

    fn list(&self, k: &str) -> Vec<String> {
        self.get(k)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The window and the unit of the sets it is read in: whole UTC days when it runs from
/// midnight to midnight and no step of hours is asked for, else whole UTC hours.
fn window(p: &Params, now: i64, limits: &Limits) -> Result<(Window, i64), ApiError> {
    let Some(text) = p.get("window") else {
        return Err(ApiError::bad(
            "window",
            "it is required: e.g. window=today, window=7d, window=lastweek or \
             window=2026-01-01T00:00:00Z,2026-01-08T00:00:00Z",
        ));
    };
    let parsed = parse_window(text, now).map_err(|m| ApiError::bad("window", m))?;
    let hourly_step = match p.get("step") {
        Some(s) => parse_duration(s).map_err(|m| ApiError::bad("step", m))? % DAY_SECS != 0,
        None => false,
    };
    let daily = daily(parsed, now, text);
    if let (Ok(w), false) = (&daily, hourly_step) {
        let days = w.duration_secs() / DAY_SECS;
        if days > limits.max_window_days {
            return Err(ApiError::bad(
                "window",
                format!(
                    "{text:?} covers {days} days ({}); at most {} are served",
                    describe(*w),
                    limits.max_window_days
                ),
            ));
        }
        return Ok((*w, DAY_SECS));
    }
    let w = hourly(parsed, now, text).map_err(|m| ApiError::bad("window", m))?;
    let hours = w.duration_secs() / HOUR_SECS;
    if hours > limits.max_window_hours {
        let why = if hourly_step { "a step of hours" } else { "not whole UTC days" };
        return Err(ApiError::bad(
            "window",
            format!(
                "{text:?} ({}) is read by the hour ({why}): {hours} hours, at most {} are served; \
                 use whole days (a pair of midnights, Nd) or a shorter window",
                describe(w),
                limits.max_window_hours
            ),
        ));
    }
    Ok((w, HOUR_SECS))
}

fn step(p: &Params, w: Window, unit: i64, limits: &Limits) -> Result<i64, ApiError> {
    let step = match p.get("step") {
        None => unit,
        Some(s) => {
            let secs = parse_duration(s).map_err(|m| ApiError::bad("step", m))?;
            if secs <= 0 || secs % unit != 0 {
                return Err(ApiError::bad(
                    "step",
                    format!(
                        "{s:?} is not whole hours: the bucket holds daily and hourly sets, so use 1h, 6h, 1d, 1w, …"
                    ),
                ));
            }
            secs
        }
    };
    let count = step_count(w, step);
    if count > limits.max_steps {
        return Err(ApiError::bad(
            "step",
            format!(
                "the window would be cut into {count} sets; at most {} are served: use a longer step",
                limits.max_steps
            ),
        ));
    }
    Ok(step)
}

fn accumulate(p: &Params, step: i64, unit: i64) -> Result<Accumulate, ApiError> {
    let Some(v) = p.get("accumulate") else { return Ok(Accumulate::None) };
    if let Some(b) = parse_bool(v) {
        return Ok(if b { Accumulate::All } else { Accumulate::None });
    }
    let needs_days = |a: Accumulate, name: &str| {
        if step == DAY_SECS && unit == DAY_SECS {
            Ok(a)
        } else {
            Err(ApiError::bad(
                "accumulate",
                format!("{name} accumulates daily sets: use it with step=1d (the default)"),
            ))
        }
    };
    match v.to_ascii_lowercase().as_str() {
        "all" => Ok(Accumulate::All),
        "none" => Ok(Accumulate::None),
        "day" => needs_days(Accumulate::Day, "day"),
        "week" => needs_days(Accumulate::Week, "week"),
        "month" => needs_days(Accumulate::Month, "month"),
        // One set per hour: what an hourly window with step=1h gives anyway.
        "hour" if unit == HOUR_SECS && step == HOUR_SECS => Ok(Accumulate::None),
        "hour" => Err(ApiError::bad("accumulate", "hour accumulates hourly sets: use it with a window of whole hours and step=1h (or day, week, month, true or false)")),
        "quarter" => Err(ApiError::bad("accumulate", "quarter is not accumulated (OpenCost parses it, its allocation path refuses it): use day, week, month, true or false")),
        _ => Err(ApiError::bad("accumulate", format!("{v:?} is not an accumulation: use true, false, day, week or month"))),
    }
}

fn filter(p: &Params, fields: &FieldSet) -> Result<Option<Filter>, ApiError> {
    let Some(text) = p.get("filter") else { return Ok(None) };
    let f = Filter::parse(text, fields).map_err(|e| ApiError::bad("filter", format!("{e} (in {text:?})")))?;
    Ok((!f.is_empty()).then_some(f))
}

fn format(p: &Params) -> Result<(), ApiError> {
    match p.get("format") {
        None => Ok(()),
        Some(f) if f.eq_ignore_ascii_case("json") => Ok(()),
        Some(f) => Err(ApiError::bad(
            "format",
            format!("{f:?} is not served: only json (Kubecost's csv and pdf are not)"),
        )),
    }
}

impl AllocationRequest {
    /// The request of a `/model/allocation` query string, relative windows against `now`.
    pub fn parse(query: &str, now: i64, limits: &Limits) -> Result<AllocationRequest, ApiError> {
        let p = parse_query(query, "/model/allocation", ALLOCATION_PARAMS)?;
        format(&p)?;
        let (window, unit) = window(&p, now, limits)?;
        let step = step(&p, window, unit, limits)?;
        let accumulate = accumulate(&p, step, unit)?;
        let mut options = QueryOptions::default();
        if let Some(agg) = p.get("aggregate").filter(|a| !a.trim().is_empty()) {
            options.aggregate =
                parse_properties(agg).map_err(|e| ApiError::bad("aggregate", e.to_string()))?;
        }
        if p.get("idle").is_some() && p.get("includeIdle").is_some() {
            return Err(ApiError::bad(
                "includeIdle",
                "OpenCost's name for idle: give idle or includeIdle, not both",
            ));
        }
        let idle_name = if p.get("includeIdle").is_some() { "includeIdle" } else { "idle" };
        options.idle = p.boolean(idle_name, true)?;
        options.share_idle = p.boolean("shareIdle", false)?;
        options.split_idle = p.boolean("splitIdle", false)?;
        options.idle_by_node = p.boolean("idleByNode", false)?;
        options.share_tenancy_costs = p.boolean("shareTenancyCosts", true)?;
        options.share_namespaces = p.list("shareNamespaces");
        for pair in p.list("shareLabels") {
            let Some((k, v)) =
                pair.split_once(':').filter(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty())
            else {
                return Err(ApiError::bad(
                    "shareLabels",
                    format!("{pair:?} is not key:value: give labels as team:platform,env:shared"),
                ));
            };
            options.share_labels.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        if let Some(split) = p.get("shareSplit") {
            options.share_split = split.parse::<ShareSplit>().map_err(|e| ApiError::bad("shareSplit", e))?;
        }
        let filter = filter(&p, &ALLOCATION_FIELDS)?;
        Ok(AllocationRequest { window, step, unit, accumulate, options, filter })
    }

    /// The step windows.
    pub fn steps(&self) -> Vec<Window> {
        steps(self.window, self.step)
    }

    /// Whether the query needs the days' assets (idle or tenancy costs).
    pub fn needs_assets(&self) -> bool {
        self.options.idle || self.options.share_idle || self.options.share_tenancy_costs
    }
}

fn asset_property(s: &str) -> Result<AssetProperty, ApiError> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("label:") && t.len() > "label:".len() {
        return Ok(AssetProperty::Label(sanitize(&t["label:".len()..])));
    }
    Ok(match lower.as_str() {
        "account" => AssetProperty::Account,
        "category" => AssetProperty::Category,
        "cluster" => AssetProperty::Cluster,
        "name" => AssetProperty::Name,
        "project" => AssetProperty::Project,
        "provider" => AssetProperty::Provider,
        "providerid" => AssetProperty::ProviderId,
        "service" => AssetProperty::Service,
        "type" => AssetProperty::Type,
        _ => {
            return Err(ApiError::bad(
                "aggregate",
                format!(
                    "unknown asset aggregate {t:?}: use account, category, cluster, name, project, provider, \
                     providerID, service, type or label:<key>, comma-separated"
                ),
            ))
        }
    })
}

impl AssetRequest {
    /// The request of a `/model/assets` query string, relative windows against `now`.
    pub fn parse(query: &str, now: i64, limits: &Limits) -> Result<AssetRequest, ApiError> {
        let p = parse_query(query, "/model/assets", ASSET_PARAMS)?;
        format(&p)?;
        let (window, unit) = window(&p, now, limits)?;
        let step = step(&p, window, unit, limits)?;
        let accumulate = accumulate(&p, step, unit)?;
        let aggregate = match p.get("aggregate").filter(|a| !a.trim().is_empty()) {
            Some(a) => a.split(',').map(asset_property).collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let filter = filter(&p, &ASSET_FIELDS)?;
        let disable_adjustments = p.boolean("disableAdjustments", false)?;
        Ok(AssetRequest { window, step, unit, accumulate, aggregate, filter, disable_adjustments })
    }

    /// The step windows.
    pub fn steps(&self) -> Vec<Window> {
        steps(self.window, self.step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampfed_allocation::Aggregate;

    /// 2026-01-03T12:00:00Z.
    const NOW: i64 = 1_767_441_600;

    fn alloc(q: &str) -> Result<AllocationRequest, String> {
        AllocationRequest::parse(q, NOW, &Limits::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn parameters_map_onto_query_options() {
        let r = alloc(
            "window=7d&aggregate=cluster,label:team&accumulate=true&idle=false&shareIdle=T&splitIdle=1\
             &idleByNode=true&shareNamespaces=kube-system,%20kubecost&shareLabels=team:platform\
             &shareSplit=even&shareTenancyCosts=false&filter=namespace:%22a%22%2Bcluster:%22c1%22",
        )
        .unwrap();
        assert_eq!(r.window.duration_secs(), 7 * DAY_SECS);
        assert_eq!(r.step, DAY_SECS);
        assert_eq!(r.accumulate, Accumulate::All);
        let o = &r.options;
        assert_eq!(o.aggregate, [Aggregate::Cluster, Aggregate::Label("team".into())]);
        assert!(!o.idle && o.share_idle && o.split_idle && o.idle_by_node && !o.share_tenancy_costs);
        assert_eq!(o.share_namespaces, ["kube-system", "kubecost"]);
        assert_eq!(o.share_labels, [("team".to_owned(), "platform".to_owned())]);
        assert_eq!(o.share_split, ShareSplit::Even);
        assert!(r.filter.is_some());
        assert!(r.needs_assets(), "shareIdle needs the assets");
        let d = alloc("window=today").unwrap();
        assert_eq!(d.options, QueryOptions::default(), "Kubecost's defaults");
        assert!(d.needs_assets());
        assert!(!alloc("window=today&includeIdle=false").unwrap().options.idle);
        assert!(alloc("window=today&filter=").unwrap().filter.is_none());
        assert!(alloc("window=today&reconcile=false&format=json").is_ok());
    }

    #[test]
    fn windows_of_whole_hours_are_read_by_the_hour() {
        // 2026-01-03T12:00:00Z: 24h ends with the hour in progress (13:00) and starts 24 hours
        // before: 24 hourly sets.
        let r = alloc("window=24h&aggregate=namespace").unwrap();
        assert_eq!(
            (r.window.start, r.window.end, r.unit, r.step),
            (NOW + 3600 - 86_400, NOW + 3600, 3600, 3600)
        );
        assert_eq!(r.steps().len(), 24);
        // A day-aligned window with a step of hours is read by the hour too.
        let r = alloc("window=today&step=6h").unwrap();
        assert_eq!((r.unit, r.steps().len()), (3600, 4));
        // An end at `now` inside an hour runs to the end of that hour (the hour in progress).
        let r = AllocationRequest::parse("window=2h", NOW + 1800, &Limits::default()).unwrap();
        assert_eq!((r.window.start, r.window.end), (NOW - 3600, NOW + 3600));
        // Whole days stay daily, and accumulate=hour is one set per hour of an hourly window.
        assert_eq!(alloc("window=7d").unwrap().unit, DAY_SECS);
        let r = alloc("window=2026-01-03T08:00:00Z,2026-01-03T11:00:00Z&accumulate=hour").unwrap();
        assert_eq!((r.accumulate, r.steps().len()), (Accumulate::None, 3));
        let a = AssetRequest::parse("window=6h&accumulate=true", NOW, &Limits::default()).unwrap();
        assert_eq!((a.unit, a.accumulate), (3600, Accumulate::All));
    }

    #[test]
    fn refusals_name_the_parameter_and_what_it_allows() {
        let cases = [
            ("aggregate=namespace", "invalid 'window' parameter: it is required"),
            ("window=bogus", "invalid 'window' parameter: \"bogus\" is not a window: use today"),
            ("window=2026-01-01T10:30:00Z,2026-01-01T12:00:00Z", "not at a whole UTC hour"),
            ("window=500d", "covers 500 days"),
            ("window=200h", "200 hours, at most 168 are served"),
            ("window=8d&step=6h&aggregate=namespace", "a step of hours"),
            ("window=today&aggregate=colour", "invalid 'aggregate' parameter: unknown aggregate \"colour\""),
            ("window=today&idle=yes", "invalid 'idle' parameter: \"yes\" is not a boolean"),
            ("window=today&accumulate=hour", "use it with a window of whole hours and step=1h"),
            ("window=6h&step=2h&accumulate=day", "use it with step=1d"),
            ("window=today&accumulate=sometimes", "is not an accumulation"),
            ("window=7d&step=2d&accumulate=week", "use it with step=1d"),
            ("window=today&step=90m", "is not whole hours"),
            ("window=today&step=fortnight", "is not a duration"),
            ("window=today&shareSplit=odd", "unknown shareSplit"),
            ("window=today&shareLabels=team", "is not key:value"),
            ("window=today&filter=namespace=%22a%22", "invalid 'filter' parameter: at position 10"),
            ("window=today&window=7d", "given more than once"),
            (
                "window=today&colour=red",
                "invalid 'colour' parameter: /model/allocation takes no such parameter; it takes window",
            ),
            ("window=today&shareCost=5", "ampfed does not compute it"),
            ("window=today&filterNamespaces=a", "use filter="),
            ("window=today&format=csv", "only json"),
            ("window=today&idle=true&includeIdle=true", "not both"),
        ];
        for (q, want) in cases {
            let err = alloc(q).unwrap_err();
            assert!(err.contains(want), "{q}: {err}");
        }
        let tight = Limits { max_steps: 3, ..Limits::default() };
        let err = AllocationRequest::parse("window=7d", NOW, &tight).unwrap_err().to_string();
        assert!(err.contains("cut into 7 sets; at most 3"), "{err}");
    }

    #[test]
    fn asset_parameters() {
        let r = AssetRequest::parse(
            "window=yesterday&aggregate=type,Cluster,label:node.pool&accumulate=true&disableAdjustments=true",
            NOW,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            r.aggregate,
            [AssetProperty::Type, AssetProperty::Cluster, AssetProperty::Label("node_pool".into())]
        );
        assert!(r.disable_adjustments);
        let err =
            AssetRequest::parse("window=today&aggregate=namespace", NOW, &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("unknown asset aggregate \"namespace\""), "{err}");
        let err = AssetRequest::parse("window=today&idle=false", NOW, &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("/model/assets takes no such parameter"), "{err}");
    }
}
