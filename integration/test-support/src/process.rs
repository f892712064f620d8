//! Running a program to completion within a time limit: its output is drained on threads (a
//! full pipe never stalls it) and it is killed when over the limit. And a server in a child
//! process ([`Served`]): it says where it listens, and serves until its standard input closes.

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

/// A server in a child process: it wrote `endpoint <url>` as its first line of standard
/// output ([`serve_until_stdin_closes`]), and serves until its standard input closes, which
/// dropping this does (the child is killed past `stop`; it also ends when this process does,
/// as the pipe closes with it).
#[derive(Debug)]
pub struct Served {
    child: std::process::Child,
    endpoint: String,
    stop: Duration,
}

impl Served {
    /// Starts `cmd` and waits up to `start` for its endpoint line.
    pub fn start(cmd: &mut Command, start: Duration, stop: Duration) -> Result<Served, String> {
        use std::io::BufRead;
        let name = format!("{:?}", cmd.get_program());
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let stdout = child.stdout.take();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            if let Some(stdout) = stdout {
                let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            }
            let _ = tx.send(line);
        });
        // Built first, so that an early return stops the child.
        let mut served = Served { child, endpoint: String::new(), stop };
        let line = rx
            .recv_timeout(start)
            .map_err(|_| format!("{name} said nothing within {:.0} s", start.as_secs_f64()))?;
        served.endpoint = line
            .trim()
            .strip_prefix("endpoint ")
            .ok_or_else(|| format!("{name} said {line:?}, not `endpoint <url>`"))?
            .to_owned();
        Ok(served)
    }

    /// Where it listens, as it said.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Its process id (for `crate::measure`).
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let stopped = Wait::new("a served child to stop", self.stop)
            .backoff(Duration::from_millis(10), Duration::from_millis(50))
            .blocking(|| match self.child.try_wait() {
                Ok(Some(_)) => Ok(Poll::Ready(())),
                Ok(None) => Ok(Poll::Pending("still running".into())),
                Err(e) => Err(e.to_string()),
            });
        if stopped.is_err() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The child's side of [`Served`]: writes `endpoint <url>` on standard output, then blocks
/// until standard input closes (nothing is sent on it); false when the line cannot be written.
pub fn serve_until_stdin_closes(endpoint: &str) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout();
    if writeln!(out, "endpoint {endpoint}").and_then(|()| out.flush()).is_err() {
        return false;
    }
    let mut sink = [0u8; 64];
    while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_served_child_says_its_endpoint_and_stops_when_dropped() {
        // A shell stand-in: its line, then a read of its standard input to the end.
        let served = Served::start(
            Command::new("/bin/sh").args(["-c", "echo endpoint http://127.0.0.1:1; cat >/dev/null"]),
            Duration::from_secs(10),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(served.endpoint(), "http://127.0.0.1:1");
        let pid = served.id();
        drop(served);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "stopped and reaped");
        // One that says something else, or nothing in time, is stopped with an error.
        let other = Served::start(
            Command::new("/bin/sh").args(["-c", "echo listening; cat >/dev/null"]),
            Duration::from_secs(10),
            Duration::from_secs(10),
        );
        assert!(other.unwrap_err().contains("not `endpoint <url>`"));
        let silent = Served::start(
            Command::new("/bin/sh").args(["-c", "cat >/dev/null"]),
            Duration::from_millis(200),
            Duration::from_secs(10),
        );
        assert!(silent.unwrap_err().contains("said nothing"));
    }

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
