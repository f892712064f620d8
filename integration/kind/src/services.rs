//! The fixture's `services:` as `v1` Services, with their type (`ClusterIP` or
//! `LoadBalancer`) and selector. The fixture gives no ports, and a Service that is not headless
//! needs one, so each gets [`PORT`] (TCP). On kind a `LoadBalancer` gets no external address:
//! no cloud controller provisions one.

use std::collections::BTreeMap;

use ampfed_clustersim::fixture::{ClusterFixture, ServiceType};
use serde_yaml::Value;

use crate::yaml::{int, map, metadata, s, seq, string_map};

/// The port of every fixture Service.
pub const PORT: u64 = 80;

/// Whether the fixture declares a Service `namespace/name`.
pub fn declared(cluster: &ClusterFixture, namespace: &str, name: &str) -> bool {
    cluster.services.iter().any(|s| s.namespace == namespace && s.name == name)
}

/// The Services of `cluster`, in fixture order, and notes on what kind makes of them.
pub fn services(cluster: &ClusterFixture) -> (Vec<Value>, Vec<String>) {
    let mut documents = Vec::new();
    let mut notes = Vec::new();
    for svc in &cluster.services {
        let kind = match svc.service_type {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::LoadBalancer => "LoadBalancer",
        };
        let mut spec = vec![
            ("type", s(kind)),
            (
                "ports",
                seq([map([
                    ("name", s("http")),
                    ("port", int(PORT)),
                    ("protocol", s("TCP")),
                    ("targetPort", int(PORT)),
                ])]),
            ),
        ];
        if !svc.selector.is_empty() {
            spec.push(("selector", string_map(&svc.selector)));
        }
        documents.push(map([
            ("apiVersion", s("v1")),
            ("kind", s("Service")),
            ("metadata", metadata(&svc.name, Some(&svc.namespace), &BTreeMap::new(), &BTreeMap::new())),
            ("spec", map(spec)),
        ]));
        if svc.service_type == ServiceType::LoadBalancer {
            notes.push(format!(
                "service `{}/{}` (LoadBalancer): kind provisions no load balancer, so its external address stays pending",
                svc.namespace, svc.name
            ));
        }
    }
    if !documents.is_empty() {
        notes.push(format!("services: the fixture gives no ports; each Service gets port {PORT} (TCP)"));
    }
    (documents, notes)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn services_keep_type_and_selector_and_get_a_port() {
        let c = ClusterFixture::from_yaml_str(
            "name: t\nregion: us-east-1\nnodes: [{name: n1, instance_type: m5.large, zone: us-east-1a, cpu: 2, memory: 8Gi}]\nnamespaces: [{name: web}]\nworkloads: []\nservices:\n  \
             - {namespace: web, name: lb, type: LoadBalancer, selector: {app: web}}\n  \
             - {namespace: web, name: plain, selector: {}}\n",
            Path::new("t.yaml"),
        )
        .unwrap();
        let (docs, notes) = services(&c);
        assert_eq!(docs[0]["spec"]["type"].as_str(), Some("LoadBalancer"));
        assert_eq!(docs[0]["spec"]["selector"]["app"].as_str(), Some("web"));
        assert_eq!(docs[0]["spec"]["ports"][0]["port"].as_u64(), Some(PORT));
        assert_eq!(docs[1]["spec"]["type"].as_str(), Some("ClusterIP"));
        assert!(docs[1]["spec"].get("selector").is_none());
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("`web/lb` (LoadBalancer)"), "{notes:?}");
        assert!(declared(&c, "web", "plain") && !declared(&c, "web", "nope"));
    }
}
