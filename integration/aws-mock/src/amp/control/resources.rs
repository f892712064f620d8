//! The stored resources: workspaces and the rule groups namespaces they hold.

use std::collections::BTreeMap;

use chrono::Utc;

use super::status::Status;
use crate::amp::rules::RuleFile;

/// One workspace.
#[derive(Clone, Debug)]
pub(crate) struct Workspace {
    pub(crate) id: String,
    pub(crate) alias: Option<String>,
    pub(crate) arn: String,
    pub(crate) status: Status,
    /// The request counter value of the last status change.
    pub(crate) changed_at: u64,
    /// The request counter value at creation (the listing order).
    pub(crate) created_seq: u64,
    pub(crate) created_at: f64,
    pub(crate) kms_key_arn: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) namespaces: BTreeMap<String, Namespace>,
}

/// One rule groups namespace.
#[derive(Clone, Debug)]
pub(crate) struct Namespace {
    pub(crate) name: String,
    pub(crate) arn: String,
    pub(crate) status: Status,
    /// The request counter value of the last status change.
    pub(crate) changed_at: u64,
    pub(crate) data: Vec<u8>,
    pub(crate) rules: RuleFile,
    pub(crate) created_at: f64,
    pub(crate) modified_at: f64,
    pub(crate) tags: BTreeMap<String, String>,
}

/// Now as AMP's timestamps show it: unix seconds with milliseconds.
pub(crate) fn timestamp_now() -> f64 {
    let t = Utc::now();
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_millis()) / 1000.0
}
