//! What the Qualys connector ingested (issue 6): hosts, VM detections,
//! knowledge base, Policy Compliance, web applications, container images,
//! per connector, with the connector's account name on every row.
//!
//! Ingest is an upsert: a record seen again replaces its previous values
//! but keeps what only Vigil knows (when Vigil first saw it), so a
//! detection's lifecycle (New → Active → Fixed → Re-Opened, first and last
//! found, times found) is kept across runs even when a run only reads what
//! changed in the last days (the age filters).

use crate::StoreError;
use async_trait::async_trait;
use serde::Serialize;
use std::collections::BTreeMap;
use vigil_model::qualys::QualysBatch;
use vigil_model::Timestamp;

/// A vulnerability of an EC2 instance: a detection of the Qualys host that
/// is the instance, with its knowledge-base entry (seed 001 "Vulnerability
/// Details for Instances").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceVulnerability {
    pub connector_id: String,
    pub account_name: String,
    pub host_id: i64,
    pub qid: i64,
    /// From the knowledge base when known.
    pub title: Option<String>,
    pub category: Option<String>,
    pub cves: Vec<String>,
    pub cvss_base: Option<f64>,
    pub cvss3_base: Option<f64>,
    pub solution: Option<String>,
    pub patchable: Option<bool>,
    pub severity: u8,
    /// `typeDetected`: Confirmed, Potential, Info.
    #[serde(rename = "typeDetected")]
    pub type_detected: String,
    pub status: String,
    pub port: Option<u32>,
    pub protocol: Option<String>,
    pub ssl: bool,
    pub first_found: Option<Timestamp>,
    pub last_found: Option<Timestamp>,
    pub times_found: Option<i64>,
    pub results: Option<String>,
}

/// Qualys data in the store.
#[async_trait]
pub trait QualysStore {
    /// Upserts one batch of a connector's records in one transaction;
    /// returns the records written.
    async fn qualys_ingest(
        &self,
        connector_id: &str,
        account_name: &str,
        batch: &QualysBatch,
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Records per kind (`hosts`, `detections`, … as
    /// [`QualysBatch::kind`] names them) of a connector.
    async fn qualys_summary(&self, connector_id: &str)
        -> Result<BTreeMap<String, u64>, StoreError>;

    /// The vulnerabilities of an EC2 instance (by instance id) from the
    /// given Qualys connectors (`None`: all), most severe first.
    async fn instance_vulnerabilities(
        &self,
        instance_id: &str,
        connectors: &Option<Vec<String>>,
    ) -> Result<Vec<InstanceVulnerability>, StoreError>;

    /// Removes every record of a connector (the connector was deleted).
    async fn qualys_forget(&self, connector_id: &str) -> Result<(), StoreError>;
}

// ---------------------------------------------------------------------------
// What both backends share: the tables, the upsert SQL (with `?`
// placeholders; PostgreSQL numbers them), the rows to bind, and the readers.

use std::borrow::Cow;
use std::collections::HashMap;
use vigil_model::qualys::{
    PostureStatus, QualysContainerImage, QualysDetection, QualysHost, QualysImageVuln,
    QualysKbEntry, QualysPcControl, QualysPcPolicy, QualysPcPosture, QualysWasFinding,
    QualysWebApp,
};

/// One value to bind, in a dialect-free form.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<Cow<'a, str>>),
    Bool(bool),
}

impl Value<'_> {
    /// The value without borrowed text.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Int(i) => Value::Int(i),
            Value::Real(r) => Value::Real(r),
            Value::Bool(b) => Value::Bool(b),
            Value::Text(t) => Value::Text(t.map(|t| Cow::Owned(t.into_owned()))),
        }
    }
}

fn text(s: &str) -> Value<'_> {
    Value::Text(Some(Cow::Borrowed(s)))
}

fn opt_text(s: &Option<String>) -> Value<'_> {
    Value::Text(s.as_deref().filter(|s| !s.is_empty()).map(Cow::Borrowed))
}

fn int(i: impl Into<i64>) -> Value<'static> {
    Value::Int(Some(i.into()))
}

fn opt_int<T: Copy + Into<i64>>(i: Option<T>) -> Value<'static> {
    Value::Int(i.map(Into::into))
}

fn time(t: Option<Timestamp>) -> Value<'static> {
    Value::Int(t.map(|t| t.timestamp_millis()))
}

fn json_list<T: Serialize>(items: &[T]) -> Value<'static> {
    // A list of strings or numbers always serializes.
    Value::Text(Some(Cow::Owned(
        serde_json::to_string(items).unwrap_or_else(|_| "[]".into()),
    )))
}

/// The port of a detection without one: the key needs a non-null value.
pub const NO_PORT: i64 = -1;

/// A table of Qualys records: every row has `connector_id`,
/// `account_name`, `first_seen` and `last_seen` (Vigil's times), then the
/// record's columns, whose first `key` columns (with the connector) are
/// its identity.
#[derive(Debug)]
pub struct Table {
    /// The kind as [`QualysBatch::kind`] names it.
    pub kind: &'static str,
    pub name: &'static str,
    /// The record's columns, key columns first, with their SQL types.
    pub columns: &'static [(&'static str, ColumnType)],
    /// How many of `columns` (after the connector) are the key.
    pub key: usize,
    /// The column that falls back to the instance id of the host (the
    /// record's first column) when the record has none.
    pub instance_from_host: Option<usize>,
    /// The SET list of the conflict clause for the record columns
    /// (`None`: each takes the new value).
    pub merge: Option<&'static str>,
}

/// The type of a record column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Int,
    Real,
    Text,
    Bool,
}

impl ColumnType {
    /// The PostgreSQL array type of a column of this type.
    pub fn pg_array(self) -> &'static str {
        match self {
            ColumnType::Int => "bigint[]",
            ColumnType::Real => "float8[]",
            ColumnType::Text => "text[]",
            ColumnType::Bool => "boolean[]",
        }
    }
}

