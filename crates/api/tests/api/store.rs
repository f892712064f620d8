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

/// A bucket source that counts the allocation objects it reads.
struct Counting {
    inner: StoreSource,
    reads: std::sync::atomic::AtomicUsize,
}

impl Counting {
    fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl EtlSource for Counting {
    fn allocation_object(
        &self,
        day: ampfed_allocation::Window,
    ) -> ampfed_api::source::BoxFuture<'_, Result<ampfed_api::DayObject, ampfed_api::SourceError>> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.allocation_object(day)
    }
    fn allocation_day(
        &self,
        day: ampfed_allocation::Window,
    ) -> ampfed_api::source::BoxFuture<'_, Result<Option<AllocationSet>, ampfed_api::SourceError>> {
        self.inner.allocation_day(day)
    }
    fn asset_day(
        &self,
        day: ampfed_allocation::Window,
    ) -> ampfed_api::source::BoxFuture<'_, Result<Option<ampfed_allocation::AssetSet>, ampfed_api::SourceError>>
    {
        self.inner.asset_day(day)
    }
    fn asset_day_versioned(
        &self,
        day: ampfed_allocation::Window,
    ) -> ampfed_api::source::BoxFuture<
        '_,
        Result<Option<ampfed_api::source::Versioned<ampfed_allocation::AssetSet>>, ampfed_api::SourceError>,
    > {
        self.inner.asset_day_versioned(day)
    }
    fn day_versions(
        &self,
        day: ampfed_allocation::Window,
        with_assets: bool,
    ) -> ampfed_api::source::BoxFuture<'_, Result<Option<ampfed_api::DayVersions>, ampfed_api::SourceError>>
    {
        self.inner.day_versions(day, with_assets)
    }
    fn allocation_name(&self, day: ampfed_allocation::Window) -> String {
        self.inner.allocation_name(day)
    }
    fn asset_name(&self, day: ampfed_allocation::Window) -> String {
        self.inner.asset_name(day)
    }
}

fn shop(reply: &ampfed_api::Reply) -> f64 {
    assert_eq!(reply.code, 200, "{}", reply.to_json());
    let ReplyBody::Allocations(steps) = &reply.body else { panic!("{reply:?}") };
    steps[0].entries["shop"].total_cost.unwrap()
}

#[tokio::test]
async fn a_day_answer_is_kept_until_one_of_its_objects_changes() {
    let s3 = EmbeddedS3::start(Config::new(ACCESS_KEY, SECRET_KEY, REGION)).unwrap();
    let store = filled(&s3).await;
    let source = Arc::new(Counting { inner: StoreSource::new(store.clone()), reads: Default::default() });
    let api = Api::new(source.clone(), ApiConfig { now: Some(NOW), ..ApiConfig::default() });
    // No assets read: shop is web + api of both days, (1 + 0.5) + (3 + 1) + (2 + 0.5) + (3 + 1).
    let plain =
        "/model/allocation?window=2d&aggregate=namespace&accumulate=true&idle=false&shareTenancyCosts=false";
    let first = api.get(plain).await;
    close(shop(&first), 12.0);
    assert_eq!(source.reads(), 2);
    let again = api.get(plain).await;
    assert_eq!(again.to_json(), first.to_json());
    assert_eq!(source.reads(), 2, "both days answered from what was kept");
    assert_eq!(api.cached().0, 2);
    // Another request is another answer.
    let by_cluster =
        api.get("/model/allocation?window=2d&aggregate=cluster&accumulate=true&idle=false").await;
    assert_eq!(by_cluster.code, 200);
    assert_eq!(source.reads(), 4);

    // A late object: c2's day 1 again, its api container at 5 CPU instead of 3, federated
    // again; day 0's combined object is rewritten with the same bytes, so the same ETag.
    let all = allocations(1);
    let mut mine: Vec<_> = all.allocations.into_iter().filter(|a| a.properties.cluster == "c2").collect();
    mine[0].cpu_cost = 5.0;
    mine[0].recompute();
    store.put_set("c2", &AllocationSet::new(vec!["c2".into()], all.window, mine)).await.unwrap();
    federate(&store, None).await.unwrap();
    close(shop(&api.get(plain).await), 14.0);
    assert_eq!(source.reads(), 5, "only day 1 read again");

    // Idle reads the assets: a node's cost rewritten (c1's day 0, CPU 3 → 6) is seen too.
    let with_idle = "/model/allocation?window=2d&aggregate=namespace&accumulate=true&shareTenancyCosts=false";
    let idle = |r: &ampfed_api::Reply| {
        let ReplyBody::Allocations(steps) = &r.body else { panic!("{r:?}") };
        steps[0].entries["__idle__"].total_cost.unwrap()
    };
    let before = idle(&api.get(with_idle).await);
    assert_eq!(source.reads(), 7);
    let mut a = assets(0);
    a.clusters = vec!["c1".into()];
    a.nodes.retain(|x| x.cluster == "c1");
    a.cluster_management.retain(|x| x.cluster == "c1");
    a.nodes[0].cpu_cost = 6.0;
    a.nodes[0].total_cost = a.nodes[0].computed_total();
    store.put_assets("c1", &a).await.unwrap();
    federate(&store, None).await.unwrap();
    let after = idle(&api.get(with_idle).await);
    assert_eq!(source.reads(), 8, "only day 0, whose assets changed, read again");
    close(after - before, 3.0);

    // Without the cache every query reads every day.
    let uncached =
        Api::new(source.clone(), ApiConfig { now: Some(NOW), cache_rows: 0, ..ApiConfig::default() });
    uncached.get(plain).await;
    uncached.get(plain).await;
    assert_eq!(source.reads(), 12);
    assert_eq!(uncached.cached(), (0, 0));
}
