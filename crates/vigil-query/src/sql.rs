//! Compilation of a query to a SQL condition over
//! `evaluations e JOIN resources r ... JOIN controls c`.

use crate::fields::{instance_id_sql, side_column};
use crate::parser::{Cond, Node, Query};

/// The SQL dialect of a store backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlParam {
    Text(String),
    Int(i64),
}

/// A SQL boolean condition and its parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFragment {
    pub sql: String,
    pub params: Vec<SqlParam>,
}

/// Translates a query pattern (`*`, `?` wildcards; `\` escapes) into a LIKE
/// pattern with `\` as its escape character.
pub(crate) fn like_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 4);
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    if matches!(n, '%' | '_' | '\\') {
                        out.push('\\');
                    }
                    out.push(n);
                }
            }
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

struct Out {
    dialect: Dialect,
    sql: String,
    params: Vec<SqlParam>,
    next: usize,
}

impl Out {
    fn param(&mut self, p: SqlParam) -> String {
        self.params.push(p);
        match self.dialect {
            Dialect::Sqlite => "?".into(),
            Dialect::Postgres => {
                let s = format!("${}", self.next);
                self.next += 1;
                s
            }
        }
    }

    fn cond(&mut self, column: &str, cond: &Cond, nullable: bool) -> String {
        match cond {
            Cond::Like(p) => {
                let ph = self.param(SqlParam::Text(like_pattern(p)));
                let op = match self.dialect {
                    Dialect::Sqlite => "LIKE",
                    Dialect::Postgres => "ILIKE",
                };
                format!("{column} {op} {ph} ESCAPE '\\'")
            }
            Cond::Is(v) => {
                let ph = self.param(SqlParam::Text(v.clone()));
                format!("{column} = {ph}")
            }
            Cond::Range(lo, hi) => {
                // Guarding nullable columns keeps `not` two-valued, as in memory.
                let mut parts = Vec::new();
                if nullable {
                    parts.push(format!("{column} IS NOT NULL"));
                }
                if let Some(lo) = lo {
                    let ph = self.param(SqlParam::Int(*lo));
                    parts.push(format!("{column} >= {ph}"));
                }
                if let Some(hi) = hi {
                    let ph = self.param(SqlParam::Int(*hi));
                    parts.push(format!("{column} <= {ph}"));
                }
                if parts.is_empty() {
                    "1 = 1".into()
                } else {
                    parts.join(" AND ")
                }
            }
        }
    }

    fn node(&mut self, n: &Node) {
        match n {
            Node::And(a, b) | Node::Or(a, b) => {
                self.sql.push('(');
                self.node(a);
                self.sql.push_str(if matches!(n, Node::And(..)) {
                    " AND "
                } else {
                    " OR "
                });
                self.node(b);
                self.sql.push(')');
            }
            Node::Not(a) => {
                self.sql.push_str("NOT (");
                self.node(a);
                self.sql.push(')');
            }
            Node::Term(field, cond) => {
                let text = if field.multi_valued() {
                    let c = self.cond(side_column(field.name), cond, false);
                    field
                        .sql
                        .replace("{instance}", instance_id_sql(self.dialect))
                        .replace("{cond}", &c)
                } else {
                    let nullable = matches!(field.kind, crate::FieldKind::Date);
                    format!("({})", self.cond(field.sql, cond, nullable))
                };
                self.sql.push_str(&text);
            }
        }
    }
}

