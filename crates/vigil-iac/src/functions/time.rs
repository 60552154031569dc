//! Date and time functions over RFC 3339 timestamps: formatdate, timeadd,
//! timecmp. (`timestamp` and `plantimestamp` are always unknown.)

use super::{Args, Val};
use chrono::{DateTime, Datelike, FixedOffset, SecondsFormat, TimeDelta, Timelike};
use std::cmp::Ordering;

fn timestamp(a: &Args, i: usize) -> Result<DateTime<FixedOffset>, String> {
    let text = a.str(i)?;
    DateTime::parse_from_rfc3339(&text).map_err(|e| {
        a.arg_err(
            i,
            format!(
                "must be an RFC 3339 timestamp like \"2018-01-02T23:12:01Z\", got {text:?}: {e}"
            ),
        )
    })
}

/// Go's RFC 3339 layout: whole seconds, `Z` for UTC.
fn rfc3339(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `timecmp(a, b)`: -1, 0 or 1.
pub(super) fn timecmp(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let ord = timestamp(a, 0)?.cmp(&timestamp(a, 1)?);
    Ok(Val::Number(match ord {
        Ordering::Less => -1.0,
        Ordering::Equal => 0.0,
        Ordering::Greater => 1.0,
    }))
}

/// `timeadd(timestamp, duration)` with a Go duration (`"1h30m"`, `"-10s"`).
pub(super) fn timeadd(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let t = timestamp(a, 0)?;
    let text = a.str(1)?;
    let nanos = duration_nanos(&text).ok_or_else(|| {
        a.arg_err(
            1,
            format!("must be a duration like \"1h30m\" (units ns, us, ms, s, m, h), got {text:?}"),
        )
    })?;
    let sum = t
        .checked_add_signed(TimeDelta::nanoseconds(nanos))
        .ok_or_else(|| a.err("the resulting time is out of range"))?;
    Ok(Val::String(rfc3339(sum)))
}

/// A Go duration string in nanoseconds.
fn duration_nanos(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    let total = if neg { -total } else { total };
    (total.abs() < 9.2e18).then_some(total.round() as i64)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// `formatdate(spec, timestamp)`: letter sequences (`YYYY`, `MMM`, `DD`,
/// `EEE`, `hh`, `mm`, `ss`, `aa`, `ZZZ`, …) are replaced, text in single
/// quotes is literal (`''` is a quote), other non-letters are kept.
pub(super) fn formatdate(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let spec: Vec<char> = a.str(0)?.chars().collect();
    let t = timestamp(a, 1)?;
    let offset = t.offset().local_minus_utc();
    let zone = |colon: bool| {
        let sign = if offset < 0 { '-' } else { '+' };
        let (h, m) = (offset.abs() / 3600, offset.abs() % 3600 / 60);
        if colon {
            format!("{sign}{h:02}:{m:02}")
        } else {
            format!("{sign}{h:02}{m:02}")
        }
    };
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let mut out = String::new();
    let mut i = 0;
    while i < spec.len() {
        let c = spec[i];
        if c == '\'' {
            // Quoted literal; '' inside (or alone) is one quote.
            let mut j = i + 1;
            if spec.get(j) == Some(&'\'') {
                out.push('\'');
                i = j + 1;
                continue;
            }
            loop {
                match spec.get(j) {
                    None => return Err(a.arg_err(0, "has an unterminated quoted literal")),
                    Some('\'') if spec.get(j + 1) == Some(&'\'') => {
                        out.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some(ch) => {
                        out.push(*ch);
                        j += 1;
                    }
                }
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let run = spec[i..].iter().take_while(|&&x| x == c).count();
        let seq: String = spec[i..i + run].iter().collect();
        let text = match seq.as_str() {
            "YYYY" => format!("{:04}", t.year()),
            "YY" => format!("{:02}", t.year().rem_euclid(100)),
            "MMMM" => MONTHS[t.month0() as usize].to_string(),
            "MMM" => MONTHS[t.month0() as usize][..3].to_string(),
            "MM" => format!("{:02}", t.month()),
            "M" => t.month().to_string(),
            "DD" => format!("{:02}", t.day()),
            "D" => t.day().to_string(),
            "EEEE" => DAYS[t.weekday().num_days_from_monday() as usize].to_string(),
            "EEE" => DAYS[t.weekday().num_days_from_monday() as usize][..3].to_string(),
            "hh" => format!("{:02}", t.hour()),
            "h" => t.hour().to_string(),
            "HH" => format!("{hour12:02}"),
            "H" => hour12.to_string(),
            "AA" => if t.hour() < 12 { "AM" } else { "PM" }.to_string(),
            "aa" => if t.hour() < 12 { "am" } else { "pm" }.to_string(),
            "mm" => format!("{:02}", t.minute()),
            "m" => t.minute().to_string(),
            "ss" => format!("{:02}", t.second()),
            "s" => t.second().to_string(),
            "ZZZZZ" => zone(true),
            "ZZZZ" => zone(false),
            "ZZZ" if offset == 0 => "UTC".to_string(),
            "ZZZ" => zone(false),
            "Z" if offset == 0 => "Z".to_string(),
            "Z" => zone(true),
            other => {
                return Err(a.arg_err(
                    0,
                    format!("has the invalid date format sequence {other:?}; quote literal letters with '…'"),
                ))
            }
        };
        out.push_str(&text);
        i += run;
    }
    Ok(Val::String(out))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn formatdate_examples() {
        let f = |spec: &str, ts: &str| t("formatdate", vec![s(spec), s(ts)]);
        assert_eq!(
            f("DD MMM YYYY hh:mm ZZZ", "2018-01-02T23:12:01Z"),
            Ok(s("02 Jan 2018 23:12 UTC"))
        );
        assert_eq!(
            f("EEEE, DD-MMM-YY hh:mm:ss ZZZ", "2018-01-02T23:12:01Z"),
            Ok(s("Tuesday, 02-Jan-18 23:12:01 UTC"))
        );
        assert_eq!(
            f("EEE, DD MMM YYYY hh:mm:ss ZZZ", "2018-01-02T23:12:01-08:00"),
            Ok(s("Tue, 02 Jan 2018 23:12:01 -0800"))
        );
        assert_eq!(f("HH:mmaa", "2018-01-02T23:12:01Z"), Ok(s("11:12pm")));
        assert_eq!(f("YYYY'T''s'", "2018-01-02T23:12:01Z"), Ok(s("2018T's")));
        assert!(f("YYYY-QQ", "2018-01-02T23:12:01Z").is_err_and(|e| e.contains("\"QQ\"")));
        assert!(f("YYYY", "2018-01-02")
            .is_err_and(|e| e.contains("argument 2 must be an RFC 3339 timestamp")));
    }

    #[test]
    fn timeadd_and_timecmp() {
        assert_eq!(
            t("timeadd", vec![s("2017-11-22T00:00:00Z"), s("10m")]),
            Ok(s("2017-11-22T00:10:00Z"))
        );
        assert_eq!(
            t("timeadd", vec![s("2017-11-22T00:00:00+01:00"), s("-1h30m")]),
            Ok(s("2017-11-21T22:30:00+01:00"))
        );
        assert!(
            err("timeadd", vec![s("2017-11-22T00:00:00Z"), s("10 days")])
                .contains("must be a duration")
        );
        assert_eq!(
            t(
                "timecmp",
                vec![s("2017-11-22T00:00:00Z"), s("2017-11-22T01:00:00+01:00")]
            ),
            Ok(n(0.0))
        );
        assert_eq!(
            t(
                "timecmp",
                vec![s("2017-11-22T00:00:00Z"), s("2017-11-22T00:00:01Z")]
            ),
            Ok(n(-1.0))
        );
    }
}
