//! What the data APIs read (issue 5, "Data APIs"): pages of evaluations and
//! resources in a chosen order, a resource with its details, controls and
//! policies, and evaluation counts per control and per account.
//!
//! Pages are keyset pages: a page starts after the sort key of the previous
//! page's last row ([`Key`]), so reading the next page costs the same at row
//! 10 as at row 1,000,000 and rows inserted meanwhile neither repeat nor shift
//! a page. Every sort ends with the row's unique key, so keys are total.
//!
//! The SQL is built here, once for both dialects ([`SqlBuilder`]); the
//! backends run it and read the rows back with the readers of this module.

use crate::search::{timestamp, CRITICALITY_RANK};
use crate::{ControlRecord, EvaluationRow, MonitorCounts, PolicyRecord, StoreError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use vigil_model::{Criticality, EvalResult, Provider, Timestamp};
use vigil_query::{Dialect, Query, SqlParam};

/// A timestamp that date filters can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    FirstEvaluated,
    LastEvaluated,
    LastReopened,
    LastFixed,
    FirstDiscovered,
    LastUpdated,
}

impl DateField {
    /// Every date field, in the order the documentation lists them.
    pub const ALL: [DateField; 6] = [
        DateField::FirstEvaluated,
        DateField::LastEvaluated,
        DateField::LastReopened,
        DateField::LastFixed,
        DateField::FirstDiscovered,
        DateField::LastUpdated,
    ];

    /// The name in the API, e.g. `last_evaluated`.
    pub fn name(self) -> &'static str {
        match self {
            DateField::FirstEvaluated => "first_evaluated",
            DateField::LastEvaluated => "last_evaluated",
            DateField::LastReopened => "last_reopened",
            DateField::LastFixed => "last_fixed",
            DateField::FirstDiscovered => "first_discovered",
            DateField::LastUpdated => "last_updated",
        }
    }

    /// The field named `name`.
    pub fn parse(name: &str) -> Option<DateField> {
        DateField::ALL.into_iter().find(|f| f.name() == name)
    }

    fn column(self) -> &'static str {
        match self {
            DateField::FirstEvaluated => "e.first_evaluated",
            DateField::LastEvaluated => "e.last_evaluated",
            DateField::LastReopened => "e.last_reopened",
            DateField::LastFixed => "e.last_fixed",
            DateField::FirstDiscovered => "r.first_discovered",
            DateField::LastUpdated => "r.last_updated",
        }
    }

    /// Whether the field is a resource's (else an evaluation's).
    pub fn of_resources(self) -> bool {
        matches!(self, DateField::FirstDiscovered | DateField::LastUpdated)
    }
}

/// A time window on one date field: from `from` (inclusive) to `to`
/// (exclusive), in milliseconds since the epoch; `None` leaves an end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub field: DateField,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Which rows a data request reads. Gone resources and their evaluations are
/// never read.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFilter {
    /// A condition in the query language.
    pub query: Query,
    /// Only resources of these sources (`None`: every source; an empty list:
    /// none) — how tag-based access restricts a user.
    pub sources: Option<Vec<String>>,
    pub dates: Option<DateRange>,
    /// Only this resource (its store id).
    pub resource: Option<i64>,
}

impl DataFilter {
    /// Every present row that `query` matches.
    pub fn new(query: Query) -> DataFilter {
        DataFilter {
            query,
            sources: None,
            dates: None,
            resource: None,
        }
    }
}

/// One value of a sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyValue {
    Int(i64),
    Text(String),
}

/// The kind of a sort key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Int,
    Text,
}

/// A sort key: the values of a row's sort columns, in order.
pub type Key = Vec<KeyValue>;

/// An order of evaluations; each ends with the evaluation's unique key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvaluationSort {
    /// Control id, then resource (the default).
    Cid,
    /// Most critical first, then control id and resource.
    Criticality,
    /// Result (FAIL, PASS, PASSE, SKIP alphabetically), then control and resource.
    Result,
    FirstEvaluated,
    LastEvaluated,
    /// Resource (store id), then control.
    Resource,
}

/// An order of resources; each ends with the resource's store id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceSort {
    /// Store id (the default): discovery order.
    Id,
    Name,
    Type,
    FirstDiscovered,
    LastUpdated,
}

