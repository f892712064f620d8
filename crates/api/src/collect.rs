//! Streaming accumulation: per-key rows of each day are merged into their step, finished
//! steps into their accumulation group (all steps, a Sunday-to-Saturday week, a month), and
//! only finished groups are kept. What is held is one day's rows while it is computed plus
//! one row per key per open step, open group and finished set; [`Stats`] records the most
//! ever held, so tests can check the bound without timing anything.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use ampfed_allocation::{Allocation, Window};

use crate::window::{is_month_end, is_saturday};

/// How steps are accumulated (`accumulate=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Accumulate {
    /// One set per step (`false`).
    #[default]
    None,
    /// All steps into one set (`true`).
    All,
    /// Daily sets, one per day (`day`; the bucket's sets are already daily).
    Day,
    /// Daily sets into Sunday-to-Saturday weeks (`week`).
    Week,
    /// Daily sets into calendar months (`month`).
    Month,
}

/// Rows that add into one another by key.
pub trait Merge: Clone {
    fn merge(&mut self, other: Self);
}

impl Merge for Allocation {
    /// [`Allocation::add`], keeping the union of labels, annotations and services as
    /// [`ampfed_allocation::AllocationSet::accumulate`] does.
    fn merge(&mut self, other: Allocation) {
        let mut labels = std::mem::take(&mut self.properties.labels);
        let mut annotations = std::mem::take(&mut self.properties.annotations);
        let mut services = std::mem::take(&mut self.properties.services);
        labels.extend(other.properties.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        annotations.extend(other.properties.annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
        services.extend(other.properties.services.iter().cloned());
        services.sort();
        services.dedup();
        self.add(&other);
        self.properties.labels = labels;
        self.properties.annotations = annotations;
        self.properties.services = services;
    }
}

/// What a query read and held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Days whose sets were read.
    pub days_read: usize,
    /// Rows (allocations, or assets) in the sets read.
    pub rows_read: usize,
    /// The most rows held at once: the day being computed (its raw rows and its per-key
    /// rows) plus every open step, open group and finished set.
    pub peak_rows_held: usize,
    /// Days of the window with no set in the source.
    pub missing_days: Vec<Window>,
}

/// Sets by key, each with its window.
pub type Sets<T> = Vec<(Window, BTreeMap<String, T>)>;

fn merge_into<T: Merge>(into: &mut BTreeMap<String, T>, rows: BTreeMap<String, T>) {
    for (k, v) in rows {
        match into.entry(k) {
            Entry::Occupied(mut e) => e.get_mut().merge(v),
            Entry::Vacant(e) => {
                e.insert(v);
            }
        }
    }
}

fn union(a: Window, b: Window) -> Window {
    Window { start: a.start.min(b.start), end: a.end.max(b.end) }
}

/// Collects a query's days into its answer's sets.
#[derive(Debug)]
pub struct Collector<T> {
    accumulate: Accumulate,
    done: Sets<T>,
    done_rows: usize,
    group: Option<(Window, BTreeMap<String, T>)>,
    step: Option<(Window, BTreeMap<String, T>)>,
    stats: Stats,
}

impl<T: Merge> Collector<T> {
    pub fn new(accumulate: Accumulate) -> Collector<T> {
        Collector {
            accumulate,
            done: Vec::new(),
            done_rows: 0,
            group: None,
            step: None,
            stats: Stats::default(),
        }
    }

    fn held(&self) -> usize {
        self.done_rows
            + self.group.as_ref().map_or(0, |g| g.1.len())
            + self.step.as_ref().map_or(0, |s| s.1.len())
    }

    /// Opens the step `window`.
    pub fn start_step(&mut self, window: Window) {
        self.step = Some((window, BTreeMap::new()));
    }

    /// Notes that `day` has no set.
    pub fn missing(&mut self, day: Window) {
        self.stats.missing_days.push(day);
    }

    /// Adds one day's per-key `rows`, computed from `raw` rows, into the open step.
    pub fn add_day(&mut self, raw: usize, rows: BTreeMap<String, T>) {
        self.stats.days_read += 1;
        self.stats.rows_read += raw;
        let held = self.held() + raw + rows.len();
        self.stats.peak_rows_held = self.stats.peak_rows_held.max(held);
        if let Some((_, step)) = self.step.as_mut() {
            merge_into(step, rows);
        }
    }

    /// Closes the open step; `last` when it is the window's last.
    pub fn end_step(&mut self, last: bool) {
        let Some((window, rows)) = self.step.take() else { return };
        match self.group.as_mut() {
            Some((w, group)) => {
                *w = union(*w, window);
                merge_into(group, rows);
            }
            None => self.group = Some((window, rows)),
        }
        let close = last
            || match self.accumulate {
                Accumulate::None | Accumulate::Day => true,
                Accumulate::All => false,
                Accumulate::Week => is_saturday(window.start),
                Accumulate::Month => is_month_end(window.start),
            };
        if close {
            if let Some(group) = self.group.take() {
                self.done_rows += group.1.len();
                self.done.push(group);
            }
        }
        self.stats.peak_rows_held = self.stats.peak_rows_held.max(self.held());
    }

    /// The finished sets and what was read.
    pub fn finish(mut self) -> (Sets<T>, Stats) {
        self.end_step(true);
        if let Some(group) = self.group.take() {
            self.done.push(group);
        }
        (self.done, self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampfed_allocation::DAY_SECS;

    #[derive(Clone, Debug, PartialEq)]
    struct Sum(f64);

    impl Merge for Sum {
        fn merge(&mut self, other: Sum) {
            self.0 += other.0;
        }
    }

    /// 2025-12-28, a Sunday.
    const SUNDAY: i64 = 1_766_880_000;

    fn run(accumulate: Accumulate, days: i64) -> Sets<Sum> {
        let mut c = Collector::new(accumulate);
        for d in 0..days {
            let w = Window { start: SUNDAY + d * DAY_SECS, end: SUNDAY + (d + 1) * DAY_SECS };
            c.start_step(w);
            c.add_day(10, [("k".to_owned(), Sum(1.0))].into());
            c.end_step(d == days - 1);
        }
        c.finish().0
    }

    #[test]
    fn groups_close_on_saturdays_and_month_ends() {
        assert_eq!(run(Accumulate::None, 3).len(), 3);
        assert_eq!(run(Accumulate::All, 3).len(), 1);
        assert_eq!(run(Accumulate::All, 3)[0].1["k"], Sum(3.0));
        // Sunday 12-28 to Saturday 01-03, then Sunday 01-04 and Monday 01-05.
        let weeks = run(Accumulate::Week, 9);
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0].1["k"], Sum(7.0));
        assert_eq!(weeks[0].0, Window { start: SUNDAY, end: SUNDAY + 7 * DAY_SECS });
        // 12-28 to 12-31 (4 days), then 01-01 to 01-05.
        let months = run(Accumulate::Month, 9);
        assert_eq!(months.iter().map(|m| m.1["k"].0).collect::<Vec<_>>(), [4.0, 5.0]);
    }
}