impl Query {
    /// The query as a SQL condition. For PostgreSQL, placeholders are numbered
    /// from `first_param` (`$1` when the condition's parameters come first).
    pub fn to_sql(&self, dialect: Dialect, first_param: usize) -> SqlFragment {
        let mut out = Out {
            dialect,
            sql: String::new(),
            params: Vec::new(),
            next: first_param,
        };
        match &self.root {
            Some(root) => out.node(root),
            None => out.sql.push_str("1 = 1"),
        }
        SqlFragment {
            sql: out.sql,
            params: out.params,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn q(text: &str) -> Query {
        Query::parse(text, Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()).unwrap()
    }

    #[test]
    fn wildcards_and_literals_become_escaped_like_patterns() {
        assert_eq!(like_pattern("web*bkt?"), "web%bkt_");
        assert_eq!(like_pattern("100%_done"), "100\\%\\_done");
        assert_eq!(like_pattern("a\\*b"), "a*b");
    }

    #[test]
    fn sqlite_uses_question_marks_and_postgres_numbers_from_the_start_given() {
        let query = q("control.result:FAIL and control.criticality:high and account.id:\"3830*\"");
        let s = query.to_sql(Dialect::Sqlite, 1);
        assert_eq!(
            s.sql,
            "(((e.result = ?) AND (c.criticality = ?)) AND (r.account LIKE ? ESCAPE '\\'))"
        );
        assert_eq!(
            s.params,
            vec![
                SqlParam::Text("FAIL".into()),
                SqlParam::Text("HIGH".into()),
                SqlParam::Text("3830*".into())
            ]
        );
        let p = query.to_sql(Dialect::Postgres, 3);
        assert!(
            p.sql.contains("e.result = $3") && p.sql.contains("r.account ILIKE $5"),
            "{}",
            p.sql
        );
    }

    #[test]
    fn multi_valued_fields_become_exists_and_dates_guard_nulls() {
        let s = q("not policy.name:CIS* or lastFixed:[now-1d .. *]").to_sql(Dialect::Sqlite, 1);
        assert!(s.sql.contains("NOT (EXISTS (SELECT 1 FROM policy_controls x WHERE x.cid = e.cid AND x.policy_name LIKE ?"), "{}", s.sql);
        assert!(
            s.sql
                .contains("(e.last_fixed IS NOT NULL AND e.last_fixed >= ?)"),
            "{}",
            s.sql
        );
    }

    /// Whether `sql` mentions the one-letter alias `alias` (as the store's
    /// planner checks).
    fn mentions(sql: &str, alias: u8) -> bool {
        let b = sql.as_bytes();
        (1..b.len().saturating_sub(1)).any(|i| {
            b[i] == alias
                && b[i + 1] == b'.'
                && !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
        })
    }

    #[test]
    fn vulnerability_fields_join_detections_by_the_instance_id_in_both_dialects() {
        let query = q(
            "vulnerability.severity:[4 .. 5] and vulnerability.typeDetected:potential \
             and vulnerability.status:re-opened and vulnerability.cve:CVE-2024-* \
             and vulnerability.patchable:TRUE and vulnerability.firstFound:[now-7d .. *]",
        );
        let s = query.to_sql(Dialect::Sqlite, 1);
        assert!(
            s.sql.starts_with(
                "(((((EXISTS (SELECT 1 FROM qualys_detections x WHERE x.instance_id = \
                 (CASE WHEN r.resource_type = 'aws.ec2.instance' \
                 THEN json_extract(r.attributes, '$.instance_id') END) \
                 AND x.status <> 'Fixed' AND x.severity >= ? AND x.severity <= ?)"
            ),
            "{}",
            s.sql
        );
        assert!(s.sql.contains("x.type_detected = ?"), "{}", s.sql);
        assert!(
            s.sql.contains("WHERE x.instance_id = (CASE WHEN r.resource_type = 'aws.ec2.instance' THEN json_extract(r.attributes, '$.instance_id') END) AND x.status = ?"),
            "status includes Fixed detections: {}",
            s.sql
        );
        assert!(
            s.sql.contains(
                "JOIN qualys_kb_cves v ON v.connector_id = x.connector_id AND v.qid = x.qid"
            ),
            "{}",
            s.sql
        );
        assert!(s.sql.contains("v.cve LIKE ?"), "{}", s.sql);
        assert!(
            s.sql
                .contains("(CASE WHEN k.patchable THEN 'true' ELSE 'false' END) = ?"),
            "{}",
            s.sql
        );
        assert!(s.sql.contains("x.first_found >= ?"), "{}", s.sql);
        assert_eq!(
            &s.params[..5],
            &[
                SqlParam::Int(4),
                SqlParam::Int(5),
                SqlParam::Text("Potential".into()),
                SqlParam::Text("Re-Opened".into()),
                SqlParam::Text("CVE-2024-%".into()),
            ]
        );
        assert_eq!(s.params[5], SqlParam::Text("true".into()));
        // The condition reads the resource only: resource searches need no
        // evaluation join.
        assert!(mentions(&s.sql, b'r') && !mentions(&s.sql, b'e') && !mentions(&s.sql, b'c'));
        let p = query.to_sql(Dialect::Postgres, 1);
        assert!(
            p.sql
                .contains("CAST(r.attributes AS jsonb) ->> 'instance_id'")
                && p.sql.contains("x.severity >= $1 AND x.severity <= $2")
                && p.sql.contains("v.cve ILIKE $5"),
            "{}",
            p.sql
        );
        assert!(!mentions(&p.sql, b'e') && !mentions(&p.sql, b'c'));
    }

    #[test]
    fn vulnerability_values_are_checked_with_the_choices_named() {
        let err =
            Query::parse("vulnerability.typeDetected:Likely", chrono::Utc::now()).unwrap_err();
        assert!(
            err.to_string().contains("Confirmed, Potential, Info"),
            "{err}"
        );
        let err = Query::parse("vulnerability.severity:high", chrono::Utc::now()).unwrap_err();
        assert!(err.to_string().contains("a whole number"), "{err}");
        let err = Query::parse("vulnerability.sevrity:5", chrono::Utc::now()).unwrap_err();
        assert!(
            err.suggestions
                .contains(&"vulnerability.severity".to_string()),
            "{err}"
        );
    }

    #[test]
    fn the_empty_query_is_true() {
        assert_eq!(Query::all().to_sql(Dialect::Postgres, 1).sql, "1 = 1");
    }
}
