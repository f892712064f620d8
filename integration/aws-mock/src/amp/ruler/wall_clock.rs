//! The wall-clock ruler: a thread that evaluates each group at the current interval boundary
//! whenever one passes, until stopped.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::eval::{interval, Ruler, RulerReport};

impl Ruler {
    /// Starts evaluating on the wall clock in a thread: each group at every interval boundary
    /// that passes, until the handle is stopped or dropped. Errors show in `/api/v1/rules`.
    pub fn run_wall_clock(self) -> WallClock {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut done: BTreeMap<(String, String, String), i64> = BTreeMap::new();
            loop {
                let now = chrono::Utc::now().timestamp();
                for (workspace, ns) in self.active() {
                    for group in &ns.rules.groups {
                        let Ok(step) = interval(&workspace, &ns, group) else { continue };
                        let due = now.div_euclid(step) * step;
                        let key = (workspace.clone(), ns.name.clone(), group.name.clone());
                        if done.get(&key).is_some_and(|&last| last >= due) {
                            continue;
                        }
                        done.insert(key, due);
                        let mut report = RulerReport::default();
                        if let Err(e) =
                            self.evaluate_group(&workspace, &ns, group, due, due, step, &mut report)
                        {
                            tracing::warn!(error = %e, "wall-clock rule evaluation failed");
                        }
                    }
                }
                match stopped.recv_timeout(Duration::from_millis(200)) {
                    Err(RecvTimeoutError::Timeout) => continue,
                    _ => return,
                }
            }
        });
        WallClock { stop: Some(stop), thread: Some(thread) }
    }
}

/// A running wall-clock ruler; stops when [`WallClock::stop`] is called or it is dropped.
pub struct WallClock {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WallClock {
    /// Stops the thread and waits for the evaluation in progress to finish. Safe to call twice.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for WallClock {
    fn drop(&mut self) {
        self.stop();
    }
}
