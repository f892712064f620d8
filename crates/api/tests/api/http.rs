//! End to end over HTTP with the in-memory source: totals worked out by hand from the fixture
//! (`main.rs`), steps, label aggregation, filters with sharing and idle, assets, the 400s and
//! the server's refusals.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use ampfed_api::{Api, ApiConfig, ApiError, ApiServer, MemorySource};
use serde_json::Value;

use crate::{allocations, close, source, NOW};

/// A server on a runtime of its own; the server stops before the runtime ends.
struct Served {
    server: ApiServer,
    _runtime: tokio::runtime::Runtime,
}

fn serve_with(source: MemorySource, config: ApiConfig) -> Served {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let api = Arc::new(Api::new(Arc::new(source), config));
    let server = runtime.block_on(ApiServer::start(api)).unwrap();
    Served { server, _runtime: runtime }
}

fn serve(source: MemorySource) -> Served {
    let listen = "127.0.0.1:0".parse().unwrap();
    serve_with(source, ApiConfig { listen, now: Some(NOW), ..ApiConfig::default() })
}

impl Served {
    /// Status and JSON body of `GET target`.
    fn get(&self, target: &str) -> (u16, Value) {
        let url = format!("{}{target}", self.server.url());
        let (code, body) = match ureq::get(&url).call() {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
            Err(e) => panic!("{url}: {e}"),
        };
        let json: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(json["code"], code, "{body}");
        (code, json)
    }

    /// The data of a 200 answer.
    fn data(&self, target: &str) -> Vec<Value> {
        let (code, json) = self.get(target);
        assert_eq!(code, 200, "{target}: {json}");
        assert_eq!(json["status"], "success");
        json["data"].as_array().unwrap().clone()
    }

    /// The message of a refusal with `code`.
    fn refusal(&self, target: &str, code: u16) -> String {
        let (got, json) = self.get(target);
        assert_eq!(got, code, "{target}: {json}");
        assert_eq!(json["data"], Value::Null);
        json["message"].as_str().unwrap().to_owned()
    }

