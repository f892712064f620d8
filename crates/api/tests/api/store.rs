//! The bucket as the API reads it: the fixture's days written per cluster with
//! `ampfed_federation::Store` to the embedded S3 server and federated, then queried through [`StoreSource`]
//! (a missing object is a day without data, not an error) and [`query_bucket`].

use std::sync::Arc;

use ampfed_allocation::AllocationSet;
use ampfed_api::{query_bucket, render_table, Api, ApiConfig, EtlSource, ReplyBody, StoreSource};
use ampfed_federation::{federate, Store, StoreConfig};
use ampfed_s3::{Config, EmbeddedS3};

use crate::{allocations, assets, close, day, NOW};

const ACCESS_KEY: &str = "AKIAAMPFEDAPITEST001";
const SECRET_KEY: &str = "ampfed/api/secret/key/for/tests/only+00";
const REGION: &str = "us-west-2";

fn config(s3: &EmbeddedS3) -> StoreConfig {
    StoreConfig {
        endpoint: s3.endpoint().to_owned(),
        region: REGION.into(),
        bucket: "ampfed-central".into(),
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
    }
}

async fn filled(s3: &EmbeddedS3) -> Store {
    let store = Store::new(&config(s3));
    store.ensure_bucket().await.unwrap();
    // Each cluster ships its own days; the federator writes federated/combined/.
    for n in 0..2 {
        for cluster in ["c1", "c2"] {
            let all = allocations(n);
            let mine = all.allocations.into_iter().filter(|a| a.properties.cluster == cluster).collect();
            store
                .put_set(cluster, &AllocationSet::new(vec![cluster.into()], all.window, mine))
                .await
                .unwrap();
            let mut a = assets(n);
            a.clusters = vec![cluster.into()];
            a.nodes.retain(|x| x.cluster == cluster);
            a.cluster_management.retain(|x| x.cluster == cluster);
            store.put_assets(cluster, &a).await.unwrap();
        }
    }
    federate(&store, None).await.unwrap();
    store
}

#[tokio::test]
async fn the_store_source_reads_combined_days_and_reports_missing_ones() {
    let s3 = EmbeddedS3::start(Config::new(ACCESS_KEY, SECRET_KEY, REGION)).unwrap();
    let source = StoreSource::new(filled(&s3).await);
    assert_eq!(source.allocation_day(day(0)).await.unwrap(), Some(allocations(0)));
    assert_eq!(source.asset_day(day(1)).await.unwrap(), Some(assets(1)));
    assert_eq!(source.allocation_day(day(5)).await.unwrap(), None);
    assert_eq!(source.asset_day(day(5)).await.unwrap(), None);
    assert_eq!(
        source.allocation_name(day(0)),
        "federated/combined/etl/allocations/1d/1767225600-1767312000.parquet"
    );

    let api = Api::new(Arc::new(source), ApiConfig { now: Some(NOW), ..ApiConfig::default() });
    let reply = api.get("/model/allocation?window=2d&aggregate=namespace&accumulate=true&idle=false").await;
    assert_eq!(reply.code, 200, "{}", reply.to_json());
    let ReplyBody::Allocations(steps) = &reply.body else { panic!("{reply:?}") };
    close(steps[0].entries["shop"].total_cost.unwrap(), 20.6);
    // A third day that the bucket does not hold: an empty set and a warning.
    let reply = api.get("/model/allocation?window=1767225600,1767484800&aggregate=cluster").await;
    assert_eq!(reply.code, 200, "{}", reply.to_json());
    assert_eq!(reply.warning.as_deref(), Some("no data for 1 day(s): 2026-01-03"));
    let reply = api.get("/model/assets?window=2d&aggregate=type&accumulate=true").await;
    let ReplyBody::Assets(steps) = &reply.body else { panic!("{reply:?}") };
    close(steps[0].entries["Node"].total_cost().unwrap(), 20.0);
}

