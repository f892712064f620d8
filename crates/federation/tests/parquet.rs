//! The Parquet ETL codec from the outside: round trips of allocations and assets, byte-identical
//! re-encoding, corruption and truncation caught by the checksum, the version rules (a
//! hand-made version 1 file reads with defaults, a newer one is refused), the first format's
//! JSON read in place, limits, the layout's keys, and the docs' schema tables.

use std::collections::BTreeMap;
use std::sync::Arc;

use ampfed_allocation::{
    pv_key, Allocation, AllocationSet, AssetSet, ClusterManagementAsset, DiskAsset, LoadBalancerAsset,
    NodeAsset, Properties, PvAllocation, Window,
};
use ampfed_federation::format::{DecodeError, DecodeReason};
use ampfed_federation::parquet::scan::{scan_allocations, scan_allocations_marking, Constant};
use ampfed_federation::parquet::{
    decode_allocations, decode_any, decode_any_with, decode_assets, encode_allocations, encode_assets,
    schema, Encoding, ErrorKind, EtlKey, EtlSet, Kind, Limits, ParquetError, SCHEMA_VERSION,
};
use ampfed_federation::FederationError;
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::{KeyValue, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

const DAY: Window = Window { start: 1_690_761_600, end: 1_690_848_000 };

fn key(cluster: &str, kind: Kind) -> String {
    EtlKey::parquet(cluster, kind, DAY).expect("a day").to_string()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A container's allocation with every kind of field set.
fn allocation(cluster: &str, pod: &str, cost: f64) -> Allocation {
    let mut a = Allocation {
        name: format!("{cluster}/node-1/web/{pod}/app"),
        properties: Properties {
            cluster: cluster.into(),
            node: "node-1".into(),
            namespace: "web".into(),
            pod: pod.into(),
            container: "app".into(),
            controller: "frontend".into(),
            controller_kind: "deployment".into(),
            provider_id: "i-0abc".into(),
            services: vec!["frontend".into(), "frontend-héadless".into()],
            labels: labels(&[("app", "frontend"), ("app_kubernetes_io_name", "web ☃"), ("team", "")]),
            annotations: labels(&[("owner", "a@example.com")]),
            namespace_labels: labels(&[("env", "prod")]),
            namespace_annotations: labels(&[("cost_center", "42")]),
        },
        start: DAY.start + 600,
        end: DAY.end,
        minutes: 1430.0,
        cpu_core_request_average: 0.25,
        cpu_core_usage_average: 0.125,
        cpu_core_hours: 0.25 * 1430.0 / 60.0,
        cpu_cost: cost,
        gpu_request_average: 1.0,
        gpu_usage_average: 0.5,
        gpu_hours: 1430.0 / 60.0,
        gpu_cost: 2.5,
        load_balancer_cost: 0.1,
        ram_byte_request_average: 268_435_456.0,
        ram_byte_usage_average: 134_217_728.0,
        ram_byte_hours: 268_435_456.0 * 1430.0 / 60.0,
        ram_cost: cost / 3.0,
        shared_cost: 0.01,
        ..Allocation::default()
    };
    a.pvs.insert(
        pv_key(cluster, "pvc-1"),
        PvAllocation { byte_hours: 1e9 * 23.8, cost: 0.07, provider_id: "vol-1".into() },
    );
    a.pvs.insert(
        pv_key(cluster, "pvc-2"),
        PvAllocation { byte_hours: 0.0, cost: -0.0, provider_id: String::new() },
    );
    a.recompute();
    a
}

fn allocation_set() -> AllocationSet {
    let mut bare =
        Allocation { name: "c1/__idle__".into(), cpu_cost: 1.5, total_cost: 1.5, ..Allocation::default() };
    bare.properties.cluster = "c1".into();
    AllocationSet::new(
        vec!["c2".into(), "c1".into()],
        DAY,
        vec![
            allocation("c2", "web-1", 0.3),
            bare,
            allocation("c1", "web-2", 1e-9),
            allocation("c1", "web-1", 0.2),
        ],
    )
}

fn asset_set() -> AssetSet {
    let mut set = AssetSet::new(vec!["c1".into(), "c2".into()], DAY);
    for cluster in ["c2", "c1"] {
        let mut node = NodeAsset {
            cluster: cluster.into(),
            name: "node-1".into(),
            provider_id: "i-0abc".into(),
            node_type: "m5.xlarge".into(),
            start: DAY.start,
            end: DAY.end,
            minutes: 1440.0,
            cpu_cores: 4.0,
            ram_bytes: 17_179_869_184.0,
            cpu_cores_allocatable: 3.92,
            ram_bytes_allocatable: 16_000_000_000.0,
            cpu_core_hours: 96.0,
            ram_byte_hours: 17_179_869_184.0 * 24.0,
            cpu_price_per_core_hour: 0.031247,
            ram_price_per_gib_hour: 0.004188,
            price_source: "prometheus/customGPU".into(),
            cpu_cost: 2.999712,
            ram_cost: 1.608192,
            preemptible: true,
            discount: 0.1,
            adjustment: -0.01,
            labels: labels(&[("node_kubernetes_io_instance_type", "m5.xlarge")]),
            ..NodeAsset::default()
        };
        node.total_cost = node.computed_total();
        set.nodes.push(node);
        set.disks.push(DiskAsset {
            cluster: cluster.into(),
            name: "pvc-1".into(),
            provider_id: "vol-1".into(),
            storage_class: "gp3".into(),
            claim_name: "data".into(),
            claim_namespace: "web".into(),
            start: DAY.start,
            end: DAY.end,
            minutes: 1440.0,
            bytes: 1e10,
            byte_hours: 2.4e11,
            price_per_gib_hour: 0.000_109_589,
            cost: 0.0245,
            adjustment: 0.0,
            total_cost: 0.0245,
        });
        set.load_balancers.push(LoadBalancerAsset {
            cluster: cluster.into(),
            name: "web/frontend".into(),
            namespace: "web".into(),
            service: "frontend".into(),
            provider_id: "a1b2".into(),
            ip: "10.0.0.7".into(),
            private: true,
            start: DAY.start,
            end: DAY.end,
            minutes: 1440.0,
            price_per_hour: 0.025,
            cost: 0.6,
            adjustment: 0.0,
            total_cost: 0.6,
        });
        set.cluster_management.push(ClusterManagementAsset {
            cluster: cluster.into(),
            provisioner: "EKS".into(),
            start: DAY.start,
            end: DAY.end,
            minutes: 1440.0,
            price_per_hour: 0.1,
            cost: 2.4,
            adjustment: 0.0,
            total_cost: 2.4,
        });
    }
    set.sort();
    set
}

// ---------------------------------------------------------------------------------------
// Round trips and determinism.

#[test]
fn allocations_round_trip_with_labels_annotations_services_and_pvs() {
    let set = allocation_set();
    let bytes = encode_allocations(&set, None).unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    let back = decode_allocations(&key("c1", Kind::Allocations), &bytes).unwrap().set;
    assert_eq!(back, set);
    // -0.0 == 0.0, so compare the bits of the one field that holds it.
    let pv = &back.allocations[1].pvs[&pv_key("c1", "pvc-2")];
    assert!(pv.cost.is_sign_negative(), "{pv:?}");
}

#[test]
fn an_empty_set_keeps_its_window_and_clusters() {
    let set = AllocationSet::new(vec!["c9".into()], DAY, vec![]);
    let bytes = encode_allocations(&set, None).unwrap();
    assert_eq!(decode_allocations(&key("c9", Kind::Allocations), &bytes).unwrap().set, set);
    let assets = AssetSet::new(vec!["c9".into()], DAY);
    let bytes = encode_assets(&assets, None).unwrap();
    assert_eq!(decode_assets(&key("c9", Kind::Assets), &bytes).unwrap().set, assets);
}

#[test]
fn assets_of_every_type_round_trip_in_one_table() {
    let set = asset_set();
    let bytes = encode_assets(&set, None).unwrap();
    let back = decode_assets(&key("combined", Kind::Assets), &bytes).unwrap().set;
    assert_eq!(back, set);
    assert_eq!(back.cluster_totals(), set.cluster_totals());
    let object = decode_any(&key("combined", Kind::Assets), &bytes).unwrap();
    assert_eq!((object.encoding, object.version, object.source), (Encoding::Parquet, SCHEMA_VERSION, None));
    match object.set {
        EtlSet::Assets(s) => assert_eq!(s.nodes.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_writer_named_as_source_round_trips() {
    let uid = "kube-system:6f1c2e7a-0b7d-4c55-9a51-2f0d6b1f3c11";
    let bytes = encode_allocations(&allocation_set(), Some(uid)).unwrap();
    let read = decode_allocations(&key("c1", Kind::Allocations), &bytes).unwrap();
    assert_eq!((read.set, read.source.as_deref()), (allocation_set(), Some(uid)));
    let bytes = encode_assets(&asset_set(), Some(uid)).unwrap();
    assert_eq!(decode_assets("k", &bytes).unwrap().source.as_deref(), Some(uid));
    // The JSON format's `source` too.
    let json = ampfed_federation::format::encode_set(&allocation_set(), Some(uid));
    assert_eq!(decode_allocations("k", &json).unwrap().source.as_deref(), Some(uid));
    assert_eq!(decode_any("k", &json).unwrap().encoding, Encoding::Json);
}

#[test]
fn hourly_sets_use_the_same_schema() {
    let hour = Window { start: DAY.start, end: DAY.start + 3600 };
    let mut a = allocation("c1", "web-1", 0.01);
    a.end = hour.end;
    let set = AllocationSet::new(vec!["c1".into()], hour, vec![a]);
    let key = EtlKey::parquet("c1", Kind::Allocations, hour).unwrap().to_string();
    assert!(key.contains("/1h/"), "{key}");
    assert_eq!(decode_allocations(&key, &encode_allocations(&set, None).unwrap()).unwrap().set, set);
}

#[test]
fn the_same_set_gives_the_same_bytes_whatever_the_input_order() {
    let set = allocation_set();
    let bytes = encode_allocations(&set, None).unwrap();
    assert_eq!(encode_allocations(&set, None).unwrap(), bytes);
    let mut shuffled = set.clone();
    shuffled.allocations.reverse();
    shuffled.clusters.reverse();
    assert_eq!(encode_allocations(&shuffled, None).unwrap(), bytes);

    let assets = asset_set();
    let bytes = encode_assets(&assets, None).unwrap();
    let mut shuffled = assets.clone();
    shuffled.nodes.reverse();
    shuffled.disks.reverse();
    assert_eq!(encode_assets(&shuffled, None).unwrap(), bytes);
}

/// The digest of the fixed sets' bytes: any change to the bytes (a writer setting, a new
/// parquet crate that encodes differently, a column) shows here, and must come with a
/// schema version bump when readers need to know (docs/etl-format.md, "Versions").
#[test]
fn the_bytes_are_the_same_across_builds() {
    let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
    let allocations = sha(&encode_allocations(&allocation_set(), None).unwrap());
    let assets = sha(&encode_assets(&asset_set(), None).unwrap());
    assert_eq!(
        (allocations.as_str(), assets.as_str()),
        (
            "249cb492d9fa7982489f7739ef86f5bb5b53ba3cd1b62020bdf45eee5d799fc2",
            "3d59c96e16f88fd490c07d8f7bd1fd3ed6a8cad66a8080cabc74f6333adbf2ea"
        ),
        "the encoding changed; if that is intended, update the digests"
    );
}

#[test]
fn the_footer_carries_fixed_writer_metadata_and_the_sort_order() {
    let bytes = encode_allocations(&allocation_set(), None).unwrap();
    let meta = ParquetMetaDataReader::new().parse_and_finish(&bytes::Bytes::from(bytes)).unwrap();
    let file = meta.file_metadata();
    assert_eq!(file.created_by(), Some("ampfed-etl version 2"));
    let kv: Vec<(&str, &str)> = file
        .key_value_metadata()
        .unwrap()
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_deref().unwrap_or("")))
        .collect();
    let keys: Vec<&str> = kv.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "ampfed.schema_version",
            "ampfed.kind",
            "ampfed.window_start",
            "ampfed.window_end",
            "ampfed.clusters",
            "ampfed.sha256"
        ]
    );
    assert_eq!(kv[0].1, SCHEMA_VERSION.to_string());
    assert_eq!(kv[4].1, r#"["c1","c2"]"#);
    let group = &meta.row_groups()[0];
    let sorting = group.sorting_columns().unwrap();
    assert_eq!(sorting.len(), 1);
    assert_eq!(group.column(sorting[0].column_idx as usize).column_path().string(), "name");
    // Nested columns as the Parquet spec names their parts, which Athena, Trino, DuckDB and
    // pyarrow all read.
    let paths: Vec<String> = group.columns().iter().map(|c| c.column_path().string()).collect();
    for path in [
        "labels.key_value.key",
        "labels.key_value.value",
        "services.list.element",
        "pvs.key_value.value.cost",
    ] {
        assert!(paths.iter().any(|p| p == path), "{path} not in {paths:?}");
    }
    // Per-column choices: no dictionary on the (nearly) unique strings, no statistics on the
    // flat strings nobody selects by; the window columns, `cluster`, `namespace` and the
    // nested columns (whose null counts a scan reads) keep theirs.
    let chunk = |path: &str| group.columns().iter().find(|c| c.column_path().string() == path).unwrap();
    for path in ["name", "pod"] {
        assert!(chunk(path).dictionary_page_offset().is_none(), "{path} has a dictionary");
    }
    for path in ["cluster", "namespace", "node", "container", "controller"] {
        assert!(chunk(path).dictionary_page_offset().is_some(), "{path} has no dictionary");
    }
    for path in ["name", "node", "pod", "container", "controller_kind", "controller", "provider_id"] {
        assert!(chunk(path).statistics().is_none(), "{path} has statistics");
    }
    for path in ["window_start", "window_end", "cluster", "namespace", "total_cost", "labels.key_value.key"] {
        assert!(chunk(path).statistics().is_some(), "{path} has no statistics");
    }

    let bytes = encode_assets(&asset_set(), None).unwrap();
    let meta = ParquetMetaDataReader::new().parse_and_finish(&bytes::Bytes::from(bytes)).unwrap();
    let group = &meta.row_groups()[0];
    let sorted: Vec<String> = group
        .sorting_columns()
        .unwrap()
        .iter()
        .map(|s| group.column(s.column_idx as usize).column_path().string())
        .collect();
    assert_eq!(sorted, ["type", "cluster", "name"]);
}

// ---------------------------------------------------------------------------------------
// Corruption, truncation, limits.

#[test]
fn a_corrupted_byte_is_a_checksum_error() {
    let bytes = encode_allocations(&allocation_set(), None).unwrap();
    let mut bad = bytes.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x01;
    let err = decode_allocations(&key("c1", Kind::Allocations), &bad).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Checksum { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("checksum mismatch") && text.contains("corrupted"), "{text}");
    assert!(
        text.starts_with("object federated/c1/etl/allocations/1d/1690761600-1690848000.parquet: "),
        "{text}"
    );
}

#[test]
fn every_single_flipped_byte_is_refused() {
    for bytes in
        [encode_allocations(&allocation_set(), None).unwrap(), encode_assets(&asset_set(), None).unwrap()]
    {
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x20;
            match decode_any("k", &bad) {
                Ok(_) => panic!("a flipped byte at {at} of {} went unnoticed", bytes.len()),
                Err(ParquetError { kind, .. }) => assert!(
                    matches!(
                        kind,
                        ErrorKind::Checksum { .. }
                            | ErrorKind::MissingChecksum { .. }
                            | ErrorKind::Truncated { .. }
                            | ErrorKind::UnknownFormat { .. }
                    ),
                    "byte {at}: {kind}"
                ),
            }
        }
    }
}

#[test]
fn a_truncated_object_is_reported_as_truncated() {
    let bytes = encode_assets(&asset_set(), None).unwrap();
    for len in (4..bytes.len()).rev().step_by(7).chain([bytes.len() - 1, bytes.len() - 4, 4]) {
        let err = decode_assets("k", &bytes[..len]).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err.kind, ErrorKind::Truncated { .. }) && text.contains("truncated"),
            "{len} of {} bytes: {text}",
            bytes.len()
        );
    }
    // What ends in `PAR1` by chance still fails its checksum or footer.
    let mut cut = bytes[..bytes.len() / 2].to_vec();
    cut.extend_from_slice(b"PAR1");
    assert!(decode_assets("k", &cut).is_err());
    let err = decode_any("k", &bytes[..3]).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::UnknownFormat { .. }), "{err}");
}