    /// The status line and body of a raw request.
    fn raw(&self, request: &str) -> (String, String) {
        let mut s = TcpStream::connect(self.server.local_addr()).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text.lines().next().unwrap_or("").to_owned();
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The keys of one step.
fn keys(step: &Value) -> Vec<String> {
    step.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn namespaces_accumulated_over_two_days_without_idle() {
    let s = serve(source());
    let data = s.data("/model/allocation?window=2d&aggregate=namespace&accumulate=true&idle=false");
    assert_eq!(data.len(), 1);
    assert_eq!(keys(&data[0]), ["kube-system", "shop"]);
    // shop: CPU (1 + 3) + (2 + 3) = 9, RAM (0.5 + 1) × 2 = 3; tenancy (2.4 per cluster and day,
    // weighted by cost within the cluster): day 1 c1 2.4 × 1.5/2 = 1.8 and c2 2.4, day 2
    // c1 2.4 × 2.5/3 = 2.0 and c2 2.4, so 8.6; total 20.6.
    let shop = &data[0]["shop"];
    close(f(&shop["cpuCost"]), 9.0);
    close(f(&shop["ramCost"]), 3.0);
    close(f(&shop["sharedCost"]), 8.6);
    close(f(&shop["totalCost"]), 20.6);
    close(f(&shop["minutes"]), 2880.0);
    assert_eq!(shop["name"], "shop");
    assert_eq!(shop["window"]["start"], "2026-01-01T00:00:00Z");
    assert_eq!(shop["window"]["end"], "2026-01-03T00:00:00Z");
    assert_eq!(shop["start"], "2026-01-01T00:00:00Z");
    assert_eq!(shop["properties"]["namespace"], "shop");
    assert!(shop["properties"].get("cluster").is_none(), "two clusters: no common cluster");
    // kube-system: 0.25 + 0.25 per day; tenancy 2.4 × 0.5/2 + 2.4 × 0.5/3 = 0.6 + 0.4.
    let ks = &data[0]["kube-system"];
    close(f(&ks["cpuCost"]), 0.5);
    close(f(&ks["sharedCost"]), 1.0);
    close(f(&ks["totalCost"]), 2.0);
    assert_eq!(ks["properties"]["cluster"], "c1");
    // Every field of Kubecost's shape is there.
    for field in [
        "cpuCores",
        "cpuCoreHours",
        "cpuCoreRequestAverage",
        "cpuCoreUsageAverage",
        "cpuEfficiency",
        "gpuCount",
        "gpuHours",
        "gpuCost",
        "ramBytes",
        "ramByteHours",
        "ramByteRequestAverage",
        "ramByteUsageAverage",
        "ramEfficiency",
        "pvBytes",
        "pvByteHours",
        "pvCost",
        "networkCost",
        "loadBalancerCost",
        "externalCost",
        "totalEfficiency",
    ] {
        assert!(ks.get(field).is_some(), "{field} missing: {ks}");
    }
    // kube-system's CPU: 0.25 of a core requested, 0.125 used, all day.
    close(f(&ks["cpuCoreRequestAverage"]), 0.25);
    close(f(&ks["cpuEfficiency"]), 0.5);
}

#[test]
fn a_daily_step_gives_one_set_per_day() {
    let s = serve(source());
    let data = s.data("/model/allocation?window=2d&aggregate=namespace&step=1d&idle=false");
    assert_eq!(data.len(), 2);
    // Day 1: 1.5 + 4 + 1.8 + 2.4 = 9.7; day 2: 2.5 + 4 + 2.0 + 2.4 = 10.9.
    close(f(&data[0]["shop"]["totalCost"]), 9.7);
    close(f(&data[1]["shop"]["totalCost"]), 10.9);
    assert_eq!(data[1]["shop"]["window"]["start"], "2026-01-02T00:00:00Z");
    assert_eq!(data[1]["shop"]["window"]["end"], "2026-01-03T00:00:00Z");
    // Kubecost's default step for a multi-day window is a day, too; `yesterday` is day 1.
    assert_eq!(s.data("/model/allocation?window=2d&aggregate=namespace&idle=false").len(), 2);
    let yesterday = s.data("/model/allocation?window=yesterday&aggregate=namespace&idle=false");
    close(f(&yesterday[0]["shop"]["totalCost"]), 9.7);
    // A 2-day step over the 2 days is one set, the sum of the days.
    let two = s.data("/model/allocation?window=2d&aggregate=namespace&step=2d&idle=false");
    assert_eq!(two.len(), 1);
    close(f(&two[0]["shop"]["totalCost"]), 20.6);
}

#[test]
fn aggregating_by_a_label() {
    let s = serve(source());
    let data = s.data(
        "/model/allocation?window=2d&aggregate=label:team&accumulate=true&idle=false&shareTenancyCosts=false",
    );
    assert_eq!(keys(&data[0]), ["__unallocated__", "a", "b"]);
    close(f(&data[0]["a"]["totalCost"]), 1.5 + 2.5);
    close(f(&data[0]["b"]["totalCost"]), 8.0);
    close(f(&data[0]["__unallocated__"]["totalCost"]), 1.0);
    assert_eq!(data[0]["a"]["properties"]["labels"]["team"], "a");
    // Two properties, one of them a label.
    let two = s.data("/model/allocation?window=2d&aggregate=cluster,label:team&accumulate=true&idle=false&shareTenancyCosts=false");
    assert_eq!(keys(&two[0]), ["c1/__unallocated__", "c1/a", "c2/b"]);
}

#[test]
fn idle_per_cluster_merged_or_split() {
    let s = serve(source());
    // Idle: c1 day 1 (3 − 1.25) + (1 − 0.75) = 2, day 2 (3 − 2.25) + 0.25 = 1; c2 2 a day.
    let data = s.data("/model/allocation?window=2d&aggregate=cluster&accumulate=true");
    assert_eq!(keys(&data[0]), ["__idle__", "c1", "c2"]);
    close(f(&data[0]["__idle__"]["totalCost"]), 7.0);
    close(f(&data[0]["c1"]["totalCost"]), 2.0 + 2.4 + 3.0 + 2.4);
    close(f(&data[0]["c2"]["totalCost"]), 2.0 * (4.0 + 2.4));
    // Everything adds up to the nodes (2 × 10) and the fees (4 × 2.4).
    let total: f64 = data[0].as_object().unwrap().values().map(|a| f(&a["totalCost"])).sum();
    close(total, 29.6);
    let split = s.data("/model/allocation?window=2d&aggregate=cluster&accumulate=true&splitIdle=true");
    assert_eq!(keys(&split[0]), ["c1", "c1/__idle__", "c2", "c2/__idle__"]);
    close(f(&split[0]["c1/__idle__"]["totalCost"]), 3.0);
    close(f(&split[0]["c2/__idle__"]["totalCost"]), 4.0);
}

#[test]
fn filters_drop_what_they_exclude_and_its_shares() {
    let s = serve(source());
    // c2 only: its shop and all of its tenancy; c1's tenancy share of shop is dropped with c1.
    let c2 = s.data(
        "/model/allocation?window=2d&aggregate=namespace&accumulate=true&idle=false&filter=cluster:%22c2%22",
    );
    assert_eq!(keys(&c2[0]), ["shop"]);
    close(f(&c2[0]["shop"]["totalCost"]), 12.8);
    close(f(&c2[0]["shop"]["sharedCost"]), 4.8);
    // shop only, by cluster, with idle: c1 keeps shop and its tenancy share (1.8, then 2.0);
    // idle is scaled by shop's share of the allocated cost per resource: c1 day 1 CPU
    // 1.75 × 1/1.25 = 1.4, RAM 0.25 × 0.5/0.75 = 1/6, day 2 CPU 0.75 × 2/2.25 = 2/3, RAM 1/6;
    // c2 all of its 2 a day: 1.4 + 1/6 + 2/3 + 1/6 + 4 = 6.4.
    let shop =
        s.data("/model/allocation?window=2d&aggregate=cluster&accumulate=true&filter=namespace:%22shop%22");
    assert_eq!(keys(&shop[0]), ["__idle__", "c1", "c2"]);
    close(f(&shop[0]["c1"]["totalCost"]), 1.5 + 1.8 + 2.5 + 2.0);
    close(f(&shop[0]["c2"]["totalCost"]), 12.8);
    close(f(&shop[0]["__idle__"]["totalCost"]), 6.4);
    let split = s.data("/model/allocation?window=2d&aggregate=cluster&accumulate=true&splitIdle=true&filter=namespace:%22shop%22");
    close(f(&split[0]["c1/__idle__"]["totalCost"]), 2.4);
    close(f(&split[0]["c2/__idle__"]["totalCost"]), 4.0);
    // A filter on c2 drops c1's idle entirely.
    let c2_idle = s.data("/model/allocation?window=2d&aggregate=cluster&accumulate=true&splitIdle=true&filter=cluster:%22c2%22");
    assert_eq!(keys(&c2_idle[0]), ["c2", "c2/__idle__"]);
    // And (`+`, encoded), or, negation, label and controller fields; no aggregate keeps names.
    let web = s.data(
        "/model/allocation?window=yesterday&idle=false&shareTenancyCosts=false\
         &filter=(cluster:%22c1%22%7Ccluster:%22c3%22)%2Bnamespace!:%22kube-system%22%2Blabel[team]:%22a%22%2BcontrollerKind:%22deployment%22",
    );
    assert_eq!(keys(&web[0]), ["c1/n1/shop/web/app"]);
    close(f(&web[0]["c1/n1/shop/web/app"]["totalCost"]), 1.5);
    assert_eq!(web[0]["c1/n1/shop/web/app"]["properties"]["labels"], serde_json::json!({"team": "a"}));
    let prefix = s.data("/model/allocation?window=yesterday&idle=false&shareTenancyCosts=false&aggregate=pod&filter=controllerName%3C~:%22we%22,%22ap%22");
    assert_eq!(keys(&prefix[0]), ["api", "web"]);
}

#[test]
fn assets_by_type_and_by_cluster() {
    let s = serve(source());
    let by_type = s.data("/model/assets?window=2d&aggregate=type&accumulate=true");
    assert_eq!(keys(&by_type[0]), ["ClusterManagement", "Node"]);
    let nodes = &by_type[0]["Node"];
    assert_eq!(nodes["type"], "Node");
    close(f(&nodes["totalCost"]), 20.0);
    close(f(&nodes["cpuCost"]), 14.0);
    close(f(&nodes["ramCost"]), 6.0);
    // Two nodes of 4 cores over the two days: 8 cores on average.
    close(f(&nodes["cpuCores"]), 8.0);
    assert!(nodes.get("GPUHours").is_some(), "{nodes}");
    close(f(&by_type[0]["ClusterManagement"]["totalCost"]), 9.6);
    let by_cluster = s.data("/model/assets?window=2d&aggregate=cluster&accumulate=true");
    assert_eq!(by_cluster[0]["c1"]["type"], "Any");
    close(f(&by_cluster[0]["c1"]["totalCost"]), 12.8);
    close(f(&by_cluster[0]["c2"]["totalCost"]), 16.8);
    // Unaggregated: Kubecost's key; daily sets by default.
    let daily = s.data("/model/assets?window=2d&filter=type:%22Node%22%2Bcluster:%22c1%22");
    assert_eq!(daily.len(), 2);
    assert_eq!(
        keys(&daily[0]),
        ["__undefined__/__undefined__/__undefined__/Compute/c1/Node/__undefined__/i-n1/n1"]
    );
    let n1 = &daily[0]["__undefined__/__undefined__/__undefined__/Compute/c1/Node/__undefined__/i-n1/n1"];
    close(f(&n1["cpuCores"]), 4.0);
    assert_eq!(n1["nodeType"], "m5.xlarge");
    assert_eq!(n1["properties"]["category"], "Compute");
}

#[test]
fn days_without_data_are_empty_sets_with_a_warning() {
    let s = serve(source());
    let (code, json) = s.get(
        "/model/allocation?window=2026-01-01T00:00:00Z,2026-01-04T00:00:00Z&aggregate=namespace&idle=false",
    );
    assert_eq!(code, 200);
    assert_eq!(json["data"].as_array().unwrap().len(), 3);
    assert_eq!(json["data"][2], serde_json::json!({}));
    assert_eq!(json["warning"], "no data for 1 day(s): 2026-01-03");
    // Allocations without the day's assets, when idle needs them: a 500 that says so.
    let mut no_assets = MemorySource::new();
    no_assets.add_allocations(allocations(0));
    let t = serve(no_assets);
    let m = t.refusal("/model/allocation?window=yesterday", 500);
    assert!(m.contains("no asset set for 2026-01-01T00:00:00Z to 2026-01-02T00:00:00Z"), "{m}");
    assert!(m.contains("idle=false&shareTenancyCosts=false"), "{m}");
    assert_eq!(t.data("/model/allocation?window=yesterday&idle=false&shareTenancyCosts=false").len(), 1);
}

#[test]
fn bad_parameters_are_400s_naming_the_parameter() {
    let s = serve(source());
    let cases = [
        ("/model/allocation?aggregate=namespace", "invalid 'window' parameter: it is required"),
        ("/model/allocation?window=fortnight", "invalid 'window' parameter: \"fortnight\" is not a window"),
        ("/model/allocation?window=2026-01-01T10:30:00Z,2026-01-01T12:00:00Z", "not at a whole UTC hour"),
        (
            "/model/allocation?window=2d&aggregate=colour",
            "invalid 'aggregate' parameter: unknown aggregate \"colour\"",
        ),
        ("/model/allocation?window=2d&accumulate=hour", "invalid 'accumulate' parameter"),
        ("/model/allocation?window=2d&step=90m", "invalid 'step' parameter"),
        (
            "/model/allocation?window=2d&shareIdle=maybe",
            "invalid 'shareIdle' parameter: \"maybe\" is not a boolean",
        ),
        ("/model/allocation?window=2d&filter=cluster:%22c1%22+namespace:%22a%22", "at position 14"),
        ("/model/allocation?window=2d&filter=cluster:%22c1%22+namespace:%22a%22", "%2B"),
        ("/model/allocation?window=2d&filter=colour:%22red%22", "unknown allocation filter field 'colour'"),
        (
            "/model/allocation?window=2d&idel=false",
            "invalid 'idel' parameter: /model/allocation takes no such parameter",
        ),
        ("/model/assets?window=2d&aggregate=namespace", "unknown asset aggregate"),
    ];
    for (target, want) in cases {
        let m = s.refusal(target, 400);
        assert!(m.contains(want), "{target}: {m}");
    }
    let m = s.refusal("/model/allocations?window=2d", 404);
    assert!(m.contains("/model/allocation?window="), "{m}");
    let long = format!("/model/allocation?window=2d&filter={}", "x".repeat(9000));
    let m = s.refusal(&long, 414);
    assert!(m.contains("at most 8192"), "{m}");
}

#[test]
fn the_server_refuses_other_methods_and_hosts() {
    let s = serve(source());
    let port = s.server.local_addr().port();
    let (status, body) = s.raw(&format!("POST /model/allocation HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
    assert!(status.starts_with("HTTP/1.1 405"), "{status}");
    assert!(body.contains("use GET"), "{body}");
    let (status, body) =
        s.raw("GET /healthz HTTP/1.1\r\nHost: rebound.example:80\r\nConnection: close\r\n\r\n");
    assert!(status.starts_with("HTTP/1.1 421"), "{status}");
    assert!(body.contains("not this server's"), "{body}");
    let (status, _) =
        s.raw(&format!("GET /healthz HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"));
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (status, _) =
        s.raw(&format!("GET /healthz HTTP/1.1\r\nHost: localhost:{port}\r\n{many}Connection: close\r\n\r\n"));
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
}

#[test]
fn a_non_loopback_listen_address_is_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.10:9090"] {
        let config = ApiConfig { listen: addr.parse().unwrap(), ..ApiConfig::default() };
        assert!(matches!(config.check(), Err(ApiError::NotLoopback { .. })), "{addr}");
        let api = Arc::new(Api::new(Arc::new(MemorySource::new()), config));
        let err = runtime.block_on(ApiServer::start(api)).err().unwrap();
        assert!(err.to_string().contains("loopback only"), "{err}");
    }
    let v6 = ApiConfig { listen: "[::1]:0".parse().unwrap(), ..ApiConfig::default() };
    assert!(v6.check().is_ok());
}
