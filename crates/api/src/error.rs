//! The API's errors: a bad parameter (400, naming the parameter and what it allows), an
//! unknown endpoint (404), the ETL source failing or missing what a query needs (500), and
//! the server's own (a non-loopback bind address, a port that cannot be bound).

use std::net::SocketAddr;

use ampfed_allocation::Window;

/// Errors of the ETL sources.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Store(#[from] ampfed_federation::FederationError),
    #[error("object {key} holds the window {}..{}, not the day {}..{} its name says", found.start, found.end, expected.start, expected.end)]
    WrongWindow { key: String, expected: Window, found: Window },
}

/// Errors of the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter that cannot be used; answered with 400.
    #[error("invalid '{param}' parameter: {message}")]
    BadParameter { param: String, message: String },
    /// A path that is not an endpoint; answered with 404.
    #[error("{0}")]
    NotFound(String),
    /// The ETL could not be read, or lacks what the query needs; answered with 500.
    #[error("{0}")]
    Data(String),
    #[error("reading the ETL failed: {0}")]
    Source(#[from] SourceError),
    #[error(
        "refusing to listen on {addr}: the API listens on loopback only (127.0.0.1:<port> or [::1]:<port>); \
         reach it from elsewhere through an SSH tunnel or kubectl port-forward"
    )]
    NotLoopback { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

impl ApiError {
    /// A 400 for `param`.
    pub fn bad(param: &str, message: impl Into<String>) -> ApiError {
        ApiError::BadParameter { param: param.to_owned(), message: message.into() }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadParameter { .. } => 400,
            ApiError::NotFound(_) => 404,
            _ => 500,
        }
    }
}
