//! The STS mock driven through `aws-sdk-sts`: `AssumeRole` and `GetCallerIdentity` signed for
//! `sts` and verified against the shared registry, `AssumeRoleWithWebIdentity` unsigned, and
//! the errors STS answers with.

use std::time::Duration;

use ampfed_aws_mock::{AwsMock, AwsMockOptions};
use ampfed_test_support::ManualClock;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::config::Credentials;
use aws_sdk_sts::error::ProvideErrorMetadata;
use chrono::{DateTime, TimeZone, Utc};

const REGION: &str = "us-west-2";
const USER: &str = "arn:aws:iam::123456789012:user/alice";
const USER_KEY: &str = "AKIAAMPFEDTESTALICE1";
const USER_SECRET: &str = "alice/secret/key/0123456789abcdefghijklm";
const ROLE: &str = "arn:aws:iam::123456789012:role/kubecost";

async fn mock() -> AwsMock {
    let mock = AwsMock::start(AwsMockOptions {
        region: REGION.into(),
        backend_url: "http://127.0.0.1:9".into(),
        credential_lifetime: Duration::from_secs(3600),
    })
    .await;
    mock.registry().register_static(USER_KEY, USER_SECRET, USER);
    mock
}

/// An STS client signing with `credentials` (unsigned when `None`).
fn sts(mock: &AwsMock, credentials: Option<Credentials>) -> aws_sdk_sts::Client {
    let mut config = ampfed_aws::sdk_config(&mock.sts_url(), REGION);
    if let Some(credentials) = credentials {
        config = config.credentials_provider(SharedCredentialsProvider::new(credentials));
    }
    aws_sdk_sts::Client::new(&config.build())
}

fn alice() -> Credentials {
    Credentials::new(USER_KEY, USER_SECRET, None, None, "test")
}

fn status<E>(e: &aws_sdk_sts::error::SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

#[tokio::test]
async fn assume_role_issues_credentials_that_sign_get_caller_identity() {
    let mock = mock().await;
    mock.trust_assume_role(USER, ROLE);
    let me = sts(&mock, Some(alice())).get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some(USER));
    assert_eq!(me.account(), Some("123456789012"));
    assert!(me.user_id().unwrap().starts_with("AIDA"));

    let before = Utc::now();
    let out = sts(&mock, Some(alice()))
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("s1")
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let user = out.assumed_role_user().unwrap();
    assert_eq!(user.arn(), "arn:aws:sts::123456789012:assumed-role/kubecost/s1");
    assert!(user.assumed_role_id().starts_with("AROA") && user.assumed_role_id().ends_with(":s1"));
    let c = out.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"));
    let expires = c.expiration().secs();
    assert!((before.timestamp() + 899..=Utc::now().timestamp() + 900).contains(&expires), "{expires}");
    assert!(mock.registry().lookup(c.access_key_id()).is_some());

    let session = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "test",
    );
    let me = sts(&mock, Some(session)).get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some("arn:aws:sts::123456789012:assumed-role/kubecost/s1"));
    assert_eq!(me.user_id(), Some(user.assumed_role_id()));
    assert_eq!(mock.sts_calls("AssumeRole"), 1);
    assert_eq!(mock.sts_calls("GetCallerIdentity"), 2);
}

#[tokio::test]
async fn a_role_session_may_assume_a_role_that_trusts_its_role() {
    let mock = mock().await;
    let target = "arn:aws:iam::123456789012:role/target";
    mock.trust_assume_role(USER, ROLE);
    mock.trust_assume_role(ROLE, target);
    let c = sts(&mock, Some(alice()))
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("hop1")
        .send()
        .await
        .unwrap();
    let c = c.credentials().unwrap();
    let session = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "t",
    );
    let out = sts(&mock, Some(session))
        .assume_role()
        .role_arn(target)
        .role_session_name("hop2")
        .send()
        .await
        .unwrap();
    assert_eq!(out.assumed_role_user().unwrap().arn(), "arn:aws:sts::123456789012:assumed-role/target/hop2");
}

