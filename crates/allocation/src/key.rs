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

fn or_unallocated(v: &str) -> String {
    if v.is_empty() {
        UNALLOCATED.to_owned()
    } else {
        v.to_owned()
    }
}

/// The key of `p` for `by`, segments joined by `/`, exactly as OpenCost's `GenerateKey`
/// (see the module documentation for empty values).
pub fn generate_key(p: &Properties, by: &[Aggregate], config: &LabelConfig) -> String {
    let mut names: Vec<String> = Vec::with_capacity(by.len());
    for agg in by {
        match agg {
            Aggregate::Cluster => names.push(p.cluster.clone()),
            Aggregate::Node => names.push(p.node.clone()),
            Aggregate::Namespace => names.push(p.namespace.clone()),
            Aggregate::Pod => names.push(p.pod.clone()),
            Aggregate::Container => names.push(p.container.clone()),
            Aggregate::ProviderId => names.push(p.provider_id.clone()),
            Aggregate::ControllerKind => names.push(or_unallocated(&p.controller_kind)),
            Aggregate::Deployment | Aggregate::StatefulSet | Aggregate::DaemonSet | Aggregate::Job => {
                let kind = match agg {
                    Aggregate::Deployment => "deployment",
                    Aggregate::StatefulSet => "statefulset",
                    Aggregate::DaemonSet => "daemonset",
                    _ => "job",
                };
                if p.controller_kind == kind && !p.controller.is_empty() {
                    names.push(p.controller.clone());
                } else {
                    names.push(UNALLOCATED.to_owned());
                }
            }
            Aggregate::Controller => {
                if p.controller.is_empty() {
                    names.push(UNALLOCATED.to_owned());
                } else if p.controller_kind.is_empty() {
                    names.push(p.controller.clone());
                } else {
                    names.push(format!("{}:{}", p.controller_kind, p.controller));
                }
            }
            Aggregate::Service => {
                if p.services.is_empty() {
                    names.push(UNALLOCATED.to_owned());
                } else if p.pod == UNMOUNTED || p.namespace == UNMOUNTED || p.container == UNMOUNTED {
                    // Unmounted load balancers list their services; they stay unmounted.
                    names.push(UNMOUNTED.to_owned());
                } else {
                    // As OpenCost: the first service only.
                    names.push(p.services[0].clone());
                }
            }
            Aggregate::Label(key) => {
                names.push(p.labels.get(key).cloned().unwrap_or_else(|| UNALLOCATED.to_owned()))
            }
            Aggregate::Annotation(key) => {
                names.push(p.annotations.get(key).cloned().unwrap_or_else(|| UNALLOCATED.to_owned()))
            }
            Aggregate::Alias(alias) => {
                for label in config.labels(*alias).split(',') {
                    let label = sanitize(label.trim());
                    let value = p.labels.get(&label).or_else(|| p.annotations.get(&label));
                    names.push(value.cloned().unwrap_or_else(|| UNALLOCATED.to_owned()));
                }
            }
        }
    }
    names.join("/")
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