#[test]
fn query_bucket_answers_one_target_for_a_blocking_caller() {
    let s3 = EmbeddedS3::start(Config::new(ACCESS_KEY, SECRET_KEY, REGION)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(filled(&s3));
    drop(runtime);
    let reply = query_bucket(
        &config(&s3),
        Some(NOW),
        "/model/allocation?window=2d&aggregate=namespace&accumulate=true&idle=false",
    )
    .unwrap();
    let table = render_table(&reply);
    assert!(table.starts_with("2026-01-01T00:00:00Z to 2026-01-03T00:00:00Z (2 entries)\nNAME"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("shop") && l.ends_with("20.60000     0.62500")), "{table}");
    let bad = query_bucket(&config(&s3), Some(NOW), "/model/allocation?window=soon").unwrap();
    assert_eq!(bad.code, 400);
    assert!(
        render_table(&bad).starts_with("error 400: invalid 'window' parameter"),
        "{}",
        render_table(&bad)
    );
}

/// One hand-made hour: web (c1) CPU 0.1 and api (c2) CPU 0.2; node n1 costs 0.15 (idle 0.05)
/// and n2 0.2 (idle 0); each cluster's EKS fee 0.1.
fn hour_sets(start: i64, cluster: &str) -> (AllocationSet, ampfed_allocation::AssetSet) {
    let w = ampfed_allocation::Window { start, end: start + 3600 };
    let (at, cpu, node_cpu) = match cluster {
        "c1" => (["c1", "n1", "shop", "web"], 0.1, 0.15),
        _ => (["c2", "n2", "shop", "api"], 0.2, 0.2),
    };
    let mut a = crate::allocation(at, None, w, cpu, 0.0);
    a.minutes = 60.0;
    let allocations = AllocationSet::new(vec![cluster.into()], w, vec![a]);
    let mut assets = ampfed_allocation::AssetSet::new(vec![cluster.into()], w);
    let mut node = crate::node(cluster, at[1], w, node_cpu, 0.0);
    node.minutes = 60.0;
    node.total_cost = node.computed_total();
    assets.nodes.push(node);
    assets.cluster_management.push(ampfed_allocation::ClusterManagementAsset {
        cluster: cluster.into(),
        provisioner: "EKS".into(),
        start: w.start,
        end: w.end,
        minutes: 60.0,
        price_per_hour: 0.1,
        cost: 0.1,
        adjustment: 0.0,
        total_cost: 0.1,
    });
    (allocations, assets)
}

#[tokio::test]
async fn windows_of_whole_hours_are_answered_from_the_hourly_sets() {
    let s3 = EmbeddedS3::start(Config::new(ACCESS_KEY, SECRET_KEY, REGION)).unwrap();
    let store = Store::new(&config(&s3));
    store.ensure_bucket().await.unwrap();
    // 2026-01-01, hours 10:00 to 14:00, shipped per cluster under 1h/ and federated.
    let ten = crate::JAN1 + 10 * 3600;
    for h in 0..4 {
        for cluster in ["c1", "c2"] {
            let (allocations, assets) = hour_sets(ten + h * 3600, cluster);
            store.put_set(cluster, &allocations).await.unwrap();
            store.put_assets(cluster, &assets).await.unwrap();
        }
    }
    federate(&store, None).await.unwrap();
    let api =
        Api::new(Arc::new(StoreSource::new(store)), ApiConfig { now: Some(NOW), ..ApiConfig::default() });
    let hours = "window=2026-01-01T10:00:00Z,2026-01-01T14:00:00Z";

    // Four hours: shop 4 × (0.1 + 0.2) = 1.2, idle 4 × 0.05 = 0.2 (tenancy costs apart).
    let reply = api
        .get(&format!(
            "/model/allocation?{hours}&aggregate=namespace&accumulate=true&shareTenancyCosts=false"
        ))
        .await;
    assert_eq!(reply.code, 200, "{}", reply.to_json());
    let ReplyBody::Allocations(steps) = &reply.body else { panic!("{reply:?}") };
    assert_eq!(steps.len(), 1);
    close(steps[0].entries["shop"].total_cost.unwrap(), 1.2);
    close(steps[0].entries["__idle__"].total_cost.unwrap(), 0.2);
    // By the hour: four sets of c1 0.1 and c2 0.2.
    let reply = api
        .get(&format!(
            "/model/allocation?{hours}&aggregate=cluster&step=1h&idle=false&shareTenancyCosts=false"
        ))
        .await;
    let ReplyBody::Allocations(steps) = &reply.body else { panic!("{reply:?}") };
    assert_eq!(steps.len(), 4);
    for s in steps {
        close(s.entries["c1"].total_cost.unwrap(), 0.1);
        close(s.entries["c2"].total_cost.unwrap(), 0.2);
    }
    // An hour the bucket does not hold is named in the warning.
    let reply = api
        .get(
            "/model/allocation?window=2026-01-01T13:00:00Z,2026-01-01T15:00:00Z&aggregate=cluster&idle=false",
        )
        .await;
    assert_eq!(reply.code, 200, "{}", reply.to_json());
    assert_eq!(reply.warning.as_deref(), Some("no data for 1 hour(s): 2026-01-01T14:00:00Z"));
    // Assets by the hour: c1 4 × (0.15 + 0.1) = 1.0, c2 4 × (0.2 + 0.1) = 1.2.
    let reply = api.get(&format!("/model/assets?{hours}&aggregate=cluster&accumulate=true")).await;
    let ReplyBody::Assets(steps) = &reply.body else { panic!("{reply:?}") };
    close(steps[0].entries["c1"].total_cost().unwrap(), 1.0);
    close(steps[0].entries["c2"].total_cost().unwrap(), 1.2);
}
