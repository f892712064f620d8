//! The control plane's store: the workspaces of one region, the request counter status
//! transitions run on, the quotas in force and the `clientToken`s seen. The operations are in the
//! `workspaces`, `namespaces` and `tags` modules.

use std::collections::BTreeMap;

use serde_json::Value;

use super::idempotency::ClientTokens;
use super::messages::Answer;
use super::quotas::AmpLimits;
use super::resources::{Namespace, Workspace};
use super::status::Status;
use crate::aws_error::AwsError;

/// Stored workspaces and their rule groups namespaces.
pub(crate) struct ControlPlane {
    pub(super) region: String,
    pub(super) limits: AmpLimits,
    /// The request counter transitions run on.
    pub(super) seq: u64,
    pub(super) workspaces: BTreeMap<String, Workspace>,
    tokens: ClientTokens,
}

impl ControlPlane {
    pub(crate) fn new(region: &str) -> ControlPlane {
        ControlPlane {
            region: region.to_owned(),
            limits: AmpLimits::default(),
            seq: 0,
            workspaces: BTreeMap::new(),
            tokens: ClientTokens::default(),
        }
    }

    /// The quotas in force.
    pub(crate) fn limits(&self) -> &AmpLimits {
        &self.limits
    }

    /// Replaces the quotas in force.
    pub(crate) fn set_limits(&mut self, limits: AmpLimits) {
        self.limits = limits;
    }

    /// Advances the request counter and finishes due transitions. Every control-plane request
    /// calls it once.
    pub(crate) fn settle(&mut self) {
        self.seq += 1;
        let seq = self.seq;
        self.workspaces.retain(|_, ws| !(ws.status == Status::Deleting && ws.changed_at + 1 < seq));
        for ws in self.workspaces.values_mut() {
            if ws.status.is_pending() && ws.changed_at < seq {
                ws.status = Status::Active;
            }
            ws.namespaces.retain(|_, ns| !(ns.status == Status::Deleting && ns.changed_at + 1 < seq));
            for ns in ws.namespaces.values_mut() {
                if ns.status.is_pending() && ns.changed_at < seq {
                    ns.status = Status::Active;
                }
            }
        }
    }

    /// Finishes CREATING and UPDATING transitions as the next request would, without counting
    /// a request: the data plane and the ruler call this, so they never hurry a deletion along
    /// (a DELETING resource stays visible to the next control-plane request).
    pub(crate) fn finish_pending(&mut self) {
        for ws in self.workspaces.values_mut() {
            if ws.status.is_pending() {
                ws.status = Status::Active;
            }
            for ns in ws.namespaces.values_mut() {
                if ns.status.is_pending() {
                    ns.status = Status::Active;
                }
            }
        }
    }

    /// `(workspace id, namespace)` of every ACTIVE namespace in an ACTIVE workspace.
    pub(crate) fn active_namespaces(&self) -> Vec<(String, Namespace)> {
        self.workspaces
            .values()
            .filter(|ws| ws.status == Status::Active)
            .flat_map(|ws| {
                ws.namespaces
                    .values()
                    .filter(|ns| ns.status == Status::Active)
                    .map(|ns| (ws.id.clone(), ns.clone()))
            })
            .collect()
    }

    /// The namespaces of one workspace in name order, whatever their status.
    pub(crate) fn namespaces_of(&self, id: &str) -> Option<Vec<Namespace>> {
        self.workspaces.get(id).map(|ws| ws.namespaces.values().cloned().collect())
    }

    /// Whether a workspace exists and serves its data plane.
    pub(crate) fn require_active(&self, id: &str) -> Result<(), AwsError> {
        match self.workspaces.get(id) {
            Some(ws) if matches!(ws.status, Status::Active | Status::Updating) => Ok(()),
            Some(ws) => Err(AwsError::conflict(
                "WORKSPACE",
                id,
                format!("Workspace {id} is in status {} and cannot serve requests", ws.status),
            )),
            None => Err(AwsError::not_found("WORKSPACE", id)),
        }
    }

    /// Runs a mutating operation under `clientToken` idempotency.
    pub(super) fn idempotent(
        &mut self,
        operation: &str,
        fingerprint: Value,
        token: Option<&str>,
        run: impl FnOnce(&mut ControlPlane) -> Result<Answer, AwsError>,
    ) -> Result<Answer, AwsError> {
        let Some(token) = token else { return run(self) };
        if let Some(answer) = self.tokens.replay(operation, &fingerprint, token)? {
            return Ok(answer);
        }
        let answer = run(self)?;
        self.tokens.remember(operation, token, fingerprint, answer.clone());
        Ok(answer)
    }
}
