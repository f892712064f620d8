//! What the test suites share, with one home: temp directories removed on drop (also when a
//! test fails), child processes bounded in time and killed when over it, and a manual clock
//! for simulated time.
//!
//! Besides `ampfed-env` (the harness's services), this is the only crate that starts
//! processes; a tidy test keeps it so.

pub mod clock;
pub mod process;
pub mod temp;

pub use clock::ManualClock;
pub use process::{run_bounded, Finished};
pub use temp::TempDir;
