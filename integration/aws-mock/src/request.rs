//! Requests as the mocks receive them: a `wiremock::Request` turned into the
//! [`ampfed_sigv4::IncomingRequest`] the SigV4 verifier checks.

use ampfed_sigv4::{AuthError, Caller, IncomingRequest, Verifier};
use wiremock::Request;

/// Verifies a request as wiremock received it: the caller on success, AWS's error otherwise.
pub(crate) fn verify_request(verifier: &Verifier, request: &Request) -> Result<Caller, AuthError> {
    let headers = ampfed_sigv4::header_pairs(&request.headers);
    verifier.verify(&IncomingRequest {
        method: request.method.as_str(),
        path: request.url.path(),
        query: request.url.query().unwrap_or(""),
        headers: &headers,
        body: &request.body,
    })
}
