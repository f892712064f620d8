//! What every task uses: the workspace root, the cargo that runs the xtask, and the exit code
//! of a child that printed its own error.

use std::path::PathBuf;

/// A child task that ended with this exit code after printing its own error.
#[derive(Debug)]
pub(crate) struct ChildExit(pub(crate) u8);

impl std::fmt::Display for ChildExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exited with code {}", self.0)
    }
}

impl std::error::Error for ChildExit {}

/// The workspace root.
pub(crate) fn project_root() -> PathBuf {
    ampfed_common::paths::workspace_root()
}

/// The cargo that runs us, so nested builds share its toolchain.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
