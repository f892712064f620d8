//! What the proxy forwards: only to its upstream, signed for it, without the client's auth,
//! hop-by-hop or stripped headers; bodies by `Content-Length` or chunked; the upstream's
//! status and body back unchanged.

use ampfed_proxy::SigningProxy;
use ampfed_sigv4::{CredentialRegistry, IncomingRequest, Verifier, VerifierSettings};
use aws_credential_types::Credentials;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{aps_proxy, raw, request, REGION};

const KEY: &str = "AKIAAMPFEDPROXYTEST1";
const SECRET: &str = "proxy/test/secret/0123456789abcdefghijkl";

struct Setup {
    upstream: MockServer,
    proxy: SigningProxy,
    verifier: Verifier,
}

async fn setup(answer: ResponseTemplate) -> Setup {
    let upstream = MockServer::start().await;
    Mock::given(any()).respond_with(answer).mount(&upstream).await;
    let registry = CredentialRegistry::new();
    registry.register_static(KEY, SECRET, "arn:aws:iam::123456789012:user/proxy");
    let verifier = Verifier::new(VerifierSettings::aps(REGION), registry);
    let proxy = SigningProxy::builder(aps_proxy(upstream.uri()))
        .strip(["X-Strip-Me", "x-also-strip"])
        .unwrap()
        .start(Credentials::new(KEY, SECRET, None, None, "test"))
        .await
        .unwrap();
    Setup { upstream, proxy, verifier }
}

impl Setup {
    async fn received(&self) -> Vec<wiremock::Request> {
        self.upstream.received_requests().await.unwrap()
    }

    /// Every received request carries a valid signature for the upstream's host.
    async fn assert_all_signed_for_upstream(&self) {
        let upstream_host = self.upstream.address().to_string();
        for r in self.received().await {
            let host = r.headers.get("host").unwrap().to_str().unwrap();
            assert_eq!(host, upstream_host, "{} went to {host}", r.url);
            let headers = ampfed_sigv4::header_pairs(&r.headers);
            let incoming = IncomingRequest {
                method: r.method.as_str(),
                path: r.url.path(),
                query: r.url.query().unwrap_or(""),
                headers: &headers,
                body: &r.body,
            };
            if let Err(e) = self.verifier.verify(&incoming) {
                panic!("{} {}: {}", r.method, r.url, e.message());
            }
        }
    }
}

fn signed_headers(r: &wiremock::Request) -> String {
    let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
    auth.split("SignedHeaders=").nth(1).unwrap().split(',').next().unwrap().to_owned()
}