/// What both sorts tell the SQL builder.
pub trait SortKey: Copy {
    /// The name in the API (`sort=name`, `sort=-name`).
    fn name(self) -> &'static str;
    /// The key's SQL expressions and kinds, in order.
    fn columns(self) -> &'static [(&'static str, KeyKind)];
}

const EVAL_ID: (&str, KeyKind) = ("e.resource_id", KeyKind::Int);
const EVAL_CID: (&str, KeyKind) = ("e.cid", KeyKind::Int);

impl EvaluationSort {
    /// Every order, as the documentation lists them.
    pub const ALL: [EvaluationSort; 6] = [
        EvaluationSort::Cid,
        EvaluationSort::Criticality,
        EvaluationSort::Result,
        EvaluationSort::FirstEvaluated,
        EvaluationSort::LastEvaluated,
        EvaluationSort::Resource,
    ];

    /// The key of `row` in this order.
    pub fn key_of(self, row: &EvaluationItem) -> Key {
        let cid = KeyValue::Int(i64::from(row.row.cid));
        let resource = KeyValue::Int(row.resource);
        match self {
            EvaluationSort::Cid => vec![cid, resource],
            EvaluationSort::Criticality => {
                let rank = match row.row.criticality {
                    Criticality::High => 0,
                    Criticality::Medium => 1,
                    Criticality::Low => 2,
                };
                vec![KeyValue::Int(rank), cid, resource]
            }
            EvaluationSort::Result => vec![
                KeyValue::Text(row.row.result.as_str().to_string()),
                cid,
                resource,
            ],
            EvaluationSort::FirstEvaluated => vec![
                KeyValue::Int(row.row.first_evaluated.timestamp_millis()),
                resource,
                cid,
            ],
            EvaluationSort::LastEvaluated => vec![
                KeyValue::Int(row.row.last_evaluated.timestamp_millis()),
                resource,
                cid,
            ],
            EvaluationSort::Resource => vec![resource, cid],
        }
    }
}

impl SortKey for EvaluationSort {
    fn name(self) -> &'static str {
        match self {
            EvaluationSort::Cid => "cid",
            EvaluationSort::Criticality => "criticality",
            EvaluationSort::Result => "result",
            EvaluationSort::FirstEvaluated => "first_evaluated",
            EvaluationSort::LastEvaluated => "last_evaluated",
            EvaluationSort::Resource => "resource",
        }
    }

    fn columns(self) -> &'static [(&'static str, KeyKind)] {
        match self {
            EvaluationSort::Cid => &[EVAL_CID, EVAL_ID],
            EvaluationSort::Criticality => &[(CRITICALITY_RANK, KeyKind::Int), EVAL_CID, EVAL_ID],
            EvaluationSort::Result => &[("e.result", KeyKind::Text), EVAL_CID, EVAL_ID],
            EvaluationSort::FirstEvaluated => {
                &[("e.first_evaluated", KeyKind::Int), EVAL_ID, EVAL_CID]
            }
            EvaluationSort::LastEvaluated => {
                &[("e.last_evaluated", KeyKind::Int), EVAL_ID, EVAL_CID]
            }
            EvaluationSort::Resource => &[EVAL_ID, EVAL_CID],
        }
    }
}

const RESOURCE_ID: (&str, KeyKind) = ("r.id", KeyKind::Int);

impl ResourceSort {
    /// Every order, as the documentation lists them.
    pub const ALL: [ResourceSort; 5] = [
        ResourceSort::Id,
        ResourceSort::Name,
        ResourceSort::Type,
        ResourceSort::FirstDiscovered,
        ResourceSort::LastUpdated,
    ];

    /// The key of `row` in this order.
    pub fn key_of(self, row: &ResourceRecord) -> Key {
        let id = KeyValue::Int(row.id);
        match self {
            ResourceSort::Id => vec![id],
            ResourceSort::Name => vec![KeyValue::Text(row.name.clone()), id],
            ResourceSort::Type => vec![KeyValue::Text(row.resource_type.clone()), id],
            ResourceSort::FirstDiscovered => {
                vec![KeyValue::Int(row.first_discovered.timestamp_millis()), id]
            }
            ResourceSort::LastUpdated => {
                vec![KeyValue::Int(row.last_updated.timestamp_millis()), id]
            }
        }
    }
}

