//! Recording one scan inside the caller's transaction.
//!
//! Bulk work goes through few statements: multi-row upserts whose SQL is the
//! same for every full chunk (so that it is prepared once), and sets of ids
//! passed as one JSON array. Whatever the database must hand back in bulk comes
//! as one aggregated value rather than as many rows, because each row costs a
//! round trip through the driver's worker thread.

use crate::{db, multi_row, SqliteQuery};
use sqlx::sqlite::SqliteConnection;
use std::borrow::Cow;
use vigil_model::EvalResult;
use vigil_store::batch::{Plan, PlannedEvaluation};
use vigil_store::{EvaluationInput, ScanBatch, ScanSummary, StoreError};

/// Rows per multi-row statement; each stays well under SQLite's limit of
/// 32766 bound variables.
const RESOURCE_CHUNK: usize = 1_000; // 14 variables a row
const EVALUATION_CHUNK: usize = 5_000; // 6 variables a row
const PAIR_CHUNK: usize = 10_000; // 2 variables a row
/// Resources whose stored evaluations are read back in one piece.
const READ_BACK_CHUNK: usize = 20_000;

/// A result as the bulk statements pass it: a small integer, which costs
/// SQLite no allocation (see `evaluation_sql` and `read_back`).
const PASS: u8 = 0;
const FAIL: u8 = 1;
const PASSE: u8 = 2;
const SKIP: u8 = 3;

fn code(result: EvalResult) -> u8 {
    match result {
        EvalResult::Pass => PASS,
        EvalResult::Fail => FAIL,
        EvalResult::Passe => PASSE,
        EvalResult::Skip => SKIP,
    }
}

/// The result a lifecycle compares: a PASSE (stored, or reported by a scan)
/// is a FAIL under an exception, so exceptions never reopen or fix anything;
/// the refresh at the end of the scan decides FAIL or PASSE.
fn lifecycle(code: u8) -> u8 {
    if code == PASSE {
        FAIL
    } else {
        code
    }
}

/// Empty text is bound as NULL (and turned back into `''` by the SQL): a NULL
/// costs SQLite no allocation.
fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Binds the expected value, the actual value and the message of an
/// evaluation, each NULL when empty.
fn bind_evidence<'q>(q: SqliteQuery<'q>, input: &EvaluationInput<'q>) -> SqliteQuery<'q> {
    q.bind(non_empty(input.expected))
        .bind(non_empty(input.actual))
        .bind(non_empty(input.message))
}

/// The SQL of a multi-row statement for chunks of `size` rows: made once for
/// a full chunk, so that its prepared statement is reused, and anew for a
/// shorter last chunk.
struct ChunkSql {
    size: usize,
    full: String,
    make: fn(usize) -> String,
}

impl ChunkSql {
    fn new(size: usize, make: fn(usize) -> String) -> ChunkSql {
        ChunkSql {
            size,
            full: make(size),
            make,
        }
    }

    fn of(&self, rows: usize) -> Cow<'_, str> {
        if rows == self.size {
            Cow::Borrowed(&self.full)
        } else {
            Cow::Owned((self.make)(rows))
        }
    }
}