#[tokio::test]
async fn strips_client_auth_hop_by_hop_and_configured_headers() {
    let s = setup(ResponseTemplate::new(200)).await;
    let body = b"remote write body";
    let answer = raw(
        s.proxy.local_addr(),
        &request(
            s.proxy.local_addr(),
            "POST",
            "/workspaces/ws-1/api/v1/remote_write?X-Amz-Signature=0123&x=1&X-Amz-Credential=AKIA%2Fx",
            &[
                ("authorization", "Bearer client-token"),
                ("x-amz-security-token", "client-session-token"),
                ("x-amz-date", "20000101T000000Z"),
                ("x-strip-me", "1"),
                ("X-Also-Strip", "2"),
                ("keep-alive", "timeout=5"),
                ("te", "trailers"),
                ("connection", "x-hop"),
                ("x-hop", "named by Connection"),
                ("content-type", "application/x-protobuf"),
                ("x-prometheus-remote-write-version", "0.1.0"),
            ],
            body,
        ),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let received = s.received().await;
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.url.path(), "/workspaces/ws-1/api/v1/remote_write");
    assert_eq!(r.url.query(), Some("x=1"));
    assert_eq!(r.body, body);
    let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
    assert!(auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={KEY}/")), "{auth}");
    assert!(r.headers.get("x-amz-security-token").is_none(), "static keys carry no token");
    assert_ne!(r.headers.get("x-amz-date").unwrap(), "20000101T000000Z");
    for gone in ["x-strip-me", "x-also-strip", "keep-alive", "te", "x-hop"] {
        assert!(r.headers.get(gone).is_none(), "{gone} was forwarded");
    }
    assert_eq!(r.headers.get("x-prometheus-remote-write-version").unwrap(), "0.1.0");
    let signed = signed_headers(r);
    assert!(
        signed.contains("content-type") && signed.contains("host") && signed.contains("x-amz-date"),
        "{signed}"
    );
    for hop in ["connection", "keep-alive", "te", "transfer-encoding", "content-length", "x-hop"] {
        assert!(!signed.split(';').any(|h| h == hop), "{hop} is signed: {signed}");
    }
    s.assert_all_signed_for_upstream().await;
}

#[tokio::test]
async fn chunked_uploads_are_forwarded_whole_with_a_length() {
    let s = setup(ResponseTemplate::new(204)).await;
    let head = format!(
        "POST /workspaces/ws-1/api/v1/remote_write HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\
         content-type: application/x-protobuf\r\ntransfer-encoding: chunked\r\n\r\n",
        s.proxy.local_addr()
    );
    let mut bytes = head.as_bytes().to_vec();
    let chunks: [&[u8]; 3] = [b"first chunk, ", &[0u8; 5000], b" last"];
    for chunk in chunks {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    let answer = raw(s.proxy.local_addr(), &bytes).await;
    assert_eq!(answer.status, 204, "{}", answer.text());
    let received = s.received().await;
    let r = &received[0];
    assert_eq!(r.body, chunks.concat());
    assert_eq!(r.headers.get("content-length").unwrap().to_str().unwrap(), (13 + 5000 + 5).to_string());
    assert!(r.headers.get("transfer-encoding").is_none());
    s.assert_all_signed_for_upstream().await;
}

#[tokio::test]
async fn upstream_status_headers_and_body_pass_through_unchanged() {
    let body = "{\"message\":\"Rate exceeded\"}";
    let s = setup(
        ResponseTemplate::new(429)
            .insert_header("x-amzn-ErrorType", "ThrottlingException")
            .insert_header("retry-after", "3")
            .set_body_raw(body, "application/json"),
    )
    .await;
    let answer = raw(
        s.proxy.local_addr(),
        &request(s.proxy.local_addr(), "GET", "/workspaces/ws-1/api/v1/query?query=up", &[], b""),
    )
    .await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.text(), body);
    let head = answer.head.to_ascii_lowercase();
    assert!(head.contains("x-amzn-errortype: throttlingexception"), "{head}");
    assert!(head.contains("retry-after: 3") && head.contains("content-type: application/json"), "{head}");
}

#[tokio::test]
async fn requests_only_ever_go_to_the_configured_upstream() {
    let s = setup(ResponseTemplate::new(200).set_body_string("from upstream")).await;
    let addr = s.proxy.local_addr();
    // The request target names the proxy itself (the only authority it accepts, see
    // `hosts.rs`); only its path and query travel on, whatever its form.
    let absolute = format!("GET http://{addr}/x?y=1 HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    let double_slash =
        format!("GET //evil.example/steal HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    let plain = format!("GET /z HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    for bytes in [&absolute, &double_slash, &plain] {
        let answer = raw(addr, bytes.as_bytes()).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(answer.text(), "from upstream");
    }
    let received = s.received().await;
    let targets: Vec<String> = received
        .iter()
        .map(|r| format!("{}{}", r.url.path(), r.url.query().map(|q| format!("?{q}")).unwrap_or_default()))
        .collect();
    assert_eq!(targets, ["/x?y=1", "//evil.example/steal", "/z"]);
    s.assert_all_signed_for_upstream().await;

    let connect = format!("CONNECT evil.example:443 HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    let answer = raw(addr, connect.as_bytes()).await;
    assert!(answer.status >= 400, "{answer:?}");
    assert_eq!(s.received().await.len(), 3);
}
