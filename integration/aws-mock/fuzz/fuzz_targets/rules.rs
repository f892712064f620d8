//! Fuzzes the rules-file checks a rule groups namespace's `data` goes through: YAML, the
//! `rulefmt` checks, every expression parsed as PromQL, every duration
//! (`ampfed_aws_mock::fuzzing::rules`). Input: the decoded rules file. The mock must not
//! panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ampfed_aws_mock::fuzzing::rules(data);
});
