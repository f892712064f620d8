//! The AMP quotas the mock enforces and the rule-file checks against them; going over one is
//! a ServiceQuotaExceededException.

use super::resources::Workspace;
use crate::amp::rules::RuleFile;
use crate::aws_error::AwsError;

/// AMP-like quotas the mock enforces (defaults: the published ones in `amp-api.md`).
#[derive(Clone, Debug, PartialEq)]
pub struct AmpLimits {
    pub workspaces_per_region: usize,
    pub namespaces_per_workspace: usize,
    pub rule_groups_per_workspace: usize,
    pub rules_per_group: usize,
    /// Size of one namespace's rules file in bytes.
    pub namespace_bytes: usize,
    /// Remote write ingestion limit per workspace: `(samples per second, burst)`. Off by
    /// default (AMP's default is 70,000/s with a burst of 1,000,000); when on, a write over
    /// it is answered 429 with AMP's message, and senders retry.
    pub ingestion_rate: Option<(f64, f64)>,
}

impl Default for AmpLimits {
    fn default() -> Self {
        AmpLimits {
            workspaces_per_region: 10,
            namespaces_per_workspace: 10,
            rule_groups_per_workspace: 100,
            rules_per_group: 20,
            namespace_bytes: 1 << 20,
            ingestion_rate: None,
        }
    }
}

/// The quota codes the mock puts in ServiceQuotaExceededException (its own names: AWS's
/// `L-…` codes are not published in the model).
pub(crate) mod quota_codes {
    pub(crate) const WORKSPACES: &str = "ampfed-workspaces-per-region";
    pub(crate) const NAMESPACES: &str = "ampfed-rule-groups-namespaces-per-workspace";
    pub(crate) const RULE_GROUPS: &str = "ampfed-rule-groups-per-workspace";
    pub(crate) const RULES_PER_GROUP: &str = "ampfed-rules-per-rule-group";
    pub(crate) const NAMESPACE_SIZE: &str = "ampfed-rule-groups-namespace-size";
}

/// The quotas a rules file counts against: its size, rules per group, and rule groups over the
/// whole workspace (this namespace's new groups plus every other namespace's).
pub(crate) fn check_rule_quotas(
    ws: &Workspace,
    name: &str,
    data: &[u8],
    parsed: &RuleFile,
    limits: &AmpLimits,
) -> Result<(), AwsError> {
    let quota = |code: &str, message: String| AwsError::quota("RULE_GROUPS_NAMESPACE", name, code, message);
    if data.len() > limits.namespace_bytes {
        return Err(quota(
            quota_codes::NAMESPACE_SIZE,
            format!(
                "Rule groups namespace {name} is {} bytes, over the quota of {} bytes per namespace",
                data.len(),
                limits.namespace_bytes
            ),
        ));
    }
    if let Some(g) = parsed.groups.iter().find(|g| g.rules.len() > limits.rules_per_group) {
        return Err(quota(
            quota_codes::RULES_PER_GROUP,
            format!(
                "Rule group {:?} has {} rules, over the quota of {} rules per rule group",
                g.name,
                g.rules.len(),
                limits.rules_per_group
            ),
        ));
    }
    let others: usize =
        ws.namespaces.values().filter(|ns| ns.name != name).map(|ns| ns.rules.groups.len()).sum();
    if others + parsed.groups.len() > limits.rule_groups_per_workspace {
        return Err(quota(
            quota_codes::RULE_GROUPS,
            format!(
                "Workspace {} would have {} rule groups, over the quota of {} rule groups per workspace",
                ws.id,
                others + parsed.groups.len(),
                limits.rule_groups_per_workspace
            ),
        ));
    }
    Ok(())
}
