//! The AMP mock: one responder ([`routing`]) that checks SigV4 on every request and routes it
//! to the control plane ([`control`]: workspaces, rule groups namespaces, tags, pagination,
//! idempotency, quotas) or the data plane ([`data_plane`]: remote write and the Prometheus
//! API, served by one Prometheus backend shared by workspaces kept apart by a tenant label,
//! [`tenancy`]). Namespaces hold rules files ([`rules`] checks them), which the [`ruler`]
//! evaluates. What the responder and the ruler share is in [`state`].

pub(crate) mod control;
pub(crate) mod data_plane;
pub(crate) mod routing;
pub(crate) mod ruler;
pub mod rules;
pub(crate) mod state;
pub(crate) mod tenancy;
