//! No secret key, session token or signature in logs at any level: a capturing subscriber at
//! TRACE (which also receives `log` records) watches a run with STS calls (unsigned and
//! signed), signed requests through the proxy and a rejected request, and then the captured
//! text is searched for every secret, token and signature of the run.
//!
//! An upstream that echoes secrets in failed answers puts each one across the point where the
//! logged body is cut ([`LOGGED_BODY`]): the scrubber must see whole secrets, so not even a
//! first half may reach the log.
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
use wiremock::matchers::{any, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const REGION: &str = "us-west-2";
const ROLE: &str = "arn:aws:iam::123456789012:role/cost-analyzer";
const WRITER: &str = "arn:aws:iam::123456789012:role/writer";
const TOKEN: &str = "web-identity-token-do-not-log";
/// How much of a failed answer's body the proxy logs.
const LOGGED_BODY: usize = 2048;
/// Static credentials of the echoing run.
const ECHO_KEY: &str = "AKIAAMPFEDECHOLOGS01";
const ECHO_SECRET: &str = "echo/Secret+Key/0123456789abcdefghijklmn";
const ECHO_TOKEN: &str = "IQoJb3JpZ2luX2VjEEcho+Session/Token=0123456789abcdefghijklmnopqrstuvwxyz";
/// A session token the proxy never held, in an STS-style answer (found by its element name).
const FOREIGN_TOKEN: &str = "IQoJb3JpZ2luX2VjEForeignSessionToken9876543210zyxwvutsrqponmlkjihgfe";

/// A failed answer whose body holds `secret` starting `before` bytes ahead of the cut.
fn straddling(prefix: &str, secret: &str, before: usize) -> String {
    let start = LOGGED_BODY - before;
    let padding = start - prefix.len();
    format!("{}{prefix}{secret} and more after it", "-".repeat(padding))
}

/// Echoes the request's own `Authorization` header in a 400 answer, across the cut.
struct EchoAuthorization;

impl Respond for EchoAuthorization {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request.headers.get("authorization").unwrap().to_str().unwrap();
        let signature_at = auth.find("Signature=").unwrap() + "Signature=".len();
        // The cut falls 20 hex digits into the signature.
        let body =
            straddling(&format!("echo: authorization: {}", &auth[..signature_at]), &auth[signature_at..], 20);
        ResponseTemplate::new(400).set_body_string(body)
    }
}

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
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{{}}"
    );
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

    // An upstream echoing secrets in failed answers, each placed across the cut.
    let echo = MockServer::start().await;
    let answers = [
        ("/secret", straddling("secret=", ECHO_SECRET, 20)),
        ("/token", straddling("x-amz-security-token: ", ECHO_TOKEN, 24)),
        (
            "/query-token",
            straddling(
                "X-Amz-Security-Token=",
                &ECHO_TOKEN.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D"),
                30,
            ),
        ),
        ("/foreign", straddling("<Credentials><SessionToken>", FOREIGN_TOKEN, 30)),
    ];
    for (at, body) in &answers {
        Mock::given(path(*at))
            .respond_with(ResponseTemplate::new(400).set_body_string(body.clone()))
            .mount(&echo)
            .await;
    }
    Mock::given(path("/authorization")).respond_with(EchoAuthorization).mount(&echo).await;
    let echoed = SigningProxy::builder(options(echo.uri(), None))
        .log_failed_requests(true)
        .start(Credentials::new(ECHO_KEY, ECHO_SECRET, Some(ECHO_TOKEN.into()), None, "echo"))
        .await
        .unwrap();
    for at in ["/secret", "/token", "/query-token", "/foreign", "/authorization"] {
        let (status, body) = send(echoed.local_addr(), "POST", at).await;
        assert_eq!(status, 400, "{body}");
    }
    let echoed_signatures: Vec<String> = echo
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/authorization")
        .map(|r| {
            r.headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .rsplit("Signature=")
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(echoed_signatures.len(), 1);

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
    let signature_logged = log
        .match_indices("Signature=")
        .any(|(at, m)| log[at + m.len()..].starts_with(|c: char| c.is_ascii_hexdigit()));
    assert!(!signature_logged, "a signature was logged:\n{log}");

    // The echoed secrets: each one's failed answer was logged, and not even the part of a
    // secret before the cut is in the log.
    for at in ["/secret", "/token", "/query-token", "/foreign", "/authorization"] {
        assert!(
            log.lines()
                .any(|line| line.contains("failed request") && line.contains(at) && line.contains("-----")),
            "the echoed answer of {at} was logged:\n{log}"
        );
    }
    let halves = [
        ("echoed secret key", ECHO_SECRET.to_owned()),
        ("echoed session token", ECHO_TOKEN.to_owned()),
        ("foreign session token", FOREIGN_TOKEN.to_owned()),
        ("echoed signature", echoed_signatures[0].clone()),
    ];
    let half_leaks: Vec<&str> =
        halves.iter().filter(|(_, secret)| log.contains(&secret[..12])).map(|(what, _)| *what).collect();
    assert!(
        half_leaks.is_empty(),
        "the start of a secret cut by the truncation was logged: {half_leaks:?}\n{log}"
    );
}
