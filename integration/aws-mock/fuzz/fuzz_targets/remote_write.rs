//! Fuzzes remote write decoding and checking as the AMP mock does it: snappy, the full
//! protobuf `WriteRequest` (exemplars, native histograms, metadata), the series, exemplar,
//! histogram and metadata checks, tagging with a workspace, and encoding again
//! (`ampfed_aws_mock::fuzzing::remote_write`).
//!
//! Input: a body as sent. Half of the inputs are snappy-compressed first, so the fuzzer also
//! reaches the protobuf and the checks behind it. The mock must not panic, and a write it
//! accepts must decode again after tagging.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let body = if mode % 2 == 1 {
        match snap::raw::Encoder::new().compress_vec(rest) {
            Ok(compressed) => compressed,
            Err(_) => return,
        }
    } else {
        rest.to_vec()
    };
    if let Err(message) = ampfed_aws_mock::fuzzing::remote_write(&body) {
        assert!(!message.contains("does not decode again"), "{message}");
    }
});