#[test]
fn limits_refuse_before_decoding() {
    let bytes = encode_allocations(&allocation_set(), None).unwrap();
    let small = Limits { max_object_bytes: 100, ..Limits::default() };
    let err = decode_any_with("k", &bytes, &small).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::TooLarge { limit: 100, .. }), "{err}");
    let few = Limits { max_rows: 3, ..Limits::default() };
    let err = decode_any_with("k", &bytes, &few).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::TooManyRows { rows: 4, limit: 3 }), "{err}");
    let tight = Limits { max_uncompressed_bytes: 10, ..Limits::default() };
    let err = decode_any_with("k", &bytes, &tight).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::TooLargeUncompressed { .. }), "{err}");
    // Garbage over the limit is refused by its size alone.
    let err = decode_any_with("k", &[0u8; 101], &small).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::TooLarge { .. }), "{err}");
    // JSON too.
    let json = ampfed_federation::format::to_bytes(&allocation_set());
    let err = decode_any_with("k", &json, &few).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::TooManyRows { .. }), "{err}");
}

#[test]
fn numbers_that_are_not_finite_are_not_written() {
    let mut set = allocation_set();
    set.allocations[2].cpu_cost = f64::NAN;
    let err = encode_allocations(&set, None).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Value { row: 2, column: "cpu_cost", .. }), "{err}");
    assert!(err.to_string().contains("row 2 (c1/node-1/web/web-2/app)"), "{err}");

    let mut set = allocation_set();
    set.allocations[1].pvs.values_mut().for_each(|pv| pv.cost = f64::INFINITY);
    let err = encode_allocations(&set, None).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Value { column: "pvs", .. }), "{err}");

    let mut assets = asset_set();
    assets.disks[0].bytes = f64::NEG_INFINITY;
    let err = encode_assets(&assets, None).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Value { column: "bytes", .. }), "{err}");
    assert!(err.to_string().contains("Disk c1/pvc-1"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Keys, kinds, the first format.

#[test]
fn the_key_must_match_the_content() {
    let bytes = encode_allocations(&allocation_set(), None).unwrap();
    let err = decode_any(&key("c1", Kind::Assets), &bytes).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::KeyMismatch { .. }), "{err}");
    let next_day = Window { start: DAY.end, end: DAY.end + 86_400 };
    let other = EtlKey::parquet("c1", Kind::Allocations, next_day).unwrap().to_string();
    let err = decode_any(&other, &bytes).unwrap_err();
    assert!(err.to_string().contains("window 1690848000-1690934400"), "{err}");
    let err = decode_assets("k", &bytes).unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::WrongKind { expected: Kind::Assets, found: Kind::Allocations }),
        "{err}"
    );
    let json_key = key("c1", Kind::Allocations).replace(".parquet", ".json");
    let err = decode_any(&json_key, &bytes).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::KeyMismatch { .. }), "{err}");
}