impl Table {
    /// Values bound per row (the connector, account and time are bound
    /// once per statement).
    pub fn binds_per_row(&self) -> usize {
        self.columns.len()
    }

    /// Rows per SQLite statement: at most 1000 and within `max_binds`
    /// (SQLite's 32766) with the statement's own five.
    pub fn chunk(&self, max_binds: usize) -> usize {
        ((max_binds - 5) / self.binds_per_row()).clamp(1, 1000)
    }

    fn value_sql(&self, i: usize, v: &str, host: &str, connector: &str) -> String {
        if self.instance_from_host == Some(i) {
            format!(
                "COALESCE({v}, (SELECT h.instance_id FROM qualys_hosts h \
                 WHERE h.connector_id = {connector} AND h.host_id = {host}))"
            )
        } else {
            v.to_string()
        }
    }

    fn head(&self) -> String {
        let cols: Vec<&str> = self.columns.iter().map(|c| c.0).collect();
        format!(
            "INSERT INTO {} (connector_id, account_name, first_seen, last_seen, {}) ",
            self.name,
            cols.join(", ")
        )
    }

    fn conflict(&self) -> String {
        let key: Vec<&str> = self.columns[..self.key].iter().map(|c| c.0).collect();
        let set = match self.merge {
            Some(m) => m.to_string(),
            None => self.columns[self.key..]
                .iter()
                .map(|(c, _)| format!("{c} = excluded.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        format!(
            " ON CONFLICT (connector_id, {}) DO UPDATE SET \
             account_name = excluded.account_name, last_seen = excluded.last_seen, {set}",
            key.join(", ")
        )
    }

    /// The SQLite upsert of `n` rows. Bound in order: the connector, the
    /// account, the time twice, the connector again when a column falls
    /// back to the host's instance id, then each row's values.
    pub fn upsert_sql(&self, n: usize) -> String {
        let width = self.columns.len();
        let values: Vec<String> = (0..width)
            .map(|i| self.value_sql(i, &format!("column{}", i + 1), "column1", "?"))
            .collect();
        let row = format!("({})", vec!["?"; width].join(", "));
        let mut sql = format!(
            "{}SELECT ?, ?, ?, ?, {} FROM (VALUES ",
            self.head(),
            values.join(", ")
        );
        sql.reserve((row.len() + 1) * n + 512);
        for r in 0..n {
            if r > 0 {
                sql.push(',');
            }
            sql.push_str(&row);
        }
        // `WHERE true` tells SQLite's parser that ON CONFLICT is the upsert.
        sql.push_str(") WHERE true");
        sql.push_str(&self.conflict());
        sql
    }

    /// The PostgreSQL upsert of whole columns: `$1` the connector, `$2`
    /// the account, `$3` the time, then one array per column.
    pub fn unnest_sql(&self) -> String {
        let width = self.columns.len();
        let arrays: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, t))| format!("${}::{}", 4 + i, t.pg_array()))
            .collect();
        let names: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
        let values: Vec<String> = (0..width)
            .map(|i| self.value_sql(i, &format!("u.c{i}"), "u.c0", "$1"))
            .collect();
        format!(
            "{}SELECT $1, $2, $3, $3, {} FROM UNNEST({}) AS u({}){}",
            self.head(),
            values.join(", "),
            arrays.join(", "),
            names.join(", "),
            self.conflict()
        )
    }
}

/// Hosts: a null never erases a stored value (the host list and the QPS
/// host asset each leave some fields empty); tags and cloud are replaced
/// only when given.
pub const HOSTS: Table = Table {
    kind: "hosts",
    name: "qualys_hosts",
    columns: &[("host_id", ColumnType::Int), ("asset_id", ColumnType::Int), ("ip", ColumnType::Text), ("ipv6", ColumnType::Text), ("dns", ColumnType::Text), ("fqdn", ColumnType::Text), ("netbios", ColumnType::Text), ("os", ColumnType::Text), ("mac", ColumnType::Text), ("gateway", ColumnType::Text), ("tracking_method", ColumnType::Text), ("tags", ColumnType::Text), ("cloud_provider", ColumnType::Text), ("instance_id", ColumnType::Text), ("cloud_account", ColumnType::Text), ("cloud_region", ColumnType::Text), ("criticality", ColumnType::Int), ("ars", ColumnType::Int), ("ars_factors", ColumnType::Text), ("last_vuln_scan", ColumnType::Int), ("last_compliance_scan", ColumnType::Int), ("last_activity", ColumnType::Int), ("modified", ColumnType::Int)],
    key: 1,
    instance_from_host: None,
    merge: Some(
        "asset_id = COALESCE(excluded.asset_id, qualys_hosts.asset_id), \
         ip = COALESCE(excluded.ip, qualys_hosts.ip), \
         ipv6 = COALESCE(excluded.ipv6, qualys_hosts.ipv6), \
         dns = COALESCE(excluded.dns, qualys_hosts.dns), \
         fqdn = COALESCE(excluded.fqdn, qualys_hosts.fqdn), \
         netbios = COALESCE(excluded.netbios, qualys_hosts.netbios), \
         os = COALESCE(excluded.os, qualys_hosts.os), \
         mac = COALESCE(excluded.mac, qualys_hosts.mac), \
         gateway = COALESCE(excluded.gateway, qualys_hosts.gateway), \
         tracking_method = COALESCE(excluded.tracking_method, qualys_hosts.tracking_method), \
         tags = CASE WHEN excluded.tags = '[]' THEN qualys_hosts.tags ELSE excluded.tags END, \
         cloud_provider = CASE WHEN excluded.instance_id IS NULL THEN qualys_hosts.cloud_provider ELSE excluded.cloud_provider END, \
         cloud_account = CASE WHEN excluded.instance_id IS NULL THEN qualys_hosts.cloud_account ELSE excluded.cloud_account END, \
         cloud_region = CASE WHEN excluded.instance_id IS NULL THEN qualys_hosts.cloud_region ELSE excluded.cloud_region END, \
         instance_id = COALESCE(excluded.instance_id, qualys_hosts.instance_id), \
         criticality = COALESCE(excluded.criticality, qualys_hosts.criticality), \
         ars = COALESCE(excluded.ars, qualys_hosts.ars), \
         ars_factors = COALESCE(excluded.ars_factors, qualys_hosts.ars_factors), \
         last_vuln_scan = COALESCE(excluded.last_vuln_scan, qualys_hosts.last_vuln_scan), \
         last_compliance_scan = COALESCE(excluded.last_compliance_scan, qualys_hosts.last_compliance_scan), \
         last_activity = COALESCE(excluded.last_activity, qualys_hosts.last_activity), \
         modified = COALESCE(excluded.modified, qualys_hosts.modified)",
    ),
};

