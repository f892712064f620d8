//! Injected faults fail at the proxy's first signed call, with AWS's error type and message.

use ampfed_e2e::{classify, Failure, Fault};

fn failure(fault: Fault) -> String {
    match crate::run(Some(fault)) {
        Ok(_) => panic!("the run with {fault:?} succeeded"),
        Err(e) => {
            // AMP refusing the signature is the environment's failure: exit code 3.
            assert_eq!(classify(&e), Failure::Environment);
            assert_eq!(classify(&e).exit_code(), 3);
            crate::chain(&e)
        }
    }
}

#[test]
fn wrong_secret_fails_at_the_first_remote_write_with_invalid_signature() {
    let text = failure(Fault::WrongSecret);
    assert!(text.contains("step 'remote write' failed"), "{text}");
    assert!(text.contains("HTTP 403 InvalidSignatureException"), "{text}");
    assert!(
        text.contains("The request signature we calculated does not match the signature you provided"),
        "{text}"
    );
    assert!(text.contains("The Canonical String for this request should have been"), "{text}");
}

#[test]
fn expired_credential_fails_at_the_first_remote_write_with_expired_token() {
    let text = failure(Fault::ExpiredCredential);
    assert!(text.contains("step 'remote write' failed"), "{text}");
    assert!(text.contains("HTTP 403 ExpiredTokenException"), "{text}");
    assert!(text.contains("The security token included in the request is expired"), "{text}");
}