#[test]
fn format_1_json_is_read_in_place() {
    let set = allocation_set();
    let json = ampfed_federation::format::to_bytes(&set);
    let json_key = key("c1", Kind::Allocations).replace(".parquet", ".json");
    // What the JSON reader reads (serde_json's default float parsing may miss the last
    // digit, so the set itself is not the reference).
    let read = ampfed_federation::format::from_bytes(&json_key, &json).unwrap();
    assert_eq!(decode_allocations(&json_key, &json).unwrap().set, read);
    assert_eq!(read.allocations.len(), set.allocations.len());
    let assets = asset_set();
    let json = ampfed_federation::format::assets_to_bytes(&assets);
    let json_key = key("c1", Kind::Assets).replace(".parquet", ".json");
    let read = ampfed_federation::format::assets_from_bytes(&json_key, &json).unwrap();
    assert_eq!(decode_assets(&json_key, &json).unwrap().set, read);
    // Read as JSON, written back as Parquet: the migration.
    let parquet = encode_assets(&read, None).unwrap();
    assert_eq!(decode_assets(&key("c1", Kind::Assets), &parquet).unwrap().set, read);
    // Broken JSON says what the JSON reader found.
    let err = decode_any("k", b"  {\"version\": 1}").unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Json { .. }) && err.to_string().contains("missing field"), "{err}");
    let err = decode_any("k", b"{\"version\": 2, \"assets\": {}}").unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Json { .. }), "{err}");
    // The JSON key's kind counts too.
    let err = decode_any(&json_key, &ampfed_federation::format::to_bytes(&set)).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::KeyMismatch { .. }), "{err}");
    let err = decode_any("k", b"\x89PNG\r\n\x1a\n").unwrap_err();
    assert!(err.to_string().contains("neither Parquet"), "{err}");
}

