//! Requests as the mocks receive them (a `wiremock::Request` or the AMP front door's view of
//! one, [`crate::exchange::Request`]) turned into the [`ampfed_sigv4::IncomingRequest`] the
//! SigV4 verifier checks.

use ampfed_sigv4::{AuthError, Caller, IncomingRequest, Verifier};

use crate::exchange::Request;

/// Verifies a request as received: the caller on success, AWS's error otherwise.
pub(crate) fn verify_request<'a>(
    verifier: &Verifier,
    request: impl Into<Request<'a>>,
) -> Result<Caller, AuthError> {
    let request: Request<'a> = request.into();
    let headers = ampfed_sigv4::header_pairs(request.headers);
    verifier.verify(&IncomingRequest {
        method: request.method.as_str(),
        path: request.url.path(),
        query: request.url.query().unwrap_or(""),
        headers: &headers,
        body: request.body,
    })
}
