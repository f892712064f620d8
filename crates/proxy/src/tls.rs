//! TLS to the upstream (the real AMP endpoint, `https://aps-workspaces.<region>.amazonaws.com`):
//! rustls on the `ring` provider, trusting the system's root certificates (read as OpenSSL
//! does: `SSL_CERT_FILE`, `SSL_CERT_DIR`, then the platform's bundle) and, when given, the
//! CAs of one more PEM file (a corporate TLS-inspecting proxy, or a test's CA). Plain `http`
//! upstreams (the mocks) go through the same connector unencrypted.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::ProxyError;

/// The largest CA file read.
const MAX_CA_FILE: u64 = 1024 * 1024;

/// The client configuration: the system's roots plus those of `extra_ca`.
pub fn client_config(extra_ca: Option<&Path>) -> Result<rustls::ClientConfig, ProxyError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!("a system root certificate could not be read: {error}");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "system root certificates");
    if let Some(path) = extra_ca {
        for cert in read_ca_file(path)? {
            roots.add(cert).map_err(|e| tls_error(path, &format!("not a CA certificate: {e}")))?;
        }
    }
    if roots.is_empty() {
        return Err(ProxyError::Tls {
            reason: "no root certificate found: install ca-certificates, or give --upstream-ca FILE".into(),
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProxyError::Tls { reason: e.to_string() })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

fn tls_error(path: &Path, reason: &str) -> ProxyError {
    ProxyError::Tls { reason: format!("{}: {reason}", path.display()) }
}

/// Every certificate of a PEM file of at most [`MAX_CA_FILE`] bytes; none is an error.
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, ProxyError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| tls_error(path, &e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_CA_FILE + 1).read_to_end(&mut bytes).map_err(|e| tls_error(path, &e.to_string()))?;
    if bytes.len() as u64 > MAX_CA_FILE {
        return Err(tls_error(path, &format!("larger than {MAX_CA_FILE} bytes; not a CA file")));
    }
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| tls_error(path, &format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(tls_error(path, "no CERTIFICATE in it"));
    }
    Ok(certs)
}

/// The connector of the upstream pool: HTTPS with `config` for `https` URLs, plain HTTP for
/// `http` ones.
pub(crate) fn connector(
    config: rustls::ClientConfig,
) -> hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector> {
    hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config).https_or_http().enable_http1().build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_ca() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls/ca.pem")
    }

    #[test]
    fn the_test_ca_is_read_and_added() {
        assert_eq!(read_ca_file(&test_ca()).unwrap().len(), 1);
        assert!(client_config(Some(&test_ca())).is_ok());
    }

    #[test]
    fn bad_ca_files_are_refused_naming_the_file() {
        let dir = ampfed_test_support::TempDir::new("proxy-tls");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let e = read_ca_file(&empty).unwrap_err().to_string();
        assert!(e.contains("empty.pem") && e.contains("no CERTIFICATE"), "{e}");
        let big = dir.join("big.pem");
        std::fs::write(&big, vec![b'a'; MAX_CA_FILE as usize + 1]).unwrap();
        assert!(read_ca_file(&big).unwrap_err().to_string().contains("larger than"));
        let e = read_ca_file(&dir.join("missing.pem")).unwrap_err().to_string();
        assert!(e.contains("missing.pem"), "{e}");
    }
}
