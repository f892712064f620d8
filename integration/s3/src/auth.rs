//! SigV4 for S3: every request goes through `ampfed_sigv4::Verifier` with S3's settings (the
//! path as received, `UNSIGNED-PAYLOAD` and `STREAMING-…` payload hashes honoured), and its
//! failures are answered with S3's codes instead of AMP's (`SignatureDoesNotMatch`,
//! `InvalidAccessKeyId`, `AuthorizationHeaderMalformed`, `RequestTimeTooSkewed`, …).

use ampfed_sigv4::{AuthError, CredentialRegistry, IncomingRequest, Verifier, VerifierSettings};

use crate::reply::S3Error;

/// The verifier of one server: one long-term key pair.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    verifier: Verifier,
}

impl Auth {
    pub(crate) fn new(access_key: &str, secret_key: &str, region: &str) -> Auth {
        let registry = CredentialRegistry::new();
        registry.register_static(access_key, secret_key, "arn:aws:iam::000000000000:user/ampfed-s3");
        Auth { verifier: Verifier::new(VerifierSettings::new(region, "s3"), registry) }
    }

    /// Authenticates `request`, or S3's answer refusing it.
    pub(crate) fn check(&self, request: &IncomingRequest<'_>) -> Result<(), S3Error> {
        self.verifier.verify(request).map(|_| ()).map_err(|e| s3_error(e, self.verifier.settings()))
    }
}

/// `e` as S3 words it (S3's REST error codes, not the AWS JSON front end's).
fn s3_error(e: AuthError, settings: &VerifierSettings) -> S3Error {
    let malformed = |message: String| S3Error::new(400, "AuthorizationHeaderMalformed", message);
    match e {
        AuthError::MissingAuthenticationToken => S3Error::new(403, "AccessDenied", "Access Denied"),
        AuthError::IncompleteSignature { detail } => malformed(detail),
        AuthError::UnknownAccessKey { access_key_id } => S3Error::new(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
        .field("AWSAccessKeyId", access_key_id),
        AuthError::InvalidSecurityToken { .. } => {
            S3Error::new(400, "InvalidToken", "The provided token is malformed or otherwise invalid.")
        }
        AuthError::ExpiredToken { .. } => S3Error::new(400, "ExpiredToken", "The provided token has expired."),
        AuthError::SignatureMismatch { canonical_request, string_to_sign } => S3Error::new(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key \
             and signing method.",
        )
        .field("StringToSign", string_to_sign)
        .field("CanonicalRequest", canonical_request),
        e @ (AuthError::SignatureExpired { .. } | AuthError::SignatureNotYetCurrent { .. }) => S3Error::new(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )
        .field("Detail", e.message()),
        AuthError::WrongRegion { scope_region, expected } => malformed(format!(
            "The authorization header is malformed; the region '{scope_region}' is wrong; expecting '{expected}'"
        ))
        .field("Region", expected),
        AuthError::WrongService { scope_service, .. } => malformed(format!(
            "The authorization header is malformed; incorrect service \"{scope_service}\". This endpoint \
             belongs to \"{}\".",
            settings.service
        )),
        AuthError::WrongTerminator { terminator } => malformed(format!(
            "The authorization header is malformed; incorrect terminal \"{terminator}\". This endpoint uses \
             \"aws4_request\"."
        )),
        e @ AuthError::ScopeDateMismatch { .. } => {
            malformed(format!("The authorization header is malformed; {}", e.message()))
        }
        e @ AuthError::HeaderNotSigned { .. } => S3Error::new(403, "AccessDenied", e.message()),
        AuthError::MalformedDate { .. } => S3Error::new(
            403,
            "AccessDenied",
            "AWS authentication requires a valid Date or x-amz-date header",
        ),
        AuthError::AccessDenied { .. } => S3Error::new(403, "AccessDenied", "Access Denied"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsigned(headers: &[(String, String)]) -> IncomingRequest<'_> {
        IncomingRequest { method: "GET", path: "/", query: "", headers, body: b"" }
    }

    #[test]
    fn an_unsigned_request_is_access_denied() {
        let auth = Auth::new("AKID", "secret", "us-west-2");
        let headers = vec![("host".to_owned(), "127.0.0.1:1".to_owned())];
        let refused = auth.check(&unsigned(&headers)).unwrap_err();
        assert_eq!((refused.status, refused.code), (403, "AccessDenied"));
    }

    #[test]
    fn an_unknown_key_is_invalid_access_key_id() {
        let auth = Auth::new("AKID", "secret", "us-west-2");
        let now = ampfed_sigv4::date::format_amz_date(chrono::Utc::now());
        let headers = vec![
            ("host".to_owned(), "127.0.0.1:1".to_owned()),
            ("x-amz-date".to_owned(), now.clone()),
            ("x-amz-content-sha256".to_owned(), "UNSIGNED-PAYLOAD".to_owned()),
            (
                "authorization".to_owned(),
                format!(
                    "AWS4-HMAC-SHA256 Credential=OTHER/{}/us-west-2/s3/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature=00",
                    &now[..8]
                ),
            ),
        ];
        let refused = auth.check(&unsigned(&headers)).unwrap_err();
        assert_eq!((refused.status, refused.code), (403, "InvalidAccessKeyId"));
        assert!(refused.fields.contains(&("AWSAccessKeyId", "OTHER".to_owned())));
    }

    #[test]
    fn a_wrong_region_names_the_right_one() {
        let settings = VerifierSettings::new("us-west-2", "s3");
        let e = s3_error(
            AuthError::WrongRegion { scope_region: "us-east-1".into(), expected: "us-west-2".into() },
            &settings,
        );
        assert_eq!((e.status, e.code), (400, "AuthorizationHeaderMalformed"));
        assert!(
            e.message.contains("the region 'us-east-1' is wrong; expecting 'us-west-2'"),
            "{}",
            e.message
        );
    }
}
