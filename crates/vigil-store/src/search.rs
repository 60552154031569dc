//! What search and counts share across backends: the SQL that does not depend
//! on the dialect (over the aliases of [`SCHEMA_DOC`](crate::SCHEMA_DOC)) and
//! the reading of stored values back into Vigil's types.

use crate::{EvaluationRow, StoreError};
use std::str::FromStr;
use vigil_model::{Criticality, EvalResult, Provider, Timestamp};

/// The columns of a search result, in the order [`evaluation_row`] reads
/// them.
pub const EVALUATION_COLUMNS: &str = "e.cid, c.title, c.criticality, e.result, r.native_id, \
     r.name, r.resource_type, r.provider, r.account, r.region, e.expected, e.actual, e.message, \
     e.first_evaluated, e.last_evaluated, e.last_reopened, e.last_fixed";

/// The first key of the search order: criticality, most critical first. Then
/// come the control id and the resource's native id (compared byte by byte).
pub const CRITICALITY_RANK: &str =
    "CASE c.criticality WHEN 'HIGH' THEN 0 WHEN 'MEDIUM' THEN 1 ELSE 2 END";

/// The rows a condition is evaluated over: evaluations of present resources
/// with their controls. The condition follows, in parentheses.
pub const FROM_PRESENT: &str = "FROM evaluations e \
     JOIN resources r ON r.id = e.resource_id \
     JOIN controls c ON c.cid = e.cid \
     WHERE r.gone_at IS NULL AND ";

/// The rows a count's condition is evaluated over: [`FROM_PRESENT`] when the
/// condition reads the resource, else `without_resources`, the backend's way
/// of leaving out the (few) gone resources without joining every row to its
/// resource, which is what keeps filtered counts over millions of rows fast.
pub fn count_from(condition: &str, without_resources: &'static str) -> &'static str {
    if refers_to_resources(condition) {
        FROM_PRESENT
    } else {
        without_resources
    }
}

/// Whether compiled SQL mentions the resource alias `r`.
fn refers_to_resources(sql: &str) -> bool {
    refers_to(sql, b'r')
}

/// Whether compiled SQL mentions the one-letter table alias `alias`.
pub(crate) fn refers_to(sql: &str, alias: u8) -> bool {
    let b = sql.as_bytes();
    (0..b.len().saturating_sub(1)).any(|i| {
        b[i] == alias
            && b[i + 1] == b'.'
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
    })
}

/// A stored count; a negative one (which no count is) reads as 0.
pub fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn timestamp(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Database(format!("stored time {ms} is out of range")))
}

fn parse<T: FromStr>(what: &str, text: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Database(format!("stored {what} `{text}` is not valid")))
}

/// One search result from the columns of [`EVALUATION_COLUMNS`]: `cid` is
/// column 0; `text`, `time` and `optional_time` read the other columns by
/// position (NULL text reads as empty).
pub fn evaluation_row(
    cid: i64,
    text: impl Fn(usize) -> Result<Option<String>, StoreError>,
    time: impl Fn(usize) -> Result<i64, StoreError>,
    optional_time: impl Fn(usize) -> Result<Option<i64>, StoreError>,
) -> Result<EvaluationRow, StoreError> {
    let text = |i: usize| -> Result<String, StoreError> { Ok(text(i)?.unwrap_or_default()) };
    let optional_time = |i: usize| -> Result<Option<Timestamp>, StoreError> {
        optional_time(i)?.map(timestamp).transpose()
    };
    Ok(EvaluationRow {
        cid: u32::try_from(cid)
            .map_err(|_| StoreError::Database(format!("stored control id {cid} is not valid")))?,
        control: text(1)?,
        criticality: parse::<Criticality>("criticality", &text(2)?)?,
        result: parse::<EvalResult>("result", &text(3)?)?,
        resource_id: text(4)?,
        resource_name: text(5)?,
        resource_type: text(6)?,
        provider: parse::<Provider>("provider", &text(7)?)?,
        account: text(8)?,
        region: text(9)?,
        expected: text(10)?,
        actual: text(11)?,
        message: text(12)?,
        first_evaluated: timestamp(time(13)?)?,
        last_evaluated: timestamp(time(14)?)?,
        last_reopened: optional_time(15)?,
        last_fixed: optional_time(16)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_join_resources_only_when_the_condition_reads_them() {
        let cheap = "FROM evaluations e JOIN controls c ON c.cid = e.cid WHERE ";
        assert_eq!(count_from("r.account LIKE ?", cheap), FROM_PRESENT);
        assert_eq!(
            count_from("(e.result = ?) AND (r.name = ?)", cheap),
            FROM_PRESENT
        );
        assert_eq!(count_from("e.result = ?", cheap), cheap);
        assert_eq!(
            count_from("c.criticality = 'HIGH' AND pr.x = 1", cheap),
            cheap
        );
        assert_eq!(count_from("", cheap), cheap);
        assert_eq!(count(-1), 0);
        assert_eq!(count(7), 7);
    }

    #[test]
    fn stored_columns_read_back_into_a_row() {
        let columns = EVALUATION_COLUMNS.split(", ").count();
        assert_eq!(columns, 17);
        let texts = [
            "",
            "Title",
            "HIGH",
            "FAIL",
            "arn",
            "name",
            "aws.s3.bucket",
            "aws",
            "1",
            "r",
            "true",
            "false",
            "off",
        ];
        let text = |i: usize| Ok((i != 8).then(|| texts[i].to_string()));
        let time = |i: usize| Ok(i as i64 * 1_000);
        let row = evaluation_row(7, text, time, |i| Ok((i == 16).then_some(16_000))).unwrap();
        assert_eq!(row.cid, 7);
        assert_eq!(row.criticality, Criticality::High);
        assert_eq!(row.result, EvalResult::Fail);
        assert_eq!(row.provider, Provider::Aws);
        assert_eq!(row.account, "", "NULL text reads as empty");
        assert_eq!(row.message, "off");
        assert_eq!(row.last_evaluated.timestamp_millis(), 14_000);
        assert_eq!(row.last_reopened, None);
        assert_eq!(row.last_fixed.map(|t| t.timestamp_millis()), Some(16_000));

        let bad = evaluation_row(-1, text, time, |_| Ok(None)).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "database error: stored control id -1 is not valid"
        );
        let bad_text = |i: usize| Ok(Some(if i == 2 { "URGENT" } else { texts[i] }.to_string()));
        let bad = evaluation_row(7, bad_text, time, |_| Ok(None)).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "database error: stored criticality `URGENT` is not valid"
        );
    }
}
