//! The thread that starts and stops a scenario's processes.
//!
//! Every child gets a parent-death signal (`PR_SET_PDEATHSIG`, see `process.rs`), and Linux
//! sends it when the *thread* that forked the child ends, not the process. A tokio
//! blocking-pool thread ends after 10 s without work, so a child forked there would be killed
//! in the middle of a run. The [`Launcher`] is one thread that lives exactly as long as its
//! scenario and runs, one at a time, every job it is handed: forking a process, and stopping it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::EnvError;

type Job = Box<dyn FnOnce() + Send>;

/// A handle that hands jobs to the launcher thread; clones share the thread.
#[derive(Clone, Debug)]
pub(crate) struct Jobs(mpsc::Sender<Job>);

impl Jobs {
    /// Runs `job` on the launcher thread and returns its result. If the thread is gone (it
    /// never is while its scenario lives), runs it here instead.
    pub(crate) fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> T {
        let (done, result) = mpsc::sync_channel(1);
        let wrapped: Job = Box::new(move || {
            let _ = done.send(job());
        });
        if let Err(mpsc::SendError(job)) = self.0.send(wrapped) {
            job();
        }
        result.recv().expect("a job on the process launcher thread panicked")
    }
}

/// The launcher thread; dropping it waits until every job handed to it has run and every
/// [`Jobs`] handle is gone.
#[derive(Debug)]
pub(crate) struct Launcher {
    jobs: Option<Jobs>,
    thread: Option<JoinHandle<()>>,
}

impl Launcher {
    pub(crate) fn new() -> Result<Launcher, EnvError> {
        let (send, receive) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("ampfed-launcher".into())
            .spawn(move || {
                for job in receive {
                    // A panicking job must not end the thread: that would kill every child.
                    let _ = catch_unwind(AssertUnwindSafe(job));
                }
            })
            .map_err(EnvError::Launcher)?;
        Ok(Launcher { jobs: Some(Jobs(send)), thread: Some(thread) })
    }

    /// A handle for handing jobs to this thread.
    pub(crate) fn jobs(&self) -> Jobs {
        self.jobs.clone().unwrap_or_else(|| unreachable!("the handle lives until the launcher is dropped"))
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_on_the_launcher_thread_and_a_panic_does_not_end_it() {
        let launcher = Launcher::new().unwrap();
        let jobs = launcher.jobs();
        let ran_on = jobs.run(|| std::thread::current().id());
        assert_eq!(Some(ran_on), launcher.thread.as_ref().map(|t| t.thread().id()));
        assert_ne!(ran_on, std::thread::current().id());
        let panicked = std::thread::spawn({
            let jobs = jobs.clone();
            move || jobs.run(|| panic!("a job fails"))
        })
        .join();
        assert!(panicked.is_err(), "the caller of a panicking job must see it");
        assert_eq!(jobs.run(|| 7), 7, "the thread survived the panic");
        drop(jobs);
        drop(launcher);
    }
}
