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