#[test]
fn errors_convert_into_federation_and_decode_errors() {
    let err = decode_any("federated/c1/x", b"nope").unwrap_err();
    let fed = FederationError::from(err);
    let text = fed.to_string();
    assert!(text.starts_with("object federated/c1/x is not a readable ETL set: neither Parquet"), "{text}");
    let newer = decode_any("k", &hand_made("3", "allocations", version_1_columns())).unwrap_err();
    assert_eq!(DecodeError::from(newer).reason, DecodeReason::Version { found: 3 });
    let corrupt = decode_any("k", b"PAR1 not a footer PAR1").unwrap_err();
    let decode = DecodeError::from(corrupt);
    assert_eq!(decode.key, "k");
    assert!(matches!(decode.reason, DecodeReason::Malformed(ref m) if m.contains("truncated")), "{decode:?}");
}

// ---------------------------------------------------------------------------------------
// Versions: hand-made files, sealed by the rule docs/etl-format.md states.

/// Seals `bytes` as the docs say: the SHA-256 of the file, with 64 ASCII zeros where the
/// digits go, written over the 64 bytes after the last `ampfed.sha256` and its two bytes of
/// Thrift header.
fn seal(mut bytes: Vec<u8>) -> Vec<u8> {
    let needle = b"ampfed.sha256";
    let at = bytes.windows(needle.len()).rposition(|w| w == needle).unwrap() + needle.len() + 2;
    assert_eq!(&bytes[at..at + 64], &[b'0'; 64][..]);
    let digest = hex::encode(Sha256::digest(&bytes));
    bytes[at..at + 64].copy_from_slice(digest.as_bytes());
    bytes
}

