//! Credentials that live 60 s, over a simulated 10-minute run: the proxy refreshes them ahead
//! of expiry and no request fails. The mock and the proxy share a manual clock that the test
//! moves in 5-second steps.

use std::time::Duration;

use ampfed_aws_mock::{AwsMock, AwsMockOptions};
use ampfed_proxy::{SigningProxy, WebIdentity, WebIdentityCredentials};
use ampfed_test_support::{ManualClock, TempDir};

use crate::{aps_proxy, raw, request, REGION};

const ROLE: &str = "arn:aws:iam::123456789012:role/cost-analyzer";
const LIFETIME: Duration = Duration::from_secs(60);
const REFRESH_AHEAD: Duration = Duration::from_secs(15);
const RUN: Duration = Duration::from_secs(600);
const STEP: Duration = Duration::from_secs(5);

/// The workspace id in a CreateWorkspace answer.
fn workspace_id(body: &str) -> String {
    let start = body.find("\"workspaceId\":\"").expect("a workspaceId") + "\"workspaceId\":\"".len();
    body[start..].split('"').next().unwrap().to_owned()
}

/// A mock and a proxy on one manual clock, the proxy holding web identity credentials for
/// [`ROLE`] that live [`LIFETIME`] and refresh [`REFRESH_AHEAD`] before expiry.
struct Setup {
    clock: ManualClock,
    mock: AwsMock,
    credentials: WebIdentityCredentials,
    proxy: SigningProxy,
    _dir: TempDir,
}

impl Setup {
    async fn start(name: &str, token: &str) -> Setup {
        let clock = ManualClock::starting_now();
        let mock = AwsMock::start_with_clock(
            AwsMockOptions {
                region: REGION.into(),
                backend_url: "http://127.0.0.1:9".into(),
                credential_lifetime: LIFETIME,
            },
            clock.clock(),
        )
        .await;
        let dir = TempDir::new(&format!("proxy-{name}"));
        let token_file = dir.join("token");
        std::fs::write(&token_file, token).unwrap();
        mock.trust_web_identity(token, ROLE);
        let credentials = WebIdentityCredentials::new(
            WebIdentity {
                role_arn: ROLE.into(),
                token_file,
                session_name: "cost-analyzer".into(),
                sts_endpoint: mock.sts_url(),
                region: REGION.into(),
            },
            REFRESH_AHEAD,
        )
        .with_clock(clock.clock());
        let proxy = SigningProxy::builder(aps_proxy(mock.aps_url()))
            .clock(clock.clock())
            .start(credentials.clone())
            .await
            .unwrap();
        Setup { clock, mock, credentials, proxy, _dir: dir }
    }
}

#[tokio::test]
async fn ten_simulated_minutes_of_60s_credentials_without_a_failed_request() {
    let setup = Setup::start("refresh", "refresh-token").await;
    let (clock, mock, credentials, addr) =
        (&setup.clock, &setup.mock, &setup.credentials, setup.proxy.local_addr());

    let created = raw(
        addr,
        &request(addr, "POST", "/workspaces", &[("content-type", "application/json")], b"{\"alias\":\"r\"}"),
    )
    .await;
    assert_eq!(created.status, 202, "{}", created.text());
    let id = workspace_id(&created.text());

    let mut failures = Vec::new();
    let mut sent = 0;
    let mut elapsed = Duration::ZERO;
    while elapsed < RUN {
        clock.advance(STEP);
        elapsed += STEP;
        let answer = raw(addr, &request(addr, "GET", &format!("/workspaces/{id}"), &[], b"")).await;
        sent += 1;
        if answer.status != 200 {
            failures.push(format!("t+{}s: {} {}", elapsed.as_secs(), answer.status, answer.text()));
        }
    }
    assert!(failures.is_empty(), "{} of {sent} requests failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(sent, 120);

    // Credentials are replaced once they are within REFRESH_AHEAD of expiry: every
    // LIFETIME - REFRESH_AHEAD (45 s), rounded up to the 5 s step; plus the first fetch.
    let interval = (LIFETIME - REFRESH_AHEAD).as_secs().div_ceil(STEP.as_secs()) * STEP.as_secs();
    let expected = 1 + RUN.as_secs() / interval;
    let calls = mock.sts_calls("AssumeRoleWithWebIdentity");
    assert_eq!(calls, credentials.fetches(), "every fetch is one STS call");
    assert!(
        (expected.saturating_sub(1)..=expected + 1).contains(&(calls as u64)),
        "{calls} STS calls, about {expected} expected (600 s / {interval} s + 1)"
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_valid_credentials_until_they_expire() {
    let setup = Setup::start("refresh-fails", "soon-expired").await;
    let (clock, mock, credentials, addr) =
        (&setup.clock, &setup.mock, &setup.credentials, setup.proxy.local_addr());
    let get = move || async move { raw(addr, &request(addr, "GET", "/workspaces/ws-none", &[], b"")).await };
    assert_eq!(get().await.status, 404);

    mock.expire_web_identity_token("soon-expired");
    clock.advance(Duration::from_secs(50)); // Inside the refresh window, not yet expired.
    assert_eq!(get().await.status, 404, "the still-valid credentials are used");
    clock.advance(Duration::from_secs(15)); // Expired now, and STS refuses the token.
    let failed = get().await;
    assert_eq!(failed.status, 502);
    assert!(failed.text().contains("ExpiredTokenException"), "{}", failed.text());
    assert_eq!(mock.sts_calls("AssumeRoleWithWebIdentity"), 1);
    assert_eq!(credentials.fetches(), 3);
}

#[tokio::test]
async fn a_refresh_ahead_beyond_any_time_refreshes_every_call_instead_of_overflowing() {
    // `--refresh-ahead-secs 18446744073709551615`: "now + refresh ahead" is past the end of
    // time. The credentials then always count as due for a refresh, and nothing panics.
    let clock = ManualClock::starting_now();
    let mock = AwsMock::start_with_clock(
        AwsMockOptions {
            region: REGION.into(),
            backend_url: "http://127.0.0.1:9".into(),
            credential_lifetime: LIFETIME,
        },
        clock.clock(),
    )
    .await;
    let dir = TempDir::new("proxy-refresh-overflow");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "overflow-token").unwrap();
    mock.trust_web_identity("overflow-token", ROLE);
    let identity = WebIdentity {
        role_arn: ROLE.into(),
        token_file,
        session_name: "cost-analyzer".into(),
        sts_endpoint: mock.sts_url(),
        region: REGION.into(),
    };
    let credentials =
        WebIdentityCredentials::new(identity, Duration::from_secs(u64::MAX)).with_clock(clock.clock());
    for _ in 0..3 {
        credentials.get().await.unwrap();
    }
    assert_eq!(credentials.fetches(), 3);
    assert_eq!(mock.sts_calls("AssumeRoleWithWebIdentity"), 3);
}
