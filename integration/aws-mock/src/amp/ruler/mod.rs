//! The ruler: evaluates every ACTIVE namespace's groups against the backend, each group at its
//! interval, rules in file order, and writes recording results back as series of the rule's
//! workspace (see `amp::tenancy`). Two clocks drive it:
//!
//! - virtual ([`Ruler::evaluate_range`], in [`eval`]): a time range as fast as possible, the
//!   way `promtool tsdb create-blocks-from rules` backfills. Each rule is evaluated over the
//!   whole range (a range query at the group interval, times aligned to it) and written back
//!   before the next rule runs, so later rules see the results of earlier ones at every step.
//! - wall clock ([`Ruler::run_wall_clock`], in [`wall_clock`]): a thread that evaluates each
//!   group at the current interval boundary whenever one passes, until stopped.
//!
//! Prometheus's rule semantics kept: a series a rule stops producing gets a stale marker at the
//! next evaluation; alerting rules are pending until they have lasted `for`, then firing, and
//! write `ALERTS{alertname, alertstate, …}`; a group `limit` makes an evaluation with more
//! series than the limit produce nothing and fail. A failing rule does not stop the others.
//! `/api/v1/rules` and `/api/v1/alerts` ([`api`]) answer in Prometheus's JSON from the state
//! kept in [`history`]: health, last error and last evaluation per rule and group, and the
//! active alerts. The `tests/amp/ruler.rs` suite checks the output against
//! `promtool test rules`.
//! Not done: templates in alert labels and annotations are shown unexpanded, and
//! `keep_firing_for` is accepted but not applied.

mod api;
mod eval;
mod history;
mod wall_clock;

pub use eval::{Ruler, RulerError, RulerReport};
pub use wall_clock::WallClock;

pub(crate) use api::{alerts_api, filter_rules, rules_api};
pub(crate) use history::RulerState;
