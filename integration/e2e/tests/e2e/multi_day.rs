//! `--days`, `--epoch`, `--cluster-label` and `--label-style` through the real path: three
//! UTC days across a month end, under Kubecost's other common cluster label, with the legacy
//! cAdvisor labels on every cluster.

use ampfed_clustersim::LabelStyle;
use ampfed_e2e::sim::{parse_epoch, Settings};

#[test]
fn three_days_across_a_month_end_under_another_cluster_label() {
    let epoch = parse_epoch("2026-02-27").expect("a UTC midnight");
    // 2026-02-27T00:00:00Z, worked out: 2026-01-01 is 1767225600; January has 31 days and
    // February 26 more before the 27th: 57 days × 86400 s later.
    assert_eq!(epoch, 1_767_225_600 + 57 * 86_400);
    let settings = Settings {
        epoch,
        days: 3,
        cluster_label: "cluster".into(),
        label_style: Some(LabelStyle::Legacy),
        ..Settings::default()
    };
    let outcome = crate::run_options(None, None, settings).unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let s = &outcome.summary;
    assert_eq!(s.clusters, ["cluster-a", "cluster-b", "cluster-c"]);
    // Counted per cluster under the `cluster` label: nothing lost over three days.
    assert_eq!(s.samples_stored, s.samples_written);
    // One daily set per cluster and day, each filed under its UTC day (Feb 27, 28, Mar 1).
    assert_eq!(s.etl_objects.len(), 9);
    let days = [
        (epoch, epoch + 86_400),
        (epoch + 86_400, epoch + 2 * 86_400),
        (epoch + 2 * 86_400, epoch + 3 * 86_400),
    ];
    for (i, cluster) in s.clusters.iter().enumerate() {
        for (d, (start, end)) in days.iter().enumerate() {
            assert_eq!(
                s.etl_objects[i * 3 + d],
                format!("federated/{cluster}/etl/allocations/1d/{start}-{end}.parquet")
            );
        }
    }
    assert_eq!(s.combined_objects.len(), 3);
    // The combined answer spans the three days: the always-running node agents ran 3 × 1440
    // minutes per pod, once per day.
    let window = &outcome.combined.window;
    assert_eq!((window.start, window.end), (epoch, epoch + 3 * 86_400));
    let cluster_a = outcome.combined.allocations.iter().filter(|a| a.properties.cluster == "cluster-a");
    let agents: Vec<_> = cluster_a.filter(|a| a.properties.container == "aws-node").collect();
    // cluster-a has three nodes: three aws-node pods a day.
    assert_eq!(agents.len(), 9);
    assert!(agents.iter().all(|a| a.minutes == 1440.0));
}