/// A file with ampfed's metadata for `version` and the given columns, written by plain
/// arrow-rs, as an older (or newer) ampfed might have.
fn hand_made(version: &str, kind: &str, columns: Vec<(&str, ArrayRef)>) -> Vec<u8> {
    let fields: Vec<Field> =
        columns.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), false)).collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns.into_iter().map(|(_, a)| a).collect()).unwrap();
    let kv = [
        ("ampfed.schema_version", version),
        ("ampfed.kind", kind),
        ("ampfed.window_start", "1690761600"),
        ("ampfed.window_end", "1690848000"),
        ("ampfed.clusters", r#"["c1"]"#),
        ("ampfed.sha256", &"0".repeat(64)),
    ];
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(
            kv.iter().map(|(k, v)| KeyValue::new(k.to_string(), v.to_string())).collect(),
        ))
        .build();
    let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    seal(writer.into_inner().unwrap())
}

/// The columns of schema version 1 (the first ETL format's fields), for one allocation.
fn version_1_columns() -> Vec<(&'static str, ArrayRef)> {
    let s = |v: &str| -> ArrayRef { Arc::new(StringArray::from(vec![v.to_owned()])) };
    let i = |v: i64| -> ArrayRef { Arc::new(Int64Array::from(vec![v])) };
    let f = |v: f64| -> ArrayRef { Arc::new(Float64Array::from(vec![v])) };
    vec![
        ("window_start", i(DAY.start)),
        ("window_end", i(DAY.end)),
        ("name", s("c1/node-1/web/web-1/app")),
        ("cluster", s("c1")),
        ("node", s("node-1")),
        ("namespace", s("web")),
        ("pod", s("web-1")),
        ("container", s("app")),
        ("start", i(DAY.start)),
        ("end", i(DAY.end)),
        ("minutes", f(1440.0)),
        ("cpu_cores", f(0.5)),
        ("cpu_core_request_average", f(0.5)),
        ("cpu_core_usage_average", f(0.25)),
        ("cpu_core_hours", f(12.0)),
        ("cpu_cost", f(0.4)),
        ("cpu_efficiency", f(0.5)),
        ("ram_bytes", f(1e9)),
        ("ram_byte_request_average", f(1e9)),
        ("ram_byte_usage_average", f(5e8)),
        ("ram_byte_hours", f(2.4e10)),
        ("ram_cost", f(0.1)),
        ("ram_efficiency", f(0.5)),
        ("total_cost", f(0.5)),
        ("total_efficiency", f(0.5)),
    ]
}

#[test]
fn a_version_1_file_reads_with_the_later_columns_at_their_defaults() {
    let bytes = hand_made("1", "allocations", version_1_columns());
    let set = decode_allocations(&key("c1", Kind::Allocations), &bytes).unwrap().set;
    assert_eq!((set.clusters.as_slice(), set.window), (&["c1".to_owned()][..], DAY));
    let a = &set.allocations[0];
    assert_eq!((a.name.as_str(), a.cpu_cost, a.total_cost), ("c1/node-1/web/web-1/app", 0.4, 0.5));
    assert_eq!(a.properties.pod, "web-1");
    // Added in version 2: defaults.
    assert_eq!((a.gpu_cost, a.pv_cost, a.shared_cost, a.load_balancer_cost), (0.0, 0.0, 0.0, 0.0));
    assert!(a.properties.labels.is_empty() && a.pvs.is_empty() && a.properties.controller.is_empty());
}

