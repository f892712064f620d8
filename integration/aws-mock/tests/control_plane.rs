//! The AMP mock driven through `aws-sdk-amp` with web identity credentials from the STS mock:
//! what succeeds, and the errors AWS would answer.

use std::time::Duration;

use ampfed_aws_mock::{AwsMock, AwsMockOptions};
use ampfed_proxy::{WebIdentity, WebIdentityCredentials};
use aws_sdk_amp::config::{BehaviorVersion, Region};
use aws_sdk_amp::error::ProvideErrorMetadata;
use aws_sdk_amp::primitives::Blob;

const ROLE: &str = "arn:aws:iam::123456789012:role/test";

async fn mock() -> AwsMock {
    AwsMock::start(AwsMockOptions {
        region: "us-west-2".into(),
        // No data-plane call in these tests reaches the backend.
        backend_url: "http://127.0.0.1:9".into(),
        credential_lifetime: Duration::from_secs(900),
    })
    .await
}

fn client(mock: &AwsMock, dir: &std::path::Path, token: &str) -> aws_sdk_amp::Client {
    let token_file = dir.join("token");
    std::fs::write(&token_file, token).unwrap();
    let creds = WebIdentityCredentials::new(
        WebIdentity {
            role_arn: ROLE.into(),
            token_file,
            session_name: "test".into(),
            sts_endpoint: mock.sts_url(),
            region: "us-west-2".into(),
        },
        Duration::from_secs(10),
    );
    let config = aws_sdk_amp::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .endpoint_url(mock.aps_url())
        .credentials_provider(creds)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_amp::Client::from_conf(config)
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ampfed-aws-mock-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const RULES: &str = "groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum(up)\n";

#[tokio::test]
async fn workspace_and_namespace_lifecycle_through_aws_sdk_amp() {
    let mock = mock().await;
    mock.trust_web_identity("tok", ROLE);
    let dir = tempdir("lifecycle");
    let amp = client(&mock, &dir, "tok");

    let ws = amp.create_workspace().alias("a").send().await.unwrap();
    assert!(ws.workspace_id().starts_with("ws-"));
    assert_eq!(ws.status().unwrap().status_code().as_str(), "CREATING");
    let id = ws.workspace_id().to_owned();
    let described = amp.describe_workspace().workspace_id(&id).send().await.unwrap();
    let w = described.workspace().unwrap();
    assert_eq!(w.status().map(|s| s.status_code().as_str()), Some("ACTIVE"));
    assert_eq!(w.arn(), format!("arn:aws:aps:us-west-2:123456789012:workspace/{id}"));
    assert_eq!(
        w.prometheus_endpoint(),
        Some(format!("https://aps-workspaces.us-west-2.amazonaws.com/workspaces/{id}/").as_str())
    );

    let ns = amp
        .create_rule_groups_namespace()
        .workspace_id(&id)
        .name("kubecost")
        .data(Blob::new(RULES))
        .send()
        .await
        .unwrap();
    assert_eq!(ns.status().unwrap().status_code().as_str(), "CREATING");
    let got = amp.describe_rule_groups_namespace().workspace_id(&id).name("kubecost").send().await.unwrap();
    let got = got.rule_groups_namespace().unwrap();
    assert_eq!(got.status().unwrap().status_code().as_str(), "ACTIVE");
    assert_eq!(got.data().as_ref(), RULES.as_bytes());

    let dup = amp
        .create_rule_groups_namespace()
        .workspace_id(&id)
        .name("kubecost")
        .data(Blob::new(RULES))
        .send()
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Some("ConflictException"));

    let bad = amp
        .create_rule_groups_namespace()
        .workspace_id(&id)
        .name("bad")
        .data(Blob::new("groups:\n- name: g\n  rules:\n  - record: 9x\n    expr: up\n"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some("ValidationException"));
    assert!(
        bad.message().unwrap_or("").contains("group \"g\", rule 0: invalid recording rule name: 9x"),
        "{bad:?}"
    );

    let missing = amp.describe_workspace().workspace_id("ws-nope").send().await.unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_untrusted_web_identity_gets_no_credentials() {
    let mock = mock().await;
    let dir = tempdir("untrusted");
    let amp = client(&mock, &dir, "nobody");
    let err = amp.create_workspace().send().await.unwrap_err();
    let text = format!("{}", aws_sdk_amp::error::DisplayErrorContext(&err));
    assert!(text.contains("InvalidIdentityToken"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn unsigned_requests_are_refused_like_aws() {
    let mock = mock().await;
    let url = format!("{}/workspaces", mock.aps_url());
    let err =
        tokio::task::spawn_blocking(move || ureq::post(&url).send_string("{}").unwrap_err()).await.unwrap();
    let ureq::Error::Status(status, response) = err else { panic!("transport error") };
    assert_eq!(status, 403);
    assert_eq!(response.header("x-amzn-ErrorType"), Some("MissingAuthenticationTokenException"));
    assert_eq!(response.into_string().unwrap(), r#"{"message":"Missing Authentication Token"}"#);
}
