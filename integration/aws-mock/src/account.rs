//! The AWS account the mocks live in: every ARN they issue or accept names it.

/// The account every mocked ARN lives in.
pub(crate) const ACCOUNT_ID: &str = "123456789012";
