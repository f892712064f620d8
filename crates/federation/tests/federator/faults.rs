//! S3 failing mid-run, through the fault-injecting relay (`crate::relay`): connections reset
//! on accept and after the request was served, answers delayed, an outage. The SDK's retries,
//! then the federator's own bounded ones, carry the run through, and it ends identical to a
//! clean run; or it fails with a typed error within its bounds, and a re-run ends identical.
//! Answers changed on the way: Parquet bodies damaged in transit (read again), listing pages
//! the direct reader does not read (listed again through the SDK).

use std::time::{Duration, Instant};

use ampfed_federation::{federate_with, FederationError, Options};

use crate::relay::{Faults, Relay};
use crate::support::{self, combined, options, reference, seed, server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_resets_delays_and_a_short_outage_the_run_ends_identical() {
    let s3 = server();
    let (clusters, days) = (3, 3);
    let expected = reference(&s3, "faults-ref", clusters, days).await;
    let (mut ended, mut failed) = (0, 0);
    for seed_value in 1..=5u64 {
        let bucket = format!("faults-{seed_value}");
        seed(&support::store(s3.endpoint(), &bucket), clusters, days).await;
        let relay = Relay::start(
            s3.endpoint(),
            Faults {
                seed: seed_value,
                reset_on_accept: 0.2,
                reset_answer: 0.05,
                delay_answer: 0.3,
                max_delay: Duration::from_millis(120),
                outage: Some((20, Duration::from_millis(1500))),
                ..Faults::none()
            },
        )
        .await;
        let through = support::store(&relay.endpoint(), &bucket);
        let started = Instant::now();
        let run =
            federate_with(&through, &Options { retry_for: Duration::from_secs(15), ..options("f") }).await;
        let took = started.elapsed();
        match &run {
            Ok(r) => {
                ended += 1;
                eprintln!(
                    "seed {seed_value}: ended in {} ms, {} passes, {} federator retries; relay: {}",
                    took.as_millis(),
                    r.passes,
                    r.retries,
                    relay.stats.line()
                );
            }
            Err(e) => {
                failed += 1;
                eprintln!(
                    "seed {seed_value}: failed cleanly in {} ms: {e}; relay: {}",
                    took.as_millis(),
                    relay.stats.line()
                );
                assert!(
                    matches!(e, FederationError::Unavailable { .. } | FederationError::S3 { .. }),
                    "{e:?}"
                );
            }
        }
        assert!(relay.stats.resets() > 0, "seed {seed_value}: the relay injected nothing");
        drop(relay);
        let direct = support::store(s3.endpoint(), &bucket);
        if run.is_err() {
            federate_with(&direct, &options("f")).await.expect("the re-run");
        }
        assert_eq!(combined(&direct).await, expected, "seed {seed_value}");
    }
    eprintln!("{ended} of 5 faulty runs ended by themselves, {failed} failed cleanly and were re-run");
    assert!(ended >= 3, "retries should carry most runs through these faults");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_retries_fails_cleanly_and_a_rerun_ends_identical() {
    let s3 = server();
    let (clusters, days) = (2, 3);
    let expected = reference(&s3, "outage-ref", clusters, days).await;
    let bucket = "outage";
    seed(&support::store(s3.endpoint(), bucket), clusters, days).await;
    let faults = Faults { seed: 7, outage: Some((12, Duration::from_secs(120))), ..Faults::none() };
    let relay = Relay::start(s3.endpoint(), faults).await;
    let through = support::store(&relay.endpoint(), bucket);
    let started = Instant::now();
    let err = federate_with(&through, &Options { retry_for: Duration::from_millis(1500), ..options("f") })
        .await
        .unwrap_err();
    let took = started.elapsed();
    eprintln!("outage: failed after {} ms: {err}; relay: {}", took.as_millis(), relay.stats.line());
    assert!(matches!(err, FederationError::Unavailable { .. }), "{err:?}");
    assert!(took < Duration::from_secs(30), "bounded by the retry deadline and the SDK's attempts");
    drop(relay);
    // S3 is back; the same federator resumes its lease at once and finishes.
    let direct = support::store(s3.endpoint(), bucket);
    let r = federate_with(&direct, &options("f")).await.unwrap();
    eprintln!("re-run: lease {:?}, {} windows recombined", r.lease, r.recombined.len());
    assert_eq!(combined(&direct).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_damaged_on_the_way_is_read_again_not_quarantined() {
    let s3 = server();
    let (clusters, days) = (3, 2);
    let expected = reference(&s3, "flip-ref", clusters, days).await;
    seed(&support::store(s3.endpoint(), "flip"), clusters, days).await;
    // The first four Parquet bodies arrive with their last byte changed: the object's checksum
    // and footer fail, its MD5 ETag does not match what arrived, so it is read again.
    let relay =
        Relay::start(s3.endpoint(), Faults { seed: 11, flip_parquet_ends: 4, ..Faults::none() }).await;
    let through = support::store(&relay.endpoint(), "flip");
    let report = federate_with(&through, &options("f")).await.expect("the run through the relay");
    eprintln!("relay: {}", relay.stats.line());
    assert_eq!(relay.stats.flipped.load(std::sync::atomic::Ordering::SeqCst), 4, "four bodies damaged");
    assert!(report.quarantined.is_empty() && report.newly_quarantined.is_empty(), "{:?}", report.quarantined);
    assert_eq!(report.objects_read, clusters * days as usize * 2);
    drop(relay);
    assert_eq!(combined(&support::store(s3.endpoint(), "flip")).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_page_the_direct_reader_leaves_is_listed_through_the_sdk() {
    let s3 = server();
    let (clusters, days) = (3, 2);
    let expected = reference(&s3, "comment-ref", clusters, days).await;
    seed(&support::store(s3.endpoint(), "comment"), clusters, days).await;
    // Every listing page starts with a comment where its XML declaration was: valid XML, which
    // the direct reader does not read, so each listing is made again through the SDK.
    let relay = Relay::start(s3.endpoint(), Faults { comment_listings: true, ..Faults::none() }).await;
    let through = support::store(&relay.endpoint(), "comment");
    assert!(through.reads_directly());
    let report = federate_with(&through, &options("f")).await.expect("the run through the relay");
    eprintln!("relay: {}", relay.stats.line());
    let commented = relay.stats.commented.load(std::sync::atomic::Ordering::SeqCst);
    assert!(commented >= 2, "the direct page and the SDK's of one listing at least: {commented}");
    assert!(report.quarantined.is_empty(), "{:?}", report.quarantined);
    assert_eq!(report.objects_read, clusters * days as usize * 2);
    assert!(through.direct_requests() >= report.objects_read as u64, "the inputs are still read directly");
    drop(relay);
    assert_eq!(combined(&support::store(s3.endpoint(), "comment")).await, expected);
}
