//! The engine holds one day's rows plus the answer's keys, never rows × days: 30 days of
//! 1,000 allocations in 3 namespaces, checked by the rows held (`Stats`), not by timing.

use ampfed_allocation::{AllocationSet, Window, DAY_SECS};
use ampfed_api::{allocation_sets, AllocationRequest, Limits, MemorySource};

use crate::{allocation, close, JAN1};

const DAYS: i64 = 30;
const ROWS: usize = 1000;

fn big_source() -> MemorySource {
    let mut s = MemorySource::new();
    for d in 0..DAYS {
        let w = Window { start: JAN1 + d * DAY_SECS, end: JAN1 + (d + 1) * DAY_SECS };
        let rows = (0..ROWS)
            .map(|i| {
                let ns = ["a", "b", "c"][i % 3];
                allocation(["c1", &format!("n{}", i % 7), ns, &format!("pod-{i}")], None, w, 0.01, 0.001)
            })
            .collect();
        s.add_allocations(AllocationSet::new(vec!["c1".into()], w, rows));
    }
    assert_eq!(s.allocation_rows(), 30_000);
    s
}

async fn run(query: &str) -> (Vec<(Window, usize, f64)>, ampfed_api::Stats) {
    // 2026-01-30T12:00:00Z: `30d` is 2026-01-01 to 2026-01-31.
    let now = JAN1 + (DAYS - 1) * DAY_SECS + 12 * 3600;
    let req = AllocationRequest::parse(query, now, &Limits::default()).unwrap();
    let (sets, stats) = allocation_sets(&big_source(), &req).await.unwrap();
    let sets = sets
        .into_iter()
        .map(|(w, rows)| (w, rows.len(), rows.values().map(|a| a.total_cost).sum()))
        .collect();
    (sets, stats)
}

#[tokio::test]
async fn accumulating_thirty_days_holds_one_day_and_the_keys() {
    let (sets, stats) =
        run("window=30d&aggregate=namespace&accumulate=true&idle=false&shareTenancyCosts=false").await;
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].0.duration_secs(), 30 * DAY_SECS);
    assert_eq!(sets[0].1, 3);
    close(sets[0].2, 30.0 * 1000.0 * 0.011);
    assert_eq!(stats.days_read, 30);
    assert_eq!(stats.rows_read, 30_000);
    // One day's 1,000 raw rows and its 3 keys, the step's 3 and the group's 3.
    assert!(stats.peak_rows_held <= ROWS + 3 * 3, "{stats:?}");
    assert!(stats.missing_days.is_empty());
}

#[tokio::test]
async fn daily_sets_hold_the_answer_and_one_day() {
    let (sets, stats) = run("window=30d&aggregate=namespace&idle=false&shareTenancyCosts=false").await;
    assert_eq!(sets.len(), 30);
    assert!(sets.iter().all(|s| s.1 == 3));
    // The answer itself is 30 × 3 rows; the day being computed adds its 1,000 and 3.
    assert!(stats.peak_rows_held <= ROWS + 3 * 30 + 3 * 3, "{stats:?}");
    let weeks =
        run("window=30d&aggregate=namespace&idle=false&shareTenancyCosts=false&accumulate=week").await.0;
    // 2026-01-01 is a Thursday: Thursday to Saturday, three Sunday-to-Saturday weeks, then
    // Sunday 01-25 to Friday 01-30, where the window ends.
    assert_eq!(weeks.iter().map(|w| w.0.duration_secs() / DAY_SECS).collect::<Vec<_>>(), [3, 7, 7, 7, 6]);
}
