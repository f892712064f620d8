//! A CronJob's schedule: the five cron fields, in UTC, of which minute and hour may be lists,
//! ranges and steps (`0,30`, `9-17`, `*/15`, `0-30/10`) and day of month, month and day of
//! week must be `*` (a simulated run lasts days, not months).

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A parsed schedule: the minutes of the hour and the hours of the day it fires on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    minutes: BTreeSet<u32>,
    hours: BTreeSet<u32>,
}

impl Schedule {
    /// Parses `minute hour day-of-month month day-of-week`.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(format!(
                "invalid schedule {text:?}: write five cron fields, e.g. \"30 2 * * *\" (minute hour day month weekday)"
            ));
        };
        for (name, f) in [("day of month", dom), ("month", month), ("day of week", dow)] {
            if f != "*" {
                return Err(format!(
                    "invalid schedule {text:?}: the {name} field must be `*` (only minute and hour may vary)"
                ));
            }
        }
        let minutes =
            field(minute, 59).map_err(|e| format!("invalid schedule {text:?}: minute field: {e}"))?;
        let hours = field(hour, 23).map_err(|e| format!("invalid schedule {text:?}: hour field: {e}"))?;
        Ok(Schedule { text: text.to_owned(), minutes, hours })
    }

    /// The unix seconds in `[from, to)` at which the schedule fires, in order.
    pub fn times(&self, from: i64, to: i64) -> Vec<i64> {
        let mut out = Vec::new();
        let mut day = from.div_euclid(86_400) * 86_400;
        while day < to {
            for &h in &self.hours {
                for &m in &self.minutes {
                    let t = day + i64::from(h) * 3600 + i64::from(m) * 60;
                    if t >= from && t < to {
                        out.push(t);
                    }
                }
            }
            day += 86_400;
        }
        out
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One field: `*`, `*/n`, or a comma list of `a`, `a-b` and `a-b/n`, each within `0..=max`.
fn field(text: &str, max: u32) -> Result<BTreeSet<u32>, String> {
    let number = |s: &str| -> Result<u32, String> {
        let n: u32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
        if n > max {
            return Err(format!("{n} is above {max}"));
        }
        Ok(n)
    };
    let mut out = BTreeSet::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| format!("step `{s}` is not a number"))?;
                if step == 0 {
                    return Err("a step of 0 never fires".to_owned());
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = match range {
            "*" => (0, max),
            r => match r.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if step > 1 => (number(r)?, max),
                None => (number(r)?, number(r)?),
            },
        };
        if lo > hi {
            return Err(format!("range {lo}-{hi} is backwards"));
        }
        out.extend((lo..=hi).step_by(step as usize));
    }
    Ok(out)
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Schedule, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Schedule;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a cron schedule such as \"30 2 * * *\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Schedule, E> {
                Schedule::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    #[test]
    fn fires_at_the_listed_minutes_and_hours() {
        let s = Schedule::parse("30 2 * * *").unwrap();
        assert_eq!(s.times(DAY, DAY + 2 * 86_400), [DAY + 9000, DAY + 86_400 + 9000]);
        let s = Schedule::parse("*/15 9-10 * * *").unwrap();
        let t = s.times(DAY, DAY + 86_400);
        assert_eq!(t.len(), 8);
        assert_eq!(t[0], DAY + 9 * 3600);
        assert_eq!(t[7], DAY + 10 * 3600 + 45 * 60);
        let s = Schedule::parse("0,20-40/10 0 * * *").unwrap();
        assert_eq!(s.times(DAY, DAY + 3600), [DAY, DAY + 1200, DAY + 1800, DAY + 2400]);
        // The window is half-open.
        assert!(Schedule::parse("0 0 * * *").unwrap().times(DAY + 1, DAY + 86_400).is_empty());
    }

    #[test]
    fn bad_schedules_say_what_to_write() {
        for (text, want) in [
            ("30 2 * *", "five cron fields"),
            ("30 2 1 * *", "day of month field must be `*`"),
            ("61 2 * * *", "minute field: 61 is above 59"),
            ("*/0 * * * *", "step of 0"),
            ("5-2 * * * *", "backwards"),
            ("x * * * *", "`x` is not a number"),
        ] {
            let err = Schedule::parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
