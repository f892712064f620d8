//! Federators at once: with the lease they take turns; without it, or when one stalls past
//! its lease, conditional writes and deterministic outputs keep the bucket right. Every case
//! ends with `federated/combined/` byte-identical to one clean run.

use std::time::{Duration, Instant};

use ampfed_common::wait::{Poll, Wait};
use ampfed_federation::lease::{Lease, LeaseConfig};
use ampfed_federation::retry::Retry;
use ampfed_federation::{federate_with, FederationError, LeaseOutcome, Options, Store};

use crate::support::{self, combined, day, options, reference, seed, server, set, Gate};

/// Polls until the gated federator's write is held.
async fn until_reached(gate: &Gate) {
    Wait::new("the stalled federator to reach its write", Duration::from_secs(30))
        .backoff(Duration::from_millis(5), Duration::from_millis(50))
        .until(|| async {
            Ok::<_, std::convert::Infallible>(if gate.reached() {
                Poll::Ready(())
            } else {
                Poll::Pending("not yet".into())
            })
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_federators_at_once_take_turns_on_the_lease_and_end_as_one_clean_run() {
    let s3 = server();
    let expected = reference(&s3, "concurrent-lease-ref", 4, 4).await;
    let store = support::store(s3.endpoint(), "concurrent-lease");
    seed(&store, 4, 4).await;
    let started = Instant::now();
    let runs: Vec<_> = ["federator-a", "federator-b"]
        .into_iter()
        .map(|holder| {
            let store = store.clone();
            tokio::spawn(async move {
                let r = federate_with(&store, &options(holder)).await;
                (holder, r, started.elapsed())
            })
        })
        .collect();
    let mut reports = Vec::new();
    for run in runs {
        let (holder, report, took) = run.await.unwrap();
        let report = report.unwrap_or_else(|e| panic!("{holder}: {e}"));
        eprintln!(
            "{holder}: {} windows recombined, {} skipped, {} objects read, {} passes, ended after {} ms",
            report.recombined.len(),
            report.skipped.len(),
            report.objects_read,
            report.passes,
            took.as_millis()
        );
        assert_eq!(report.lease, LeaseOutcome::Acquired);
        reports.push(report);
    }
    let mut work: Vec<usize> = reports.iter().map(|r| r.recombined.len()).collect();
    work.sort();
    assert_eq!(work, [0, 4], "one did the work, the other waited for the lease and found it done");
    assert_eq!(combined(&store).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_federators_without_the_lease_agree_through_conditional_writes() {
    let s3 = server();
    let expected = reference(&s3, "concurrent-nolease-ref", 3, 4).await;
    let store = support::store(s3.endpoint(), "concurrent-nolease");
    seed(&store, 3, 4).await;
    let runs: Vec<_> = (0..3)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let options = Options { lease: false, ..options(&format!("federator-{i}")) };
                federate_with(&store, &options).await
            })
        })
        .collect();
    for (i, run) in runs.into_iter().enumerate() {
        let report = run.await.unwrap().unwrap_or_else(|e| panic!("federator {i}: {e}"));
        eprintln!(
            "federator {i} (no lease): {} recombined, {} passes",
            report.recombined.len(),
            report.passes
        );
        assert_eq!(report.lease, LeaseOutcome::Unused);
    }
    assert_eq!(combined(&store).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_federator_loses_its_write_and_looks_again() {
    let s3 = server();
    let bucket = "concurrent-stale";
    let store = support::store(s3.endpoint(), bucket);
    seed(&store, 3, 2).await;
    federate_with(&store, &options("first")).await.unwrap();

    // Cluster b rewrites day 0; federator A plans with that, then stalls before its write.
    store.put_set("cluster-b", &set("cluster-b", day(0), 5)).await.unwrap();
    let gate = Gate::new("/federated/combined/etl/allocations/");
    let gated = support::gated_store(s3.endpoint(), bucket, &gate);
    let stalled = support::spawn_on_own_thread(move || {
        Box::pin(async move { federate_with(&gated, &Options { lease: false, ..options("stale") }).await })
    });
    until_reached(&gate).await;
    // Meanwhile cluster b rewrites day 0 again, and federator B combines the newest inputs.
    store.put_set("cluster-b", &set("cluster-b", day(0), 6)).await.unwrap();
    let b = federate_with(&store, &Options { lease: false, ..options("fresh") }).await.unwrap();
    assert_eq!(b.recombined, [day(0)]);
    let fresh = combined(&store).await;
    gate.open();
    let a = stalled.join().unwrap().unwrap();
    eprintln!("stale federator: {} passes, {} windows recombined in all", a.passes, a.recombined.len());
    assert!(a.passes >= 2, "its first pass lost the write and ended early");
    // A's stale combination never landed: the bucket is B's, and that of a clean run.
    assert_eq!(combined(&store).await, fresh);
    let clean = support::store(s3.endpoint(), "concurrent-stale-ref");
    seed(&clean, 3, 2).await;
    clean.put_set("cluster-b", &set("cluster-b", day(0), 6)).await.unwrap();
    federate_with(&clean, &options("ref")).await.unwrap();
    assert_eq!(fresh, combined(&clean).await);
    assert_eq!(
        store.get_set(&Store::allocation_key("combined", day(0))).await.unwrap().allocations.len(),
        12
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_lease_holder_is_taken_over_after_its_ttl_and_stops_writing() {
    let s3 = server();
    let bucket = "concurrent-takeover";
    let expected = reference(&s3, "concurrent-takeover-ref", 3, 2).await;
    let store = support::store(s3.endpoint(), bucket);
    seed(&store, 3, 2).await;
    let ttl = Duration::from_millis(800);
    let gate = Gate::new("/federated/combined/etl/allocations/");
    let gated = support::gated_store(s3.endpoint(), bucket, &gate);
    let stalled = support::spawn_on_own_thread(move || {
        Box::pin(
            async move { federate_with(&gated, &Options { lease_ttl: ttl, ..options("stalled") }).await },
        )
    });
    until_reached(&gate).await;
    let started = Instant::now();
    let b = federate_with(&store, &Options { lease_ttl: ttl, ..options("successor") }).await.unwrap();
    let waited = started.elapsed();
    eprintln!(
        "the successor took the lease over after {} ms (TTL {} ms)",
        waited.as_millis(),
        ttl.as_millis()
    );
    assert_eq!(b.lease, LeaseOutcome::TakenOver { from: "stalled".into() });
    assert!(waited >= ttl, "a lease is taken over only after a whole TTL unchanged");
    gate.open();
    let a = stalled.join().unwrap();
    // Its held write found the successor's identical bytes in place; its next renewal was
    // refused, and it stopped.
    assert!(matches!(a, Err(FederationError::LeaseLost { .. })), "{a:?}");
    assert_eq!(combined(&store).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_held_by_a_live_federator_is_not_taken_and_the_wait_gives_up_cleanly() {
    let s3 = server();
    let store = support::store(s3.endpoint(), "concurrent-held");
    store.ensure_bucket().await.unwrap();
    let retry = Retry { deadline: Duration::from_secs(5), cancel: None };
    let retried = std::sync::atomic::AtomicUsize::new(0);
    let config = |holder: &str, wait: Duration| LeaseConfig {
        holder: holder.into(),
        ttl: Duration::from_secs(60),
        wait,
    };
    let mut held = Lease::acquire(&store, &config("alive", Duration::ZERO), &retry, &retried).await.unwrap();
    let err = Lease::acquire(&store, &config("other", Duration::from_millis(300)), &retry, &retried)
        .await
        .unwrap_err();
    assert!(matches!(&err, FederationError::LeaseHeld { holder, .. } if holder == "alive"), "{err}");
    let err = federate_with(&store, &Options { lease_wait: Duration::from_millis(200), ..options("other") })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is held by alive"), "{err}");
    held.keep(&store, &retry, &retried).await.unwrap();
    held.release(&store, &retry, &retried).await;
    let r = federate_with(&store, &options("other")).await.unwrap();
    assert_eq!(r.lease, LeaseOutcome::Acquired);
}
