//! Kubecost's `window` grammar (OpenCost's `parseWindow`, UTC), durations (`step`), the daily
//! resolution ampfed serves, steps and the calendar rules of accumulation.
//!
//! Forms, tried in this order, for `now` in unix seconds:
//!
//! - `today` (midnight to the next midnight), `yesterday`, `week` (the latest Sunday 00:00 to
//!   now), `lastweek` (the Sunday before that, 7 days), `month` (the 1st 00:00 to now),
//!   `lastmonth`;
//! - `Nm`, `Nh`, `Nd`: end at now truncated to the unit plus one unit (`7d` at any time of
//!   day ends at the next midnight: today plus 6 whole days), start N units before;
//!   `Nw`: as `7N d`;
//! - `<N><unit> offset <M><unit>`: ends at now − offset, starts one duration earlier, no
//!   rounding (a `w` offset is one week; OpenCost multiplies it by 24 by mistake);
//! - a pair of unix seconds separated by `,`, `-` or `|`;
//! - a pair of RFC 3339 times, `Z` only, no fractions, separated by `,`.
//!
//! The bucket holds daily (`1d`) sets only, so [`daily`] then requires the window to start at
//! a UTC midnight and to end at one, except that a window ending at `now` (`week`, `month`)
//! is taken to the end of the day in progress, whose daily set holds what there is of it.

use ampfed_allocation::{Window, DAY_SECS};
use chrono::{DateTime, Datelike, NaiveDate};

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const WEEK: i64 = 7 * DAY_SECS;
/// 9999-12-31T23:59:59Z: the last second an RFC 3339 time can name.
const LAST_SECOND: i64 = 253_402_300_799;

/// The start of the UTC day holding `t`.
pub fn midnight(t: i64) -> i64 {
    t.div_euclid(DAY_SECS) * DAY_SECS
}

/// The weekday of `t`, 0 for Sunday (1970-01-01 was a Thursday).
pub fn weekday(t: i64) -> i64 {
    (t.div_euclid(DAY_SECS) + 4).rem_euclid(7)
}

/// `t` as `2026-01-03T12:00:00Z`; out-of-range seconds as a number.
pub fn rfc3339(t: i64) -> String {
    match DateTime::from_timestamp(t, 0) {
        Some(d) => d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => t.to_string(),
    }
}

/// `[start, end)` written with RFC 3339 times.
pub fn describe(w: Window) -> String {
    format!("{} to {}", rfc3339(w.start), rfc3339(w.end))
}

fn date(t: i64) -> NaiveDate {
    DateTime::from_timestamp(t, 0).map(|d| d.date_naive()).unwrap_or_default()
}

fn timestamp(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or_default()
}

/// 00:00 of the first day of the month holding `t`.
pub fn first_of_month(t: i64) -> i64 {
    let d = date(t);
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).map(timestamp).unwrap_or_else(|| midnight(t))
}

fn unit(u: &str) -> Option<i64> {
    match u {
        "m" => Some(MINUTE),
        "h" => Some(HOUR),
        "d" => Some(DAY_SECS),
        "w" => Some(WEEK),
        _ => None,
    }
}

/// `<digits><m|h|d|w>` as (count, unit seconds).
fn count_unit(s: &str) -> Option<(i64, &str)> {
    let digits = s.len().checked_sub(1)?;
    let (n, u) = s.split_at(digits);
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || unit(u).is_none() {
        return None;
    }
    // More digits than an i64 holds: as long as possible, so the window is refused as too large.
    Some((n.parse().unwrap_or(i64::MAX), u))
}

fn too_large(window: &str) -> String {
    format!("{window:?} reaches beyond the years 1970 to 9999")
}

/// A strict `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape = b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.timestamp())
}

/// Parses `window` relative to `now` (unix seconds, UTC). The error says what is allowed.
pub fn parse_window(window: &str, now: i64) -> Result<Window, String> {
    let today = midnight(now);
    let (start, end) = match window {
        "today" => (today, today + DAY_SECS),
        "yesterday" => (today - DAY_SECS, today),
        "week" => (today - weekday(today) * DAY_SECS, now),
        "lastweek" => {
            let start = today - (weekday(today) + 7) * DAY_SECS;
            (start, start + WEEK)
        }
        "month" => (first_of_month(today), now),
        "lastmonth" => {
            let end = first_of_month(today);
            (first_of_month(end - DAY_SECS), end)
        }
        _ => parse_other(window, now)?,
    };
    if !(0..=LAST_SECOND).contains(&start) || !(0..=LAST_SECOND).contains(&end) {
        return Err(too_large(window));
    }
    if end <= start {
        return Err(format!(
            "{window:?} gives {}, which is empty or ends before it starts",
            describe(Window { start, end })
        ));
    }
    Ok(Window { start, end })
}