/// Detections: Qualys' values replace the stored ones (status, last found,
/// times found: the lifecycle), Vigil's `first_seen` stays; a detection
/// without an instance id takes its host's.
pub const DETECTIONS: Table = Table {
    kind: "detections",
    name: "qualys_detections",
    columns: &[
        ("host_id", ColumnType::Int),
        ("qid", ColumnType::Int),
        ("port", ColumnType::Int),
        ("protocol", ColumnType::Text),
        ("ssl", ColumnType::Bool),
        ("instance_id", ColumnType::Text),
        ("type_detected", ColumnType::Text),
        ("severity", ColumnType::Int),
        ("status", ColumnType::Text),
        ("first_found", ColumnType::Int),
        ("last_found", ColumnType::Int),
        ("times_found", ColumnType::Int),
        ("last_fixed", ColumnType::Int),
        ("results", ColumnType::Text),
    ],
    key: 5,
    instance_from_host: Some(5),
    merge: Some(
        "instance_id = COALESCE(excluded.instance_id, qualys_detections.instance_id), \
         type_detected = excluded.type_detected, severity = excluded.severity, \
         status = excluded.status, \
         first_found = COALESCE(excluded.first_found, qualys_detections.first_found), \
         last_found = excluded.last_found, times_found = excluded.times_found, \
         last_fixed = COALESCE(excluded.last_fixed, qualys_detections.last_fixed), \
         results = excluded.results",
    ),
};

pub const KB: Table = Table {
    kind: "kb",
    name: "qualys_kb",
    columns: &[
        ("qid", ColumnType::Int),
        ("vuln_type", ColumnType::Text),
        ("severity", ColumnType::Int),
        ("title", ColumnType::Text),
        ("category", ColumnType::Text),
        ("cves", ColumnType::Text),
        ("cvss_base", ColumnType::Real),
        ("cvss3_base", ColumnType::Real),
        ("diagnosis", ColumnType::Text),
        ("consequence", ColumnType::Text),
        ("solution", ColumnType::Text),
        ("patchable", ColumnType::Bool),
        ("published", ColumnType::Int),
        ("modified", ColumnType::Int),
    ],
    key: 1,
    instance_from_host: None,
    merge: None,
};

/// The CVEs of knowledge-base entries, one row each (what
/// `vulnerability.cve` searches).
pub const KB_CVES: Table = Table {
    kind: "kb_cves",
    name: "qualys_kb_cves",
    columns: &[("qid", ColumnType::Int), ("cve", ColumnType::Text)],
    key: 2,
    instance_from_host: None,
    merge: Some("cve = excluded.cve"),
};

pub const PC_POLICIES: Table = Table {
    kind: "pc_policies",
    name: "qualys_pc_policies",
    columns: &[
        ("policy_id", ColumnType::Int),
        ("title", ColumnType::Text),
        ("created", ColumnType::Int),
        ("updated", ColumnType::Int),
        ("control_ids", ColumnType::Text),
    ],
    key: 1,
    instance_from_host: None,
    merge: None,
};

pub const PC_CONTROLS: Table = Table {
    kind: "pc_controls",
    name: "qualys_pc_controls",
    columns: &[
        ("control_id", ColumnType::Int),
        ("statement", ColumnType::Text),
        ("category", ColumnType::Text),
        ("sub_category", ColumnType::Text),
        ("criticality_label", ColumnType::Text),
        ("criticality_value", ColumnType::Int),
        ("check_type", ColumnType::Text),
        ("frameworks", ColumnType::Text),
        ("technologies", ColumnType::Text),
        ("created", ColumnType::Int),
        ("updated", ColumnType::Int),
    ],
    key: 1,
    instance_from_host: None,
    merge: None,
};

pub const PC_POSTURES: Table = Table {
    kind: "pc_postures",
    name: "qualys_pc_postures",
    columns: &[
        ("policy_id", ColumnType::Int),
        ("host_id", ColumnType::Int),
        ("control_id", ColumnType::Int),
        ("instance", ColumnType::Text),
        ("posture_id", ColumnType::Int),
        ("status", ColumnType::Text),
        ("technology_id", ColumnType::Int),
        ("criticality_value", ColumnType::Int),
        ("evidence", ColumnType::Text),
        ("cause_of_failure", ColumnType::Text),
        ("extended_evidence", ColumnType::Text),
        ("first_found", ColumnType::Int),
        ("last_evaluated", ColumnType::Int),
        ("posture_modified", ColumnType::Int),
        ("last_status", ColumnType::Text),
        ("fail_first_found", ColumnType::Int),
        ("fail_last_found", ColumnType::Int),
        ("passed_first_found", ColumnType::Int),
        ("passed_last_found", ColumnType::Int),
    ],
    key: 4,
    instance_from_host: None,
    merge: Some(POSTURE_MERGE),
};

