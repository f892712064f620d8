//! The proxy's errors: reading the token file, STS, listening, the upstream URL, signing,
//! settings (header names, allowed hosts).

/// Errors of the proxy.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot read the web identity token file {path}: {source}")]
    TokenFile { path: String, source: std::io::Error },
    #[error("STS {action} for {role_arn} failed: {message}")]
    Sts { action: &'static str, role_arn: String, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("bad upstream {upstream:?}: {reason}")]
    Upstream { upstream: String, reason: String },
    #[error("cannot sign the request: {0}")]
    Sign(String),
    #[error("bad header name {0:?}")]
    HeaderName(String),
    #[error("TLS to the upstream: {reason}")]
    Tls { reason: String },
    #[error("bad --allow-host value {value:?} (NAME or NAME:PORT): {reason}")]
    AllowHost { value: String, reason: String },
}
