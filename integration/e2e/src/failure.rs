//! The exit-code contract: every failure of a run is one of three kinds, attached to its
//! error as context ([`Failure`]) where it is known, and read back by [`classify`].
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | every step and check passed, snapshots matched (or were not compared) |
//! | 1 | a check failed: samples lost, clusters missing after federation, allocated + idle off the node cost, snapshots differ |
//! | 2 | bad input or usage: a fixture, rules file or flag is wrong (nothing was started) |
//! | 3 | the environment failed: a service did not start or answer, S3 or AMP refused |
//! | 130 | interrupted (Ctrl-C, SIGTERM, SIGHUP); everything was stopped |

use std::fmt;

/// What kind of failure an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A check of the path's results failed.
    Check,
    /// Fixtures, rules or flags are wrong.
    BadInput,
    /// A service failed.
    Environment,
}

impl Failure {
    /// The process exit code of this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            Failure::Check => 1,
            Failure::BadInput => 2,
            Failure::Environment => 3,
        }
    }

    /// The kind's name in `--json` and JUnit reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Check => "check",
            Failure::BadInput => "bad-input",
            Failure::Environment => "environment",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::Check => "check failed",
            Failure::BadInput => "bad input",
            Failure::Environment => "environment failed",
        })
    }
}

/// The kind of `error`: the outermost [`Failure`] attached to it, else an environment failure
/// (an unclassified error comes from a service, not from a check or the input).
pub fn classify(error: &anyhow::Error) -> Failure {
    // anyhow's downcast looks through every context layer, outermost first.
    error.downcast_ref::<Failure>().copied().unwrap_or(Failure::Environment)
}

/// `Result::context` for a [`Failure`], keeping the message chain readable: the kind comes
/// first, then the step and its cause.
pub trait Classify<T> {
    fn classify(self, kind: Failure) -> anyhow::Result<T>;
}

impl<T> Classify<T> for anyhow::Result<T> {
    fn classify(self, kind: Failure) -> anyhow::Result<T> {
        self.map_err(|e| e.context(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outermost_kind_wins_and_unclassified_is_environment() {
        let e: anyhow::Result<()> = Err(anyhow::anyhow!("boom"));
        let e = e.classify(Failure::Check).unwrap_err();
        assert_eq!(classify(&e), Failure::Check);
        assert_eq!(format!("{e:#}"), "check failed: boom");
        assert_eq!(classify(&anyhow::anyhow!("x")), Failure::Environment);
        let nested = Err::<(), _>(e).classify(Failure::BadInput).unwrap_err();
        assert_eq!(classify(&nested), Failure::BadInput);
        assert_eq!(
            [Failure::Check, Failure::BadInput, Failure::Environment].map(Failure::exit_code),
            [1, 2, 3]
        );
    }
}