/// A posture seen again takes Qualys' new values and keeps its history
/// (seed 000's `lastPosture`, `failDateFirstFound`, `failDateLastFound`,
/// `passedDateFirstFound`, `passedDateLastFound`):
/// - `last_status` becomes the stored status when the status changes or
///   the posture was evaluated again (a newer `last_evaluated`): it is the
///   status of the evaluation before the current one. Reading the same
///   evaluation again changes nothing.
/// - a Failed posture keeps the first date it was found failing and moves
///   the last one to its evaluation; Passed likewise (the row's values are
///   set only for its own status, see `posture_row`).
const POSTURE_MERGE: &str = "posture_id = excluded.posture_id, status = excluded.status, \
     technology_id = excluded.technology_id, criticality_value = excluded.criticality_value, \
     evidence = excluded.evidence, cause_of_failure = excluded.cause_of_failure, \
     extended_evidence = excluded.extended_evidence, first_found = excluded.first_found, \
     last_evaluated = excluded.last_evaluated, posture_modified = excluded.posture_modified, \
     last_status = CASE WHEN qualys_pc_postures.status IS DISTINCT FROM excluded.status \
     OR excluded.last_evaluated > qualys_pc_postures.last_evaluated \
     THEN qualys_pc_postures.status ELSE qualys_pc_postures.last_status END, \
     fail_first_found = COALESCE(qualys_pc_postures.fail_first_found, excluded.fail_first_found), \
     fail_last_found = COALESCE(excluded.fail_last_found, qualys_pc_postures.fail_last_found), \
     passed_first_found = COALESCE(qualys_pc_postures.passed_first_found, excluded.passed_first_found), \
     passed_last_found = COALESCE(excluded.passed_last_found, qualys_pc_postures.passed_last_found)";

pub const WEBAPPS: Table = Table {
    kind: "webapps",
    name: "qualys_webapps",
    columns: &[
        ("webapp_id", ColumnType::Int),
        ("name", ColumnType::Text),
        ("url", ColumnType::Text),
        ("tags", ColumnType::Text),
        ("created", ColumnType::Int),
        ("updated", ColumnType::Int),
        ("last_scan", ColumnType::Int),
    ],
    key: 1,
    instance_from_host: None,
    merge: None,
};

pub const WAS_FINDINGS: Table = Table {
    kind: "was_findings",
    name: "qualys_was_findings",
    columns: &[
        ("finding_id", ColumnType::Int),
        ("webapp_id", ColumnType::Int),
        ("qid", ColumnType::Int),
        ("name", ColumnType::Text),
        ("finding_type", ColumnType::Text),
        ("severity", ColumnType::Int),
        ("status", ColumnType::Text),
        ("url", ColumnType::Text),
        ("first_detected", ColumnType::Int),
        ("last_detected", ColumnType::Int),
        ("times_detected", ColumnType::Int),
    ],
    key: 1,
    instance_from_host: None,
    merge: None,
};

pub const IMAGES: Table = Table {
    kind: "images",
    name: "qualys_images",
    columns: &[
        ("image_id", ColumnType::Text),
        ("sha", ColumnType::Text),
        ("repo_tags", ColumnType::Text),
        ("os", ColumnType::Text),
        ("created", ColumnType::Int),
        ("updated", ColumnType::Int),
        ("containers", ColumnType::Int),
    ],
    key: 1,
    instance_from_host: None,
    merge: None,
};

pub const IMAGE_VULNS: Table = Table {
    kind: "image_vulns",
    name: "qualys_image_vulns",
    columns: &[
        ("image_id", ColumnType::Text),
        ("qid", ColumnType::Int),
        ("severity", ColumnType::Int),
        ("title", ColumnType::Text),
        ("cves", ColumnType::Text),
        ("first_found", ColumnType::Int),
        ("last_found", ColumnType::Int),
    ],
    key: 2,
    instance_from_host: None,
    merge: None,
};

/// Every table of records, in [`QualysBatch::kind`] order (the CVE side
/// table is not a kind of its own).
pub const TABLES: [&Table; 10] = [
    &HOSTS,
    &DETECTIONS,
    &KB,
    &PC_POLICIES,
    &PC_CONTROLS,
    &PC_POSTURES,
    &WEBAPPS,
    &WAS_FINDINGS,
    &IMAGES,
    &IMAGE_VULNS,
];

/// A batch turned into rows: the table, each row's record values (the
/// connector, account and times are bound by the backend), and what goes
/// with it.
#[derive(Debug)]
pub struct Upsert<'a> {
    pub table: &'static Table,
    pub rows: Vec<Vec<Value<'a>>>,
    /// Hosts given with an instance id: their detections stored without
    /// one take it.
    pub instance_hosts: Vec<i64>,
    /// Knowledge base: the QIDs whose CVE rows are replaced by `cves`.
    pub kb_qids: Vec<i64>,
    pub cves: Vec<Vec<Value<'a>>>,
}

/// A key column's value, for finding a record twice in one batch (one
/// statement may not update a row twice on PostgreSQL).
#[derive(Debug, PartialEq, Eq, Hash)]
enum KeyPart<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    Bool(bool),
    Other,
}

