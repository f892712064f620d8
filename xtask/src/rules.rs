//! `cargo xtask rules lint|install|test [ARGS…]`: the `ampfed-rules` binary, whose flags are
//! declared once there (`cargo xtask rules --help`, `cargo xtask rules lint --help`). `lint`
//! and `install` become it (exec). `test` runs it to write a `promtool test rules` file, then
//! runs `promtool` on that file and names the records that produced nothing.

use std::path::PathBuf;

use anyhow::Context;
use xshell::{cmd, Shell};

use crate::flags;

/// `cargo xtask rules`: `ampfed-rules`, and promtool after `rules test`.
pub(crate) fn run(sh: &Shell, task: flags::Forwarded) -> anyhow::Result<()> {
    let asks_for_help = task.args.iter().any(|a| a == "--help" || a == "-h");
    if task.args.first().map(String::as_str) != Some("test") || asks_for_help {
        return crate::diagnose::exec_e2e_bin(sh, "ampfed-rules", task.release, &task.args);
    }
    let promtool = match which("promtool") {
        Some(p) => p,
        None => {
            eprintln!(
                "error: promtool is not on PATH: `cargo xtask setup` installs Debian's prometheus package, \
                 which ships it"
            );
            return Err(crate::tools::ChildExit(3).into());
        }
    };
    let mut args = task.args.clone();
    let out = match args.iter().position(|a| a == "--out") {
        Some(i) => PathBuf::from(args.get(i + 1).context("--out needs a directory")?),
        None => {
            let dir = ampfed_common::paths::cache_dir().join("rules-test");
            args.extend(["--out".to_owned(), dir.display().to_string()]);
            dir
        }
    };
    let cargo = crate::tools::cargo();
    let release = task.release.then_some("--release");
    let written = std::process::Command::new(&cargo)
        .current_dir(sh.current_dir())
        .args(["run", "-q"])
        .args(release)
        .args(["-p", "ampfed-e2e", "--bin", "ampfed-rules", "--"])
        .args(&args)
        .status()
        .context("start ampfed-rules")?;
    match written.code() {
        Some(0) => {}
        Some(code) => return Err(crate::tools::ChildExit(u8::try_from(code).unwrap_or(1)).into()),
        None => return Err(crate::tools::ChildExit(130).into()),
    }
    let file = out.join("ampfed-rules.test.yaml");
    let output = cmd!(sh, "{promtool} test rules {file}").quiet().ignore_status().output()?;
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    print!("{text}");
    if output.status.success() {
        println!("every record produced a series on the simulated data");
        return Ok(());
    }
    let failed = failed_records(&text);
    if failed.is_empty() {
        eprintln!("error: promtool could not run the test (its output above says why)");
        return Err(crate::tools::ChildExit(2).into());
    }
    println!(
        "{} record(s) produced no series on the simulated data: {} (`cargo xtask rules lint` says which labels)",
        failed.len(),
        failed.join(", ")
    );
    Err(crate::tools::ChildExit(1).into())
}

/// The path of `program` on PATH.
fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// The record names of the failed `absent(<record>)` tests in promtool's output.
fn failed_records(output: &str) -> Vec<&str> {
    output
        .match_indices("expr: \"absent(")
        .filter_map(|(at, m)| output[at + m.len()..].split(')').next())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_records_are_read_from_promtools_words() {
        let output = "Unit Testing:  x.yaml\n  FAILED:\n    expr: \"absent(a:b)\", time: 14m,\n        exp: nil\n        got: {} 1E+00\n    expr: \"absent(c)\", time: 14m,\n";
        assert_eq!(failed_records(output), ["a:b", "c"]);
        assert!(failed_records("Unit Testing:  x.yaml\n  SUCCESS\n").is_empty());
    }
}
