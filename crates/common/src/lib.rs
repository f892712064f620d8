//! Helpers every crate of ampfed needs, each with one home: the injectable [`clock`], the one
//! waiting primitive ([`wait`]: poll an observable state until a deadline, cancellable), error
//! [`chain`](errors::chain) rendering, the project's [`paths`] (workspace root, cache
//! directory, fixtures), XML text with its references resolved ([`xml::unescape`]), and the
//! pause of a server's accept loop after a failed accept ([`accept`]).
//!
//! Deliberately small: no I/O beyond reading environment variables, no async runtime unless
//! the `async` feature asks for tokio's timer.

#[cfg(feature = "async")]
pub mod accept;
pub mod clock;
pub mod errors;
pub mod paths;
pub mod wait;
pub mod xml;

pub use clock::{system_clock, Clock};
pub use wait::{Cancel, Poll, Wait, WaitError};
