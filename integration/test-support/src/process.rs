//! Running a program to completion within a time limit: its output is drained on threads (a
//! full pipe never stalls it) and it is killed when over the limit.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use ampfed_common::wait::{Poll, Wait, WaitError};

/// A program that ran to its end.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

/// Runs `cmd` (stdin closed, stdout and stderr captured) until it exits; kills it and
/// returns an error naming it when it runs over `limit`, or when it cannot start.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<Finished, String> {
    let name = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let waited = Wait::new(format!("{name} to exit"), limit)
        .backoff(Duration::from_millis(10), Duration::from_millis(100))
        .blocking(|| match child.try_wait() {
            Ok(Some(status)) => Ok(Poll::Ready(status)),
            Ok(None) => Ok(Poll::Pending("still running".into())),
            Err(e) => Err(e.to_string()),
        });
    let status = match waited {
        Ok(status) => status,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr.join().unwrap_or_default();
            return Err(match e {
                WaitError::Failed(e) => format!("{name}: {e}"),
                other => format!("{other}; killed. Its stderr:\n{err}"),
            });
        }
    };
    Ok(Finished {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_both_streams_and_the_status() {
        let done = run_bounded(
            Command::new("/bin/sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(20),
        )
        .unwrap();
        assert_eq!(
            (done.stdout.as_str(), done.stderr.as_str(), done.status.code()),
            ("out\n", "err\n", Some(3))
        );
    }

    #[test]
    fn a_program_over_its_limit_is_killed_and_named() {
        let started = std::time::Instant::now();
        let err = run_bounded(Command::new("/bin/sleep").arg("30"), Duration::from_millis(200)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(err.contains("\"/bin/sleep\" to exit: not reached"), "{err}");
    }

    #[test]
    fn a_missing_program_is_named() {
        let err =
            run_bounded(&mut Command::new("/nonexistent/ampfed-tool"), Duration::from_secs(1)).unwrap_err();
        assert!(err.starts_with("cannot start \"/nonexistent/ampfed-tool\""), "{err}");
    }
}
