//! How long a scenario's processes live: as long as the scenario, whichever thread asked for
//! them, and not a moment longer than the process that owns the scenario, even when that
//! process is killed with SIGKILL and runs no clean-up at all.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ampfed_common::wait::{Poll, Wait};
use ampfed_env::probe::Probe;
use ampfed_env::{ProcessSpec, Scenario};
use ampfed_test_support::TempDir;

/// Set only in the helper process of [`a_child_dies_with_its_owner_even_on_sigkill`]: the
/// directory where it writes its child's pid.
const HELPER_DIR: &str = "AMPFED_ENV_TEST_HELPER_DIR";
const HELPER_TEST: &str = "helper_owns_a_child_until_it_is_killed";

/// An HTTP server on 127.0.0.1 that answers every request with 200 "Ready", as the probe of a
/// process that has no HTTP endpoint of its own.
fn ready_probe() -> Probe {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ =
                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nReady");
        }
    });
    Probe::Http { url, status: 200, body_contains: "Ready".into() }
}

/// A long-running child with nothing to do.
fn idle_child(scenario: &Scenario) -> ProcessSpec {
    ProcessSpec {
        name: "idle".into(),
        program: "/bin/sh".into(),
        args: vec!["-c".into(), "exec tail -f /dev/null".into()],
        env: vec![],
        cwd: scenario.dir().to_owned(),
        stop_grace: ampfed_env::STOP_GRACE,
    }
}

/// `/proc/<pid>/status`'s fields, or `None` once the process is gone.
fn status(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/status")).ok()
}

/// Gone, or a zombie that nobody reaps (PID 1 here does not).
fn is_dead(pid: u32) -> bool {
    status(pid).is_none_or(|s| s.lines().any(|l| l.starts_with("State:") && l.contains('Z')))
}

/// Whether SIGKILL is pending for `pid`: delivered, not yet acted on.
fn kill_pending(pid: u32) -> bool {
    let Some(status) = status(pid) else { return false };
    status.lines().filter(|l| l.starts_with("SigPnd:") || l.starts_with("ShdPnd:")).any(|l| {
        let mask = u64::from_str_radix(l.split_whitespace().nth(1).unwrap_or("0"), 16).unwrap_or(0);
        mask & (1 << (libc::SIGKILL - 1)) != 0
    })
}

#[test]
fn a_child_outlives_the_thread_that_started_it() {
    let probe = ready_probe();
    let mut scenario = Scenario::new(false).unwrap();
    // A short-lived thread asks for the process and ends, as a tokio blocking-pool thread
    // ends after 10 s without work.
    let (scenario, tid) = std::thread::spawn(move || {
        let spec = idle_child(&scenario);
        scenario.start_process(&spec, &probe, Duration::from_secs(20)).unwrap();
        // SAFETY: gettid(2) has no preconditions.
        (scenario, unsafe { libc::gettid() })
    })
    .join()
    .unwrap();
    // Once the thread's task is gone from /proc, the kernel has sent any parent-death signal
    // that the thread's exit sets off: it is pending or acted on by now.
    Wait::new("the thread that started the child to be gone", Duration::from_secs(10))
        .blocking(|| {
            let gone = !Path::new(&format!("/proc/self/task/{tid}")).exists();
            Ok::<_, ()>(if gone { Poll::Ready(()) } else { Poll::Pending("still listed".into()) })
        })
        .unwrap();
    let pid = scenario.pid("idle").expect("the child's pid");
    assert!(!is_dead(pid) && !kill_pending(pid), "the child died with the thread that asked for it");
    drop(scenario);
    assert!(is_dead(pid), "the scenario did not stop its child");
}

/// Runs only inside the helper process: starts a child through a scenario, says which, and
/// waits to be killed (the test keeps its stdin open; the read never returns).
#[test]
fn helper_owns_a_child_until_it_is_killed() {
    let Some(dir) = std::env::var_os(HELPER_DIR) else { return };
    let dir = Path::new(&dir);
    let mut scenario = Scenario::new(false).unwrap();
    let spec = idle_child(&scenario);
    scenario.start_process(&spec, &ready_probe(), Duration::from_secs(20)).unwrap();
    let pid = scenario.pid("idle").unwrap();
    fs::write(dir.join("child.pid.partial"), pid.to_string()).unwrap();
    fs::rename(dir.join("child.pid.partial"), dir.join("child.pid")).unwrap();
    let _ = std::io::stdin().read(&mut [0u8; 1]);
}

#[test]
fn a_child_dies_with_its_owner_even_on_sigkill() {
    let tmp = TempDir::new("env-owner-killed");
    // The helper's scenario lives under this test's own temp dir, so that no other test's
    // clean-up of crashed runs reaps it and hides the outcome.
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", HELPER_TEST, "--nocapture", "--test-threads=1"])
        .env(HELPER_DIR, tmp.path())
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = Wait::new("the helper to start its child", Duration::from_secs(60)).blocking(|| {
        if let Ok(text) = fs::read_to_string(tmp.join("child.pid")) {
            return Ok(Poll::Ready(text.trim().parse::<u32>().unwrap()));
        }
        match helper.try_wait() {
            Ok(Some(status)) => Err(format!("the helper exited first: {status}")),
            _ => Ok(Poll::Pending("no child.pid yet".into())),
        }
    });
    let child = match child {
        Ok(pid) => pid,
        Err(e) => {
            let _ = helper.kill();
            panic!("{e}");
        }
    };
    helper.kill().unwrap();
    helper.wait().unwrap();
    let died = Wait::new("the child to die with its owner", Duration::from_secs(10)).blocking(|| {
        Ok::<_, ()>(if is_dead(child) { Poll::Ready(()) } else { Poll::Pending("alive".into()) })
    });
    if died.is_err() {
        // Do not leave it behind; it runs in the helper's scenario directory, so it is ours.
        let ours = fs::read_link(format!("/proc/{child}/cwd")).is_ok_and(|cwd| cwd.starts_with(tmp.path()));
        if ours {
            // SAFETY: kill(2) has no memory effects.
            unsafe { libc::kill(-(child as i32), libc::SIGKILL) };
        }
        panic!("the child outlived its owner, which was killed with SIGKILL");
    }
}