impl SortKey for ResourceSort {
    fn name(self) -> &'static str {
        match self {
            ResourceSort::Id => "id",
            ResourceSort::Name => "name",
            ResourceSort::Type => "type",
            ResourceSort::FirstDiscovered => "first_discovered",
            ResourceSort::LastUpdated => "last_updated",
        }
    }

    fn columns(self) -> &'static [(&'static str, KeyKind)] {
        match self {
            ResourceSort::Id => &[RESOURCE_ID],
            ResourceSort::Name => &[("r.name", KeyKind::Text), RESOURCE_ID],
            ResourceSort::Type => &[("r.resource_type", KeyKind::Text), RESOURCE_ID],
            ResourceSort::FirstDiscovered => &[("r.first_discovered", KeyKind::Int), RESOURCE_ID],
            ResourceSort::LastUpdated => &[("r.last_updated", KeyKind::Int), RESOURCE_ID],
        }
    }
}

/// Whether `key` fits the columns of `sort` (so a cursor of another order
/// is refused before it reaches the database).
pub fn key_fits(sort: impl SortKey, key: &[KeyValue]) -> bool {
    let columns = sort.columns();
    key.len() == columns.len()
        && key.iter().zip(columns).all(|(v, (_, kind))| {
            matches!(
                (v, kind),
                (KeyValue::Int(_), KeyKind::Int) | (KeyValue::Text(_), KeyKind::Text)
            )
        })
}

/// A page request: rows after `after` (the key of the previous page's last
/// row) in `sort`, ascending or not, at most `limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest<S> {
    pub sort: S,
    pub descending: bool,
    pub after: Option<Key>,
    pub limit: u32,
}

/// One evaluation with the store id of its resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvaluationItem {
    /// The store id of the resource (`/api/v1/resources/{id}`).
    pub resource: i64,
    #[serde(flatten)]
    pub row: EvaluationRow,
}

/// A resource as the data APIs show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceRecord {
    /// The store id.
    pub id: i64,
    pub source: String,
    pub provider: Provider,
    pub account: String,
    pub region: String,
    pub service: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The native id (ARN, resource id, IaC address).
    pub native_id: String,
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub first_discovered: Timestamp,
    pub last_updated: Timestamp,
    /// The collected attributes (details only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<serde_json::Value>,
    /// The resource's associations (details only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub associations: Option<serde_json::Value>,
}

/// The columns of a resource in a list, in the order [`read_resource`] reads.
pub const RESOURCE_COLUMNS: &str = "r.id, r.source, r.provider, r.account, r.region, r.service, \
     r.resource_type, r.native_id, r.name, r.tags, r.first_discovered, r.last_updated";

/// [`RESOURCE_COLUMNS`] and the details.
pub const RESOURCE_DETAIL_COLUMNS: &str = "r.id, r.source, r.provider, r.account, r.region, \
     r.service, r.resource_type, r.native_id, r.name, r.tags, r.first_discovered, \
     r.last_updated, r.attributes, r.associations";

fn json_column(what: &str, text: Option<String>) -> Result<Option<serde_json::Value>, StoreError> {
    match text {
        None => Ok(None),
        Some(t) if t.is_empty() => Ok(None),
        Some(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| StoreError::Database(format!("stored {what} are not JSON: {e}"))),
    }
}

/// A resource from [`RESOURCE_COLUMNS`] (or the detail columns when
/// `detail`): `int` and `text` read columns by position.
pub fn read_resource(
    int: impl Fn(usize) -> Result<i64, StoreError>,
    text: impl Fn(usize) -> Result<Option<String>, StoreError>,
    detail: bool,
) -> Result<ResourceRecord, StoreError> {
    let s = |i: usize| -> Result<String, StoreError> { Ok(text(i)?.unwrap_or_default()) };
    let provider = s(2)?;
    let tags = match json_column("tags", text(9)?)? {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| StoreError::Database(format!("stored tags are not a map: {e}")))?,
        None => BTreeMap::new(),
    };
    Ok(ResourceRecord {
        id: int(0)?,
        source: s(1)?,
        provider: Provider::from_str(&provider).map_err(|_| {
            StoreError::Database(format!("stored provider `{provider}` is not valid"))
        })?,
        account: s(3)?,
        region: s(4)?,
        service: s(5)?,
        resource_type: s(6)?,
        native_id: s(7)?,
        name: s(8)?,
        tags,
        first_discovered: timestamp(int(10)?)?,
        last_updated: timestamp(int(11)?)?,
        attributes: if detail {
            json_column("attributes", text(12)?)?
        } else {
            None
        },
        associations: if detail {
            json_column("associations", text(13)?)?
        } else {
            None
        },
    })
}