fn parse_other(window: &str, now: i64) -> Result<(i64, i64), String> {
    let large = || too_large(window);
    if let Some((n, u)) = count_unit(window) {
        let dur = unit(u).unwrap_or(DAY_SECS);
        let span = n.checked_mul(dur).ok_or_else(large)?;
        return if u == "w" {
            let end = midnight(now) + DAY_SECS;
            let back = now.checked_sub(span).ok_or_else(large)?;
            Ok((midnight(back) + DAY_SECS, end))
        } else {
            let end = now.div_euclid(dur) * dur + dur;
            Ok((end.checked_sub(span).ok_or_else(large)?, end))
        };
    }
    if let Some((d, off)) = window.split_once(" offset ") {
        if let (Some((n, u)), Some((m, v))) = (count_unit(d), count_unit(off)) {
            let offset = m.checked_mul(unit(v).unwrap_or(DAY_SECS)).ok_or_else(large)?;
            let end = now.checked_sub(offset).ok_or_else(large)?;
            let span = n.checked_mul(unit(u).unwrap_or(DAY_SECS)).ok_or_else(large)?;
            return Ok((end.checked_sub(span).ok_or_else(large)?, end));
        }
    }
    if let Some((a, b)) = window.split_once([',', '-', '|']) {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
        if digits(a) && digits(b) {
            let a: i64 = a.parse().map_err(|_| large())?;
            let b: i64 = b.parse().map_err(|_| large())?;
            return Ok((a, b));
        }
    }
    if let Some((a, b)) = window.split_once(',') {
        if let (Some(a), Some(b)) = (parse_rfc3339(a), parse_rfc3339(b)) {
            return Ok((a, b));
        }
    }
    Err(format!(
        "{window:?} is not a window: use today, yesterday, week, lastweek, month, lastmonth, \
         a duration (30m, 24h, 7d, 2w), a duration with an offset (3d offset 1d), a pair of \
         unix seconds (1767225600,1767398400) or a pair of RFC 3339 UTC times \
         (2026-01-01T00:00:00Z,2026-01-03T00:00:00Z)"
    ))
}

/// The window at ampfed's daily resolution: it must start at a UTC midnight and end at one,
/// except that an end at `now` is taken to the next midnight (the day in progress).
pub fn daily(w: Window, now: i64, window: &str) -> Result<Window, String> {
    let why = "the bucket holds daily (1d) sets only, so a window runs from a UTC midnight to \
               a UTC midnight: use today, yesterday, week, lastweek, month, lastmonth, Nd, Nw \
               or a pair of midnights";
    if w.start.rem_euclid(DAY_SECS) != 0 {
        return Err(format!("{window:?} starts at {}, not at a UTC midnight; {why}", rfc3339(w.start)));
    }
    let mut out = w;
    if w.end.rem_euclid(DAY_SECS) != 0 {
        if w.end != now {
            return Err(format!("{window:?} ends at {}, not at a UTC midnight; {why}", rfc3339(w.end)));
        }
        out.end = midnight(w.end) + DAY_SECS;
    }
    Ok(out)
}

/// The window at ampfed's hourly resolution: it must start at a whole UTC hour and end at one,
/// except that an end at `now` is taken to the next whole hour (the hour in progress).
pub fn hourly(w: Window, now: i64, window: &str) -> Result<Window, String> {
    let why = "the bucket holds daily sets (from a UTC midnight to a UTC midnight) and hourly sets \
               (whole UTC hours): use today, 7d, 24h, 6h, a pair of midnights or a pair of whole hours";
    if w.start.rem_euclid(HOUR) != 0 {
        return Err(format!("{window:?} starts at {}, not at a whole UTC hour; {why}", rfc3339(w.start)));
    }
    let mut out = w;
    if w.end.rem_euclid(HOUR) != 0 {
        if w.end != now {
            return Err(format!("{window:?} ends at {}, not at a whole UTC hour; {why}", rfc3339(w.end)));
        }
        out.end = w.end - w.end.rem_euclid(HOUR) + HOUR;
    }
    Ok(out)
}

/// `w` cut into sets of `unit` seconds (a day or an hour) from its start: what the engine
/// reads from the source, one at a time.
pub fn units(w: Window, unit: i64) -> Vec<Window> {
    steps(w, unit)
}

/// An hour, in seconds.
pub const HOUR_SECS: i64 = HOUR;

