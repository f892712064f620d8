//! Authentication failures, worded as AWS words them.
//!
//! AMP sits behind an API-Gateway-style front end: every failure here is HTTP 403 with a
//! JSON body holding only `message` ([`aws_error_json`]) and the error type in the
//! [`ERROR_TYPE_HEADER`] header.

use chrono::{DateTime, Utc};

use crate::date::format_amz_date;

/// Response header that carries [`AuthError::error_type`].
pub const ERROR_TYPE_HEADER: &str = "x-amzn-ErrorType";

/// Why a request was not authenticated (or, for [`AuthError::AccessDenied`], not authorised).
///
/// `Display` is a short lower-case summary for logs; [`AuthError::message`] is what AWS
/// would send back. Neither ever contains a secret key or a session token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Neither an `Authorization` header nor an `X-Amz-Signature` query parameter.
    #[error("request is not signed")]
    MissingAuthenticationToken,
    /// The `Authorization` header or the presigned query parameters cannot be parsed, or a
    /// required part is missing; `detail` is the whole AWS message.
    #[error("incomplete signature: {detail}")]
    IncompleteSignature {
        /// The message as AWS words it.
        detail: String,
    },
    /// The access key id is not in the registry.
    #[error("unknown access key {access_key_id}")]
    UnknownAccessKey {
        /// The key id the client presented.
        access_key_id: String,
    },
    /// A temporary key came without its session token or with another one, or a
    /// long-term key came with a session token.
    #[error("session token missing or not issued with access key {access_key_id}")]
    InvalidSecurityToken {
        /// The key id the client presented.
        access_key_id: String,
    },
    /// The credential expired (by its expiration or by `CredentialRegistry::expire`).
    #[error("credentials of access key {access_key_id} have expired")]
    ExpiredToken {
        /// The key id the client presented.
        access_key_id: String,
    },
    /// The signature does not match the one computed from the received request.
    #[error("signature does not match")]
    SignatureMismatch {
        /// The canonical request the server computed (session token values redacted).
        canonical_request: String,
        /// The string to sign the server computed.
        string_to_sign: String,
    },
    /// The request's time is further in the past than allowed (clock skew, or a presigned
    /// request used after `X-Amz-Expires`).
    #[error("signature expired: request time {request_time} is more than {allowed} before {server_time}")]
    SignatureExpired {
        /// The request's `x-amz-date`.
        request_time: DateTime<Utc>,
        /// The server's clock.
        server_time: DateTime<Utc>,
        /// The allowed skew (or the presigned validity).
        allowed: chrono::Duration,
    },
    /// The request's time is further in the future than the allowed skew.
    #[error(
        "signature not yet current: request time {request_time} is more than {allowed} after {server_time}"
    )]
    SignatureNotYetCurrent {
        /// The request's `x-amz-date`.
        request_time: DateTime<Utc>,
        /// The server's clock.
        server_time: DateTime<Utc>,
        /// The allowed skew.
        allowed: chrono::Duration,
    },
    /// The credential scope names another region than the endpoint's.
    #[error("credential scoped to region {scope_region}, endpoint is in {expected}")]
    WrongRegion {
        /// Region in the client's credential scope.
        scope_region: String,
        /// The endpoint's region.
        expected: String,
    },
    /// The credential scope names another service than the endpoint's.
    #[error("credential scoped to service {scope_service}, endpoint is {expected}")]
    WrongService {
        /// Service in the client's credential scope.
        scope_service: String,
        /// The endpoint's service.
        expected: String,
    },
    /// The credential scope does not end in `aws4_request`.
    #[error("credential scope terminator is {terminator}, not aws4_request")]
    WrongTerminator {
        /// The last element of the client's credential scope.
        terminator: String,
    },
    /// The credential scope's date is not the date of `x-amz-date`.
    #[error("credential scope date {scope_date} differs from x-amz-date {amz_date}")]
    ScopeDateMismatch {
        /// Date in the client's credential scope.
        scope_date: String,
        /// The request's `x-amz-date`.
        amz_date: String,
    },
    /// `host` (or, for the header form, `x-amz-date`) is not among the signed headers.
    #[error("{header} is not a signed header")]
    HeaderNotSigned {
        /// The lower-case header name.
        header: &'static str,
    },
    /// `x-amz-date` is not in the basic ISO 8601 form `20150830T123600Z`.
    #[error("malformed x-amz-date {value:?}")]
    MalformedDate {
        /// The value received.
        value: String,
    },
    /// Authenticated, but the principal may not do this (for callers that check permissions).
    #[error("{principal_arn} may not perform {action} on {resource}")]
    AccessDenied {
        /// The caller's principal.
        principal_arn: String,
        /// The action, e.g. `aps:RemoteWrite`.
        action: String,
        /// The resource ARN, e.g. the workspace's.
        resource: String,
    },
}

impl AuthError {
    /// The HTTP status AWS answers with: always 403 for these.
    pub fn status(&self) -> u16 {
        403
    }