/// Evaluations counted by control and result (and account when asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationGroup {
    /// The account, when grouped by account.
    pub account: Option<String>,
    pub cid: u32,
    pub result: EvalResult,
    pub count: u64,
}

/// Reads a group from its columns: account (or NULL), cid, result, count.
pub fn read_group(
    account: Option<String>,
    cid: i64,
    result: &str,
    count: i64,
) -> Result<EvaluationGroup, StoreError> {
    Ok(EvaluationGroup {
        account,
        cid: u32::try_from(cid)
            .map_err(|_| StoreError::Database(format!("stored control id {cid} is not valid")))?,
        result: EvalResult::from_str(result)
            .map_err(|_| StoreError::Database(format!("stored result `{result}` is not valid")))?,
        count: crate::search::count(count),
    })
}

/// A control with the results of its evaluations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlCounts {
    #[serde(flatten)]
    pub control: ControlRecord,
    pub pass: u64,
    pub passe: u64,
    pub fail: u64,
    pub skip: u64,
}

/// The Monitor counts of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountCounts {
    pub account: String,
    #[serde(flatten)]
    pub counts: MonitorCounts,
}

/// The Monitor counts of `groups`, with criticality and remediability from
/// `controls`.
pub fn fold_counts<'g>(
    groups: impl IntoIterator<Item = &'g EvaluationGroup>,
    controls: &HashMap<u32, &ControlRecord>,
) -> MonitorCounts {
    let mut counts = MonitorCounts::default();
    let mut cids = std::collections::HashSet::new();
    for g in groups {
        let n = g.count;
        cids.insert(g.cid);
        counts.evaluations += n;
        match g.result {
            EvalResult::Pass | EvalResult::Passe => counts.pass += n,
            EvalResult::Skip => counts.skip += n,
            EvalResult::Fail => {
                counts.fail += n;
                if let Some(c) = controls.get(&g.cid) {
                    match c.criticality {
                        Criticality::High => counts.fail_high += n,
                        Criticality::Medium => counts.fail_medium += n,
                        Criticality::Low => counts.fail_low += n,
                    }
                    if c.remediable {
                        counts.remediable += n;
                    }
                }
            }
        }
    }
    counts.controls_evaluated = cids.len() as u64;
    counts
}

/// The columns of a control, in the order [`read_control`] takes them.
pub const CONTROL_COLUMNS: &str = "CAST(cid AS BIGINT), title, service, resource_type, provider, \
     criticality, execution_type, remediable";

/// The columns of [`CONTROL_COLUMNS`] as read.
pub type ControlColumns = (i64, String, String, String, String, String, String, bool);

fn parse<T: FromStr>(what: &str, text: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Database(format!("stored {what} `{text}` is not valid")))
}

/// A control read in [`CONTROL_COLUMNS`] order.
pub fn read_control(
    (cid, title, service, resource_type, provider, criticality, execution_type, remediable): ControlColumns,
) -> Result<ControlRecord, StoreError> {
    Ok(ControlRecord {
        cid: u32::try_from(cid)
            .map_err(|_| StoreError::Database(format!("stored control id {cid} is not valid")))?,
        title,
        service,
        resource_type,
        provider: parse("provider", &provider)?,
        criticality: parse("criticality", &criticality)?,
        execution_type: parse("execution type", &execution_type)?,
        remediable,
    })
}

/// Policies with their controls, one row per (policy, control), ordered by
/// policy and control; a policy without controls has a NULL cid.
pub const POLICY_ROWS: &str = "SELECT p.name, p.provider, p.description, CAST(pc.cid AS BIGINT) \
     FROM policies p LEFT JOIN policy_controls pc ON pc.policy_name = p.name \
     ORDER BY p.name, pc.cid";

/// The policies of [`POLICY_ROWS`].
pub fn read_policies(
    rows: Vec<(String, String, String, Option<i64>)>,
) -> Result<Vec<PolicyRecord>, StoreError> {
    let mut out: Vec<PolicyRecord> = Vec::new();
    for (name, provider, description, cid) in rows {
        if out.last().is_none_or(|p| p.name != name) {
            out.push(PolicyRecord {
                name,
                provider: parse("provider", &provider)?,
                description,
                cids: Vec::new(),
            });
        }
        if let (Some(cid), Some(p)) = (cid, out.last_mut()) {
            p.cids.push(u32::try_from(cid).map_err(|_| {
                StoreError::Database(format!("stored control id {cid} is not valid"))
            })?);
        }
    }
    Ok(out)
}

