//! Every error the mock answers through `aws-sdk-amp`, with the raw answer (status,
//! `x-amzn-ErrorType`, JSON body) snapshotted; ids are replaced by placeholders.

use std::collections::BTreeMap;

use ampfed_aws_mock::AmpLimits;
use aws_sdk_amp::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_amp::primitives::Blob;
use serde_json::{json, Value};

use crate::{client, mock, tempdir, TOKEN};

use aws_sdk_amp::config::http::HttpResponse;

/// The raw answer of a failed call, with `ids` replaced by their placeholders.
fn answer<E: ProvideErrorMetadata + std::fmt::Debug, T>(
    result: Result<T, SdkError<E, HttpResponse>>,
    ids: &[(&str, &str)],
) -> Value {
    let Err(err) = result else { panic!("the call succeeded") };
    let raw = err.raw_response().unwrap_or_else(|| panic!("no HTTP answer: {err:?}"));
    let header = raw.headers().get("x-amzn-ErrorType").map(str::to_owned);
    let mut body = String::from_utf8_lossy(raw.body().bytes().unwrap_or_default()).into_owned();
    for (id, placeholder) in ids {
        body = body.replace(id, placeholder);
    }
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    assert_eq!(err.code(), header.as_deref(), "the SDK reads the error type from the header");
    json!({ "status": raw.status().as_u16(), "x-amzn-ErrorType": header, "body": body })
}

fn rules(yaml: &str) -> Blob {
    Blob::new(yaml)
}

