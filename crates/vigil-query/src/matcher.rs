//! Matching a query against one record in memory, with the same semantics as
//! the SQL it compiles to: text is matched case-insensitively (ASCII) with
//! `*` and `?` wildcards, a missing date never matches a range.

use crate::fields::FieldDef;
use crate::parser::{Cond, Node, Query};
use std::borrow::Cow;

/// One value of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    Null,
}

/// A record a query can be matched against: an evaluation with its resource
/// and control.
pub trait Subject {
    /// The values of `field` (several for tags and policies, none if absent).
    fn values(&self, field: &FieldDef) -> Vec<Scalar<'_>>;
}

fn wildcard(pattern: &[char], text: &[char]) -> bool {
    // Iterative glob matching with backtracking on the last `*`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some('?') => {
                p += 1;
                t += 1;
            }
            Some('\\')
                if p + 1 < pattern.len() && pattern[p + 1].eq_ignore_ascii_case(&text[t]) =>
            {
                p += 2;
                t += 1;
            }
            Some(c) if *c != '\\' && c.eq_ignore_ascii_case(&text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

fn cond_matches(cond: &Cond, v: &Scalar<'_>) -> bool {
    match (cond, v) {
        (Cond::Like(p), Scalar::Text(t)) => {
            let p: Vec<char> = p.chars().collect();
            let t: Vec<char> = t.chars().collect();
            wildcard(&p, &t)
        }
        (Cond::Is(want), Scalar::Text(t)) => want.eq_ignore_ascii_case(t),
        (Cond::Range(lo, hi), Scalar::Int(i)) => {
            lo.is_none_or(|lo| *i >= lo) && hi.is_none_or(|hi| *i <= hi)
        }
        _ => false,
    }
}

fn node_matches(n: &Node, s: &dyn Subject) -> bool {
    match n {
        Node::And(a, b) => node_matches(a, s) && node_matches(b, s),
        Node::Or(a, b) => node_matches(a, s) || node_matches(b, s),
        Node::Not(a) => !node_matches(a, s),
        Node::Term(field, cond) => s.values(field).iter().any(|v| cond_matches(cond, v)),
    }
}

impl Query {
    /// Whether the record matches.
    pub fn matches(&self, subject: &dyn Subject) -> bool {
        self.root.as_ref().is_none_or(|r| node_matches(r, subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    struct Rec;
    impl Subject for Rec {
        fn values(&self, f: &FieldDef) -> Vec<Scalar<'_>> {
            let t = |s: &'static str| Scalar::Text(Cow::Borrowed(s));
            match f.name {
                "control.result" => vec![t("FAIL")],
                "control.criticality" => vec![t("HIGH")],
                "account.id" => vec![t("383031258652")],
                "resource.name" => vec![t("WebDocs_bkt")],
                "cid" => vec![Scalar::Int(45)],
                "firstEvaluated" => vec![Scalar::Int(
                    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
                        .unwrap()
                        .timestamp_millis(),
                )],
                "lastFixed" => vec![Scalar::Null],
                "policy.name" => vec![t("AWS Best Practices Policy"), t("Mine")],
                "tags.name" => vec![],
                _ => vec![],
            }
        }
    }

    fn m(text: &str) -> bool {
        Query::parse(text, Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap())
            .unwrap()
            .matches(&Rec)
    }

    #[test]
    fn every_operator_matches_as_documented() {
        assert!(m(
            "control.result:FAIL and control.criticality:HIGH and firstEvaluated:[now-4h .. now]"
        ));
        assert!(!m("control.result:FAIL and firstEvaluated:[now-1h .. now]"));
        assert!(m("control.result:PASS or cid:45"));
        assert!(m("not control.result:PASS"));
        assert!(m("(cid:1 or cid:45) and account.id:\"383031258652\""));
        assert!(m("cid:[40 .. 50]") && !m("cid:[46 .. *]"));
        assert!(m("firstEvaluated:2026-11-23") && !m("firstEvaluated:2026-11-22"));
    }

    #[test]
    fn text_is_case_insensitive_with_wildcards_and_quotes_are_literal() {
        assert!(m("resource.name:webdocs*"));
        assert!(m("resource.name:W?bDocs_bkt"));
        assert!(!m("resource.name:web"));
        assert!(!m("resource.name:\"WebDocs*\""));
        assert!(m("account.id:*8652"));
    }

    #[test]
    fn multi_valued_fields_match_any_value_and_missing_values_never_match() {
        assert!(m("policy.name:mine"));
        assert!(!m("tags.name:*"));
        assert!(m("not tags.name:*"));
        assert!(!m("lastFixed:[* .. now]"));
        assert!(m("not lastFixed:[* .. now]"));
    }
}