#[tokio::test]
async fn assume_role_refuses_untrusted_roles_and_bad_durations() {
    let mock = mock().await;
    mock.trust_assume_role(USER, ROLE);
    let client = sts(&mock, Some(alice()));
    let other = "arn:aws:iam::123456789012:role/other";
    let e = client.assume_role().role_arn(other).role_session_name("s1").send().await.unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"));
    assert_eq!(status(&e), Some(403));
    assert_eq!(
        e.message(),
        Some(
            format!("User: {USER} is not authorized to perform: sts:AssumeRole on resource: {other}")
                .as_str()
        )
    );

    for (secs, bound) in [(899, "greater than or equal to 900"), (43_201, "less than or equal to 43200")] {
        let e = client
            .assume_role()
            .role_arn(ROLE)
            .role_session_name("s1")
            .duration_seconds(secs)
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("ValidationError"));
        assert_eq!(status(&e), Some(400));
        assert!(e.message().unwrap().contains(bound), "{e:?}");
    }
    let ok =
        client.assume_role().role_arn(ROLE).role_session_name("s1").duration_seconds(43_200).send().await;
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test]
async fn signed_actions_refuse_missing_unknown_wrong_and_expired_keys() {
    let mock = mock().await;
    mock.trust_assume_role("*", ROLE);

    // The SDK refuses to send unsigned: post the form by hand.
    let url = mock.sts_url();
    let unsigned = tokio::task::spawn_blocking(move || {
        match ureq::post(&url)
            .set("content-type", "application/x-www-form-urlencoded")
            .send_string("Action=GetCallerIdentity&Version=2011-06-15")
        {
            Err(ureq::Error::Status(status, r)) => (status, r.into_string().unwrap()),
            other => panic!("expected an error status, got {other:?}"),
        }
    })
    .await
    .unwrap();
    assert_eq!(unsigned.0, 403);
    assert!(unsigned.1.contains("<Code>MissingAuthenticationToken</Code>"), "{}", unsigned.1);
    assert!(unsigned.1.contains("<ErrorResponse"), "{}", unsigned.1);

    let unknown = Credentials::new("AKIAUNKNOWNUNKNOWN00", "x", None, None, "t");
    let e = sts(&mock, Some(unknown))
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("s1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidClientTokenId"));
    assert_eq!(e.message(), Some("The security token included in the request is invalid."));

    let wrong = Credentials::new(USER_KEY, "not-the-secret", None, None, "t");
    let e = sts(&mock, Some(wrong)).get_caller_identity().send().await.unwrap_err();
    assert_eq!(e.code(), Some("SignatureDoesNotMatch"));
    assert!(e.message().unwrap().contains("The Canonical String for this request should have been"));

    let c =
        sts(&mock, Some(alice())).assume_role().role_arn(ROLE).role_session_name("s1").send().await.unwrap();
    let c = c.credentials().unwrap();
    mock.registry().expire(c.access_key_id());
    let expired = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "t",
    );
    let e = sts(&mock, Some(expired)).get_caller_identity().send().await.unwrap_err();
    assert_eq!(e.code(), Some("ExpiredToken"));
    assert_eq!(status(&e), Some(400));
}

#[tokio::test]
async fn web_identity_errors_are_sts_errors() {
    let mock = mock().await;
    mock.trust_web_identity("good", ROLE);
    let client = sts(&mock, None);
    let call = |token: &str, role: &str| {
        client
            .assume_role_with_web_identity()
            .role_arn(role)
            .role_session_name("session")
            .web_identity_token(token)
            .send()
    };
    // STS's model: tokens are 4 to 20000 characters (botocore checks this before sending).
    let e = call("abc", ROLE).await.unwrap_err();
    assert_eq!(e.code(), Some("ValidationError"));
    assert_eq!(status(&e), Some(400));
    let e = call("unknown", ROLE).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidIdentityToken"));
    assert_eq!(status(&e), Some(400));
    let e = call("good", "arn:aws:iam::123456789012:role/other").await.unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"));
    assert_eq!(status(&e), Some(403));
    assert!(call("good", ROLE).await.is_ok());
    mock.expire_web_identity_token("good");
    let e = call("good", ROLE).await.unwrap_err();
    assert_eq!(e.code(), Some("ExpiredTokenException"));
    assert!(e.message().unwrap().starts_with("Token expired: current date/time"));
    assert_eq!(mock.sts_calls("AssumeRoleWithWebIdentity"), 1);
}

#[tokio::test]
async fn the_mock_clock_dates_credentials_and_signatures() {
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    let manual = ManualClock::at(start);
    let mock = AwsMock::start_with_clock(
        AwsMockOptions {
            region: REGION.into(),
            backend_url: "http://127.0.0.1:9".into(),
            credential_lifetime: Duration::from_secs(60),
        },
        manual.clock(),
    )
    .await;
    assert_eq!(mock.now(), start);
    mock.trust_web_identity("tok-ampfed-test", ROLE);
    let out = sts(&mock, None)
        .assume_role_with_web_identity()
        .role_arn(ROLE)
        .role_session_name("session")
        .web_identity_token("tok-ampfed-test")
        .send()
        .await
        .unwrap();
    assert_eq!(out.credentials().unwrap().expiration().secs(), start.timestamp() + 60);

    // A request signed now (2026 or so) is far from the mock's 2030: the signature is refused.
    mock.registry().register_static(USER_KEY, USER_SECRET, USER);
    let e = sts(&mock, Some(alice())).get_caller_identity().send().await.unwrap_err();
    assert_eq!(e.code(), Some("SignatureDoesNotMatch"));
    assert!(e.message().unwrap().starts_with("Signature expired"), "{e:?}");
    manual.set(Utc::now());
    assert!(sts(&mock, Some(alice())).get_caller_identity().send().await.is_ok());
}