    /// The AWS error type, for the `x-amzn-ErrorType` header.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature { .. } => "IncompleteSignatureException",
            Self::UnknownAccessKey { .. } | Self::InvalidSecurityToken { .. } => {
                "UnrecognizedClientException"
            }
            Self::ExpiredToken { .. } => "ExpiredTokenException",
            Self::AccessDenied { .. } => "AccessDeniedException",
            Self::SignatureMismatch { .. }
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. }
            | Self::WrongRegion { .. }
            | Self::WrongService { .. }
            | Self::WrongTerminator { .. }
            | Self::ScopeDateMismatch { .. }
            | Self::HeaderNotSigned { .. }
            | Self::MalformedDate { .. } => "InvalidSignatureException",
        }
    }

    /// The message AWS would put in the body.
    pub fn message(&self) -> String {
        match self {
            Self::MissingAuthenticationToken => "Missing Authentication Token".to_owned(),
            Self::IncompleteSignature { detail } => detail.clone(),
            Self::UnknownAccessKey { .. } | Self::InvalidSecurityToken { .. } => {
                "The security token included in the request is invalid.".to_owned()
            }
            Self::ExpiredToken { .. } => "The security token included in the request is expired".to_owned(),
            Self::SignatureMismatch { canonical_request, string_to_sign } => format!(
                "The request signature we calculated does not match the signature you provided. Check your \
                 AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n\
                 The Canonical String for this request should have been\n'{canonical_request}'\n\n\
                 The String-to-Sign should have been\n'{string_to_sign}'\n"
            ),
            Self::SignatureExpired { request_time, server_time, allowed } => format!(
                "Signature expired: {} is now earlier than {} ({} - {}.)",
                format_amz_date(*request_time),
                format_amz_date(shift(*server_time, -*allowed)),
                format_amz_date(*server_time),
                format_allowance(*allowed)
            ),
            Self::SignatureNotYetCurrent { request_time, server_time, allowed } => format!(
                "Signature not yet current: {} is still later than {} ({} + {}.)",
                format_amz_date(*request_time),
                format_amz_date(shift(*server_time, *allowed)),
                format_amz_date(*server_time),
                format_allowance(*allowed)
            ),
            Self::WrongRegion { .. } => "Credential should be scoped to a valid region.".to_owned(),
            Self::WrongService { expected, .. } => {
                format!("Credential should be scoped to correct service: '{expected}'.")
            }
            Self::WrongTerminator { terminator } => {
                format!("Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'.")
            }
            Self::ScopeDateMismatch { scope_date, amz_date } => format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
                 '{scope_date}' != '{}', from '{amz_date}'.",
                amz_date.get(..8).unwrap_or(amz_date)
            ),
            Self::HeaderNotSigned { header: "host" } => {
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned()
            }
            Self::HeaderNotSigned { header } => {
                format!("'{}' must be a 'SignedHeader' in the AWS Authorization.", display_header_name(header))
            }
            Self::MalformedDate { value } => format!(
                "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
            ),
            Self::AccessDenied { principal_arn, action, resource } => {
                format!("User: {principal_arn} is not authorized to perform: {action} on resource: {resource}")
            }
        }
    }
}

/// The JSON body of an AMP-style auth error: `{"message":"…"}`, correctly escaped.
pub fn aws_error_json(err: &AuthError) -> String {
    let message = err.message();
    let mut body = String::with_capacity(message.len() + 16);
    body.push_str("{\"message\":\"");
    for c in message.chars() {
        match c {
            '"' => body.push_str("\\\""),
            '\\' => body.push_str("\\\\"),
            '\n' => body.push_str("\\n"),
            '\r' => body.push_str("\\r"),
            '\t' => body.push_str("\\t"),
            c if u32::from(c) < 0x20 => body.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => body.push(c),
        }
    }
    body.push_str("\"}");
    body
}

/// `time + by`, saturating at the ends of the representable range.
fn shift(time: DateTime<Utc>, by: chrono::Duration) -> DateTime<Utc> {
    time.checked_add_signed(by).unwrap_or(if by < chrono::Duration::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// `5 min` for whole minutes, else `90 sec`, as in AWS's skew messages.
fn format_allowance(allowed: chrono::Duration) -> String {
    let seconds = allowed.num_seconds();
    if seconds % 60 == 0 {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} sec")
    }
}

/// `x-amz-date` → `X-Amz-Date`.
fn display_header_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn skew_messages_read_like_aws() {
        let expired = AuthError::SignatureExpired {
            request_time: at("2015-08-30T12:36:00Z"),
            server_time: at("2015-08-30T12:51:00Z"),
            allowed: chrono::Duration::minutes(5),
        };
        assert_eq!(
            expired.message(),
            "Signature expired: 20150830T123600Z is now earlier than 20150830T124600Z (20150830T125100Z - 5 min.)"
        );
        let early = AuthError::SignatureNotYetCurrent {
            request_time: at("2015-08-30T13:00:00Z"),
            server_time: at("2015-08-30T12:51:00Z"),
            allowed: chrono::Duration::minutes(5),
        };
        assert_eq!(
            early.message(),
            "Signature not yet current: 20150830T130000Z is still later than 20150830T125600Z \
             (20150830T125100Z + 5 min.)"
        );
        assert_eq!(early.error_type(), "InvalidSignatureException");
        assert_eq!(early.status(), 403);
    }

    #[test]
    fn error_json_escapes_quotes_newlines_and_controls() {
        let err = AuthError::IncompleteSignature { detail: "a \"b\"\n\\c\u{1}".to_owned() };
        assert_eq!(aws_error_json(&err), r#"{"message":"a \"b\"\n\\c\u0001"}"#);
        assert_eq!(
            aws_error_json(&AuthError::MissingAuthenticationToken),
            r#"{"message":"Missing Authentication Token"}"#
        );
    }

    #[test]
    fn unsigned_header_messages_name_the_header() {
        assert!(AuthError::HeaderNotSigned { header: "x-amz-date" }.message().contains("'X-Amz-Date'"));
        assert!(AuthError::HeaderNotSigned { header: "host" }.message().contains("'Host'"));
    }
}