#[tokio::test]
async fn error_answers() {
    let mock = mock().await;
    let dir = tempdir("errors");
    let amp = client(&mock, &dir, TOKEN);
    mock.set_amp_limits(AmpLimits {
        workspaces_per_region: 2,
        namespaces_per_workspace: 2,
        rule_groups_per_workspace: 3,
        rules_per_group: 2,
        namespace_bytes: 400,
        ..AmpLimits::default()
    });
    let id = crate::workspace(&amp).await;
    let ids = [(id.as_str(), "[workspace-id]")];
    let ids = &ids[..];
    let ok = "groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: sum(up)\n";
    crate::namespace(&amp, &id, "ns", ok).await;
    let mut cases: BTreeMap<&str, Value> = BTreeMap::new();
    let ns = |name: &str, data: &str| {
        amp.create_rule_groups_namespace().workspace_id(&id).name(name).data(rules(data)).send()
    };

    // Workspaces.
    cases.insert(
        "DescribeWorkspace unknown id",
        answer(amp.describe_workspace().workspace_id("ws-unknown").send().await, ids),
    );
    cases.insert(
        "DescribeWorkspace id breaks the pattern",
        answer(amp.describe_workspace().workspace_id("-bad").send().await, ids),
    );
    cases.insert(
        "CreateWorkspace alias too long",
        answer(amp.create_workspace().alias("a".repeat(101)).send().await, ids),
    );
    let mut many = amp.create_workspace();
    for i in 0..51 {
        many = many.tags(format!("k{i:02}"), "v");
    }
    cases.insert("CreateWorkspace 51 tags", answer(many.send().await, ids));
    cases.insert(
        "CreateWorkspace tag key starting with aws:",
        answer(amp.create_workspace().tags("aws:x", "v").send().await, ids),
    );
    let second = amp.create_workspace().client_token("tok-ws").alias("one").send().await.unwrap();
    let second_id = second.workspace_id().to_owned();
    let ids2 = [(id.as_str(), "[workspace-id]"), (second_id.as_str(), "[workspace-id-2]")];
    cases.insert(
        "CreateWorkspace reused clientToken with another alias",
        answer(amp.create_workspace().client_token("tok-ws").alias("two").send().await, &ids2),
    );
    cases.insert(
        "CreateWorkspace over the workspaces quota",
        answer(amp.create_workspace().send().await, &ids2),
    );
    cases.insert(
        "ListWorkspaces maxResults 0",
        answer(amp.list_workspaces().max_results(0).send().await, ids),
    );
    cases.insert(
        "ListWorkspaces maxResults 1001",
        answer(amp.list_workspaces().max_results(1001).send().await, ids),
    );
    cases.insert(
        "ListWorkspaces bad nextToken",
        answer(amp.list_workspaces().next_token("garbage").send().await, ids),
    );
    cases.insert(
        "UpdateWorkspaceAlias unknown id",
        answer(amp.update_workspace_alias().workspace_id("ws-unknown").alias("x").send().await, ids),
    );
    cases.insert(
        "DeleteWorkspace unknown id",
        answer(amp.delete_workspace().workspace_id("ws-unknown").send().await, ids),
    );

    // Rule groups namespaces.
    cases.insert("CreateRuleGroupsNamespace duplicate name", answer(ns("ns", ok).await, ids));
    cases.insert("CreateRuleGroupsNamespace name breaks the pattern", answer(ns("_bad", ok).await, ids));
    cases.insert("CreateRuleGroupsNamespace name too long", answer(ns(&"n".repeat(65), ok).await, ids));
    cases.insert(
        "CreateRuleGroupsNamespace unknown workspace",
        answer(
            amp.create_rule_groups_namespace()
                .workspace_id("ws-unknown")
                .name("n")
                .data(rules(ok))
                .send()
                .await,
            ids,
        ),
    );
    cases.insert("CreateRuleGroupsNamespace data not YAML", answer(ns("n", "groups: [").await, ids));
    cases.insert(
        "CreateRuleGroupsNamespace unknown field",
        answer(ns("n", "groups:\n- name: g\n  colour: red\n  rules: []\n").await, ids),
    );
    cases.insert(
        "CreateRuleGroupsNamespace duplicate group",
        answer(ns("n", "groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n").await, ids),
    );
    cases.insert(
        "CreateRuleGroupsNamespace bad record name",
        answer(ns("n", "groups:\n- name: g\n  rules:\n  - record: 9x\n    expr: up\n").await, ids),
    );
    cases.insert(
        "CreateRuleGroupsNamespace bad label name",
        answer(
            ns("n", "groups:\n- name: g\n  rules:\n  - record: x\n    expr: up\n    labels: {a-b: c}\n")
                .await,
            ids,
        ),
    );
    cases.insert(
        "CreateRuleGroupsNamespace PromQL does not parse",
        answer(
            ns("n", "groups:\n- name: g\n  rules:\n  - record: x\n    expr: up\n  - record: y\n    expr: sum(rate(up[5m])\n")
                .await,
            ids,
        ),
    );
    cases.insert(
        "CreateRuleGroupsNamespace too many rules in a group",
        answer(
            ns("n", "groups:\n- name: g\n  rules:\n  - record: a\n    expr: up\n  - record: b\n    expr: up\n  - record: c\n    expr: up\n")
                .await,
            ids,
        ),
    );
    cases.insert(
        "CreateRuleGroupsNamespace too many rule groups in the workspace",
        answer(
            ns("n", "groups:\n- name: g1\n  rules: []\n- name: g2\n  rules: []\n- name: g3\n  rules: []\n")
                .await,
            ids,
        ),
    );
    let big = format!("# {}\ngroups: []\n", "x".repeat(400));
    cases.insert("CreateRuleGroupsNamespace file over the size quota", answer(ns("n", &big).await, ids));
    ns("ns2", ok).await.unwrap();
    cases.insert("CreateRuleGroupsNamespace over the namespaces quota", answer(ns("n3", ok).await, ids));
    cases.insert(
        "PutRuleGroupsNamespace unknown namespace",
        answer(
            amp.put_rule_groups_namespace().workspace_id(&id).name("nope").data(rules(ok)).send().await,
            ids,
        ),
    );
    cases.insert(
        "PutRuleGroupsNamespace PromQL does not parse",
        answer(
            amp.put_rule_groups_namespace()
                .workspace_id(&id)
                .name("ns")
                .data(rules("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up ==\n"))
                .send()
                .await,
            ids,
        ),
    );
    cases.insert(
        "DescribeRuleGroupsNamespace unknown namespace",
        answer(amp.describe_rule_groups_namespace().workspace_id(&id).name("nope").send().await, ids),
    );
    cases.insert(
        "ListRuleGroupsNamespaces unknown workspace",
        answer(amp.list_rule_groups_namespaces().workspace_id("ws-unknown").send().await, ids),
    );
    cases.insert(
        "DeleteRuleGroupsNamespace unknown namespace",
        answer(amp.delete_rule_groups_namespace().workspace_id(&id).name("nope").send().await, ids),
    );

    // Tags.
    cases.insert(
        "ListTagsForResource unknown workspace",
        answer(
            amp.list_tags_for_resource()
                .resource_arn("arn:aws:aps:us-west-2:123456789012:workspace/ws-unknown")
                .send()
                .await,
            ids,
        ),
    );
    cases.insert(
        "TagResource not an AMP ARN",
        answer(amp.tag_resource().resource_arn("arn:aws:s3:::bucket").tags("a", "b").send().await, ids),
    );

    // Deleting twice: the second call finds the workspace DELETING.
    amp.delete_workspace().workspace_id(&second_id).send().await.unwrap();
    cases.insert(
        "DeleteWorkspace while DELETING",
        answer(amp.delete_workspace().workspace_id(&second_id).send().await, &ids2),
    );

    insta::with_settings!({ sort_maps => true, prepend_module_to_snapshot => false }, {
        insta::assert_yaml_snapshot!("error_answers", cases);
    });
    let _ = std::fs::remove_dir_all(dir);
}
