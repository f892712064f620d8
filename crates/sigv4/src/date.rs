//! The `x-amz-date` form of a time (`20150830T123600Z`, basic ISO 8601 in UTC), written and
//! read in one place: the canonical request's string to sign, the verifier's skew check and
//! the wording of AWS's skew errors all use it.

use chrono::{DateTime, NaiveDateTime, Utc};

/// `x-amz-date` format.
const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Formats a time as `x-amz-date` does: `20150830T123600Z`.
pub fn format_amz_date(time: DateTime<Utc>) -> String {
    time.format(AMZ_DATE_FORMAT).to_string()
}

/// Parses an `x-amz-date` (`20150830T123600Z`); `None` for anything else.
pub fn parse_amz_date(value: &str) -> Option<DateTime<Utc>> {
    if value.len() != 16 {
        return None;
    }
    NaiveDateTime::parse_from_str(value, AMZ_DATE_FORMAT).ok().map(|naive| naive.and_utc())
}