fn key_of<'v>(row: &'v [Value<'_>], n: usize) -> Vec<KeyPart<'v>> {
    row[..n]
        .iter()
        .map(|v| match v {
            Value::Int(i) => KeyPart::Int(*i),
            Value::Text(t) => KeyPart::Text(t.as_deref()),
            Value::Bool(b) => KeyPart::Bool(*b),
            Value::Real(_) => KeyPart::Other,
        })
        .collect()
}

/// Keeps the last row of each key.
fn last_per_key(rows: Vec<Vec<Value<'_>>>, key: usize) -> Vec<Vec<Value<'_>>> {
    let mut last: HashMap<Vec<KeyPart<'_>>, usize> = HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        last.insert(key_of(row, key), i);
    }
    if last.len() == rows.len() {
        return rows;
    }
    let mut keep = vec![false; rows.len()];
    for i in last.into_values() {
        keep[i] = true;
    }
    rows.into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect()
}

/// `b` merged into `a` as the store merges a host seen again: a null never
/// erases, tags and cloud only when given.
pub fn merge_host(a: &QualysHost, b: &QualysHost) -> QualysHost {
    fn pick<T: Clone>(new: &Option<T>, old: &Option<T>) -> Option<T> {
        new.clone().or_else(|| old.clone())
    }
    QualysHost {
        id: b.id,
        asset_id: b.asset_id.or(a.asset_id),
        ip: pick(&b.ip, &a.ip),
        ipv6: pick(&b.ipv6, &a.ipv6),
        dns: pick(&b.dns, &a.dns),
        fqdn: pick(&b.fqdn, &a.fqdn),
        netbios: pick(&b.netbios, &a.netbios),
        os: pick(&b.os, &a.os),
        mac: pick(&b.mac, &a.mac),
        gateway: pick(&b.gateway, &a.gateway),
        tracking_method: pick(&b.tracking_method, &a.tracking_method),
        tags: if b.tags.is_empty() {
            a.tags.clone()
        } else {
            b.tags.clone()
        },
        cloud: match &b.cloud {
            Some(c) if !c.instance_id.is_empty() => Some(c.clone()),
            _ => a.cloud.clone(),
        },
        criticality: b.criticality.or(a.criticality),
        ars: b.ars.or(a.ars),
        ars_factors: pick(&b.ars_factors, &a.ars_factors),
        last_vuln_scan: b.last_vuln_scan.or(a.last_vuln_scan),
        last_compliance_scan: b.last_compliance_scan.or(a.last_compliance_scan),
        last_activity: b.last_activity.or(a.last_activity),
        modified: b.modified.or(a.modified),
    }
}

fn host_row(h: &QualysHost) -> Vec<Value<'_>> {
    let cloud = h.cloud.as_ref().filter(|c| !c.instance_id.is_empty());
    vec![
        int(h.id),
        opt_int(h.asset_id),
        opt_text(&h.ip),
        opt_text(&h.ipv6),
        opt_text(&h.dns),
        opt_text(&h.fqdn),
        opt_text(&h.netbios),
        opt_text(&h.os),
        opt_text(&h.mac),
        opt_text(&h.gateway),
        opt_text(&h.tracking_method),
        json_list(&h.tags),
        Value::Text(cloud.map(|c| Cow::Borrowed(c.provider.as_str()))),
        Value::Text(cloud.map(|c| Cow::Borrowed(c.instance_id.as_str()))),
        Value::Text(cloud.and_then(|c| c.account_id.as_deref().map(Cow::Borrowed))),
        Value::Text(cloud.and_then(|c| c.region.as_deref().map(Cow::Borrowed))),
        opt_int(h.criticality),
        opt_int(h.ars),
        opt_text(&h.ars_factors),
        time(h.last_vuln_scan),
        time(h.last_compliance_scan),
        time(h.last_activity),
        time(h.modified),
    ]
}

fn detection_row(d: &QualysDetection) -> Vec<Value<'_>> {
    vec![
        int(d.host_id),
        int(d.qid),
        Value::Int(Some(d.port.map_or(NO_PORT, i64::from))),
        text(d.protocol.as_deref().unwrap_or("")),
        Value::Bool(d.ssl),
        opt_text(&d.instance_id),
        text(d.kind.as_str()),
        int(d.severity),
        text(d.status.as_str()),
        time(d.first_found),
        time(d.last_found),
        opt_int(d.times_found),
        time(d.last_fixed),
        opt_text(&d.results),
    ]
}

fn kb_row(k: &QualysKbEntry) -> Vec<Value<'_>> {
    vec![
        int(k.qid),
        opt_text(&k.vuln_type),
        opt_int(k.severity),
        text(&k.title),
        opt_text(&k.category),
        json_list(&k.cves),
        Value::Real(k.cvss_base),
        Value::Real(k.cvss3_base),
        opt_text(&k.diagnosis),
        opt_text(&k.consequence),
        opt_text(&k.solution),
        Value::Bool(k.patchable),
        time(k.published),
        time(k.modified),
    ]
}

fn policy_row(p: &QualysPcPolicy) -> Vec<Value<'_>> {
    vec![
        int(p.id),
        text(&p.title),
        time(p.created),
        time(p.updated),
        json_list(&p.control_ids),
    ]
}

fn control_row(c: &QualysPcControl) -> Vec<Value<'_>> {
    vec![
        int(c.id),
        text(&c.statement),
        opt_text(&c.category),
        opt_text(&c.sub_category),
        opt_text(&c.criticality_label),
        opt_int(c.criticality_value),
        opt_text(&c.check_type),
        json_list(&c.frameworks),
        json_list(&c.technologies),
        time(c.created),
        time(c.updated),
    ]
}