pub(crate) async fn apply(
    conn: &mut SqliteConnection,
    plan: &Plan<'_>,
    scan: &ScanBatch<'_>,
) -> Result<ScanSummary, StoreError> {
    let at = plan.at;

    // Resources. New rows get ids above the largest so far (rows are never
    // deleted), which tells new from known without reading anything back.
    let max_before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM resources")
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    upsert_resources(conn, plan, scan).await?;
    let ids = resource_ids(conn, plan, scan.source).await?;
    let new_resources = ids.iter().filter(|id| **id > max_before).count() as u64;

    // Resources of the source that this sync did not report are gone.
    let gone = sqlx::query(
        "UPDATE resources SET gone_at = ? WHERE source = ? AND gone_at IS NULL \
         AND id NOT IN (SELECT value FROM json_each(?))",
    )
    .bind(at)
    .bind(scan.source)
    .bind(json_ids(ids.iter().copied()))
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected();

    sync_tags(conn, scan.source).await?;

    // Evaluations.
    let evaluations = plan.evaluations(&ids);
    let mut summary = plan.summary(new_resources, gone, &evaluations);
    let known: Vec<i64> = ids.iter().copied().filter(|id| *id <= max_before).collect();
    if known.is_empty() {
        let all: Vec<&PlannedEvaluation<'_>> = evaluations.iter().collect();
        upsert_evaluations(conn, &all, at).await?;
    } else {
        let existing = read_back(conn, &known).await?;
        let comparison = compare(&existing, &evaluations);
        summary.reopened = comparison.reopened;
        summary.fixed = comparison.fixed;
        // A result that stays the same needs no lifecycle change and no index
        // change: those rows take a plain update of the evidence and time.
        let (same, changed): (Vec<_>, Vec<_>) = evaluations
            .iter()
            .zip(&comparison.same_result)
            .partition(|(_, same)| **same);
        let same: Vec<&PlannedEvaluation<'_>> = same.into_iter().map(|(e, _)| e).collect();
        let changed: Vec<&PlannedEvaluation<'_>> = changed.into_iter().map(|(e, _)| e).collect();
        update_evidence(conn, &same, at).await?;
        upsert_evaluations(conn, &changed, at).await?;
        delete_pairs(conn, &comparison.stale).await?;
    }
    Ok(summary)
}

pub(crate) fn json_ids(ids: impl Iterator<Item = i64>) -> String {
    let mut s = String::from("[");
    for (i, id) in ids.enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
    }
    s.push(']');
    s
}

/// The resource upsert for `n` rows. Its parameters: the source and the run,
/// then per row the uid and the other columns in order. Constant parts are in
/// the projection, once, so that preparing thousands of rows stays cheap.
fn resource_sql(n: usize) -> String {
    multi_row(
        "INSERT INTO resources (uid, source, provider, account, region, service, resource_type, \
         native_id, name, tags, attributes, associations, origin, first_discovered, last_updated, \
         last_seen_run) \
         SELECT column1, ?, column2, column3, column4, column5, column6, column7, column8, \
         column9, column10, column11, column12, column13, column14, ? \
         FROM (VALUES ",
        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        n,
        ") WHERE true ON CONFLICT (uid) DO UPDATE SET source = excluded.source, \
         provider = excluded.provider, account = excluded.account, region = excluded.region, \
         service = excluded.service, resource_type = excluded.resource_type, \
         native_id = excluded.native_id, name = excluded.name, tags = excluded.tags, \
         attributes = excluded.attributes, associations = excluded.associations, \
         origin = excluded.origin, last_updated = excluded.last_updated, \
         last_seen_run = excluded.last_seen_run, gone_at = NULL",
    )
}