/// The ORDER BY list of a page's sort.
fn order_by<S: SortKey>(page: &PageRequest<S>) -> String {
    let direction = if page.descending { " DESC" } else { "" };
    page.sort
        .columns()
        .iter()
        .map(|c| format!("{}{direction}", c.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQL text and its parameters, with placeholders of one dialect.
#[derive(Debug, Clone)]
pub struct SqlBuilder {
    dialect: Dialect,
    pub sql: String,
    pub params: Vec<SqlParam>,
}

impl SqlBuilder {
    /// An empty statement.
    pub fn new(dialect: Dialect) -> SqlBuilder {
        SqlBuilder {
            dialect,
            sql: String::new(),
            params: Vec::new(),
        }
    }

    fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }

    /// Binds `p` and writes its placeholder.
    fn param(&mut self, p: SqlParam) -> &mut Self {
        self.params.push(p);
        let placeholder = match self.dialect {
            Dialect::Sqlite => "?".to_string(),
            Dialect::Postgres => format!("${}", self.params.len()),
        };
        self.push(&placeholder)
    }

    fn query(&mut self, query: &Query) -> &mut Self {
        let fragment = query.to_sql(self.dialect, self.params.len() + 1);
        self.sql.push('(');
        self.sql.push_str(&fragment.sql);
        self.sql.push(')');
        self.params.extend(fragment.params);
        self
    }

    fn sources(&mut self, sources: &Option<Vec<String>>) -> &mut Self {
        match sources {
            None => self,
            Some(list) if list.is_empty() => self.push(" AND 1 = 0"),
            Some(list) => {
                self.push(" AND r.source IN (");
                for (i, s) in list.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.param(SqlParam::Text(s.clone()));
                }
                self.push(")")
            }
        }
    }

    fn dates(&mut self, dates: &DateRange) -> &mut Self {
        let column = dates.field.column();
        if let Some(from) = dates.from {
            self.push(&format!(" AND {column} >= "))
                .param(SqlParam::Int(from));
        }
        if let Some(to) = dates.to {
            self.push(&format!(" AND {column} < "))
                .param(SqlParam::Int(to));
        }
        self
    }

    fn resource(&mut self, resource: Option<i64>) -> &mut Self {
        if let Some(id) = resource {
            self.push(" AND r.id = ").param(SqlParam::Int(id));
        }
        self
    }

    /// The filter over evaluations (aliases `e`, `r`, `c`), without the
    /// condition that the resource is present.
    fn evaluation_condition(&mut self, filter: &DataFilter) -> &mut Self {
        self.query(&filter.query).sources(&filter.sources);
        if let Some(d) = &filter.dates {
            self.dates(d);
        }
        self.resource(filter.resource)
    }

    /// `AND (k1, k2) > (v1, v2) ORDER BY k1, k2 LIMIT n` of a page.
    fn page<S: SortKey>(&mut self, page: &PageRequest<S>) -> &mut Self {
        let columns = page.sort.columns();
        let list = columns.iter().map(|c| c.0).collect::<Vec<_>>().join(", ");
        if let Some(after) = &page.after {
            self.push(&format!(
                " AND ({list}) {} (",
                if page.descending { "<" } else { ">" }
            ));
            for (i, v) in after.iter().enumerate() {
                if i > 0 {
                    self.push(", ");
                }
                self.param(match v {
                    KeyValue::Int(n) => SqlParam::Int(*n),
                    KeyValue::Text(t) => SqlParam::Text(t.clone()),
                });
            }
            self.push(")");
        }
        self.push(&format!(" ORDER BY {} LIMIT ", order_by(page)))
            .param(SqlParam::Int(i64::from(page.limit)))
    }

    /// A page of evaluations: the columns of
    /// [`EVALUATION_COLUMNS`](crate::search::EVALUATION_COLUMNS), then
    /// `r.id`.
    ///
    /// The page's keys are chosen first, reading resources only when the
    /// filter does (the few gone ones are excluded by id otherwise): joining
    /// every candidate to its resource makes SQLite scan the whole resource
    /// table for a join filter before the first row. Only the page's rows
    /// are then read in full.
    pub fn evaluations(
        dialect: Dialect,
        filter: &DataFilter,
        page: &PageRequest<EvaluationSort>,
    ) -> SqlBuilder {
        let mut probe = SqlBuilder::new(dialect);
        probe.evaluation_condition(filter);
        let present = if crate::search::refers_to(&probe.sql, b'r') {
            "JOIN resources r ON r.id = e.resource_id WHERE r.gone_at IS NULL AND "
        } else {
            "WHERE e.resource_id NOT IN (SELECT id FROM resources WHERE gone_at IS NOT NULL) AND "
        };
        let mut b = SqlBuilder::new(dialect);
        b.push(&format!(
            "SELECT {}, r.id FROM (SELECT e.resource_id AS rid, e.cid AS cid \
             FROM evaluations e JOIN controls c ON c.cid = e.cid {present}",
            crate::search::EVALUATION_COLUMNS
        ))
        .evaluation_condition(filter)
        .page(page)
        .push(&format!(
            ") k JOIN evaluations e ON e.resource_id = k.rid AND e.cid = k.cid \
             JOIN resources r ON r.id = k.rid JOIN controls c ON c.cid = k.cid ORDER BY {}",
            order_by(page)
        ));
        b
    }

    /// A page of resources ([`RESOURCE_COLUMNS`]). A condition on
    /// evaluations or controls (or an evaluation date) matches a resource
    /// when one of its evaluations matches.
    pub fn resources(
        dialect: Dialect,
        filter: &DataFilter,
        page: &PageRequest<ResourceSort>,
    ) -> SqlBuilder {
        let mut b = SqlBuilder::new(dialect);
        b.push(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources r WHERE r.gone_at IS NULL"
        ))
        .sources(&filter.sources)
        .resource(filter.resource);
        let query_sql = filter.query.to_sql(dialect, 1).sql;
        let on_evaluations = crate::search::refers_to(&query_sql, b'e')
            || crate::search::refers_to(&query_sql, b'c')
            || filter.dates.is_some_and(|d| !d.field.of_resources());
        if let Some(d) = filter.dates.filter(|d| d.field.of_resources()) {
            b.dates(&d);
        }
        if on_evaluations {
            b.push(
                " AND EXISTS (SELECT 1 FROM evaluations e JOIN controls c ON c.cid = e.cid \
                 WHERE e.resource_id = r.id AND ",
            )
            .query(&filter.query);
            if let Some(d) = filter.dates.filter(|d| !d.field.of_resources()) {
                b.dates(&d);
            }
            b.push(")");
        } else {
            b.push(" AND ").query(&filter.query);
        }
        b.page(page);
        b
    }

    /// One resource with its details ([`RESOURCE_DETAIL_COLUMNS`]), if it is
    /// present and among `sources`.
    pub fn resource_detail(dialect: Dialect, id: i64, sources: &Option<Vec<String>>) -> SqlBuilder {
        let mut b = SqlBuilder::new(dialect);
        b.push(&format!(
            "SELECT {RESOURCE_DETAIL_COLUMNS} FROM resources r WHERE r.gone_at IS NULL"
        ))
        .resource(Some(id))
        .sources(sources);
        b
    }

    /// Evaluations counted by account (when `by_account`), control and
    /// result: rows of account (or NULL), cid, result, count.
    ///
    /// When the filter reads neither the resource nor its account, the
    /// evaluations are counted without joining their resources (a read of
    /// the (result, cid) index alone, in its order) and those of the few
    /// gone resources are subtracted: over a million rows that is several
    /// times faster than joining every evaluation to its resource.
    pub fn groups(dialect: Dialect, filter: &DataFilter, by_account: bool) -> SqlBuilder {
        let mut probe = SqlBuilder::new(dialect);
        probe.evaluation_condition(filter);
        let controls = if crate::search::refers_to(&probe.sql, b'c') {
            "JOIN controls c ON c.cid = e.cid "
        } else {
            ""
        };
        let mut b = SqlBuilder::new(dialect);
        if by_account || crate::search::refers_to(&probe.sql, b'r') {
            let (account, group) = if by_account {
                ("r.account", "r.account, e.result, e.cid")
            } else {
                ("NULL", "e.result, e.cid")
            };
            b.push(&format!(
                "SELECT {account}, CAST(e.cid AS BIGINT), e.result, COUNT(*) \
                 FROM evaluations e JOIN resources r ON r.id = e.resource_id {controls}\
                 WHERE r.gone_at IS NULL AND ("
            ))
            .evaluation_condition(filter)
            .push(&format!(") GROUP BY {group}"));
        } else {
            b.push(&format!(
                "SELECT NULL, t.cid, t.result, CAST(SUM(t.n) AS BIGINT) FROM (\
                 SELECT CAST(e.cid AS BIGINT) AS cid, e.result AS result, COUNT(*) AS n \
                 FROM evaluations e {controls}WHERE ("
            ))
            .evaluation_condition(filter)
            .push(&format!(
                ") GROUP BY e.result, e.cid UNION ALL \
                 SELECT CAST(e.cid AS BIGINT), e.result, -COUNT(*) FROM resources g \
                 JOIN evaluations e ON e.resource_id = g.id {controls}\
                 WHERE g.gone_at IS NOT NULL AND ("
            ))
            .evaluation_condition(filter)
            .push(") GROUP BY e.result, e.cid) t GROUP BY t.result, t.cid HAVING SUM(t.n) > 0");
        }
        b
    }
}

