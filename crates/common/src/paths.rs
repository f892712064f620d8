//! Where the project's files are: the workspace root, the fixtures, and the one cache
//! directory for what the harness installs (`target/ampfed-cache` unless `AMPFED_CACHE_DIR`
//! moves it; CI may keep it outside the clone).

use std::path::{Path, PathBuf};

/// The environment variable that moves the cache directory.
pub const CACHE_DIR_VAR: &str = "AMPFED_CACHE_DIR";

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The cache directory.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os(CACHE_DIR_VAR) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target/ampfed-cache"),
    }
}

/// The LocalStack venv inside the cache directory.
pub fn localstack_venv() -> PathBuf {
    cache_dir().join("localstack-venv")
}

/// The fixtures directory.
pub fn fixtures_dir() -> PathBuf {
    workspace_root().join("fixtures")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_holds_the_workspace_manifest_and_the_fixtures() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
        assert!(fixtures_dir().join("clusters").is_dir());
    }
}