/// A Go duration with `d` and `w` (`1d`, `24h`, `1w`, `1h30m`, `90s`), in seconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a duration: use e.g. 1d, 2d, 1w or 24h");
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let secs = match &rest[..letters] {
            "s" => 1,
            "m" => MINUTE,
            "h" => HOUR,
            "d" => DAY_SECS,
            "w" => WEEK,
            _ => return Err(bad()),
        };
        rest = &rest[letters..];
        total = n.checked_mul(secs).and_then(|x| total.checked_add(x)).ok_or_else(bad)?;
    }
    Ok(total)
}

/// The sets of `w` cut every `step` seconds from its start; the last one ends at the window's
/// end (OpenCost lets it run past it).
pub fn steps(w: Window, step: i64) -> Vec<Window> {
    let mut out = Vec::new();
    let mut s = w.start;
    while s < w.end {
        let e = s.saturating_add(step.max(1)).min(w.end);
        out.push(Window { start: s, end: e });
        s = e;
    }
    out
}

/// How many sets [`steps`] gives.
pub fn step_count(w: Window, step: i64) -> i64 {
    let step = step.max(1);
    (w.duration_secs() + step - 1) / step
}

/// Whether the day starting at `t` is a Saturday: where a Sunday-to-Saturday week closes.
pub fn is_saturday(t: i64) -> bool {
    weekday(t) == 6
}

