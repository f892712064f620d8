//! Service logs that outlive their scenario: when a scenario with a log archive ends, every
//! `*.log` of its services is copied to the archive directory (`<cache>/logs/<run>/`), so a
//! failed run's logs are there to read after its processes and directory are gone; the oldest
//! runs are pruned so that repeated runs do not fill the disk.

use std::fs;
use std::path::{Path, PathBuf};

use crate::EnvError;

/// Runs whose logs are kept by default.
pub const RUNS_KEPT: usize = 10;
/// A log larger than this is archived as its last part only.
const MAX_ARCHIVED_BYTES: u64 = 8 * 1024 * 1024;

/// Where runs keep their logs: `<cache>/logs`.
pub fn archive_base() -> PathBuf {
    crate::paths::cache_dir().join("logs")
}

/// The log directory of a run starting now (`<cache>/logs/<UTC time>-<pid>`), after pruning
/// the archive to make room for it ([`RUNS_KEPT`] runs in all). A failed prune is a warning:
/// the run goes on.
pub fn next_run() -> PathBuf {
    let base = archive_base();
    if let Err(e) = prune(&base, RUNS_KEPT - 1) {
        tracing::warn!("cannot prune old logs: {e}");
    }
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    base.join(run_name(i64::try_from(now).unwrap_or(i64::MAX), std::process::id()))
}

/// Copies every `<service>/<file>.log` under `scenario_dir` into `archive` (flat, named as in
/// the scenario), keeping at most the last [`MAX_ARCHIVED_BYTES`] of each. Returns the copies.
pub fn archive(scenario_dir: &Path, archive: &Path) -> Result<Vec<PathBuf>, EnvError> {
    let io = |what, path: &Path| {
        let path = path.to_owned();
        move |source| EnvError::Io { what, path, source }
    };
    fs::create_dir_all(archive).map_err(io("create", archive))?;
    let mut copied = Vec::new();
    for service in fs::read_dir(scenario_dir).map_err(io("read", scenario_dir))?.flatten() {
        let Ok(entries) = fs::read_dir(service.path()) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "log") {
                continue;
            }
            let target = archive.join(entry.file_name());
            copy_tail(&path, &target, MAX_ARCHIVED_BYTES).map_err(io("copy", &path))?;
            copied.push(target);
        }
    }
    copied.sort();
    Ok(copied)
}

fn copy_tail(from: &Path, to: &Path, max: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = fs::File::open(from)?;
    let len = file.metadata()?.len();
    if len > max {
        file.seek(SeekFrom::Start(len - max))?;
    }
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    fs::write(to, bytes)
}

/// Removes all but the newest `keep` run directories under `base` (by name, which starts
/// with the run's UTC time). A missing `base` is not an error.
pub fn prune(base: &Path, keep: usize) -> Result<Vec<PathBuf>, EnvError> {
    let mut runs = runs(base);
    let excess = runs.len().saturating_sub(keep);
    let removed: Vec<PathBuf> = runs.drain(..excess).collect();
    for dir in &removed {
        fs::remove_dir_all(dir).map_err(|source| EnvError::Io {
            what: "remove",
            path: dir.clone(),
            source,
        })?;
    }
    Ok(removed)
}

/// The run directories under `base`, oldest first.
pub fn runs(base: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(base) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

/// The `*.log` files in `dir` and in its subdirectories (a scenario's service directories),
/// sorted.
pub fn find(dir: &Path) -> Vec<PathBuf> {
    let is_log = |p: &PathBuf| p.is_file() && p.extension().is_some_and(|e| e == "log");
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut logs = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            let inner = fs::read_dir(&path).into_iter().flatten().flatten().map(|e| e.path());
            logs.extend(inner.filter(is_log));
        } else if is_log(&path) {
            logs.push(path);
        }
    }
    logs.sort();
    logs
}

/// The last `lines` lines of each log in `dir` (see [`find`]).
pub fn tails(dir: &Path, lines: usize) -> Vec<(PathBuf, String)> {
    find(dir)
        .into_iter()
        .map(|p| {
            let tail = crate::process::log_tail(&p, lines);
            (p, tail)
        })
        .collect()
}

/// A run directory's name: the UTC time (sortable) and the process id.
pub fn run_name(unix_secs: i64, pid: u32) -> String {
    let time = chrono::DateTime::from_timestamp(unix_secs, 0).unwrap_or_default();
    format!("{}-{pid}", time.format("%Y%m%dT%H%M%SZ"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_sort_by_time() {
        // 2026-03-01T00:00:05Z is 1772323205 (worked out: 2026-01-01 = 1767225600, + 59 days).
        assert_eq!(run_name(1_772_323_205, 42), "20260301T000005Z-42");
        assert_eq!(run_name(0, 1), "19700101T000000Z-1");
        assert_eq!(run_name(951_782_400, 7), "20000229T000000Z-7");
        assert!(run_name(1_767_225_600, 9) < run_name(1_767_225_601, 1));
    }

    #[test]
    fn logs_are_archived_with_their_tail_and_old_runs_pruned() {
        let dir = ampfed_test_support::TempDir::new("env-logs");
        let scenario = dir.join("scenario");
        fs::create_dir_all(scenario.join("prometheus/data")).unwrap();
        fs::create_dir_all(scenario.join("localstack")).unwrap();
        fs::write(scenario.join("prometheus/prometheus.log"), "a\nb\nready\n").unwrap();
        fs::write(scenario.join("localstack/localstack.log"), "x".repeat(100)).unwrap();
        fs::write(scenario.join("prometheus/data/chunk"), "not a log").unwrap();
        let base = dir.join("logs");
        let copied = archive(&scenario, &base.join("20260101T000000Z-1")).unwrap();
        let names: Vec<_> =
            copied.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["localstack.log", "prometheus.log"]);
        let tails = tails(&base.join("20260101T000000Z-1"), 2);
        assert_eq!(tails[1].1, "b\nready");
        copy_tail(&scenario.join("localstack/localstack.log"), &dir.join("short.log"), 10).unwrap();
        assert_eq!(fs::read_to_string(dir.join("short.log")).unwrap(), "x".repeat(10));
        for run in ["20260102T000000Z-2", "20260103T000000Z-3"] {
            fs::create_dir_all(base.join(run)).unwrap();
        }
        let removed = prune(&base, 2).unwrap();
        assert_eq!(removed, [base.join("20260101T000000Z-1")]);
        assert_eq!(runs(&base), [base.join("20260102T000000Z-2"), base.join("20260103T000000Z-3")]);
        assert!(prune(&dir.join("none"), 2).unwrap().is_empty());
    }
}
