//! Compilation of a query to a SQL condition over
//! `evaluations e JOIN resources r ... JOIN controls c`.

use crate::fields::side_column;
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
                    field.sql.replace("{cond}", &c)
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

    #[test]
    fn the_empty_query_is_true() {
        assert_eq!(Query::all().to_sql(Dialect::Postgres, 1).sql, "1 = 1");
    }
}
