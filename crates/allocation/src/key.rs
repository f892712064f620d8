//! Aggregation keys as OpenCost's `AllocationProperties.GenerateKey` builds them: the
//! [`Aggregate`] properties (the API's `aggregate=` values), their parsing, Prometheus-style
//! label-name sanitising, and [`generate_key`].
//!
//! Empty values: `cluster`, `node`, `namespace`, `pod`, `container` (and `providerID`) are
//! used as they are, so an empty one gives an empty segment; `controllerKind`, `controller`,
//! `deployment`, `statefulset`, `daemonset`, `job`, `service`, `label:…`, `annotation:…` and
//! the label aliases give `__unallocated__`. Controller keys are `kind:name`.

use std::fmt;
use std::str::FromStr;

use crate::model::{Properties, UNALLOCATED, UNMOUNTED};

/// One property to aggregate by.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Aggregate {
    Cluster,
    Node,
    Namespace,
    ControllerKind,
    Controller,
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    Service,
    Pod,
    Container,
    ProviderId,
    /// `label:<key>`; the key is sanitised when parsed.
    Label(String),
    /// `annotation:<key>`; the key is sanitised when parsed.
    Annotation(String),
    /// `department`, `environment`, `owner`, `product`, `team`: the label (or, failing that,
    /// the annotation) named in [`LabelConfig`].
    Alias(Alias),
}

/// The label aliases of Kubecost's label configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Alias {
    Department,
    Environment,
    Owner,
    Product,
    Team,
}

/// Which labels the aliases read; OpenCost's defaults (`department`, `env`, `owner`, `app`,
/// `team`). A value may list several labels, comma-separated: each gives one key segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelConfig {
    pub department: String,
    pub environment: String,
    pub owner: String,
    pub product: String,
    pub team: String,
}

impl Default for LabelConfig {
    fn default() -> LabelConfig {
        LabelConfig {
            department: "department".into(),
            environment: "env".into(),
            owner: "owner".into(),
            product: "app".into(),
            team: "team".into(),
        }
    }
}

impl LabelConfig {
    fn labels(&self, alias: Alias) -> &str {
        match alias {
            Alias::Department => &self.department,
            Alias::Environment => &self.environment,
            Alias::Owner => &self.owner,
            Alias::Product => &self.product,
            Alias::Team => &self.team,
        }
    }
}

/// An aggregation name that is not one of Kubecost's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown aggregate {0:?}: use cluster, node, namespace, controllerKind, controller, deployment, \
     statefulset, daemonset, job, service, pod, container, providerID, label:<key>, \
     annotation:<key>, department, environment, owner, product or team, comma-separated"
)]
pub struct UnknownProperty(pub String);

/// Prometheus label-name sanitising, as Kubernetes labels reach `kube_*_labels`: every
/// character outside `[A-Za-z0-9_]` becomes `_`.
pub fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

