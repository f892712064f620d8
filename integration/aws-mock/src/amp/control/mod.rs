//! The AMP control plane's state and operations, independent of HTTP: workspaces, rule groups
//! namespaces, tags, pagination, `clientToken` idempotency, status transitions and quotas.
//!
//! Transitions run on a request counter rather than a timer, so tests never wait: a resource
//! that is CREATING or UPDATING is ACTIVE from the next control-plane request on, and one that
//! is DELETING is shown as DELETING by the next request and gone from the one after (what the
//! SDK's `WorkspaceActive` and `WorkspaceDeleted` waiters expect). Data-plane requests and the
//! ruler finish CREATING and UPDATING transitions but do not count as requests.
//!
//! - [`plane`]: the store ([`ControlPlane`]), the request counter and the transitions;
//! - [`status`]: the [`Status`] enum and its wire strings;
//! - [`resources`]: the stored `Workspace`s and [`Namespace`]s;
//! - [`messages`]: request members (`Body`) and answers ([`Answer`]);
//! - [`workspaces`], [`namespaces`], [`tags`]: the operations;
//! - [`validate`]: model constraints on request members;
//! - [`pagination`] and [`idempotency`]: `nextToken`/`maxResults` and `clientToken`;
//! - [`quotas`]: [`AmpLimits`] and the checks against them.

mod idempotency;
mod messages;
mod namespaces;
mod pagination;
mod plane;
mod quotas;
mod resources;
mod status;
mod tags;
mod validate;
mod workspaces;

pub use quotas::AmpLimits;

pub(crate) use messages::Answer;
pub(crate) use plane::ControlPlane;
pub(crate) use resources::Namespace;
pub(crate) use status::Status;
pub(crate) use validate::check_workspace_id;
