//! An `https` upstream, as the real AMP endpoint is: the proxy speaks TLS to it, checks its
//! certificate against the trusted roots (a test CA given with `upstream_ca`, `tests/tls/`),
//! signs for the name it was given, and refuses a certificate nobody trusts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ampfed_proxy::SigningProxy;
use aws_credential_types::Credentials;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{aps_proxy, raw, request};

fn tls_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tls").join(name)
}

/// A TLS server for `localhost` on 127.0.0.1 that answers every request with its head, until
/// the test's runtime ends.
async fn tls_echo() -> SocketAddr {
    let certs = CertificateDer::pem_file_iter(tls_file("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_file("server.key")).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake (the untrusted case) ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer =
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", head.len());
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.write_all(&head).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

fn credentials() -> Credentials {
    Credentials::new("AKIDHTTPSTEST", "https-test-secret", None, None, "test")
}

#[tokio::test]
async fn requests_reach_an_https_upstream_signed_for_its_name() {
    let upstream = tls_echo().await;
    let url = format!("https://localhost:{}/workspaces/ws-1", upstream.port());
    let proxy = SigningProxy::builder(aps_proxy(url))
        .upstream_ca(tls_file("ca.pem"))
        .start(credentials())
        .await
        .unwrap();
    let answer =
        raw(proxy.local_addr(), &request(proxy.local_addr(), "GET", "/api/v1/query?query=up", &[], b""))
            .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let seen = answer.text().to_ascii_lowercase();
    assert!(seen.starts_with("get /workspaces/ws-1/api/v1/query?query=up http/1.1"), "{seen}");
    assert!(seen.contains(&format!("host: localhost:{}", upstream.port())), "{seen}");
    assert!(
        seen.contains("authorization: aws4-hmac-sha256 credential=akidhttpstest/")
            && seen.contains("/us-west-2/aps/aws4_request"),
        "{seen}"
    );
}

#[tokio::test]
async fn a_certificate_nobody_trusts_is_refused_with_502() {
    let upstream = tls_echo().await;
    let url = format!("https://localhost:{}", upstream.port());
    // The system's roots only: the test CA is not among them.
    let proxy = SigningProxy::builder(aps_proxy(url)).start(credentials()).await.unwrap();
    let answer =
        raw(proxy.local_addr(), &request(proxy.local_addr(), "GET", "/api/v1/query?query=up", &[], b""))
            .await;
    assert_eq!(answer.status, 502, "{}", answer.text());
    let text = answer.text();
    assert!(text.contains("unreachable") && text.to_ascii_lowercase().contains("certificate"), "{text}");
}

#[tokio::test]
async fn a_name_the_certificate_does_not_cover_is_refused() {
    let upstream = tls_echo().await;
    // The certificate covers localhost and 127.0.0.1, not 127.0.0.2 (also loopback).
    let url = format!("https://127.0.0.2:{}", upstream.port());
    let proxy = SigningProxy::builder(aps_proxy(url))
        .upstream_ca(tls_file("ca.pem"))
        .start(credentials())
        .await
        .unwrap();
    let answer = raw(proxy.local_addr(), &request(proxy.local_addr(), "GET", "/", &[], b"")).await;
    assert_eq!(answer.status, 502, "{}", answer.text());
}
