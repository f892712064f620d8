//! Checks on the repository itself, run by `cargo test -p xtask`. Each failure names the file,
//! the line and the fix.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target" || n == "snapshots") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let root = crate::project_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("integration"), &mut files);
    rust_files(&root.join("xtask"), &mut files);
    files.sort();
    files
}

fn rel(path: &Path) -> String {
    path.strip_prefix(crate::project_root()).unwrap_or(path).display().to_string()
}

#[test]
fn every_module_starts_with_a_doc_comment() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|p| {
            let text = fs::read_to_string(p).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|p| format!("{}:1: add a `//!` line saying what the module is for", rel(&p)))
        .collect();
    assert!(missing.is_empty(), "\n{}", missing.join("\n"));
}

#[test]
fn no_ignored_tests_and_no_stubs() {
    let mut problems = Vec::new();
    for path in sources() {
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let banned = [concat!("#[", "ignore"), concat!("todo", "!("), concat!("unimplemented", "!(")];
            if banned.iter().any(|b| line.contains(b)) {
                problems.push(format!("{}:{}: make it run or remove it: {}", rel(&path), i + 1, line.trim()));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn versions_are_pinned_only_in_the_workspace_manifest() {
    let root = crate::project_root();
    let mut manifests = vec![root.join("xtask/Cargo.toml")];
    if let Ok(entries) = fs::read_dir(root.join("integration")) {
        manifests.extend(entries.flatten().map(|e| e.path().join("Cargo.toml")).filter(|p| p.is_file()));
    }
    let mut problems = Vec::new();
    for manifest in manifests {
        let text = fs::read_to_string(&manifest).unwrap_or_default();
        let mut in_deps = false;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.starts_with('[') {
                in_deps = t.contains("dependencies");
                continue;
            }
            if in_deps && !t.is_empty() && !t.starts_with('#') && !t.contains("workspace = true") {
                problems.push(format!(
                    "{}:{}: declare the version in the root Cargo.toml [workspace.dependencies] and use `.workspace = true`: {t}",
                    rel(&manifest),
                    i + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn scenario_code_waits_on_probes_not_fixed_sleeps() {
    let mut problems = Vec::new();
    for path in sources().into_iter().filter(|p| rel(p).starts_with("integration/e2e")) {
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if line.contains("sleep(Duration::from_secs(") {
                problems.push(format!(
                    "{}:{}: wait on something observable with a bounded poll instead",
                    rel(&path),
                    i + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Every `snapshots/` directory under `integration/`.
fn snapshot_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() || path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "snapshots") {
            out.push(path);
        } else {
            snapshot_dirs(&path, out);
        }
    }
}

#[test]
fn every_snapshot_is_asserted_by_name_and_none_is_pending() {
    let mut dirs = Vec::new();
    snapshot_dirs(&crate::project_root().join("integration"), &mut dirs);
    let code: String = sources().iter().filter_map(|p| fs::read_to_string(p).ok()).collect();
    let mut problems = Vec::new();
    for dir in dirs {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.ends_with(".snap.new") || file.ends_with(".pending-snap") {
                problems.push(format!(
                    "{}: pending snapshot: review it with `cargo insta review` or delete it",
                    rel(&entry.path())
                ));
            } else if let Some(stem) = file.strip_suffix(".snap") {
                // insta names files `<module>__<name>.snap` unless the module prefix is off.
                let name = stem.rsplit("__").next().unwrap_or(stem);
                if !code.contains(&format!("snapshot!(\"{name}\"")) {
                    problems.push(format!(
                        "{}: no assertion names {name:?}; delete the file",
                        rel(&entry.path())
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
