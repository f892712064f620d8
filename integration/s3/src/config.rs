//! What an [`EmbeddedS3`](crate::EmbeddedS3) accepts and how far: the one key pair it knows,
//! its region, the buckets that exist from the start, and its limits.

use std::fmt;
use std::time::Duration;

/// Largest object body by default: 64 MiB (S3's own single-PUT limit is 5 GiB; the ETL
/// objects of ampfed are a few hundred KiB).
pub const DEFAULT_MAX_OBJECT_BYTES: usize = 64 << 20;
/// Connections served at once by default; more wait in the kernel's accept queue.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// How long a connection may take to send a request head, or stay idle between requests.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(20);
/// How long reading one request's body may take.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The server's settings. `Debug` never shows the secret key.
#[derive(Clone)]
pub struct Config {
    /// The access key id every request must be signed with.
    pub access_key: String,
    /// Its secret.
    pub secret_key: String,
    /// The region of the endpoint (the signing scope and the buckets' location).
    pub region: String,
    /// Buckets created at start.
    pub buckets: Vec<String>,
    /// Largest object body accepted; a larger one is refused with `EntityTooLarge`.
    pub max_object_bytes: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// Time allowed to send a request head (and for an idle keep-alive connection).
    pub header_read_timeout: Duration,
    /// Time allowed to send a request body.
    pub body_read_timeout: Duration,
}

impl Config {
    /// A server accepting `access_key`/`secret_key` in `region`, with no bucket and the
    /// default limits.
    pub fn new(
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
        region: impl Into<String>,
    ) -> Config {
        Config {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            region: region.into(),
            buckets: Vec::new(),
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
        }
    }

    /// Adds a bucket to create at start.
    pub fn with_bucket(mut self, bucket: impl Into<String>) -> Config {
        self.buckets.push(bucket.into());
        self
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("access_key", &self.access_key)
            .field("secret_key", &"** redacted **")
            .field("region", &self.region)
            .field("buckets", &self.buckets)
            .field("max_object_bytes", &self.max_object_bytes)
            .field("max_connections", &self.max_connections)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let config = Config::new("AKID", "very-secret", "eu-west-1").with_bucket("b1");
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret") && shown.contains("AKID") && shown.contains("b1"), "{shown}");
    }
}