impl FromStr for Aggregate {
    type Err = UnknownProperty;
    /// Case-insensitive names; `label:`/`annotation:` keys keep their case but are sanitised.
    fn from_str(s: &str) -> Result<Aggregate, UnknownProperty> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        let unknown = || UnknownProperty(t.to_owned());
        if let Some(key) = lower.strip_prefix("label:").map(|_| &t["label:".len()..]) {
            return if key.is_empty() { Err(unknown()) } else { Ok(Aggregate::Label(sanitize(key))) };
        }
        if let Some(key) = lower.strip_prefix("annotation:").map(|_| &t["annotation:".len()..]) {
            return if key.is_empty() { Err(unknown()) } else { Ok(Aggregate::Annotation(sanitize(key))) };
        }
        Ok(match lower.as_str() {
            "cluster" => Aggregate::Cluster,
            "node" => Aggregate::Node,
            "namespace" => Aggregate::Namespace,
            "controllerkind" => Aggregate::ControllerKind,
            "controller" => Aggregate::Controller,
            "deployment" => Aggregate::Deployment,
            "statefulset" => Aggregate::StatefulSet,
            "daemonset" => Aggregate::DaemonSet,
            "job" => Aggregate::Job,
            "service" => Aggregate::Service,
            "pod" => Aggregate::Pod,
            "container" => Aggregate::Container,
            "providerid" => Aggregate::ProviderId,
            "department" => Aggregate::Alias(Alias::Department),
            "environment" => Aggregate::Alias(Alias::Environment),
            "owner" => Aggregate::Alias(Alias::Owner),
            "product" => Aggregate::Alias(Alias::Product),
            "team" => Aggregate::Alias(Alias::Team),
            _ => return Err(unknown()),
        })
    }
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Aggregate::Cluster => "cluster",
            Aggregate::Node => "node",
            Aggregate::Namespace => "namespace",
            Aggregate::ControllerKind => "controllerKind",
            Aggregate::Controller => "controller",
            Aggregate::Deployment => "deployment",
            Aggregate::StatefulSet => "statefulset",
            Aggregate::DaemonSet => "daemonset",
            Aggregate::Job => "job",
            Aggregate::Service => "service",
            Aggregate::Pod => "pod",
            Aggregate::Container => "container",
            Aggregate::ProviderId => "providerID",
            Aggregate::Label(k) => return write!(f, "label:{k}"),
            Aggregate::Annotation(k) => return write!(f, "annotation:{k}"),
            Aggregate::Alias(Alias::Department) => "department",
            Aggregate::Alias(Alias::Environment) => "environment",
            Aggregate::Alias(Alias::Owner) => "owner",
            Aggregate::Alias(Alias::Product) => "product",
            Aggregate::Alias(Alias::Team) => "team",
        };
        f.write_str(s)
    }
}

/// Parses `namespace,label:team` into properties.
pub fn parse_properties(s: &str) -> Result<Vec<Aggregate>, UnknownProperty> {
    s.split(',').map(str::parse).collect()
}

fn or_unallocated(v: &str) -> &str {
    if v.is_empty() {
        UNALLOCATED
    } else {
        v
    }
}

/// The key of `p` for `by`, segments joined by `/`, exactly as OpenCost's `GenerateKey`
/// (see the module documentation for empty values).
pub fn generate_key(p: &Properties, by: &[Aggregate], config: &LabelConfig) -> String {
    let mut key = String::new();
    generate_key_into(&mut key, p, by, config);
    key
}

