//! No secret key, session token or signature in logs at any level: a capturing subscriber at
//! TRACE (which also receives `log` records) watches a run with STS calls (unsigned and
//! signed), signed requests through the proxy and a rejected request, and then the captured
//! text is searched for every secret, token and signature of the run.
//!
//! This is its own test binary because it installs the global subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ampfed_aws_mock::{AwsMock, AwsMockOptions};
use ampfed_proxy::{
    AssumeRole, AssumeRoleCredentials, ProxyOptions, SigningFault, SigningProxy, WebIdentity,
    WebIdentityCredentials,
};
use ampfed_test_support::TempDir;
use aws_credential_types::Credentials;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const REGION: &str = "us-west-2";
const ROLE: &str = "arn:aws:iam::123456789012:role/cost-analyzer";
const WRITER: &str = "arn:aws:iam::123456789012:role/writer";
const TOKEN: &str = "web-identity-token-do-not-log";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn send(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req =
        format!("{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{{}}");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_string(&mut out)).await.unwrap().unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out)
}

fn options(upstream: String, fault: Option<SigningFault>) -> ProxyOptions {
    ProxyOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream,
        region: REGION.into(),
        service: "aps".into(),
        fault,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_is_logged_at_trace() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let mock = AwsMock::start(AwsMockOptions {
        region: REGION.into(),
        backend_url: "http://127.0.0.1:9".into(),
        credential_lifetime: Duration::from_secs(3600),
    })
    .await;
    let dir = TempDir::new("proxy-logs");
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    mock.trust_web_identity(TOKEN, ROLE);
    mock.trust_assume_role(ROLE, WRITER);
    let web = WebIdentityCredentials::new(
        WebIdentity {
            role_arn: ROLE.into(),
            token_file: dir.join("token"),
            session_name: "logs".into(),
            sts_endpoint: mock.sts_url(),
            region: REGION.into(),
        },
        Duration::from_secs(60),
    );
    // AssumeRole signed with the web identity credentials: both STS flows are in the log.
    let assumed = AssumeRoleCredentials::new(
        web.clone(),
        AssumeRole {
            role_arn: WRITER.into(),
            session_name: "logs".into(),
            sts_endpoint: mock.sts_url(),
            region: REGION.into(),
        },
        Duration::from_secs(60),
    );

    let proxy = SigningProxy::builder(options(mock.aps_url(), None))
        .log_failed_requests(true)
        .start(assumed.clone())
        .await
        .unwrap();
    let (status, body) = send(proxy.local_addr(), "POST", "/workspaces").await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = send(proxy.local_addr(), "GET", "/workspaces/ws-none").await;
    assert_eq!(status, 404, "{body}");

    // A rejected request: signed with the wrong secret, AMP answers with the canonical request.
    let wrong = SigningProxy::builder(options(mock.aps_url(), Some(SigningFault::WrongSecret)))
        .log_failed_requests(true)
        .start(assumed.clone())
        .await
        .unwrap();
    let (status, body) = send(wrong.local_addr(), "POST", "/workspaces").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("InvalidSignatureException") || body.contains("signature we calculated"), "{body}");

    // The same credentials towards a recording upstream, to learn the signatures sent.
    let recorder = MockServer::start().await;
    Mock::given(any()).respond_with(ResponseTemplate::new(200)).mount(&recorder).await;
    let recorded = SigningProxy::builder(options(recorder.uri(), None)).start(assumed.clone()).await.unwrap();
    for path in ["/a", "/b"] {
        assert_eq!(send(recorded.local_addr(), "POST", path).await.0, 200);
    }
    let signatures: Vec<String> = recorder
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let auth = r.headers.get("authorization").unwrap().to_str().unwrap().to_owned();
            auth.rsplit("Signature=").next().unwrap().to_owned()
        })
        .collect();
    assert_eq!(signatures.len(), 2);

    let mut secrets: Vec<(String, String)> = Vec::new();
    for (what, creds) in
        [("web identity", web.get().await.unwrap()), ("assumed role", assumed.get().await.unwrap())]
    {
        secrets.push((format!("{what} secret key"), creds.secret_access_key().to_owned()));
        secrets.push((format!("{what} session token"), creds.session_token().unwrap().to_owned()));
    }
    secrets.extend(signatures.into_iter().map(|s| ("signature".to_owned(), s)));
    secrets.push(("web identity token".into(), TOKEN.into()));
    let debug = format!(
        "{web:?} {assumed:?} {:?}",
        Credentials::new("AKIAX", "debug-secret", Some("debug-token".into()), None, "t")
    );
    assert!(!debug.contains("debug-secret") && !debug.contains("debug-token"), "{debug}");

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // Kept for a look when this fails.
    std::fs::write(dir.join("trace.log"), &log).unwrap();
    assert!(
        log.contains("assumed role with web identity") && log.contains("failed request"),
        "the run was traced:\n{log}"
    );
    assert!(log.lines().count() > 50, "TRACE output expected, got:\n{log}");
    let leaks: Vec<&str> =
        secrets.iter().filter(|(_, s)| log.contains(s.as_str())).map(|(w, _)| w.as_str()).collect();
    assert!(leaks.is_empty(), "logged: {leaks:?}");
    assert!(!log.contains("Signature="), "an Authorization header was logged");
}
