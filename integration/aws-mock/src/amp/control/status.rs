//! The statuses workspaces and rule groups namespaces go through, with the exact strings AMP
//! puts in `statusCode`.

use std::fmt;

/// A workspace's or rule groups namespace's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Creating,
    Active,
    Updating,
    Deleting,
}

impl Status {
    /// The `statusCode` AMP answers with.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "CREATING",
            Status::Active => "ACTIVE",
            Status::Updating => "UPDATING",
            Status::Deleting => "DELETING",
        }
    }

    /// CREATING or UPDATING: a transition the next request finishes.
    pub(crate) fn is_pending(self) -> bool {
        matches!(self, Status::Creating | Status::Updating)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_are_amps() {
        let all = [Status::Creating, Status::Active, Status::Updating, Status::Deleting];
        let wire: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(wire, ["CREATING", "ACTIVE", "UPDATING", "DELETING"]);
        assert_eq!(Status::Updating.to_string(), "UPDATING");
        assert!(Status::Creating.is_pending() && Status::Updating.is_pending());
        assert!(!Status::Active.is_pending() && !Status::Deleting.is_pending());
    }
}
