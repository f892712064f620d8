//! `AssumeRole` on top of other credentials (the binary's `--role-arn`): the STS call is
//! signed with the base credentials, and the role's credentials sign for `aps`.

use std::time::Duration;

use ampfed_aws_mock::{AwsMock, AwsMockOptions};
use ampfed_proxy::{AssumeRole, AssumeRoleCredentials, SigningProxy};
use ampfed_test_support::ManualClock;
use aws_credential_types::Credentials;

use crate::{aps_proxy, raw, request, REGION};

const USER: &str = "arn:aws:iam::123456789012:user/operator";
const KEY: &str = "AKIAAMPFEDOPERATOR01";
const SECRET: &str = "operator/secret/0123456789abcdefghijklmno";
const ROLE: &str = "arn:aws:iam::123456789012:role/amp-writer";

/// [`ROLE`] assumed with the operator's static key, refreshed 60 s ahead of expiry.
fn assume_role_credentials(mock: &AwsMock) -> AssumeRoleCredentials {
    let role = AssumeRole {
        role_arn: ROLE.into(),
        session_name: "proxy".into(),
        sts_endpoint: mock.sts_url(),
        region: REGION.into(),
    };
    AssumeRoleCredentials::new(
        Credentials::new(KEY, SECRET, None, None, "static"),
        role,
        Duration::from_secs(60),
    )
}

#[tokio::test]
async fn assumed_role_credentials_sign_and_refresh() {
    let clock = ManualClock::starting_now();
    let mock = AwsMock::start_with_clock(
        AwsMockOptions {
            region: REGION.into(),
            backend_url: "http://127.0.0.1:9".into(),
            credential_lifetime: Duration::from_secs(900),
        },
        clock.clock(),
    )
    .await;
    mock.registry().register_static(KEY, SECRET, USER);
    mock.trust_assume_role(USER, ROLE);
    let credentials = assume_role_credentials(&mock).with_clock(clock.clock());
    let proxy = SigningProxy::builder(aps_proxy(mock.aps_url()))
        .clock(clock.clock())
        .start(credentials.clone())
        .await
        .unwrap();

    for _ in 0..4 {
        // A workspace that does not exist: 404 proves the signature was accepted.
        let answer =
            raw(proxy.local_addr(), &request(proxy.local_addr(), "GET", "/workspaces/ws-none", &[], b""))
                .await;
        assert_eq!(answer.status, 404, "{}", answer.text());
        clock.advance(Duration::from_secs(300));
    }
    // 900 s credentials refreshed 60 s ahead: fetched at 0 s and 900 s... of 0, 300, 600, 900.
    assert_eq!(mock.sts_calls("AssumeRole"), 2);
    assert_eq!(credentials.fetches(), 2);
    let current = credentials.get().await.unwrap();
    let issued = mock.registry().lookup(current.access_key_id()).unwrap();
    assert_eq!(issued.principal_arn, "arn:aws:sts::123456789012:assumed-role/amp-writer/proxy");
}

#[tokio::test]
async fn a_role_the_caller_may_not_assume_fails_with_sts_words() {
    let mock = AwsMock::start(AwsMockOptions {
        region: REGION.into(),
        backend_url: "http://127.0.0.1:9".into(),
        credential_lifetime: Duration::from_secs(900),
    })
    .await;
    mock.registry().register_static(KEY, SECRET, USER);
    let credentials = assume_role_credentials(&mock);
    let e = credentials.get().await.unwrap_err().to_string();
    assert!(e.contains("AssumeRole") && e.contains("AccessDenied") && e.contains("is not authorized"), "{e}");
}
