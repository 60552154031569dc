//! The query string of the data APIs and datalists, checked field by field:
//! `filter` (the query language), `sort`, `cursor`, `limit`, and the date
//! filter (`date` or `from`/`to`, on `date_field`, with day boundaries in
//! `tz`). Each bad value is a 400 that names its field.

use crate::error::ApiError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use vigil_query::Query;
use vigil_store::data::{key_fits, DataFilter, DateField, DateRange, Key, PageRequest, SortKey};

/// The query parameters of the data APIs (each endpoint reads those it
/// documents).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DataParams {
    /// A condition in the query language (see docs/search.md), e.g.
    /// `control.criticality:HIGH and control.result:FAIL`.
    pub filter: Option<String>,
    /// The order: a sort field, `-` first for descending (e.g. `-last_evaluated`).
    pub sort: Option<String>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    /// Rows per page, 1–1000 (default 100).
    pub limit: Option<String>,
    /// A preset window: today, yesterday, last_7_days, last_30_days,
    /// last_90_days, this_month, last_month (days in `tz`).
    pub date: Option<String>,
    /// Start of a window (inclusive): RFC 3339, or YYYY-MM-DD (that day's start in `tz`).
    pub from: Option<String>,
    /// End of a window: RFC 3339 (exclusive), or YYYY-MM-DD (through that whole day in `tz`).
    pub to: Option<String>,
    /// The timestamp the window applies to: first_evaluated, last_evaluated,
    /// last_reopened, last_fixed, first_discovered, last_updated.
    pub date_field: Option<String>,
    /// An IANA time zone (e.g. Europe/Paris) for day boundaries and CSV times; default UTC.
    pub tz: Option<String>,
    /// `account`: counts per account.
    pub group_by: Option<String>,
}

/// The filter of a request: the query, then the date window.
pub fn filter(p: &DataParams, default_date_field: DateField) -> Result<DataFilter, ApiError> {
    let query = query(p.filter.as_deref().unwrap_or(""), "filter")?;
    let mut filter = DataFilter::new(query);
    filter.dates = dates(p, default_date_field, Utc::now())?;
    Ok(filter)
}

/// `text` compiled, or a 400 naming `field` with the error's column.
pub fn query(text: &str, field: &str) -> Result<Query, ApiError> {
    Query::parse(text, Utc::now()).map_err(|e| ApiError::invalid_field(field, e.to_string()))
}

/// The time zone of `tz` (UTC when absent).
pub fn tz(p: &DataParams) -> Result<Tz, ApiError> {
    match p.tz.as_deref() {
        None | Some("") => Ok(Tz::UTC),
        Some(name) => name.parse::<Tz>().map_err(|_| {
            ApiError::invalid_field(
                "tz",
                format!("`{name}` is not an IANA time zone; use e.g. UTC or Europe/Paris"),
            )
        }),
    }
}

/// The limit of a page: 1–1000, default 100.
pub fn limit(p: &DataParams) -> Result<u32, ApiError> {
    let bad = || ApiError::invalid_field("limit", "limit must be a whole number from 1 to 1000");
    match p.limit.as_deref() {
        None | Some("") => Ok(100),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(n),
            _ => Err(bad()),
        },
    }
}

/// What a cursor carries: the order it was made in and the last row's key.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    sort: String,
    key: Key,
}

/// The `sort=` text of an order.
fn sort_text<S: SortKey>(sort: S, descending: bool) -> String {
    format!("{}{}", if descending { "-" } else { "" }, sort.name())
}

/// The page asked for: sort (one of `all`, default the first), cursor and
/// limit.
pub fn page<S: SortKey>(p: &DataParams, all: &[S]) -> Result<PageRequest<S>, ApiError> {
    let text = p.sort.as_deref().unwrap_or("");
    let (descending, name) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let sort = if text.is_empty() {
        all.first().copied()
    } else {
        all.iter().copied().find(|s| s.name() == name)
    }
    .ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|s| s.name()).collect();
        ApiError::invalid_field(
            "sort",
            format!(
                "cannot sort by `{name}`; sort by one of {} (`-` first for descending)",
                names.join(", ")
            ),
        )
    })?;
    let after = match p.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => {
            let bad = || {
                ApiError::invalid_field(
                    "cursor",
                    "the cursor must be the `next` of a previous page with the same sort",
                )
            };
            let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
            let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
            if cursor.sort != sort_text(sort, descending) || !key_fits(sort, &cursor.key) {
                return Err(bad());
            }
            Some(cursor.key)
        }
    };
    Ok(PageRequest {
        sort,
        descending,
        after,
        limit: limit(p)?,
    })
}