#[test]
fn a_version_1_file_with_a_version_2_column_is_refused() {
    let mut columns = version_1_columns();
    columns.push(("gpu_cost", Arc::new(Float64Array::from(vec![1.0]))));
    let err = decode_allocations("k", &hand_made("1", "allocations", columns)).unwrap_err();
    assert!(err.to_string().contains("`gpu_cost` was added in schema version 2"), "{err}");
    let mut columns = version_1_columns();
    columns.retain(|(n, _)| *n != "ram_cost");
    let err = decode_allocations("k", &hand_made("1", "allocations", columns)).unwrap_err();
    assert!(err.to_string().contains("`ram_cost` (schema version 1 and later) is missing"), "{err}");
    // There were no assets in version 1.
    let err = decode_assets("k", &hand_made("1", "assets", version_1_columns())).unwrap_err();
    assert!(err.to_string().contains("assets objects start at schema version 2"), "{err}");
}

#[test]
fn a_newer_version_is_refused_with_what_this_build_reads() {
    let bytes = hand_made("3", "allocations", version_1_columns());
    let err = decode_any(&key("c1", Kind::Allocations), &bytes).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::NewerVersion { found: 3, supported: 2 }), "{err}");
    let text = err.to_string();
    assert!(text.contains("which reads versions 1 to 2; upgrade ampfed"), "{text}");
}

#[test]
fn a_file_of_the_wrong_shape_names_the_column() {
    let mut columns = version_1_columns();
    columns[11] = ("cpu_cores", Arc::new(StringArray::from(vec!["half"])));
    let err = decode_allocations("k", &hand_made("1", "allocations", columns)).unwrap_err();
    assert!(err.to_string().contains("column `cpu_cores` is Utf8, expected double"), "{err}");
    let mut columns = version_1_columns();
    columns[0] = ("window_start", Arc::new(Int64Array::from(vec![0])));
    let err = decode_allocations("k", &hand_made("1", "allocations", columns)).unwrap_err();
    assert!(err.to_string().contains("differs from the object's window"), "{err}");
    let mut columns = version_1_columns();
    columns.push(("surprise", Arc::new(Float64Array::from(vec![1.0]))));
    let err = decode_allocations("k", &hand_made("1", "allocations", columns)).unwrap_err();
    assert!(err.to_string().contains("`surprise` is not part of schema version 1"), "{err}");
    let err = decode_allocations("k", &hand_made("x", "allocations", version_1_columns())).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Metadata { entry: "ampfed.schema_version", .. }), "{err}");
    let err = decode_allocations("k", &hand_made("1", "costs", version_1_columns())).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Metadata { entry: "ampfed.kind", .. }), "{err}");
}

// ---------------------------------------------------------------------------------------
// The model and the docs stay in step with the tables.

/// Names every field of the models the tables store: a field added to one of them fails to
/// compile here until it has a column (crates/federation/src/parquet/{allocations,assets}.rs)
/// and a line in docs/etl-format.md.
#[test]
fn every_model_field_has_a_column() {
    #[rustfmt::skip]
    let Allocation {
        name: _, properties, start: _, end: _, minutes: _, cpu_cores: _, cpu_core_request_average: _,
        cpu_core_usage_average: _, cpu_core_hours: _, cpu_cost: _, cpu_efficiency: _, gpu_count: _,
        gpu_request_average: _, gpu_usage_average: _, gpu_hours: _, gpu_cost: _, load_balancer_cost: _,
        pv_bytes: _, pv_byte_hours: _, pv_cost: _, pvs: _, ram_bytes: _, ram_byte_request_average: _,
        ram_byte_usage_average: _, ram_byte_hours: _, ram_cost: _, ram_efficiency: _, shared_cost: _,
        total_cost: _, total_efficiency: _,
    } = Allocation::default();
    #[rustfmt::skip]
    let Properties {
        cluster: _, node: _, namespace: _, pod: _, container: _, controller: _, controller_kind: _,
        provider_id: _, services: _, labels: _, annotations: _, namespace_labels: _, namespace_annotations: _,
    } = properties;
    let PvAllocation { byte_hours: _, cost: _, provider_id: _ } = PvAllocation::default();
    #[rustfmt::skip]
    let NodeAsset {
        cluster: _, name: _, provider_id: _, node_type: _, start: _, end: _, minutes: _, cpu_cores: _,
        ram_bytes: _, gpu_count: _, cpu_cores_allocatable: _, ram_bytes_allocatable: _, cpu_core_hours: _,
        ram_byte_hours: _, gpu_hours: _, cpu_price_per_core_hour: _, ram_price_per_gib_hour: _,
        gpu_price_per_gpu_hour: _, price_source: _, cpu_cost: _, ram_cost: _, gpu_cost: _, preemptible: _,
        discount: _, adjustment: _, total_cost: _, labels: _,
    } = NodeAsset::default();
    #[rustfmt::skip]
    let DiskAsset {
        cluster: _, name: _, provider_id: _, storage_class: _, claim_name: _, claim_namespace: _, start: _,
        end: _, minutes: _, bytes: _, byte_hours: _, price_per_gib_hour: _, cost: _, adjustment: _,
        total_cost: _,
    } = DiskAsset::default();
    #[rustfmt::skip]
    let LoadBalancerAsset {
        cluster: _, name: _, namespace: _, service: _, provider_id: _, ip: _, private: _, start: _, end: _,
        minutes: _, price_per_hour: _, cost: _, adjustment: _, total_cost: _,
    } = LoadBalancerAsset::default();
    #[rustfmt::skip]
    let ClusterManagementAsset {
        cluster: _, provisioner: _, start: _, end: _, minutes: _, price_per_hour: _, cost: _, adjustment: _,
        total_cost: _,
    } = ClusterManagementAsset::default();
    // The column counts: model fields, less the ones stored elsewhere, plus the window.
    // Allocations: 30 fields − `properties` + 13 properties + 2 window columns.
    assert_eq!(schema(Kind::Allocations).len(), 30 - 1 + 13 + 2);
    // Assets: the union of the four types' fields, `provisioner` as `name`, + window + type.
    assert_eq!(schema(Kind::Assets).len(), 39 + 2 + 1);
}

