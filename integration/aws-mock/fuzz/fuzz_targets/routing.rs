//! Fuzzes the AMP mock's routing: method, request target (path and query) and body of a
//! request that passes SigV4 (the harness signs it), through the front door's checks and
//! into both planes (`ampfed_aws_mock::fuzzing::Amp`).
//!
//! Input: the method, a newline, the target, a newline, and the rest is the body. `WS` in the
//! target stands for the id of the mock's one ACTIVE workspace, so the fuzzer reaches the data
//! plane without guessing an id. The backend is a closed port: data-plane calls that get past
//! validation end in a 503.
//!
//! The mock must not panic, must answer with a status from 200 to 599, and must never answer
//! 500 (its answer to a handler that panicked).

#![no_main]

use std::sync::OnceLock;

use ampfed_aws_mock::fuzzing::Amp;
use libfuzzer_sys::fuzz_target;

/// A loopback address nothing listens on.
fn closed_port() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        drop(listener);
        url
    })
}

fuzz_target!(|data: &[u8]| {
    let mut fields = data.splitn(3, |b| *b == b'\n');
    let method = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let target = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let body = fields.next().unwrap_or_default();
    let amp = Amp::new(closed_port());
    let target = target.replace("WS", amp.workspace());
    let (status, answer) = amp.request(&method, &target, body);
    assert!((200..600).contains(&status), "status {status}");
    assert_ne!(status, 500, "{method} {target}: {}", String::from_utf8_lossy(&answer));
});