/// The cursor after the row whose key is `key`, in `page`'s order.
pub fn cursor<S: SortKey>(page: &PageRequest<S>, key: Key) -> String {
    let cursor = Cursor {
        sort: sort_text(page.sort, page.descending),
        key,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

/// The start of `day` in `tz` (the first instant of it when midnight is
/// skipped by a clock change).
fn day_start(tz: Tz, day: NaiveDate) -> i64 {
    let midnight = NaiveDateTime::from(day);
    (0..4)
        .find_map(|h| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(h)))
                .earliest()
        })
        .map_or_else(
            || midnight.and_utc().timestamp_millis(),
            |t| t.timestamp_millis(),
        )
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The days `[first, last)` of a preset, relative to `today`.
fn preset(name: &str, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let tomorrow = today.checked_add_days(Days::new(1))?;
    let back = |n: u64| today.checked_sub_days(Days::new(n));
    Some(match name {
        "today" => (today, tomorrow),
        "yesterday" => (back(1)?, today),
        "last_7_days" => (back(6)?, tomorrow),
        "last_30_days" => (back(29)?, tomorrow),
        "last_90_days" => (back(89)?, tomorrow),
        "this_month" => {
            let first = first_of_month(today);
            (first, first.checked_add_months(Months::new(1))?)
        }
        "last_month" => {
            let first = first_of_month(today);
            (first.checked_sub_months(Months::new(1))?, first)
        }
        _ => return None,
    })
}

/// An end of a window: RFC 3339, or a day in `tz` (its start, or the start
/// of the next day when `end`).
fn bound(text: &str, field: &str, tz: Tz, end: bool) -> Result<i64, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid_field(
            field,
            format!("`{text}` is not a date; use YYYY-MM-DD or RFC 3339 (2026-11-23T10:00:00Z)"),
        )
    })?;
    let day = if end {
        day.checked_add_days(Days::new(1)).unwrap_or(day)
    } else {
        day
    };
    Ok(day_start(tz, day))
}

