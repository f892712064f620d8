//! A federator killed mid-run and restarted ends as one clean run: killed after every number
//! of requests a run makes (nothing it would send reaches S3 after that, as when the process
//! dies), or aborted in the middle of a request; restarted with the same holder id (it
//! resumes its own lease at once) or as another federator (which waits the lease's TTL out).

use std::time::{Duration, Instant};

use ampfed_common::wait::{Poll, Wait};
use ampfed_federation::{federate_with, LeaseOutcome, Options};

use crate::support::{self, budget_store, combined, options, reference, seed, server, Budget};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_any_number_of_requests_and_restarted_it_ends_as_one_clean_run() {
    let s3 = server();
    let (clusters, days) = (2, 2);
    let expected = reference(&s3, "killed-ref", clusters, days).await;
    // How many requests a whole run makes.
    let counted = Budget::unlimited();
    let store = budget_store(s3.endpoint(), "killed-count", &counted);
    seed(&store, clusters, days).await;
    let seeded = counted.sent();
    federate_with(&store, &options("f")).await.unwrap();
    let total = counted.sent() - seeded;
    eprintln!("a clean run of {clusters} clusters × {days} days makes {total} requests");
    assert!(total > 15, "{total}");

    let (mut resumed, mut redone) = (0, 0);
    for limit in 0..total {
        let bucket = format!("killed-{limit}");
        seed(&support::store(s3.endpoint(), &bucket), clusters, days).await;
        let budget = Budget::new(limit);
        let killed = federate_with(&budget_store(s3.endpoint(), &bucket, &budget), &options("f")).await;
        // Only the last request, the lease's release, is best effort: cut there, the run ends.
        assert!(
            killed.is_err() || limit == total - 1,
            "killed after {limit} of {total} requests: {killed:?}"
        );
        let restarted = federate_with(&support::store(s3.endpoint(), &bucket), &options("f"))
            .await
            .unwrap_or_else(|e| panic!("restart after {limit} requests: {e}"));
        if restarted.lease == LeaseOutcome::Resumed {
            resumed += 1;
        }
        redone += restarted.recombined.len();
        assert_eq!(combined(&support::store(s3.endpoint(), &bucket)).await, expected, "killed after {limit}");
    }
    eprintln!(
        "{total} kill points: every restart ended identical; {resumed} resumed a lease the killed run \
         held, {redone} windows recombined by the restarts ({} without the manifest)",
        total * days as usize
    );
    assert!(resumed > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_in_the_middle_of_a_request_and_restarted_it_ends_as_one_clean_run() {
    let s3 = server();
    let (clusters, days) = (3, 3);
    let expected = reference(&s3, "aborted-ref", clusters, days).await;
    for cut in [3, 9, 17, 26, 33] {
        let bucket = format!("aborted-{cut}");
        seed(&support::store(s3.endpoint(), &bucket), clusters, days).await;
        let counter = Budget::unlimited();
        let store = budget_store(s3.endpoint(), &bucket, &counter);
        let task = tokio::spawn(async move { federate_with(&store, &options("f")).await });
        // Abort as soon as the cut-th request is on its way.
        let sent = Wait::new("the run to send its requests", Duration::from_secs(30))
            .backoff(Duration::from_micros(200), Duration::from_millis(2))
            .until(|| async {
                let n = counter.sent();
                Ok::<_, std::convert::Infallible>(if n >= cut || task.is_finished() {
                    Poll::Ready(n)
                } else {
                    Poll::Pending(format!("{n} sent"))
                })
            })
            .await
            .unwrap();
        task.abort();
        let aborted = task.await.is_err();
        let restarted = federate_with(&support::store(s3.endpoint(), &bucket), &options("f")).await.unwrap();
        eprintln!(
            "aborted at request {sent} ({}): restart {:?}, {} windows recombined",
            if aborted { "mid-run" } else { "already done" },
            restarted.lease,
            restarted.recombined.len()
        );
        assert_eq!(combined(&support::store(s3.endpoint(), &bucket)).await, expected, "aborted at {sent}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_federator_takes_over_a_dead_ones_lease_after_its_ttl() {
    let s3 = server();
    let expected = reference(&s3, "takeover-ref", 2, 3).await;
    let bucket = "takeover";
    seed(&support::store(s3.endpoint(), bucket), 2, 3).await;
    let ttl = Duration::from_millis(700);
    let budget = Budget::new(12);
    let dead = Options { lease_ttl: ttl, ..options("dead") };
    assert!(federate_with(&budget_store(s3.endpoint(), bucket, &budget), &dead).await.is_err());
    let started = Instant::now();
    let next = Options { lease_ttl: ttl, ..options("next") };
    let r = federate_with(&support::store(s3.endpoint(), bucket), &next).await.unwrap();
    let waited = started.elapsed();
    eprintln!(
        "took the dead federator's lease over after {} ms (TTL {} ms)",
        waited.as_millis(),
        ttl.as_millis()
    );
    assert_eq!(r.lease, LeaseOutcome::TakenOver { from: "dead".into() });
    assert!(waited >= ttl);
    assert_eq!(combined(&support::store(s3.endpoint(), bucket)).await, expected);
    assert!(budget.sent() > 12, "the dead run tried to go on and was cut");
}
