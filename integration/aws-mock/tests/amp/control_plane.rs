//! Every control-plane operation's happy path through `aws-sdk-amp`: shapes, ARNs, status
//! transitions, the SDK's waiters, pagination, idempotency and tags.

use std::time::Duration;

use aws_sdk_amp::client::Waiters;
use aws_sdk_amp::error::ProvideErrorMetadata;
use aws_sdk_amp::primitives::Blob;

use crate::{client, mock, tempdir, TOKEN};

const RULES: &str = "groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum(up)\n";
const RULES_V2: &str = "groups:\n- name: g\n  rules:\n  - record: job:up:count\n    expr: count(up)\n";

#[tokio::test]
async fn workspace_lifecycle_arns_endpoint_and_waiters() {
    let mock = mock().await;
    let dir = tempdir("workspace-lifecycle");
    let amp = client(&mock, &dir, TOKEN);

    let ws = amp.create_workspace().alias("a").tags("team", "cost").send().await.unwrap();
    assert!(ws.workspace_id().starts_with("ws-") && ws.workspace_id().len() == 39, "{}", ws.workspace_id());
    assert_eq!(ws.status().unwrap().status_code().as_str(), "CREATING");
    let id = ws.workspace_id().to_owned();
    assert_eq!(ws.arn(), format!("arn:aws:aps:us-west-2:123456789012:workspace/{id}"));
    amp.wait_until_workspace_active().workspace_id(&id).wait(Duration::from_secs(30)).await.unwrap();
    let described = amp.describe_workspace().workspace_id(&id).send().await.unwrap();
    let w = described.workspace().unwrap();
    assert_eq!(w.status().map(|s| s.status_code().as_str()), Some("ACTIVE"));
    assert_eq!(w.alias(), Some("a"));
    assert_eq!(w.tags().unwrap().get("team").map(String::as_str), Some("cost"));
    assert_eq!(
        w.prometheus_endpoint(),
        Some(format!("https://aps-workspaces.us-west-2.amazonaws.com/workspaces/{id}/").as_str())
    );

    amp.update_workspace_alias().workspace_id(&id).alias("b").send().await.unwrap();
    let w = amp.describe_workspace().workspace_id(&id).send().await.unwrap();
    let w = w.workspace().unwrap();
    assert_eq!((w.alias(), w.status().unwrap().status_code().as_str()), (Some("b"), "ACTIVE"));

    amp.delete_workspace().workspace_id(&id).send().await.unwrap();
    let deleting = amp.describe_workspace().workspace_id(&id).send().await.unwrap();
    assert_eq!(deleting.workspace().unwrap().status().unwrap().status_code().as_str(), "DELETING");
    let gone = amp.describe_workspace().workspace_id(&id).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));

    // The SDK's waiter: DELETING means retry, ResourceNotFoundException means done.
    let other = amp.create_workspace().send().await.unwrap().workspace_id().to_owned();
    amp.delete_workspace().workspace_id(&other).send().await.unwrap();
    amp.wait_until_workspace_deleted().workspace_id(&other).wait(Duration::from_secs(30)).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn list_workspaces_pages_and_filters_by_alias_prefix() {
    let mock = mock().await;
    let dir = tempdir("list-workspaces");
    let amp = client(&mock, &dir, TOKEN);
    let mut ids = Vec::new();
    for alias in ["prod-a", "prod-b", "dev"] {
        ids.push(amp.create_workspace().alias(alias).send().await.unwrap().workspace_id().to_owned());
    }
    let page1 = amp.list_workspaces().max_results(2).send().await.unwrap();
    let token = page1.next_token().expect("a second page").to_owned();
    let page2 = amp.list_workspaces().max_results(2).next_token(token).send().await.unwrap();
    assert_eq!(page2.next_token(), None);
    let listed: Vec<String> =
        page1.workspaces().iter().chain(page2.workspaces()).map(|w| w.workspace_id().to_owned()).collect();
    assert_eq!(listed, ids);
    let all = amp.list_workspaces().send().await.unwrap();
    assert_eq!(all.workspaces().len(), 3);
    assert_eq!(all.workspaces()[0].status().unwrap().status_code().as_str(), "ACTIVE");
    let prod = amp.list_workspaces().alias("prod").send().await.unwrap();
    let aliases: Vec<_> = prod.workspaces().iter().filter_map(|w| w.alias()).collect();
    assert_eq!(aliases, ["prod-a", "prod-b"]);
    // The paginator follows nextToken to the end.
    let pages: Vec<_> =
        amp.list_workspaces().max_results(1).into_paginator().send().collect::<Vec<_>>().await;
    assert_eq!(pages.len(), 3);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn client_tokens_make_creates_idempotent() {
    let mock = mock().await;
    let dir = tempdir("idempotency");
    let amp = client(&mock, &dir, TOKEN);
    let first = amp.create_workspace().alias("x").client_token("token-1").send().await.unwrap();
    let again = amp.create_workspace().alias("x").client_token("token-1").send().await.unwrap();
    assert_eq!(first.workspace_id(), again.workspace_id());
    assert_eq!(amp.list_workspaces().send().await.unwrap().workspaces().len(), 1);
    let conflict = amp.create_workspace().alias("y").client_token("token-1").send().await.unwrap_err();
    assert_eq!(conflict.code(), Some("ConflictException"));

    let id = first.workspace_id();
    let create = || {
        amp.create_rule_groups_namespace()
            .workspace_id(id)
            .name("n")
            .data(Blob::new(RULES))
            .client_token("t-2")
    };
    create().send().await.unwrap();
    let replayed = create().send().await.unwrap();
    assert_eq!(replayed.status().unwrap().status_code().as_str(), "CREATING");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn namespace_lifecycle_put_list_and_delete() {
    let mock = mock().await;
    let dir = tempdir("namespace-lifecycle");
    let amp = client(&mock, &dir, TOKEN);
    let id = crate::workspace(&amp).await;

    let ns = amp
        .create_rule_groups_namespace()
        .workspace_id(&id)
        .name("kubecost")
        .data(Blob::new(RULES))
        .tags("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(ns.status().unwrap().status_code().as_str(), "CREATING");
    assert_eq!(ns.arn(), format!("arn:aws:aps:us-west-2:123456789012:rulegroupsnamespace/{id}/kubecost"));
    let got = amp.describe_rule_groups_namespace().workspace_id(&id).name("kubecost").send().await.unwrap();
    let got = got.rule_groups_namespace().unwrap();
    assert_eq!(got.status().unwrap().status_code().as_str(), "ACTIVE");
    assert_eq!(got.data().as_ref(), RULES.as_bytes());
    assert_eq!(got.tags().unwrap().get("k").map(String::as_str), Some("v"));

    let put = amp
        .put_rule_groups_namespace()
        .workspace_id(&id)
        .name("kubecost")
        .data(Blob::new(RULES_V2))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().unwrap().status_code().as_str(), "UPDATING");
    let got = amp.describe_rule_groups_namespace().workspace_id(&id).name("kubecost").send().await.unwrap();
    let got = got.rule_groups_namespace().unwrap();
    assert_eq!(got.status().unwrap().status_code().as_str(), "ACTIVE");
    assert_eq!(got.data().as_ref(), RULES_V2.as_bytes());

    // A rejected put leaves the previous rules in place and ACTIVE.
    let bad = amp
        .put_rule_groups_namespace()
        .workspace_id(&id)
        .name("kubecost")
        .data(Blob::new("groups:\n- name: g\n  rules:\n  - record: x\n    expr: sum(\n"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some("ValidationException"));
    let got = amp.describe_rule_groups_namespace().workspace_id(&id).name("kubecost").send().await.unwrap();
    let got = got.rule_groups_namespace().unwrap();
    assert_eq!(got.status().unwrap().status_code().as_str(), "ACTIVE");
    assert_eq!(got.data().as_ref(), RULES_V2.as_bytes());

    for name in ["kubecost-2", "other"] {
        amp.create_rule_groups_namespace()
            .workspace_id(&id)
            .name(name)
            .data(Blob::new(RULES))
            .send()
            .await
            .unwrap();
    }
    let listed = amp.list_rule_groups_namespaces().workspace_id(&id).name("kube").send().await.unwrap();
    let names: Vec<_> = listed.rule_groups_namespaces().iter().map(|n| n.name()).collect();
    assert_eq!(names, ["kubecost", "kubecost-2"]);
    let page = amp.list_rule_groups_namespaces().workspace_id(&id).max_results(2).send().await.unwrap();
    assert_eq!(page.rule_groups_namespaces().len(), 2);
    let rest = amp
        .list_rule_groups_namespaces()
        .workspace_id(&id)
        .max_results(2)
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.rule_groups_namespaces().iter().map(|n| n.name()).collect::<Vec<_>>(), ["other"]);
    assert_eq!(rest.next_token(), None);

    amp.delete_rule_groups_namespace().workspace_id(&id).name("other").send().await.unwrap();
    let deleting = amp.describe_rule_groups_namespace().workspace_id(&id).name("other").send().await.unwrap();
    assert_eq!(
        deleting.rule_groups_namespace().unwrap().status().unwrap().status_code().as_str(),
        "DELETING"
    );
    let gone = amp.describe_rule_groups_namespace().workspace_id(&id).name("other").send().await.unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn tags_on_workspaces_and_namespaces() {
    let mock = mock().await;
    let dir = tempdir("tags");
    let amp = client(&mock, &dir, TOKEN);
    let id = crate::workspace(&amp).await;
    crate::namespace(&amp, &id, "n", RULES).await;
    for arn in [
        format!("arn:aws:aps:us-west-2:123456789012:workspace/{id}"),
        format!("arn:aws:aps:us-west-2:123456789012:rulegroupsnamespace/{id}/n"),
    ] {
        amp.tag_resource().resource_arn(&arn).tags("a", "1").tags("b", "2").send().await.unwrap();
        let tags = amp.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
        assert_eq!(tags.tags().unwrap().len(), 2, "{arn}");
        amp.untag_resource().resource_arn(&arn).tag_keys("a").send().await.unwrap();
        let tags = amp.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
        let keys: Vec<_> = tags.tags().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["b"], "{arn}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_untrusted_web_identity_gets_no_credentials() {
    let mock = mock().await;
    let dir = tempdir("untrusted");
    let amp = client(&mock, &dir, "nobody");
    let err = amp.create_workspace().send().await.unwrap_err();
    let text = ampfed_aws::error_text(&err);
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
