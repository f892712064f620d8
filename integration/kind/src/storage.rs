//! The fixture's persistent volume claims on kind: top-level `claims:` become `v1`
//! PersistentVolumeClaims, a StatefulSet's `volume_claim_templates` its
//! `volumeClaimTemplates`, and the pods of a workload mount the claims it lists.
//!
//! kind has none of the fixture's storage classes (`gp3`, `gp2`, …): its one class is
//! [`KIND_STORAGE_CLASS`] (`standard`, the local-path provisioner, `ReadWriteOnce`, bound when
//! the first pod uses the claim). Every claim asks for it, with the fixture's class kept in the
//! annotation [`STORAGE_CLASS_ANNOTATION`].

use std::collections::{BTreeMap, BTreeSet};

use ampfed_clustersim::fixture::{Claim, ClaimTemplate, ClusterFixture, Workload};
use ampfed_clustersim::Bytes;
use serde_yaml::Value;

use crate::quantity;
use crate::yaml::{map, metadata, s, strings};

/// kind's default storage class (rancher's local-path provisioner).
pub const KIND_STORAGE_CLASS: &str = "standard";
/// The annotation that keeps the fixture's storage class on a claim.
pub const STORAGE_CLASS_ANNOTATION: &str = "ampfed/storage-class";
/// Where a container mounts volume `<name>`: `/mnt/<name>`.
const MOUNT_ROOT: &str = "/mnt";

fn annotations(storage_class: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(STORAGE_CLASS_ANNOTATION.to_owned(), storage_class.to_owned())])
}

/// A claim's `spec`: one `ReadWriteOnce` volume of `size` from kind's class.
fn spec(size: Bytes) -> Value {
    map([
        ("accessModes", strings(["ReadWriteOnce"])),
        ("resources", map([("requests", map([("storage", s(quantity::memory(size)))]))])),
        ("storageClassName", s(KIND_STORAGE_CLASS)),
    ])
}

/// The PersistentVolumeClaim of fixture claim `c`.
pub fn claim(c: &Claim) -> Value {
    map([
        ("apiVersion", s("v1")),
        ("kind", s("PersistentVolumeClaim")),
        ("metadata", metadata(&c.name, Some(&c.namespace), &BTreeMap::new(), &annotations(&c.storage_class))),
        ("spec", spec(c.size)),
    ])
}

/// One entry of a StatefulSet's `volumeClaimTemplates`.
pub fn template(t: &ClaimTemplate) -> Value {
    map([
        ("metadata", metadata(&t.name, None, &BTreeMap::new(), &annotations(&t.storage_class))),
        ("spec", spec(t.size)),
    ])
}

