//! What the benchmarks measure of their own process, from `/proc/self` (Linux): resident
//! memory figures, CPU seconds, and resetting the peak before a step; and where their figures
//! go (`target/bench/<name>.json`, [`write_figures`]).

/// A process whose figures are read: this one, or another (a child) by its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Process {
    This,
    Id(u32),
}

impl Process {
    fn file(self, name: &str) -> String {
        match self {
            Process::This => format!("/proc/self/{name}"),
            Process::Id(pid) => format!("/proc/{pid}/{name}"),
        }
    }
}

/// A `/proc/self/status` memory figure in MiB (`"VmHWM"`, the peak since the last
/// [`reset_peak`]; `"VmRSS"`, now); NaN when it cannot be read.
pub fn status_mib(field: &str) -> f64 {
    status_mib_of(Process::This, field)
}

/// [`status_mib`] of `process`.
pub fn status_mib_of(process: Process, field: &str) -> f64 {
    let status = std::fs::read_to_string(process.file("status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim_start_matches(':').trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets `VmHWM` to the current resident size; false if the kernel refused.
pub fn reset_peak() -> bool {
    reset_peak_of(Process::This)
}

/// [`reset_peak`] of `process`.
pub fn reset_peak_of(process: Process) -> bool {
    std::fs::write(process.file("clear_refs"), "5").is_ok()
}

/// CPU seconds (user and system) this process has used, from `/proc/self/stat` (in USER_HZ,
/// 100 a second on Linux); NaN when it cannot be read.
pub fn cpu_seconds() -> f64 {
    cpu_seconds_of(Process::This)
}

/// [`cpu_seconds`] of `process`.
pub fn cpu_seconds_of(process: Process) -> f64 {
    let stat = std::fs::read_to_string(process.file("stat")).unwrap_or_default();
    // After the command's closing parenthesis the fields start at the state (field 3);
    // utime and stime are fields 14 and 15.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

/// The median of `times` (the upper one of an even count), which it leaves sorted, so that
/// `times[0]` is then the best; NaN for none.
pub fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `x` rounded to `digits` decimals, for the figures the benchmarks write.
pub fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// Writes a benchmark's figures (JSON text) to `target/bench/<name>.json` and says where,
/// or why it could not.
pub fn write_figures(name: &str, json: &str) {
    let path = ampfed_common::paths::workspace_root().join(format!("target/bench/{name}.json"));
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, format!("{}\n", json.trim_end())));
    match written {
        Ok(()) => println!("figures written to {}", path.display()),
        Err(e) => println!("could not write {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_of_this_process_are_read() {
        let (rss, peak) = (status_mib("VmRSS"), status_mib("VmHWM"));
        assert!(rss > 0.0 && peak >= rss, "{rss} {peak}");
        let spin: u64 = (0..2_000_000u64).map(|i| i % 7).sum();
        assert!(spin > 0);
        assert!(cpu_seconds() >= 0.0);
        // By id, this process reads as itself; a process that is not there reads as NaN.
        let me = Process::Id(std::process::id());
        assert!(status_mib_of(me, "VmRSS") > 0.0 && cpu_seconds_of(me) >= 0.0);
        assert!(status_mib_of(Process::Id(u32::MAX), "VmRSS").is_nan());
        assert_eq!(round(1.23456, 2), 1.23);
    }

    #[test]
    fn the_median_is_the_middle_time_and_leaves_the_best_first() {
        let mut odd = [0.3, 0.1, 0.2];
        assert_eq!(median(&mut odd), 0.2);
        assert_eq!(odd[0], 0.1);
        let mut even = [0.4, 0.1, 0.3, 0.2];
        assert_eq!(median(&mut even), 0.3);
        assert!(median(&mut []).is_nan());
    }
}
