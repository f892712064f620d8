//! Every control-plane operation as raw HTTP through the signing proxy, the way any other SDK
//! or the AWS CLI would call it: exact paths, status codes and JSON members, snapshotted with
//! ids and timestamps redacted.

use base64::Engine;
use serde_json::{json, Value};

use crate::{mock, proxy, tempdir};

fn call(base: &str, method: &str, path: &str, body: Option<&str>) -> (u16, Option<String>, String) {
    let request = ureq::request(method, &format!("{base}{path}"));
    let result = match body {
        Some(b) => request.set("Content-Type", "application/json").send_string(b),
        None => request.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let error_type = response.header("x-amzn-ErrorType").map(str::to_owned);
    (response.status(), error_type, response.into_string().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_http_answers() {
    let mock = mock().await;
    let dir = tempdir("raw-http");
    let mut proxy = proxy(&mock, &dir).await;
    let base = proxy.url();
    let log = tokio::task::spawn_blocking(move || {
        let mut log: Vec<Value> = Vec::new();
        let mut id = String::new();
        let mut run = |method: &str, path: &str, body: Option<Value>| -> Value {
            let path = path.replace("{id}", &id);
            let (status, error_type, text) = call(&base, method, &path, body.map(|b| b.to_string()).as_deref());
            let parsed: Value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
            if id.is_empty() {
                if let Some(ws) = parsed["workspaceId"].as_str() {
                    id = ws.to_owned();
                }
            }
            let shown = if id.is_empty() { text.clone() } else { text.replace(&id, "[workspace-id]") };
            let shown: Value = if shown.is_empty() { Value::Null } else { serde_json::from_str(&shown).unwrap() };
            let request = if id.is_empty() { path.clone() } else { path.replace(&id, "[workspace-id]") };
            log.push(json!({ "request": format!("{method} {request}"), "status": status, "x-amzn-ErrorType": error_type, "body": shown }));
            parsed
        };
        let rules = base64::engine::general_purpose::STANDARD
            .encode("groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum(up)\n");
        run("POST", "/workspaces", Some(json!({ "alias": "shapes", "tags": { "team": "cost" }, "clientToken": "c-1" })));
        run("GET", "/workspaces/{id}", None);
        run("GET", "/workspaces?maxResults=1&alias=sha", None);
        run("POST", "/workspaces/{id}/alias", Some(json!({ "alias": "renamed", "clientToken": "c-2" })));
        run("POST", "/workspaces/{id}/rulegroupsnamespaces", Some(json!({ "name": "n", "data": rules, "clientToken": "c-3" })));
        run("PUT", "/workspaces/{id}/rulegroupsnamespaces/n", Some(json!({ "data": rules, "clientToken": "c-4" })));
        run("GET", "/workspaces/{id}/rulegroupsnamespaces/n", None);
        run("GET", "/workspaces/{id}/rulegroupsnamespaces?name=n&maxResults=10", None);
        let arn = "arn%3Aaws%3Aaps%3Aus-west-2%3A123456789012%3Aworkspace%2F{id}";
        run("POST", &format!("/tags/{arn}"), Some(json!({ "tags": { "x": "y" } })));
        run("GET", &format!("/tags/{arn}"), None);
        run("DELETE", &format!("/tags/{arn}?tagKeys=x"), None);
        run("DELETE", "/workspaces/{id}/rulegroupsnamespaces/n?clientToken=c-5", None);
        run("DELETE", "/workspaces/{id}/rulegroupsnamespaces/n?clientToken=c-5", None);
        run("DELETE", "/workspaces/{id}?clientToken=c-6", None);
        run("GET", "/workspaces/{id}", None);
        run("GET", "/workspaces/{id}", None);
        run("GET", "/nothing-here", None);
        run("POST", "/workspaces/{id}/rulegroupsnamespaces", Some(json!({ "name": 7 })));
        run("POST", "/workspaces/{id}/rulegroupsnamespaces", Some(json!({ "name": "x" })));
        run("POST", "/workspaces/{id}/rulegroupsnamespaces", Some(json!({ "name": "x", "data": "not base64!" })));
        run("POST", "/workspaces", Some(json!({ "clientToken": "" })));
        run("POST", "/workspaces", Some(json!({ "tags": { "k": "v".repeat(257) } })));
        log
    })
    .await
    .unwrap();
    insta::with_settings!({ sort_maps => true, prepend_module_to_snapshot => false }, {
        insta::assert_yaml_snapshot!("raw_http_answers", log, {
            "[].body.**.createdAt" => "[timestamp]",
            "[].body.**.modifiedAt" => "[timestamp]",
        });
    });
    proxy.stop();
    let _ = std::fs::remove_dir_all(dir);
}
