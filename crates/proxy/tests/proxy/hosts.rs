//! Who the proxy serves at all. It holds real credentials on a laptop or in CI, so a web page
//! must never be able to use it: a request must name the proxy's own listener in `Host`
//! (`127.0.0.1:<port>`, `localhost:<port>`) or a name the operator allowed
//! (`ProxyBuilder::allow_hosts`, the binary's `--allow-host`), which defeats DNS rebinding;
//! and a request that carries `Origin` (or says it comes from another site) is a browser's
//! and is refused. Nothing refused ever reaches the upstream.

use ampfed_proxy::{ProxyBuilder, SigningProxy};
use aws_credential_types::Credentials;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{aps_proxy, raw, request, request_for_host};

const KEY: &str = "AKIAAMPFEDHOSTTEST01";
const SECRET: &str = "hosts/test/secret/0123456789abcdefghijklm";

/// An upstream answering 200 `"signed and sent"` to everything, and a proxy in front of it
/// configured by `configure`.
async fn setup(configure: impl FnOnce(ProxyBuilder) -> ProxyBuilder) -> (MockServer, SigningProxy) {
    let upstream = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("signed and sent"))
        .mount(&upstream)
        .await;
    let proxy = configure(SigningProxy::builder(aps_proxy(upstream.uri())))
        .start(Credentials::new(KEY, SECRET, None, None, "test"))
        .await
        .unwrap();
    (upstream, proxy)
}

async fn forwarded(upstream: &MockServer) -> usize {
    upstream.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn the_listeners_own_names_are_served() {
    let (upstream, proxy) = setup(|b| b).await;
    let addr = proxy.local_addr();
    let port = addr.port();
    for host in [addr.to_string(), format!("localhost:{port}"), format!("LocalHost:{port}")] {
        let answer = raw(addr, &request_for_host(&host, "GET", "/api/v1/query?query=up", &[], b"")).await;
        assert_eq!(answer.status, 200, "Host {host}: {}", answer.text());
        assert_eq!(answer.text(), "signed and sent");
    }
    assert_eq!(forwarded(&upstream).await, 3);
}

#[tokio::test]
async fn an_ordinary_http_client_on_the_proxy_url_is_served() {
    // What the e2e harness and Prometheus clients do: a URL built from `SigningProxy::url`,
    // so `Host: 127.0.0.1:<port>`, and keep-alive connections.
    let (upstream, proxy) = setup(|b| b).await;
    let url = format!("{}/workspaces/ws-1/api/v1/query?query=up", proxy.url());
    let bodies = tokio::task::spawn_blocking(move || {
        let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(10)).build();
        let get = agent.get(&url).call().unwrap().into_string().unwrap();
        let post = agent.post(&url).send_bytes(b"body").unwrap().into_string().unwrap();
        [get, post]
    })
    .await
    .unwrap();
    assert_eq!(bodies, ["signed and sent", "signed and sent"]);
    assert_eq!(forwarded(&upstream).await, 2);
}

#[tokio::test]
async fn any_other_host_is_misdirected_and_never_forwarded() {
    let (upstream, proxy) = setup(|b| b).await;
    let addr = proxy.local_addr();
    let port = addr.port();
    let other_port = if port == 65535 { 1 } else { port + 1 };
    for host in [
        // DNS rebinding: the attacker's name, resolving to 127.0.0.1.
        format!("rebind.attacker.example:{port}"),
        "rebind.attacker.example".to_owned(),
        format!("127.0.0.1:{other_port}"),
        format!("localhost:{other_port}"),
        "127.0.0.1".to_owned(),
        "169.254.169.254".to_owned(),
        format!("user@127.0.0.1:{port}"),
        format!("127.0.0.1:{port}.evil.example"),
        String::new(),
    ] {
        let answer = raw(addr, &request_for_host(&host, "GET", "/api/v1/query?query=up", &[], b"")).await;
        assert_eq!(answer.status, 421, "Host {host:?}: {}", answer.text());
        assert!(
            answer.text().contains("Host") && answer.text().contains("--allow-host"),
            "{}",
            answer.text()
        );
    }
    // No Host at all (HTTP/1.0 allows it), and an absolute-form target naming another authority.
    let no_host = b"GET /x HTTP/1.0\r\n\r\n";
    let absolute = format!("GET http://evil.example/x HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    for bytes in [&no_host[..], absolute.as_bytes()] {
        let answer = raw(addr, bytes).await;
        assert_eq!(answer.status, 421, "{}", answer.text());
    }
    assert_eq!(forwarded(&upstream).await, 0);
}

#[tokio::test]
async fn names_the_operator_allows_are_served() {
    let (upstream, proxy) =
        setup(|b| b.allow_hosts(["kubecost-sigv4-proxy:8005", "Sidecar.Monitoring.svc"]).unwrap()).await;
    let addr = proxy.local_addr();
    for host in [
        "kubecost-sigv4-proxy:8005",
        "KUBECOST-SIGV4-PROXY:8005",
        // A name allowed without a port matches it on any port, or none.
        "sidecar.monitoring.svc",
        "sidecar.monitoring.svc:80",
        "sidecar.monitoring.svc:9090",
    ] {
        let answer = raw(addr, &request_for_host(host, "GET", "/x", &[], b"")).await;
        assert_eq!(answer.status, 200, "Host {host}: {}", answer.text());
    }
    for host in ["kubecost-sigv4-proxy:8006", "kubecost-sigv4-proxy", "monitoring.svc"] {
        let answer = raw(addr, &request_for_host(host, "GET", "/x", &[], b"")).await;
        assert_eq!(answer.status, 421, "Host {host}: {}", answer.text());
    }
    // The listener's own names still work next to allowed ones.
    assert_eq!(raw(addr, &request(addr, "GET", "/x", &[], b"")).await.status, 200);
    assert_eq!(forwarded(&upstream).await, 6);
}

#[test]
fn malformed_allowed_hosts_are_refused() {
    for bad in ["", "a b", "name:port", "name:99999", "http://name", "name/path", "user@name", ":8005"] {
        let result = SigningProxy::builder(aps_proxy("http://127.0.0.1:9".into())).allow_hosts([bad]);
        let Err(e) = result else { panic!("{bad:?} was accepted") };
        assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
    }
}

#[tokio::test]
async fn a_request_with_an_origin_header_is_a_browsers_and_is_forbidden() {
    let (upstream, proxy) = setup(|b| b).await;
    let addr = proxy.local_addr();
    let local_page = format!("http://127.0.0.1:{}", addr.port());
    for origin in ["https://evil.example", "null", local_page.as_str()] {
        for method in ["GET", "POST"] {
            let answer = raw(addr, &request(addr, method, "/x", &[("origin", origin)], b"{}")).await;
            assert_eq!(answer.status, 403, "Origin {origin}: {}", answer.text());
            assert!(
                answer.text().contains("Origin") && answer.text().contains("browser"),
                "the refusal says why: {}",
                answer.text()
            );
        }
    }
    // Fetch metadata of a cross-site or same-site request is a browser's too.
    for site in ["cross-site", "same-site"] {
        let answer = raw(addr, &request(addr, "GET", "/x", &[("sec-fetch-site", site)], b"")).await;
        assert_eq!(answer.status, 403, "Sec-Fetch-Site {site}: {}", answer.text());
    }
    assert_eq!(forwarded(&upstream).await, 0);
}
