//! Error rendering, outermost cause first: on one line ([`chain`]) or a line per cause
//! ([`report`]).

use std::error::Error;

/// `error: cause: root cause`.
pub fn chain(e: &(dyn Error + 'static)) -> String {
    causes(e).collect::<Vec<_>>().join(": ")
}

/// `error` then one `  caused by: cause` line per cause, as a binary prints a failure.
pub fn report(e: &(dyn Error + 'static)) -> String {
    causes(e).collect::<Vec<_>>().join("\n  caused by: ")
}

/// The texts of `e` and of each of its sources, outermost first.
fn causes<'a>(e: &'a (dyn Error + 'static)) -> impl Iterator<Item = String> + 'a {
    std::iter::successors(Some(e), |&e: &&'a (dyn Error + 'static)| e.source()).map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Error for E {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    #[test]
    fn joins_every_cause_outermost_first() {
        let root = E("connection refused", None);
        let mid = E("dispatch failure", Some(Box::new(root)));
        let top = E("send request", Some(Box::new(mid)));
        assert_eq!(chain(&top), "send request: dispatch failure: connection refused");
        assert_eq!(
            report(&top),
            "send request\n  caused by: dispatch failure\n  caused by: connection refused"
        );
    }
}