/// Whether `name` can name a pod volume (a DNS label: at most 63 lowercase letters, digits
/// and `-`, starting and ending with a letter or digit).
fn is_dns_label(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// The pod volumes of `w`'s claims, and the mounts of every container: its claims and its
/// volume claim templates (the StatefulSet controller adds the templates' volumes itself).
/// A claim's volume is named after the claim, unless that is no DNS label or a template has
/// the name: then `claim-<i>`.
pub fn pod_volumes(w: &Workload) -> (Vec<Value>, Vec<Value>) {
    let templates: BTreeSet<&str> = w.volume_claim_templates.iter().map(|t| t.name.as_str()).collect();
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for (i, claim) in w.claims.iter().enumerate() {
        let name = if is_dns_label(claim) && !templates.contains(claim.as_str()) {
            claim.clone()
        } else {
            format!("claim-{i}")
        };
        volumes
            .push(map([("name", s(&*name)), ("persistentVolumeClaim", map([("claimName", s(&**claim))]))]));
        mounts.push(mount(&name));
    }
    mounts.extend(w.volume_claim_templates.iter().map(|t| mount(&t.name)));
    (volumes, mounts)
}

fn mount(volume: &str) -> Value {
    map([("mountPath", s(format!("{MOUNT_ROOT}/{volume}"))), ("name", s(volume))])
}

/// The claims of `cluster`, in fixture order, and notes on what kind makes of them.
pub fn claims(cluster: &ClusterFixture) -> (Vec<Value>, Vec<String>) {
    let documents = cluster.claims.iter().map(claim).collect();
    let mut notes = Vec::new();
    let classes: BTreeSet<&str> = cluster
        .claims
        .iter()
        .map(|c| c.storage_class.as_str())
        .chain(
            cluster
                .workloads
                .iter()
                .flat_map(|w| w.volume_claim_templates.iter())
                .map(|t| t.storage_class.as_str()),
        )
        .filter(|c| *c != KIND_STORAGE_CLASS)
        .collect();
    if !classes.is_empty() {
        let list: Vec<String> = classes.iter().map(|c| format!("`{c}`")).collect();
        notes.push(format!(
            "storage classes {} become kind's `{KIND_STORAGE_CLASS}` (local-path, ReadWriteOnce); the fixture's class is in the annotation `{STORAGE_CLASS_ANNOTATION}`",
            list.join(", ")
        ));
    }
    for c in &cluster.claims {
        let mounted =
            cluster.workloads.iter().any(|w| w.namespace == c.namespace && w.claims.contains(&c.name));
        if !mounted {
            notes.push(format!(
                "claim `{}/{}` is mounted by no workload: `{KIND_STORAGE_CLASS}` binds a claim when its first pod starts, so it stays Pending with no volume",
                c.namespace, c.name
            ));
        }
    }
    (documents, notes)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const FIXTURE: &str = r#"
name: t
region: us-east-1
nodes:
  - {name: n1, instance_type: m5.large, zone: us-east-1a, cpu: 2, memory: 8Gi}
namespaces: [{name: web}]
claims:
  - {namespace: web, name: uploads, storage_class: gp3, size: 50Gi}
  - {namespace: web, name: data, storage_class: gp2, size: 1Gi}
  - {namespace: web, name: cache.v2, storage_class: standard, size: 1Gi}
workloads:
  - namespace: web
    name: db
    kind: StatefulSet
    claims: [uploads, data, cache.v2]
    volume_claim_templates:
      - {name: data, storage_class: gp3, size: 10Gi}
    containers:
      - {name: db, image: example/db:1, cpu_usage: {base: 1m}, memory_usage: {base: 1Mi}}
"#;

    fn fixture() -> ClusterFixture {
        ClusterFixture::from_yaml_str(FIXTURE, Path::new("t.yaml")).unwrap()
    }

    #[test]
    fn a_claim_asks_kind_s_class_and_keeps_the_fixture_s() {
        let c = claim(&fixture().claims[0]);
        assert_eq!(c["kind"].as_str(), Some("PersistentVolumeClaim"));
        assert_eq!(c["metadata"]["namespace"].as_str(), Some("web"));
        assert_eq!(c["metadata"]["annotations"][STORAGE_CLASS_ANNOTATION].as_str(), Some("gp3"));
        assert_eq!(c["spec"]["storageClassName"].as_str(), Some("standard"));
        assert_eq!(c["spec"]["resources"]["requests"]["storage"].as_str(), Some("50Gi"));
        assert_eq!(c["spec"]["accessModes"][0].as_str(), Some("ReadWriteOnce"));
    }

    #[test]
    fn volumes_are_named_after_claims_unless_they_cannot_be() {
        let c = fixture();
        let (volumes, mounts) = pod_volumes(&c.workloads[0]);
        let names: Vec<&str> = volumes.iter().map(|v| v["name"].as_str().unwrap()).collect();
        // `data` is also a template's name; `cache.v2` is no DNS label.
        assert_eq!(names, ["uploads", "claim-1", "claim-2"]);
        assert_eq!(volumes[2]["persistentVolumeClaim"]["claimName"].as_str(), Some("cache.v2"));
        let paths: Vec<&str> = mounts.iter().map(|m| m["mountPath"].as_str().unwrap()).collect();
        assert_eq!(paths, ["/mnt/uploads", "/mnt/claim-1", "/mnt/claim-2", "/mnt/data"]);
    }

    #[test]
    fn notes_name_the_mapped_classes_and_unmounted_claims() {
        let mut c = fixture();
        c.workloads[0].claims.retain(|n| n != "uploads");
        let (docs, notes) = claims(&c);
        assert_eq!(docs.len(), 3);
        assert!(notes[0].starts_with("storage classes `gp2`, `gp3` become kind's `standard`"), "{notes:?}");
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[1].starts_with("claim `web/uploads` is mounted by no workload"), "{notes:?}");
    }
}
