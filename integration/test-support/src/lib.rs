//! What the test suites share, with one home: temp directories removed on drop (also when a
//! test fails), child processes bounded in time and killed when over it (and servers in a
//! child process, stopped when dropped), a manual clock
//! for simulated time, synthetic ETL (`etl`), and what benchmarks measure of their own
//! process (`measure`).
//!
//! Besides `ampfed-env` (the harness's services), this is the only crate that starts
//! processes; a tidy test keeps it so.

pub mod clock;
pub mod etl;
pub mod measure;
pub mod process;
pub mod temp;

pub use clock::ManualClock;
pub use process::{run_bounded, serve_until_stdin_closes, Finished, Served};
pub use temp::TempDir;
