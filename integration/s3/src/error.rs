//! Why the embedded server could not start or stop. Errors of the S3 protocol itself are S3
//! error documents sent to the client (`reply`), never this type.

/// Starting or stopping an [`EmbeddedS3`](crate::EmbeddedS3) failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedS3Error {
    /// A setting of [`Config`](crate::Config) is unusable.
    #[error("invalid embedded S3 configuration: {0}")]
    Config(String),
    /// A bucket to create at start has a name S3 would refuse.
    #[error("bucket name {name:?} is not valid: {reason}")]
    BucketName {
        /// The name given.
        name: String,
        /// What S3's naming rules say about it.
        reason: &'static str,
    },
    /// Binding 127.0.0.1 failed.
    #[error("cannot listen on 127.0.0.1")]
    Listen(#[source] std::io::Error),
    /// The server's runtime or thread could not be started.
    #[error("cannot start the embedded S3 server's runtime")]
    Runtime(#[source] std::io::Error),
    /// The server's thread panicked.
    #[error("the embedded S3 server's thread panicked")]
    Panicked,
}
