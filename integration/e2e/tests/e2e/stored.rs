//! Generated = stored: after remote write, AMP holds exactly the samples the simulator
//! generated for each cluster, also when a fifth of the writes are refused with 429 or 503
//! and the sender has to retry them.

use ampfed_e2e::Fault;

#[test]
fn every_generated_sample_is_stored() {
    let s = &crate::happy().summary;
    assert!(s.samples_written > 100_000, "only {} samples written", s.samples_written);
    assert_eq!(s.samples_stored, s.samples_written);
}

#[test]
fn a_throttled_run_retries_and_still_stores_every_sample() {
    let outcome = crate::run(Some(Fault::Throttle)).unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let s = &outcome.summary;
    assert!(s.write_retries > 0, "no write was refused");
    assert_eq!(s.samples_stored, s.samples_written);
    assert_eq!(s.samples_written, crate::happy().summary.samples_written);
    // Nothing lost, nothing doubled: the results are the happy run's.
    ampfed_e2e::snapshots::check(&outcome);
}