#[test]
fn the_docs_list_every_column_with_its_type() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/etl-format.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let mut missing = Vec::new();
    for kind in [Kind::Allocations, Kind::Assets] {
        for c in schema(kind) {
            let row = format!("| `{}` | `{}` | {} |", c.name, c.type_name, c.since);
            if !docs.contains(&row) {
                missing.push(format!("{kind}: {row}"));
            }
        }
    }
    assert!(missing.is_empty(), "docs/etl-format.md lacks the schema rows:\n{}", missing.join("\n"));
    assert!(docs.contains(&format!("version {SCHEMA_VERSION}")), "the docs name the current version");
}

/// The federator's column path: pieces read from each cluster's object, combined, give the
/// bytes of the row path (the union set encoded), in key order and in any other order.
#[test]
fn combined_columns_give_the_bytes_of_the_combined_set() {
    use ampfed_federation::parquet::{allocation_piece, allocation_piece_of, encode_combined_allocations};
    let set_of = |cluster: &str, pods: usize| {
        let rows = (0..pods).map(|p| allocation(cluster, &format!("web-{p}"), p as f64 * 0.1)).collect();
        AllocationSet::new(vec![cluster.to_owned()], DAY, rows)
    };
    let sets = [set_of("c1", 3), set_of("c2", 0), set_of("c3", 5), set_of("c3-x", 2)];
    let mut all = Vec::new();
    for s in &sets {
        all.extend(s.allocations.iter().cloned());
    }
    let clusters = sets.iter().map(|s| s.clusters[0].clone()).collect();
    let expected = encode_allocations(&AllocationSet::new(clusters, DAY, all), None).expect("encode");
    let pieces: Vec<_> = sets
        .iter()
        .map(|s| {
            let cluster = &s.clusters[0];
            let bytes = encode_allocations(s, Some("writer-1")).expect("encode");
            let key = EtlKey::parquet(cluster, Kind::Allocations, DAY).expect("a day").to_string();
            let (piece, source) =
                allocation_piece(&key, bytes.into(), cluster, DAY).expect("the column path takes it");
            assert_eq!(source.as_deref(), Some("writer-1"));
            assert_eq!(piece.rows(), s.allocations.len());
            piece
        })
        .collect();
    let (rows, bytes) = encode_combined_allocations(DAY, pieces.clone()).expect("combine");
    assert_eq!(rows, 10);
    assert!(bytes == expected, "the column path wrote other bytes");
    // Out of order (names unsorted once concatenated): through rows, the same bytes.
    let reversed: Vec<_> = pieces.into_iter().rev().collect();
    assert!(encode_combined_allocations(DAY, reversed).expect("combine").1 == expected);
    // Pieces made from decoded sets (the row path's inputs) give them too.
    let from_sets: Vec<_> = sets.iter().map(|s| allocation_piece_of(s).expect("piece")).collect();
    assert!(encode_combined_allocations(DAY, from_sets).expect("combine").1 == expected);
    // Another cluster's key, another window: not taken, left to the row path.
    let bytes = encode_allocations(&sets[0], None).expect("encode");
    let key = EtlKey::parquet("c1", Kind::Allocations, DAY).expect("a day").to_string();
    assert!(allocation_piece(&key, bytes.clone().into(), "c2", DAY).is_none());
    let other = Window { start: DAY.end, end: DAY.end + 86_400 };
    assert!(allocation_piece(&key, bytes.into(), "c1", other).is_none());
}

/// Three containers that differ only in their names and CPU costs.
fn uniform_set() -> AllocationSet {
    let rows = (0..3)
        .map(|i| Allocation {
            name: format!("c1/node-1/web/web-{i}/app"),
            properties: Properties {
                cluster: "c1".into(),
                node: "node-1".into(),
                namespace: "web".into(),
                pod: format!("web-{i}"),
                container: "app".into(),
                ..Properties::default()
            },
            start: DAY.start,
            end: DAY.end,
            minutes: 1440.0,
            cpu_core_hours: 12.0,
            cpu_cost: 0.5 + f64::from(i),
            total_cost: 0.5 + f64::from(i),
            ..Allocation::default()
        })
        .collect();
    AllocationSet::new(vec!["c1".into()], DAY, rows)
}