/// The data that the data APIs read.
#[async_trait]
pub trait DataStore: Send + Sync {
    /// A page of the evaluations that `filter` matches, in `page`'s order.
    async fn evaluation_page(
        &self,
        filter: &DataFilter,
        page: &PageRequest<EvaluationSort>,
    ) -> Result<Vec<EvaluationItem>, StoreError>;

    /// A page of the present resources that `filter` matches.
    async fn resource_page(
        &self,
        filter: &DataFilter,
        page: &PageRequest<ResourceSort>,
    ) -> Result<Vec<ResourceRecord>, StoreError>;

    /// The present resource `id` with attributes and associations, if it is
    /// among `sources` (`None`: any source).
    async fn resource_detail(
        &self,
        id: i64,
        sources: &Option<Vec<String>>,
    ) -> Result<Option<ResourceRecord>, StoreError>;

    /// The matching evaluations counted by control and result, and by
    /// account when `by_account`.
    async fn evaluation_groups(
        &self,
        filter: &DataFilter,
        by_account: bool,
    ) -> Result<Vec<EvaluationGroup>, StoreError>;

    /// Every control, by CID.
    async fn controls(&self) -> Result<Vec<ControlRecord>, StoreError>;

    /// Every policy with its controls, by name.
    async fn policies(&self) -> Result<Vec<PolicyRecord>, StoreError>;