/// [`generate_key`] written into `key` (cleared first), so that a caller keying many rows
/// reuses one buffer.
pub fn generate_key_into(key: &mut String, p: &Properties, by: &[Aggregate], config: &LabelConfig) {
    key.clear();
    let mut first = true;
    // The key, after the separator its next segment needs.
    fn segment<'k>(key: &'k mut String, first: &mut bool) -> &'k mut String {
        if !*first {
            key.push('/');
        }
        *first = false;
        key
    }
    for agg in by {
        match agg {
            Aggregate::Cluster => segment(key, &mut first).push_str(&p.cluster),
            Aggregate::Node => segment(key, &mut first).push_str(&p.node),
            Aggregate::Namespace => segment(key, &mut first).push_str(&p.namespace),
            Aggregate::Pod => segment(key, &mut first).push_str(&p.pod),
            Aggregate::Container => segment(key, &mut first).push_str(&p.container),
            Aggregate::ProviderId => segment(key, &mut first).push_str(&p.provider_id),
            Aggregate::ControllerKind => {
                segment(key, &mut first).push_str(or_unallocated(&p.controller_kind))
            }
            Aggregate::Deployment | Aggregate::StatefulSet | Aggregate::DaemonSet | Aggregate::Job => {
                let kind = match agg {
                    Aggregate::Deployment => "deployment",
                    Aggregate::StatefulSet => "statefulset",
                    Aggregate::DaemonSet => "daemonset",
                    _ => "job",
                };
                if p.controller_kind == kind && !p.controller.is_empty() {
                    segment(key, &mut first).push_str(&p.controller);
                } else {
                    segment(key, &mut first).push_str(UNALLOCATED);
                }
            }
            Aggregate::Controller => {
                if p.controller.is_empty() {
                    segment(key, &mut first).push_str(UNALLOCATED);
                } else if p.controller_kind.is_empty() {
                    segment(key, &mut first).push_str(&p.controller);
                } else {
                    let k = segment(key, &mut first);
                    k.push_str(&p.controller_kind);
                    k.push(':');
                    k.push_str(&p.controller);
                }
            }
            Aggregate::Service => {
                if p.services.is_empty() {
                    segment(key, &mut first).push_str(UNALLOCATED);
                } else if p.pod == UNMOUNTED || p.namespace == UNMOUNTED || p.container == UNMOUNTED {
                    // Unmounted load balancers list their services; they stay unmounted.
                    segment(key, &mut first).push_str(UNMOUNTED);
                } else {
                    // As OpenCost: the first service only.
                    segment(key, &mut first).push_str(&p.services[0]);
                }
            }
            Aggregate::Label(k) => {
                segment(key, &mut first).push_str(p.labels.get(k).map_or(UNALLOCATED, String::as_str))
            }
            Aggregate::Annotation(k) => {
                segment(key, &mut first).push_str(p.annotations.get(k).map_or(UNALLOCATED, String::as_str))
            }
            Aggregate::Alias(alias) => {
                for label in config.labels(*alias).split(',') {
                    let label = sanitize(label.trim());
                    let value = p.labels.get(&label).or_else(|| p.annotations.get(&label));
                    segment(key, &mut first).push_str(value.map_or(UNALLOCATED, String::as_str));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props() -> Properties {
        Properties {
            cluster: "c1".into(),
            node: "n1".into(),
            namespace: "shop".into(),
            pod: "web-7d4-abc".into(),
            container: "nginx".into(),
            controller: "web".into(),
            controller_kind: "deployment".into(),
            services: vec!["web-svc".into(), "web-admin".into()],
            labels: [("app".to_owned(), "web".to_owned()), ("team".to_owned(), "storefront".to_owned())]
                .into(),
            annotations: [("owner".to_owned(), "ana".to_owned())].into(),
            ..Properties::default()
        }
    }

    fn key(p: &Properties, by: &str) -> String {
        generate_key(p, &parse_properties(by).unwrap(), &LabelConfig::default())
    }

    #[test]
    fn keys_follow_generate_key() {
        let p = props();
        assert_eq!(key(&p, "namespace,label:team"), "shop/storefront");
        assert_eq!(key(&p, "controller"), "deployment:web");
        assert_eq!(key(&p, "controllerKind"), "deployment");
        assert_eq!(key(&p, "deployment,statefulset"), "web/__unallocated__");
        assert_eq!(key(&p, "service"), "web-svc");
        assert_eq!(key(&p, "label:missing,annotation:owner"), "__unallocated__/ana");
        // Aliases read the label, then the annotation.
        assert_eq!(key(&p, "product,owner,department"), "web/ana/__unallocated__");
        assert_eq!(key(&p, "Cluster,NODE"), "c1/n1");
    }

    #[test]
    fn empty_values_follow_opencost() {
        let p = Properties::default();
        assert_eq!(key(&p, "cluster,node,namespace,pod,container"), "////");
        assert_eq!(
            key(
                &p,
                "controller,controllerKind,deployment,statefulset,daemonset,job,label:a,annotation:b,service"
            ),
            ["__unallocated__"; 9].join("/")
        );
        let unmounted =
            Properties { namespace: UNMOUNTED.into(), services: vec!["lb".into()], ..Properties::default() };
        assert_eq!(key(&unmounted, "service"), "__unmounted__");
    }

    #[test]
    fn label_keys_are_sanitised_and_names_checked() {
        assert_eq!(
            "label:app.kubernetes.io/name".parse::<Aggregate>(),
            Ok(Aggregate::Label("app_kubernetes_io_name".into()))
        );
        assert_eq!(parse_properties("namespace,colour"), Err(UnknownProperty("colour".into())));
        assert!("label:".parse::<Aggregate>().is_err());
        assert_eq!(Aggregate::Label("team".into()).to_string(), "label:team");
    }
}