/// A posture's row. Its history columns as a first sight sets them: no
/// last status; for a Failed (Passed) posture, the fail (passed) dates: first
/// found when its posture last changed (else its evaluation, else `now`),
/// last found at its evaluation (else `now`). The merge keeps the first
/// dates already stored.
fn posture_row(p: &QualysPcPosture, now: Timestamp) -> Vec<Value<'_>> {
    let first = p.posture_modified.or(p.last_evaluated).unwrap_or(now);
    let last = p.last_evaluated.unwrap_or(now);
    let when =
        |status: PostureStatus, at: Timestamp| time((p.status == Some(status)).then_some(at));
    vec![
        int(p.policy_id),
        int(p.host_id),
        int(p.control_id),
        text(&p.instance),
        int(p.id),
        Value::Text(p.status.map(|s| Cow::Borrowed(s.as_str()))),
        opt_int(p.technology_id),
        opt_int(p.criticality_value),
        opt_text(&p.evidence),
        opt_text(&p.cause_of_failure),
        opt_text(&p.extended_evidence),
        time(p.first_found),
        time(p.last_evaluated),
        time(p.posture_modified),
        Value::Text(None),
        when(PostureStatus::Failed, first),
        when(PostureStatus::Failed, last),
        when(PostureStatus::Passed, first),
        when(PostureStatus::Passed, last),
    ]
}

fn webapp_row(w: &QualysWebApp) -> Vec<Value<'_>> {
    vec![
        int(w.id),
        text(&w.name),
        text(&w.url),
        json_list(&w.tags),
        time(w.created),
        time(w.updated),
        time(w.last_scan),
    ]
}

fn finding_row(f: &QualysWasFinding) -> Vec<Value<'_>> {
    vec![
        int(f.id),
        int(f.webapp_id),
        int(f.qid),
        text(&f.name),
        opt_text(&f.finding_type),
        opt_int(f.severity),
        opt_text(&f.status),
        opt_text(&f.url),
        time(f.first_detected),
        time(f.last_detected),
        opt_int(f.times_detected),
    ]
}

fn image_row(i: &QualysContainerImage) -> Vec<Value<'_>> {
    vec![
        text(&i.image_id),
        opt_text(&i.sha),
        json_list(&i.repo_tags),
        opt_text(&i.os),
        time(i.created),
        time(i.updated),
        int(i.containers),
    ]
}

fn image_vuln_row(v: &QualysImageVuln) -> Vec<Value<'_>> {
    vec![
        text(&v.image_id),
        int(v.qid),
        opt_int(v.severity),
        opt_text(&v.title),
        json_list(&v.cves),
        time(v.first_found),
        time(v.last_found),
    ]
}

fn invalid(kind: &str, what: String) -> StoreError {
    StoreError::Invalid(format!(
        "a Qualys {kind} record cannot be stored: {what}; this is a bug of the connector, report it"
    ))
}

/// The rows of `batch`, stored at `now`: checked, one per
/// identity (hosts seen twice are merged, other records keep the last).
pub fn plan<'a>(batch: &'a QualysBatch, now: Timestamp) -> Result<Upsert<'a>, StoreError> {
    let simple = |table: &'static Table, rows: Vec<Vec<Value<'a>>>| Upsert {
        table,
        rows: last_per_key(rows, table.key),
        instance_hosts: Vec::new(),
        kb_qids: Vec::new(),
        cves: Vec::new(),
    };
    Ok(match batch {
        QualysBatch::Hosts(hosts) => {
            let mut seen: HashMap<i64, usize> = HashMap::with_capacity(hosts.len());
            let mut merged: Vec<Cow<'a, QualysHost>> = Vec::with_capacity(hosts.len());
            for h in hosts {
                match seen.get(&h.id) {
                    Some(&i) => merged[i] = Cow::Owned(merge_host(&merged[i], h)),
                    None => {
                        seen.insert(h.id, merged.len());
                        merged.push(Cow::Borrowed(h));
                    }
                }
            }
            let instance_hosts = merged
                .iter()
                .filter(|h| h.cloud.as_ref().is_some_and(|c| !c.instance_id.is_empty()))
                .map(|h| h.id)
                .collect();
            let rows = merged
                .iter()
                .map(|h| match h {
                    Cow::Borrowed(h) => host_row(h),
                    Cow::Owned(h) => host_row(h).into_iter().map(Value::into_owned).collect(),
                })
                .collect();
            Upsert {
                table: &HOSTS,
                rows,
                instance_hosts,
                kb_qids: Vec::new(),
                cves: Vec::new(),
            }
        }
        QualysBatch::Detections(ds) => {
            for d in ds {
                if !(1..=5).contains(&d.severity) {
                    return Err(invalid(
                        "detection",
                        format!(
                            "host {} QID {} has severity {}, not 1 to 5",
                            d.host_id, d.qid, d.severity
                        ),
                    ));
                }
            }
            simple(&DETECTIONS, ds.iter().map(detection_row).collect())
        }
        QualysBatch::Kb(entries) => {
            let mut u = simple(&KB, entries.iter().map(kb_row).collect());
            u.kb_qids = entries.iter().map(|k| k.qid).collect();
            u.kb_qids.sort_unstable();
            u.kb_qids.dedup();
            let mut cves: Vec<Vec<Value<'a>>> = Vec::new();
            let mut last: HashMap<i64, &QualysKbEntry> = HashMap::new();
            for k in entries {
                last.insert(k.qid, k);
            }
            for qid in &u.kb_qids {
                if let Some(k) = last.get(qid) {
                    for cve in &k.cves {
                        if !cve.is_empty() {
                            cves.push(vec![int(*qid), text(cve)]);
                        }
                    }
                }
            }
            u.cves = last_per_key(cves, 2);
            u
        }
        QualysBatch::PcPolicies(v) => simple(&PC_POLICIES, v.iter().map(policy_row).collect()),
        QualysBatch::PcControls(v) => simple(&PC_CONTROLS, v.iter().map(control_row).collect()),
        QualysBatch::PcPostures(v) => simple(
            &PC_POSTURES,
            v.iter().map(|p| posture_row(p, now)).collect(),
        ),
        QualysBatch::WebApps(v) => simple(&WEBAPPS, v.iter().map(webapp_row).collect()),
        QualysBatch::WasFindings(v) => simple(&WAS_FINDINGS, v.iter().map(finding_row).collect()),
        QualysBatch::Images(v) => simple(&IMAGES, v.iter().map(image_row).collect()),
        QualysBatch::ImageVulns(v) => simple(&IMAGE_VULNS, v.iter().map(image_vuln_row).collect()),
    })
}