/// Whether the day starting at `t` is the last of its month.
pub fn is_month_end(t: i64) -> bool {
    let next = midnight(t) + DAY_SECS;
    first_of_month(next) == next
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-03T12:00:00Z, a Saturday.
    const NOW: i64 = 1_767_441_600;
    /// 2026-01-01T00:00:00Z, a Thursday.
    const JAN1: i64 = 1_767_225_600;

    fn t(s: &str) -> i64 {
        parse_rfc3339(s).unwrap()
    }

    fn w(window: &str) -> (String, String) {
        let w = parse_window(window, NOW).unwrap();
        (rfc3339(w.start), rfc3339(w.end))
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_owned(), b.to_owned())
    }

    #[test]
    fn the_fixed_points_are_right() {
        assert_eq!(rfc3339(NOW), "2026-01-03T12:00:00Z");
        assert_eq!(rfc3339(JAN1), "2026-01-01T00:00:00Z");
        assert_eq!(weekday(JAN1), 4, "a Thursday");
        assert_eq!(weekday(NOW), 6, "a Saturday");
        assert_eq!(t("2026-01-03T12:00:00Z"), NOW);
    }

    #[test]
    fn named_windows_follow_opencost() {
        // today ends at the next midnight, in the future, as OpenCost's.
        assert_eq!(w("today"), pair("2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z"));
        assert_eq!(w("yesterday"), pair("2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"));
        // Weeks start on Sunday: the latest one before Saturday 2026-01-03 is 2025-12-28.
        assert_eq!(w("week"), pair("2025-12-28T00:00:00Z", "2026-01-03T12:00:00Z"));
        assert_eq!(w("lastweek"), pair("2025-12-21T00:00:00Z", "2025-12-28T00:00:00Z"));
        assert_eq!(w("month"), pair("2026-01-01T00:00:00Z", "2026-01-03T12:00:00Z"));
        assert_eq!(w("lastmonth"), pair("2025-12-01T00:00:00Z", "2026-01-01T00:00:00Z"));
        // On a Sunday, `week` starts that very day and `lastweek` is the 7 days before it.
        let sunday = t("2026-01-04T09:30:00Z");
        let week = parse_window("week", sunday).unwrap();
        assert_eq!(rfc3339(week.start), "2026-01-04T00:00:00Z");
        let last = parse_window("lastweek", sunday).unwrap();
        assert_eq!(describe(last), "2025-12-28T00:00:00Z to 2026-01-04T00:00:00Z");
        // March after a leap February.
        let march = parse_window("lastmonth", t("2024-03-10T00:00:00Z")).unwrap();
        assert_eq!(describe(march), "2024-02-01T00:00:00Z to 2024-03-01T00:00:00Z");
    }

    #[test]
    fn durations_end_at_the_next_unit_boundary() {
        // 7d: today plus 6 whole days, ending at the next midnight.
        assert_eq!(w("7d"), pair("2025-12-28T00:00:00Z", "2026-01-04T00:00:00Z"));
        assert_eq!(w("1d"), w("today"));
        assert_eq!(w("1w"), w("7d"));
        assert_eq!(w("2w"), w("14d"));
        // now is exactly 12:00: truncated plus one hour is 13:00 (OpenCost's Truncate + Add).
        assert_eq!(w("24h"), pair("2026-01-02T13:00:00Z", "2026-01-03T13:00:00Z"));
        assert_eq!(w("30m"), pair("2026-01-03T11:31:00Z", "2026-01-03T12:01:00Z"));
        // At exactly midnight, 1d is the day that starts then.
        let midnight_now = t("2026-01-03T00:00:00Z");
        let one = parse_window("1d", midnight_now).unwrap();
        assert_eq!(describe(one), "2026-01-03T00:00:00Z to 2026-01-04T00:00:00Z");
    }

    #[test]
    fn offsets_shift_the_end_without_rounding() {
        assert_eq!(w("3d offset 1d"), pair("2025-12-30T12:00:00Z", "2026-01-02T12:00:00Z"));
        assert_eq!(w("1d offset 1w"), pair("2025-12-26T12:00:00Z", "2025-12-27T12:00:00Z"));
    }

    #[test]
    fn pairs_of_unix_seconds_and_rfc3339_times() {
        let jan3 = JAN1 + 2 * DAY_SECS;
        for sep in [',', '-', '|'] {
            let w = parse_window(&format!("{JAN1}{sep}{jan3}"), NOW).unwrap();
            assert_eq!(w, Window { start: JAN1, end: jan3 });
        }
        let w = parse_window("2026-01-01T00:00:00Z,2026-01-03T00:00:00Z", NOW).unwrap();
        assert_eq!(w, Window { start: JAN1, end: jan3 });
    }

    #[test]
    fn bad_windows_are_refused_with_the_forms_allowed() {
        for bad in [
            "",
            "Today",
            "tomorrow",
            "7 d",
            "7y",
            "d",
            "3d offset",
            "2026-01-01,2026-01-02",
            "2026-01-01T00:00:00.5Z,2026-01-02T00:00:00Z",
            "2026-01-01T00:00:00+01:00,2026-01-02T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "1767225600",
            "1767225600,",
        ] {
            let err = parse_window(bad, NOW).unwrap_err();
            assert!(err.contains("is not a window: use today"), "{bad:?}: {err}");
        }
        let reversed = parse_window(&format!("{},{JAN1}", JAN1 + DAY_SECS), NOW).unwrap_err();
        assert!(reversed.contains("empty or ends before it starts"), "{reversed}");
        let empty = parse_window(&format!("{JAN1},{JAN1}"), NOW).unwrap_err();
        assert!(empty.contains("empty"), "{empty}");
        let huge = parse_window("99999999999999999999d", NOW).unwrap_err();
        assert!(huge.contains("beyond"), "{huge}");
        let far = parse_window("9999999999d", NOW).unwrap_err();
        assert!(far.contains("beyond"), "{far}");
    }

    #[test]
    fn the_daily_resolution_keeps_midnights_and_finishes_the_day_in_progress() {
        let week = parse_window("week", NOW).unwrap();
        let d = daily(week, NOW, "week").unwrap();
        assert_eq!(describe(d), "2025-12-28T00:00:00Z to 2026-01-04T00:00:00Z");
        let today = parse_window("today", NOW).unwrap();
        assert_eq!(daily(today, NOW, "today").unwrap(), today);
        let hours = parse_window("24h", NOW).unwrap();
        let err = daily(hours, NOW, "24h").unwrap_err();
        assert!(err.contains("starts at 2026-01-02T13:00:00Z, not at a UTC midnight"), "{err}");
        let odd_end = Window { start: JAN1, end: JAN1 + 3600 };
        let err = daily(odd_end, NOW, "x").unwrap_err();
        assert!(err.contains("ends at 2026-01-01T01:00:00Z"), "{err}");
    }

    #[test]
    fn steps_durations_and_calendar_rules() {
        assert_eq!(parse_duration("1d"), Ok(DAY_SECS));
        assert_eq!(parse_duration("24h"), Ok(DAY_SECS));
        assert_eq!(parse_duration("1w"), Ok(WEEK));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        for bad in ["", "d", "1x", "1.5h", "-1d", "1d2"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        let w = Window { start: JAN1, end: JAN1 + 5 * DAY_SECS };
        let s = steps(w, 2 * DAY_SECS);
        assert_eq!(s.len(), 3);
        assert_eq!(s[2], Window { start: JAN1 + 4 * DAY_SECS, end: JAN1 + 5 * DAY_SECS });
        assert_eq!(step_count(w, 2 * DAY_SECS), 3);
        assert!(is_saturday(NOW));
        assert!(is_month_end(t("2025-12-31T00:00:00Z")));
        assert!(is_month_end(t("2024-02-29T00:00:00Z")));
        assert!(!is_month_end(t("2024-02-28T00:00:00Z")));
    }
}
