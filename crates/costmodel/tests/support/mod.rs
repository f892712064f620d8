//! What the hand-worked tests share: the day (2026-01-01 UTC), a tolerance check, and
//! results of cluster `c1` built by hand (labels with `cluster_id="c1"`, instant samples at the
//! day's end, subquery series with a point every 300 s).

#![allow(dead_code)]

use std::collections::BTreeMap;

use ampfed_allocation::Window;
use ampfed_prom::{InstantSample, RangeSeries};

pub(crate) const START: i64 = 1_767_225_600;
pub(crate) const H: i64 = 3600;
pub(crate) const DAY: Window = Window { start: START, end: START + 24 * H };
pub(crate) const GIB: f64 = 1_073_741_824.0;

pub(crate) fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-9 * want.abs().max(1.0), "got {got}, want {want}");
}

pub(crate) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    l.insert("cluster_id".into(), "c1".into());
    l
}

pub(crate) fn s(pairs: &[(&str, &str)], value: f64) -> InstantSample {
    InstantSample { labels: labels(pairs), timestamp: DAY.end as f64, value }
}

/// Points every 300 s from `from` to `to` hours into the day, inclusive.
pub(crate) fn span(pairs: &[(&str, &str)], from: i64, to: i64) -> RangeSeries {
    let points = (START + from * H..=START + to * H).step_by(300).map(|t| (t as f64, 1.0)).collect();
    RangeSeries { labels: labels(pairs), points }
}