/// Gives detections stored without an instance id that of their host, for
/// the hosts `?, ?, …` (bound after the connector id).
pub fn backfill_instance_sql(hosts: usize) -> String {
    format!(
        "UPDATE qualys_detections SET instance_id = (SELECT h.instance_id FROM qualys_hosts h \
         WHERE h.connector_id = qualys_detections.connector_id \
         AND h.host_id = qualys_detections.host_id) \
         WHERE connector_id = ? AND instance_id IS NULL AND host_id IN ({})",
        placeholders(hosts)
    )
}

/// Removes the CVE rows of the QIDs `?, ?, …` (bound after the connector id).
pub fn delete_cves_sql(qids: usize) -> String {
    format!(
        "DELETE FROM qualys_kb_cves WHERE connector_id = ? AND qid IN ({})",
        placeholders(qids)
    )
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Records per kind of a connector: rows of (kind, count); binds the
/// connector id once per table.
pub fn summary_sql() -> String {
    TABLES
        .iter()
        .map(|t| {
            format!(
                "SELECT '{}', COUNT(*) FROM {} WHERE connector_id = ?",
                t.kind, t.name
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The statements that forget a connector (each binds its id).
pub fn forget_sql() -> Vec<String> {
    TABLES
        .iter()
        .map(|t| t.name)
        .chain(["qualys_kb_cves"])
        .map(|t| format!("DELETE FROM {t} WHERE connector_id = ?"))
        .collect()
}

/// The vulnerabilities of the instance bound first, from the connectors
/// `?, ?, …` bound after it (`None`: every connector): the columns that
/// [`read_vulnerability`] reads, most severe first, then by QID.
pub fn instance_vulnerabilities_sql(connectors: Option<usize>) -> String {
    let only = match connectors {
        Some(n) => format!(" AND d.connector_id IN ({})", placeholders(n)),
        None => String::new(),
    };
    format!(
        "SELECT d.connector_id, d.account_name, d.host_id, d.qid, k.title, k.category, k.cves, \
         k.cvss_base, k.cvss3_base, k.solution, k.patchable, d.severity, d.type_detected, \
         d.status, d.port, d.protocol, d.ssl, d.first_found, d.last_found, d.times_found, \
         d.results \
         FROM qualys_detections d LEFT JOIN qualys_kb k \
         ON k.connector_id = d.connector_id AND k.qid = d.qid \
         WHERE d.instance_id = ?{only} \
         ORDER BY d.severity DESC, d.qid, d.connector_id, d.host_id, d.port, d.protocol, d.ssl"
    )
}

/// Reads a row's columns by position, as a backend decodes them.
pub trait Columns {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn real(&self, i: usize) -> Result<Option<f64>, StoreError>;
    fn text(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn boolean(&self, i: usize) -> Result<Option<bool>, StoreError>;
}

fn required<T>(v: Option<T>, what: &str) -> Result<T, StoreError> {
    v.ok_or_else(|| StoreError::Database(format!("stored Qualys {what} is missing")))
}

fn opt_time(ms: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    ms.map(crate::search::timestamp).transpose()
}

/// A row of [`instance_vulnerabilities_sql`].
pub fn read_vulnerability(c: &dyn Columns) -> Result<InstanceVulnerability, StoreError> {
    let cves = match c.text(6)? {
        Some(t) => serde_json::from_str(&t).map_err(|e| {
            StoreError::Database(format!("stored CVE list of a Qualys QID is not JSON: {e}"))
        })?,
        None => Vec::new(),
    };
    let severity = required(c.int(11)?, "severity")?;
    let port = required(c.int(14)?, "port")?;
    let protocol = c.text(15)?.filter(|p| !p.is_empty());
    Ok(InstanceVulnerability {
        connector_id: required(c.text(0)?, "connector id")?,
        account_name: c.text(1)?.unwrap_or_default(),
        host_id: required(c.int(2)?, "host id")?,
        qid: required(c.int(3)?, "QID")?,
        title: c.text(4)?,
        category: c.text(5)?,
        cves,
        cvss_base: c.real(7)?,
        cvss3_base: c.real(8)?,
        solution: c.text(9)?,
        patchable: c.boolean(10)?,
        severity: u8::try_from(severity).map_err(|_| {
            StoreError::Database(format!("stored Qualys severity {severity} is not valid"))
        })?,
        type_detected: required(c.text(12)?, "detection type")?,
        status: required(c.text(13)?, "detection status")?,
        port: if port == NO_PORT {
            None
        } else {
            Some(u32::try_from(port).map_err(|_| {
                StoreError::Database(format!("stored Qualys port {port} is not valid"))
            })?)
        },
        protocol,
        ssl: c.boolean(16)?.unwrap_or(false),
        first_found: opt_time(c.int(17)?)?,
        last_found: opt_time(c.int(18)?)?,
        times_found: c.int(19)?,
        results: c.text(20)?,
    })
}

/// The counts of the seed's "Vulnerabilities" summary: open detections
/// (not Fixed) by type and by severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VulnerabilityCounts {
    /// Open detections (every status but Fixed).
    pub total: u64,
    #[serde(rename = "Confirmed")]
    pub confirmed: u64,
    #[serde(rename = "Potential")]
    pub potential: u64,
    #[serde(rename = "Info")]
    pub info: u64,
    /// Open detections by severity, `"1"` to `"5"`.
    pub by_severity: BTreeMap<String, u64>,
}

impl VulnerabilityCounts {
    /// The counts of `vulns`.
    pub fn of(vulns: &[InstanceVulnerability]) -> VulnerabilityCounts {
        let mut c = VulnerabilityCounts {
            by_severity: (1..=5).map(|s| (s.to_string(), 0)).collect(),
            ..Default::default()
        };
        for v in vulns.iter().filter(|v| v.status != "Fixed") {
            c.total += 1;
            match v.type_detected.as_str() {
                "Confirmed" => c.confirmed += 1,
                "Potential" => c.potential += 1,
                _ => c.info += 1,
            }
            *c.by_severity.entry(v.severity.to_string()).or_default() += 1;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::qualys::{CloudSource, DetectionStatus, DetectionType};

    const T0: Timestamp = Timestamp::UNIX_EPOCH;

    fn host(id: i64) -> QualysHost {
        QualysHost {
            id,
            ..Default::default()
        }
    }

    fn detection(host_id: i64, qid: i64, port: Option<u32>) -> QualysDetection {
        QualysDetection {
            host_id,
            instance_id: None,
            qid,
            kind: DetectionType::Confirmed,
            severity: 3,
            port,
            protocol: None,
            ssl: false,
            status: DetectionStatus::New,
            first_found: None,
            last_found: None,
            times_found: None,
            last_fixed: None,
            results: None,
        }
    }

    #[test]
    fn upserts_bind_what_their_rows_hold_and_fit_the_variable_limits() {
        for t in TABLES.iter().chain([&&KB_CVES]) {
            let sql = t.upsert_sql(3);
            let extra = usize::from(t.instance_from_host.is_some());
            assert_eq!(sql.matches('?').count(), 4 + extra + 3 * t.binds_per_row());
            assert!(
                5 + t.chunk(32766) * t.binds_per_row() <= 32766,
                "{}",
                t.name
            );
            assert_eq!(t.chunk(32766), 1000);
            let pg = t.unnest_sql();
            assert_eq!(pg.matches("::").count(), t.columns.len(), "{pg}");
        }
        let batch = QualysBatch::Detections(vec![detection(1, 2, None)]);
        let u = plan(&batch, T0).unwrap();
        assert_eq!(u.rows[0].len(), DETECTIONS.columns.len());
        for (v, (name, kind)) in u.rows[0].iter().zip(DETECTIONS.columns) {
            assert!(
                matches!(
                    (v, kind),
                    (Value::Int(_), ColumnType::Int)
                        | (Value::Text(_), ColumnType::Text)
                        | (Value::Bool(_), ColumnType::Bool)
                ),
                "{name}"
            );
        }
        assert!(DETECTIONS.upsert_sql(2).contains(
            "SELECT ?, ?, ?, ?, column1, column2, column3, column4, column5, \
             COALESCE(column6, (SELECT h.instance_id FROM qualys_hosts h \
             WHERE h.connector_id = ? AND h.host_id = column1)), column7"
        ));
        assert!(DETECTIONS.unnest_sql().contains(
            "COALESCE(u.c5, (SELECT h.instance_id FROM qualys_hosts h \
             WHERE h.connector_id = $1 AND h.host_id = u.c0))"
        ));
        let batch = QualysBatch::Hosts(vec![host(1)]);
        assert_eq!(plan(&batch, T0).unwrap().rows[0].len(), HOSTS.columns.len());
    }

    #[test]
    fn a_record_twice_in_a_batch_is_one_row_and_hosts_merge() {
        let mut later = detection(1, 2, Some(443));
        later.status = DetectionStatus::Active;
        let batch = QualysBatch::Detections(vec![
            detection(1, 2, Some(443)),
            detection(1, 2, None),
            later,
        ]);
        let u = plan(&batch, T0).unwrap();
        assert_eq!(u.rows.len(), 2);
        assert!(u.rows.iter().any(|r| r[8] == text("Active")));

        let mut a = host(7);
        a.ip = Some("10.0.0.1".into());
        a.tags = vec!["prod".into()];
        let mut b = host(7);
        b.dns = Some("web".into());
        b.cloud = Some(CloudSource {
            provider: "aws".into(),
            instance_id: "i-1".into(),
            account_id: None,
            region: None,
        });
        let m = merge_host(&a, &b);
        assert_eq!(m.ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(m.dns.as_deref(), Some("web"));
        assert_eq!(m.tags, vec!["prod".to_string()]);
        let batch = QualysBatch::Hosts(vec![a, b]);
        let u = plan(&batch, T0).unwrap();
        assert_eq!(u.rows.len(), 1);
        assert_eq!(u.instance_hosts, vec![7]);
    }

    #[test]
    fn a_bad_severity_is_refused_with_the_record_named() {
        let mut d = detection(5, 6, None);
        d.severity = 9;
        let err = plan(&QualysBatch::Detections(vec![d]), T0).unwrap_err();
        assert!(err.to_string().contains("host 5 QID 6"), "{err}");
    }

    #[test]
    fn counts_leave_out_fixed_detections() {
        let v = |kind: &str, severity: u8, status: &str| InstanceVulnerability {
            connector_id: "q".into(),
            account_name: "a".into(),
            host_id: 1,
            qid: 1,
            title: None,
            category: None,
            cves: vec![],
            cvss_base: None,
            cvss3_base: None,
            solution: None,
            patchable: None,
            severity,
            type_detected: kind.into(),
            status: status.into(),
            port: None,
            protocol: None,
            ssl: false,
            first_found: None,
            last_found: None,
            times_found: None,
            results: None,
        };
        let c = VulnerabilityCounts::of(&[
            v("Potential", 5, "New"),
            v("Confirmed", 3, "Fixed"),
            v("Info", 1, "Active"),
        ]);
        assert_eq!((c.total, c.potential, c.confirmed, c.info), (2, 1, 0, 1));
        assert_eq!(c.by_severity["5"], 1);
        assert_eq!(c.by_severity["3"], 0);
    }
}