async fn upsert_resources(
    conn: &mut SqliteConnection,
    plan: &Plan<'_>,
    scan: &ScanBatch<'_>,
) -> Result<(), StoreError> {
    let sql = ChunkSql::new(RESOURCE_CHUNK, resource_sql);
    for chunk in plan.resources.chunks(RESOURCE_CHUNK) {
        let sql = sql.of(chunk.len());
        let mut q = sqlx::query(&sql).bind(scan.source).bind(scan.run);
        for r in chunk {
            q = q
                .bind(r.uid.as_str())
                .bind(r.resource.provider.as_str())
                .bind(r.resource.account.as_str())
                .bind(r.resource.region.as_str())
                .bind(r.resource.service.as_str())
                .bind(r.resource.resource_type.as_str())
                .bind(r.resource.id.as_str())
                .bind(r.resource.name.as_str())
                .bind(r.tags.as_str())
                .bind(r.attributes.as_str())
                .bind(r.associations.as_str())
                .bind(r.origin.as_str())
                .bind(r.first_discovered)
                .bind(r.last_updated);
        }
        q.execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// The database ids of the plan's resources, in the plan's order.
async fn resource_ids(
    conn: &mut SqliteConnection,
    plan: &Plan<'_>,
    source: &str,
) -> Result<Vec<i64>, StoreError> {
    let text: String = sqlx::query_scalar(
        "SELECT COALESCE(json_group_array(json_array(id, uid)), '[]') \
         FROM resources WHERE source = ?",
    )
    .bind(source)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let pairs: Vec<(i64, String)> = serde_json::from_str(&text)
        .map_err(|e| StoreError::Database(format!("cannot read resource ids back: {e}")))?;
    let mut ids = vec![0i64; plan.resources.len()];
    for (id, uid) in &pairs {
        if let Some(slot) = plan.slot_of(uid) {
            ids[slot] = *id;
        }
    }
    if ids.contains(&0) {
        return Err(StoreError::Database(
            "a resource written by this scan could not be read back".into(),
        ));
    }
    Ok(ids)
}

/// Makes `resource_tags` of the source's present resources match their `tags`
/// column, writing only what changed.
async fn sync_tags(conn: &mut SqliteConnection, source: &str) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM resource_tags WHERE resource_id IN \
         (SELECT id FROM resources WHERE source = ?1 AND gone_at IS NULL) \
         AND NOT EXISTS (SELECT 1 FROM resources r, json_each(r.tags) j \
         WHERE r.id = resource_tags.resource_id AND j.key = resource_tags.key \
         AND j.value = resource_tags.value)",
    )
    .bind(source)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(
        "INSERT INTO resource_tags (resource_id, key, value) \
         SELECT r.id, j.key, j.value FROM resources r, json_each(r.tags) j \
         WHERE r.source = ?1 AND r.gone_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM resource_tags t WHERE t.resource_id = r.id \
         AND t.key = j.key AND t.value = j.value) \
         ON CONFLICT (resource_id, key) DO UPDATE SET value = excluded.value",
    )
    .bind(source)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The stored (resource id, cid, result code) of the given resources, sorted.
async fn read_back(
    conn: &mut SqliteConnection,
    resource_ids: &[i64],
) -> Result<Vec<(i64, i64, u8)>, StoreError> {
    let mut out = Vec::new();
    for chunk in resource_ids.chunks(READ_BACK_CHUNK) {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(resource_id || ' ' || cid || ' ' || \
             CASE result WHEN 'PASS' THEN 0 WHEN 'FAIL' THEN 1 WHEN 'PASSE' THEN 2 ELSE 3 END, ' ') \
             FROM evaluations WHERE resource_id IN (SELECT value FROM json_each(?))",
        )
        .bind(json_ids(chunk.iter().copied()))
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let Some(text) = text else { continue };
        let mut numbers = text.split(' ').map(|n| n.parse::<i64>());
        while let Some(rid) = numbers.next() {
            let (Ok(rid), Some(Ok(cid)), Some(Ok(code))) = (rid, numbers.next(), numbers.next())
            else {
                return Err(StoreError::Database(
                    "cannot read stored evaluations back".into(),
                ));
            };
            out.push((rid, cid, u8::try_from(code).unwrap_or(u8::MAX)));
        }
    }
    if !out.is_sorted() {
        out.sort_unstable();
    }
    Ok(out)
}

/// How a scan's evaluations relate to the stored ones.
struct Comparison {
    /// Per evaluation of the scan: whether it is stored with the same result.
    same_result: Vec<bool>,
    reopened: u64,
    fixed: u64,
    /// Stored evaluations that the scan no longer reports.
    stale: Vec<(i64, i64)>,
}

