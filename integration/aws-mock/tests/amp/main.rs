//! The AMP mock driven the way clients drive AMP: `aws-sdk-amp` with web identity credentials
//! from the STS mock for the control plane, and Prometheus clients through the SigV4 signing
//! proxy for the data plane, against a real Prometheus backend where data is involved.

mod cli;
mod control_plane;
mod data_plane;
mod errors;
mod fidelity;
mod front_door;
mod raw_http;
mod ruler;
mod tenancy;

use std::path::Path;
use std::time::Duration;

use ampfed_aws_mock::{AwsMock, AwsMockOptions};
use ampfed_proxy::{ProxyOptions, SigningProxy, WebIdentity, WebIdentityCredentials};
use ampfed_test_support::TempDir;

pub const ROLE: &str = "arn:aws:iam::123456789012:role/test";
pub const REGION: &str = "us-west-2";
pub const TOKEN: &str = "tok-ampfed-test";

/// A mock whose data plane would reach nothing (for control-plane tests).
pub async fn mock() -> AwsMock {
    mock_with_backend(&unreachable_backend()).await
}

/// A loopback URL nothing listens on: a port the kernel just handed out and that was closed.
pub fn unreachable_backend() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A mock serving its data plane from `backend_url`, trusting [`TOKEN`] for [`ROLE`].
pub async fn mock_with_backend(backend_url: &str) -> AwsMock {
    let mock = AwsMock::start(AwsMockOptions {
        region: REGION.into(),
        backend_url: backend_url.into(),
        credential_lifetime: Duration::from_secs(900),
    })
    .await;
    mock.trust_web_identity(TOKEN, ROLE);
    mock
}

/// A fresh directory for one test, removed when the test ends, passing or not.
pub fn tempdir(name: &str) -> TempDir {
    TempDir::new(&format!("aws-mock-test-{name}"))
}

pub fn credentials(mock: &AwsMock, dir: &Path, token: &str) -> WebIdentityCredentials {
    let token_file = dir.join(format!("token-{token}"));
    std::fs::write(&token_file, token).unwrap();
    WebIdentityCredentials::new(
        WebIdentity {
            role_arn: ROLE.into(),
            token_file,
            session_name: "test".into(),
            sts_endpoint: mock.sts_url(),
            region: REGION.into(),
        },
        Duration::from_secs(10),
    )
}

/// An `aws-sdk-amp` client pointed at the mock with only `endpoint_url` overridden.
pub fn client(mock: &AwsMock, dir: &Path, token: &str) -> aws_sdk_amp::Client {
    let config = ampfed_aws::sdk_config(&mock.aps_url(), REGION)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials(
            mock, dir, token,
        )))
        .build();
    aws_sdk_amp::Client::new(&config)
}

/// A signing proxy in front of the mock, for plain Prometheus clients.
pub async fn proxy(mock: &AwsMock, dir: &Path) -> SigningProxy {
    SigningProxy::start(
        ProxyOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstream: mock.aps_url(),
            region: REGION.into(),
            service: "aps".into(),
            fault: None,
        },
        credentials(mock, dir, TOKEN),
    )
    .await
    .unwrap()
}

/// Creates a workspace and returns its id once it is ACTIVE.
pub async fn workspace(amp: &aws_sdk_amp::Client) -> String {
    let id = amp.create_workspace().send().await.unwrap().workspace_id().to_owned();
    let ws = amp.describe_workspace().workspace_id(&id).send().await.unwrap();
    assert_eq!(ws.workspace().unwrap().status().unwrap().status_code().as_str(), "ACTIVE");
    id
}

/// Creates a rule groups namespace and reads it once so it is ACTIVE.
pub async fn namespace(amp: &aws_sdk_amp::Client, id: &str, name: &str, rules: &str) {
    amp.create_rule_groups_namespace()
        .workspace_id(id)
        .name(name)
        .data(aws_sdk_amp::primitives::Blob::new(rules))
        .send()
        .await
        .unwrap();
    let ns = amp.describe_rule_groups_namespace().workspace_id(id).name(name).send().await.unwrap();
    assert_eq!(ns.rule_groups_namespace().unwrap().status().unwrap().status_code().as_str(), "ACTIVE");
}

/// Starts a Prometheus backend owned by the returned scenario.
pub fn prometheus() -> (ampfed_env::Scenario, String) {
    let mut scenario = ampfed_env::Scenario::new(false).unwrap();
    let prom = ampfed_env::prometheus::start(&mut scenario, &Default::default()).unwrap();
    (scenario, prom.url)
}

/// A raw call (a remote-write body when given): status and body.
pub fn call(method: &str, url: &str, body: Option<&[u8]>) -> (u16, String) {
    let request = ureq::request(method, url);
    let result = match body {
        Some(b) => request
            .set("Content-Type", "application/x-protobuf")
            .set("Content-Encoding", "snappy")
            .set("X-Prometheus-Remote-Write-Version", "0.1.0")
            .send_bytes(b),
        None => request.call(),
    };
    match result {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap()),
        Err(e) => panic!("{url}: {e}"),
    }
}