    /// The Monitor counts of the matching evaluations.
    async fn monitor_counts(&self, filter: &DataFilter) -> Result<MonitorCounts, StoreError> {
        let groups = self.evaluation_groups(filter, false).await?;
        let controls = self.controls().await?;
        let controls = by_cid(&controls);
        Ok(fold_counts(known(&groups, &controls), &controls))
    }

    /// The Monitor counts of the matching evaluations per account, by account.
    async fn account_counts(&self, filter: &DataFilter) -> Result<Vec<AccountCounts>, StoreError> {
        let groups = self.evaluation_groups(filter, true).await?;
        let controls = self.controls().await?;
        let controls = by_cid(&controls);
        let mut accounts: BTreeMap<String, Vec<EvaluationGroup>> = BTreeMap::new();
        for g in known(&groups, &controls) {
            accounts
                .entry(g.account.clone().unwrap_or_default())
                .or_default()
                .push(g.clone());
        }
        Ok(accounts
            .into_iter()
            .map(|(account, groups)| AccountCounts {
                account,
                counts: fold_counts(&groups, &controls),
            })
            .collect())
    }

    /// Every control with the results of its matching evaluations, by CID.
    async fn control_counts(&self, filter: &DataFilter) -> Result<Vec<ControlCounts>, StoreError> {
        let groups = self.evaluation_groups(filter, false).await?;
        let mut counts: Vec<ControlCounts> = self
            .controls()
            .await?
            .into_iter()
            .map(|control| ControlCounts {
                control,
                pass: 0,
                passe: 0,
                fail: 0,
                skip: 0,
            })
            .collect();
        for g in groups {
            if let Ok(i) = counts.binary_search_by_key(&g.cid, |c| c.control.cid) {
                let c = &mut counts[i];
                *match g.result {
                    EvalResult::Pass => &mut c.pass,
                    EvalResult::Passe => &mut c.passe,
                    EvalResult::Fail => &mut c.fail,
                    EvalResult::Skip => &mut c.skip,
                } += g.count;
            }
        }
        Ok(counts)
    }
}