#[test]
fn a_scan_takes_a_one_value_column_from_its_dictionary_without_decoding_it() {
    let key = key("c1", Kind::Allocations);
    let bytes = bytes::Bytes::from(encode_allocations(&uniform_set(), None).unwrap());
    let wanted =
        ["name", "cluster", "pod", "start", "end", "minutes", "cpu_core_hours", "cpu_cost", "gpu_cost"];
    let scan = scan_allocations(&key, bytes, &wanted, &["cluster"], &Limits::default()).unwrap().unwrap();
    // Worked by hand from `uniform_set`: names, pods and CPU costs differ; the rest holds one
    // value, the window columns included.
    let constants: BTreeMap<&str, &Constant> = scan.constants.iter().map(|(n, c)| (n.as_str(), c)).collect();
    assert_eq!(
        constants,
        BTreeMap::from([
            ("cluster", &Constant::Str("c1".into())),
            ("cpu_core_hours", &Constant::F64(12.0)),
            ("end", &Constant::I64(DAY.end)),
            ("gpu_cost", &Constant::F64(0.0)),
            ("minutes", &Constant::F64(1440.0)),
            ("start", &Constant::I64(DAY.start)),
            ("window_end", &Constant::I64(DAY.end)),
            ("window_start", &Constant::I64(DAY.start)),
        ])
    );
    let batch = &scan.batches[0];
    let schema = batch.schema();
    let decoded: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(decoded, ["name", "pod", "cpu_cost"]);
    assert!(scan.column(0, "minutes").is_none());
    let costs = batch.column_by_name("cpu_cost").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(costs.values().to_vec(), [0.5, 1.5, 2.5]);
}

#[test]
fn a_scan_refuses_in_a_one_value_column_what_a_decoded_one_would_be_refused_for() {
    let key = key("c1", Kind::Allocations);
    let scan = |columns: Vec<(&str, ArrayRef)>| {
        let bytes = bytes::Bytes::from(hand_made("1", "allocations", columns));
        scan_allocations(&key, bytes, &["cpu_cost", "name"], &[], &Limits::default())
    };
    let mut columns = version_1_columns();
    assert_eq!(scan(columns.clone()).unwrap().unwrap().constant("cpu_cost"), Some(&Constant::F64(0.4)));
    // One row: every column is a one-value dictionary, a NaN's too.
    columns[15] = ("cpu_cost", Arc::new(Float64Array::from(vec![f64::NAN])));
    let err = scan(columns.clone()).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Value { column: "cpu_cost", .. }), "{err}");
    assert!(err.to_string().contains("NaN is not a finite number"), "{err}");
    assert!(decode_allocations(&key, &hand_made("1", "allocations", columns)).is_err());
    let mut columns = version_1_columns();
    columns[1] = ("window_end", Arc::new(Int64Array::from(vec![DAY.end + 1])));
    let err = scan(columns).unwrap_err();
    assert!(err.to_string().contains("differs from the object's window"), "{err}");
}

#[test]
fn a_scan_finds_the_marked_names_in_the_pages_or_in_the_decoded_column() {
    let key = key("c1", Kind::Allocations);
    let marks = ["__idle__", "__unmounted__"];
    let mut set = allocation_set();
    let mut unmounted = allocation("c1", "__unmounted__", 0.1);
    unmounted.name = "c1/__unmounted__/__unmounted__/__unmounted__".into();
    set.allocations.push(unmounted);
    let set = AllocationSet::new(set.clusters.clone(), set.window, set.allocations);
    // Sorted by name: c1/__idle__, c1/__unmounted__/…, c1/node-1/web/web-1/app,
    // c1/node-1/web/web-2/app, c2/node-1/web/web-1/app.
    let bytes = bytes::Bytes::from(encode_allocations(&set, None).unwrap());
    let scan = scan_allocations_marking(&key, bytes.clone(), &["cpu_cost"], &[], &marks, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(scan.marked, [vec![0], vec![1]]);
    assert!(scan.batches[0].column_by_name("name").is_none(), "the names are not decoded");
    // Asked for with the names: the same rows, and the names.
    let named =
        scan_allocations_marking(&key, bytes, &["name"], &[], &marks, &Limits::default()).unwrap().unwrap();
    assert_eq!(named.marked, scan.marked);
    assert!(named.batches[0].column_by_name("name").is_some());
    // A writer's dictionary-encoded names (plain arrow-rs): decoded to find the marks, and
    // left out of the batches as asked.
    let mut columns = version_1_columns();
    columns[2] = ("name", Arc::new(StringArray::from(vec!["c1/__idle__"])));
    let hand = bytes::Bytes::from(hand_made("1", "allocations", columns));
    let scan = scan_allocations_marking(&key, hand.clone(), &["cpu_cost"], &[], &marks, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(scan.marked, [vec![0], vec![]]);
    assert!(scan.batches[0].column_by_name("name").is_none());
    // Asked for as a column, that one-value name is a constant, which holds the marks too.
    let scan =
        scan_allocations_marking(&key, hand, &["name"], &[], &marks, &Limits::default()).unwrap().unwrap();
    assert_eq!(scan.constant("name"), Some(&Constant::Str("c1/__idle__".into())));
    assert_eq!(scan.marked, [vec![0], vec![]]);
}
