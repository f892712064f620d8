//! AWS SDK plumbing with one home: [`sdk_config`] presets what every client of ampfed needs
//! to reach an endpoint of its own (the mocks, LocalStack, or an explicit AWS endpoint):
//! region, endpoint URL, the SDK's latest behaviour version and a connector that speaks plain
//! HTTP to the harness's endpoints and HTTPS (rustls on `ring`, the system's roots) to AWS.
//! Callers add credentials, timeouts or a time source, then build the service's client:
//!
//! ```
//! let config = ampfed_aws::sdk_config("http://127.0.0.1:4566", "us-west-2").build();
//! assert_eq!(config.region().map(|r| r.as_ref()), Some("us-west-2"));
//! // aws_sdk_s3::Client::new(&config), aws_sdk_amp::Client::new(&config), …
//! ```
//!
//! [`error_text`] renders an SDK error with its whole context (service code and message, or
//! the dispatch failure underneath), as the SDK's `DisplayErrorContext` does.

use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_types::region::Region;
use aws_types::sdk_config::Builder;

/// An SDK configuration builder for `endpoint` in `region` (every endpoint the harness starts
/// listens on 127.0.0.1 without TLS; an `https` one, such as AWS's, gets TLS).
pub fn sdk_config(endpoint: &str, region: &str) -> Builder {
    aws_config(region).endpoint_url(endpoint)
}

/// An SDK configuration builder for AWS itself in `region`: the SDK's own endpoints, HTTPS.
pub fn aws_config(region: &str) -> Builder {
    aws_types::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .http_client(http_client())
}

/// The connector every client gets: plain HTTP, and HTTPS with rustls on `ring` and the
/// system's roots (for `aws-config`'s loader too, whose own HTTPS client is left out).
pub fn http_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}

/// An SDK error with its whole context on one line.
pub fn error_text<E: std::error::Error>(e: &E) -> String {
    DisplayErrorContext(e).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("dispatch failure")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn an_error_shows_its_causes() {
        let e = Outer(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused"));
        let text = error_text(&e);
        assert!(text.contains("dispatch failure") && text.contains("connection refused"), "{text}");
    }

    #[test]
    fn the_config_names_the_endpoint() {
        let config = sdk_config("http://127.0.0.1:1", "eu-west-1").build();
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:1"));
    }
}