fn by_cid(controls: &[ControlRecord]) -> HashMap<u32, &ControlRecord> {
    controls.iter().map(|c| (c.cid, c)).collect()
}

/// The groups of controls in the catalogue (evaluations of a control since
/// removed from it are not counted).
fn known<'g>(
    groups: &'g [EvaluationGroup],
    controls: &'g HashMap<u32, &ControlRecord>,
) -> impl Iterator<Item = &'g EvaluationGroup> {
    groups.iter().filter(|g| controls.contains_key(&g.cid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn q(text: &str) -> Query {
        Query::parse(text, Utc::now()).unwrap()
    }

    #[test]
    fn evaluation_pages_continue_after_the_key_in_both_dialects() {
        let mut filter = DataFilter::new(q("control.result:FAIL"));
        filter.sources = Some(vec!["connector:a".into(), "connector:b".into()]);
        filter.dates = Some(DateRange {
            field: DateField::LastEvaluated,
            from: Some(1),
            to: Some(2),
        });
        let page = PageRequest {
            sort: EvaluationSort::Cid,
            descending: true,
            after: Some(vec![KeyValue::Int(41), KeyValue::Int(7)]),
            limit: 10,
        };
        let s = SqlBuilder::evaluations(Dialect::Sqlite, &filter, &page);
        assert!(
            s.sql.contains(
                "JOIN resources r ON r.id = e.resource_id WHERE r.gone_at IS NULL AND \
                 ((e.result = ?)) AND r.source IN (?, ?) \
                 AND e.last_evaluated >= ? AND e.last_evaluated < ? \
                 AND (e.cid, e.resource_id) < (?, ?) \
                 ORDER BY e.cid DESC, e.resource_id DESC LIMIT ?) k"
            ),
            "{}",
            s.sql
        );
        assert!(
            s.sql.ends_with("ORDER BY e.cid DESC, e.resource_id DESC"),
            "{}",
            s.sql
        );
        let mut unrestricted = filter.clone();
        unrestricted.sources = None;
        let u = SqlBuilder::evaluations(Dialect::Sqlite, &unrestricted, &page);
        assert!(u.sql.contains("WHERE e.resource_id NOT IN"), "{}", u.sql);
        assert_eq!(s.params.len(), 8);
        let p = SqlBuilder::evaluations(Dialect::Postgres, &filter, &page);
        assert!(
            p.sql.contains("(e.result = $1)") && p.sql.contains("LIMIT $8) k"),
            "{}",
            p.sql
        );
    }

    #[test]
    fn resource_filters_on_evaluations_become_exists() {
        let page = PageRequest {
            sort: ResourceSort::Name,
            descending: false,
            after: None,
            limit: 5,
        };
        let only =
            SqlBuilder::resources(Dialect::Sqlite, &DataFilter::new(q("region:eu-*")), &page);
        assert!(!only.sql.contains("EXISTS"), "{}", only.sql);
        let mut filter = DataFilter::new(q("control.result:FAIL"));
        filter.sources = Some(Vec::new());
        let evals = SqlBuilder::resources(Dialect::Postgres, &filter, &page);
        assert!(evals.sql.contains("AND 1 = 0 AND EXISTS"), "{}", evals.sql);
        assert!(
            evals.sql.ends_with("ORDER BY r.name, r.id LIMIT $2"),
            "{}",
            evals.sql
        );
    }

    #[test]
    fn keys_fit_only_their_order() {
        let key = vec![
            KeyValue::Text("FAIL".into()),
            KeyValue::Int(1),
            KeyValue::Int(2),
        ];
        assert!(key_fits(EvaluationSort::Result, &key));
        assert!(!key_fits(EvaluationSort::Cid, &key));
        assert!(!key_fits(EvaluationSort::Criticality, &key));
        assert_eq!(
            DateField::parse("first_discovered"),
            Some(DateField::FirstDiscovered)
        );
        assert!(DateField::parse("when").is_none());
    }

    #[test]
    fn counts_fold_by_criticality_and_policies_group_their_controls() {
        let policies = read_policies(vec![
            ("A".into(), "aws".into(), "".into(), Some(1)),
            ("A".into(), "aws".into(), "".into(), Some(2)),
            ("B".into(), "aws".into(), "".into(), None),
        ])
        .unwrap();
        assert_eq!(policies.len(), 2);
        assert_eq!(policies[0].cids, vec![1, 2]);
        assert!(policies[1].cids.is_empty());
    }
}