/// Compares the scan's evaluations with the stored ones; both lists are
/// sorted by (resource id, cid).
fn compare(existing: &[(i64, i64, u8)], evaluations: &[PlannedEvaluation<'_>]) -> Comparison {
    let mut out = Comparison {
        same_result: vec![false; evaluations.len()],
        reopened: 0,
        fixed: 0,
        stale: Vec::new(),
    };
    let mut next = 0;
    for &(rid, cid, old) in existing {
        let key = (rid, cid);
        while next < evaluations.len()
            && (evaluations[next].resource_id, evaluations[next].cid) < key
        {
            next += 1;
        }
        match evaluations.get(next) {
            Some(e) if (e.resource_id, e.cid) == key => {
                let (now, old) = (lifecycle(code(e.input.result)), lifecycle(old));
                if now == old {
                    out.same_result[next] = true;
                } else if now == FAIL && old == PASS {
                    out.reopened += 1;
                } else if now == PASS && old == FAIL {
                    out.fixed += 1;
                }
            }
            _ => out.stale.push(key),
        }
    }
    out
}

/// The update of evidence and time for `n` rows whose result is unchanged.
/// Its parameters: the time of the scan, then per row resource id, cid,
/// expected, actual and message (NULL when empty).
fn evidence_sql(n: usize) -> String {
    multi_row(
        "UPDATE evaluations SET expected = COALESCE(v.column3, ''), \
         actual = COALESCE(v.column4, ''), message = COALESCE(v.column5, ''), \
         last_evaluated = ? FROM (VALUES ",
        "(?,?,?,?,?)",
        n,
        ") AS v WHERE evaluations.resource_id = v.column1 AND evaluations.cid = v.column2",
    )
}

async fn update_evidence(
    conn: &mut SqliteConnection,
    evaluations: &[&PlannedEvaluation<'_>],
    at: i64,
) -> Result<(), StoreError> {
    let sql = ChunkSql::new(EVALUATION_CHUNK, evidence_sql);
    for chunk in evaluations.chunks(EVALUATION_CHUNK) {
        let sql = sql.of(chunk.len());
        let mut q = sqlx::query(&sql).bind(at);
        for e in chunk {
            q = bind_evidence(q.bind(e.resource_id).bind(e.cid), e.input);
        }
        q.execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// The evaluation upsert for `n` rows. Its parameters: the time of the scan
/// twice, then per row resource id, cid, result code, expected, actual and
/// message (NULL when empty, which costs SQLite no allocation).
fn evaluation_sql(n: usize) -> String {
    multi_row(
        "INSERT INTO evaluations (resource_id, cid, result, expected, actual, message, \
         first_evaluated, last_evaluated) \
         SELECT column1, column2, \
         CASE column3 WHEN 0 THEN 'PASS' WHEN 1 THEN 'FAIL' WHEN 2 THEN 'PASSE' ELSE 'SKIP' END, \
         COALESCE(column4, ''), COALESCE(column5, ''), COALESCE(column6, ''), ?, ? \
         FROM (VALUES ",
        "(?,?,?,?,?,?)",
        n,
        ") WHERE true ON CONFLICT (resource_id, cid) DO UPDATE SET result = excluded.result, \
         expected = excluded.expected, actual = excluded.actual, message = excluded.message, \
         last_evaluated = excluded.last_evaluated, \
         last_reopened = CASE WHEN excluded.result IN ('FAIL', 'PASSE') AND evaluations.result = 'PASS' \
         THEN excluded.last_evaluated ELSE evaluations.last_reopened END, \
         last_fixed = CASE WHEN excluded.result = 'PASS' AND evaluations.result IN ('FAIL', 'PASSE') \
         THEN excluded.last_evaluated ELSE evaluations.last_fixed END",
    )
}

pub(crate) async fn upsert_evaluations(
    conn: &mut SqliteConnection,
    evaluations: &[&PlannedEvaluation<'_>],
    at: i64,
) -> Result<(), StoreError> {
    let sql = ChunkSql::new(EVALUATION_CHUNK, evaluation_sql);
    for chunk in evaluations.chunks(EVALUATION_CHUNK) {
        let sql = sql.of(chunk.len());
        let mut q = sqlx::query(&sql).bind(at).bind(at);
        for e in chunk {
            let q_row = q
                .bind(e.resource_id)
                .bind(e.cid)
                .bind(i64::from(code(e.input.result)));
            q = bind_evidence(q_row, e.input);
        }
        q.execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// Deletes the evaluations of the given (resource id, cid) pairs.
pub(crate) async fn delete_pairs(
    conn: &mut SqliteConnection,
    pairs: &[(i64, i64)],
) -> Result<(), StoreError> {
    for chunk in pairs.chunks(PAIR_CHUNK) {
        let sql = multi_row(
            "DELETE FROM evaluations WHERE (resource_id, cid) IN (VALUES ",
            "(?,?)",
            chunk.len(),
            ")",
        );
        let mut q = sqlx::query(&sql);
        for (rid, cid) in chunk {
            q = q.bind(*rid).bind(*cid);
        }
        q.execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}