/// The date window of a request, on `date_field` (default `default_field`),
/// as of `now`.
pub fn dates(
    p: &DataParams,
    default_field: DateField,
    now: DateTime<Utc>,
) -> Result<Option<DateRange>, ApiError> {
    let tz = tz(p)?;
    let field = match p.date_field.as_deref() {
        None | Some("") => default_field,
        Some(name) => DateField::parse(name).ok_or_else(|| {
            let names: Vec<&str> = DateField::ALL.iter().map(|f| f.name()).collect();
            ApiError::invalid_field(
                "date_field",
                format!(
                    "`{name}` is not a date field; use one of {}",
                    names.join(", ")
                ),
            )
        })?,
    };
    let given = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(String::from);
    let (date, from, to) = (given(&p.date), given(&p.from), given(&p.to));
    if let Some(name) = date {
        if from.is_some() || to.is_some() {
            return Err(ApiError::invalid_field(
                "date",
                "give either `date` or `from`/`to`, not both",
            ));
        }
        let today = now.with_timezone(&tz).date_naive();
        let (first, last) = preset(&name, today).ok_or_else(|| {
            ApiError::invalid_field(
                "date",
                format!(
                    "`{name}` is not a date preset; use today, yesterday, last_7_days, \
                     last_30_days, last_90_days, this_month or last_month"
                ),
            )
        })?;
        return Ok(Some(DateRange {
            field,
            from: Some(day_start(tz, first)),
            to: Some(day_start(tz, last)),
        }));
    }
    if from.is_none() && to.is_none() {
        return Ok(None);
    }
    let from = from.map(|t| bound(&t, "from", tz, false)).transpose()?;
    let to = to.map(|t| bound(&t, "to", tz, true)).transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(ApiError::invalid_field("to", "`to` must come after `from`"));
        }
    }
    Ok(Some(DateRange { field, from, to }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_store::data::EvaluationSort;

    fn params(pairs: &[(&str, &str)]) -> DataParams {
        let text = serde_urlencoded::to_string(pairs).unwrap();
        serde_urlencoded::from_str(&text).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn ms(s: &str) -> Option<i64> {
        Some(at(s).timestamp_millis())
    }

    #[test]
    fn presets_are_whole_days_in_the_time_zone() {
        let now = at("2026-03-10T23:30:00Z");
        let today = dates(&params(&[("date", "today")]), DateField::LastEvaluated, now)
            .unwrap()
            .unwrap();
        assert_eq!(
            (today.from, today.to),
            (ms("2026-03-10T00:00:00Z"), ms("2026-03-11T00:00:00Z"))
        );
        // In Paris it is already the 11th.
        let p = params(&[("date", "yesterday"), ("tz", "Europe/Paris")]);
        let y = dates(&p, DateField::LastEvaluated, now).unwrap().unwrap();
        assert_eq!(
            (y.from, y.to),
            (ms("2026-03-09T23:00:00Z"), ms("2026-03-10T23:00:00Z"))
        );
        let p = params(&[("date", "last_month"), ("date_field", "first_discovered")]);
        let m = dates(&p, DateField::LastEvaluated, now).unwrap().unwrap();
        assert_eq!(m.field, DateField::FirstDiscovered);
        assert_eq!(
            (m.from, m.to),
            (ms("2026-02-01T00:00:00Z"), ms("2026-03-01T00:00:00Z"))
        );
        let w = dates(
            &params(&[("date", "last_7_days")]),
            DateField::LastEvaluated,
            now,
        )
        .unwrap()
        .unwrap();
        assert_eq!(w.from, ms("2026-03-04T00:00:00Z"));
    }

    #[test]
    fn ranges_take_days_and_instants_and_bad_values_name_their_field() {
        let now = Utc::now();
        let p = params(&[
            ("from", "2026-11-01"),
            ("to", "2026-11-02"),
            ("tz", "America/New_York"),
        ]);
        let r = dates(&p, DateField::LastEvaluated, now).unwrap().unwrap();
        assert_eq!(
            (r.from, r.to),
            (ms("2026-11-01T04:00:00Z"), ms("2026-11-03T05:00:00Z"))
        );
        let p = params(&[("from", "2026-11-01T10:00:00+01:00")]);
        let r = dates(&p, DateField::LastEvaluated, now).unwrap().unwrap();
        assert_eq!((r.from, r.to), (ms("2026-11-01T09:00:00Z"), None));
        for (pairs, field) in [
            (vec![("date", "someday")], "date"),
            (vec![("date", "today"), ("from", "2026-01-01")], "date"),
            (vec![("from", "yesterday")], "from"),
            (vec![("from", "2026-02-02"), ("to", "2026-01-01")], "to"),
            (vec![("tz", "Mars/Olympus")], "tz"),
            (
                vec![("from", "2026-01-01"), ("date_field", "when")],
                "date_field",
            ),
        ] {
            let e = dates(&params(&pairs), DateField::LastEvaluated, now).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{pairs:?}");
        }
    }

    #[test]
    fn cursors_round_trip_only_in_their_own_order() {
        let all = EvaluationSort::ALL;
        let first = page(
            &params(&[("sort", "-last_evaluated"), ("limit", "5")]),
            &all,
        )
        .unwrap();
        assert!(first.descending && first.limit == 5);
        let item_key = vec![
            vigil_store::data::KeyValue::Int(9),
            vigil_store::data::KeyValue::Int(2),
            vigil_store::data::KeyValue::Int(3),
        ];
        let c = cursor(&first, item_key.clone());
        let next = page(
            &params(&[("sort", "-last_evaluated"), ("cursor", &c)]),
            &all,
        )
        .unwrap();
        assert_eq!(next.after, Some(item_key));
        let e = page(&params(&[("sort", "cid"), ("cursor", &c)]), &all).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("cursor"));
        let e = page(&params(&[("sort", "colour")]), &all).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("sort"));
        let e = page(&params(&[("limit", "0")]), &all).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("limit"));
    }
}
