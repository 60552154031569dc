//! Parsing: `field:value`, `field:"quoted"`, wildcards, ranges
//! `field:[a .. b]` (two or three dots, `*` for an open end), `and`, `or`,
//! `not`, parentheses. `and` binds tighter than `or`.

use crate::fields::{closest, lookup, FieldDef, FieldKind, FIELDS};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub(crate) root: Option<Node>,
    text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Term(&'static FieldDef, Cond),
}

/// What a term asks of its field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    /// Text: a case-insensitive pattern where `*` and `?` are wildcards.
    Like(String),
    /// Enum: one canonical value.
    Is(String),
    /// Number or date (milliseconds): an inclusive range, either end open.
    Range(Option<i64>, Option<i64>),
}

/// A query that cannot be parsed: where, what was expected, what was found,
/// and the closest field names when a field is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct QueryError {
    /// 1-based column (in characters) of the offending token.
    pub column: usize,
    pub expected: String,
    pub found: String,
    pub suggestions: Vec<String>,
}

impl QueryError {
    fn render(&self) -> String {
        let mut s = format!(
            "query error at column {}: expected {}, found {}",
            self.column, self.expected, self.found
        );
        if !self.suggestions.is_empty() {
            s.push_str(&format!(
                "; did you mean {}?",
                self.suggestions
                    .iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Colon,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dots,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Quoted(q) => format!("\"{q}\""),
            Tok::Colon => "`:`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Dots => "`..`".into(),
            Tok::End => "the end of the query".into(),
        }
    }
}

/// Splits the text into tokens with their 1-based columns. A word ends at
/// whitespace, a parenthesis, a bracket or (only before the field's colon)
/// a colon, so that values such as ARNs keep their colons.
fn lex(text: &str) -> Result<Vec<(Tok, usize)>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::LParen, col));
                i += 1
            }
            ')' => {
                out.push((Tok::RParen, col));
                i += 1
            }
            '[' => {
                out.push((Tok::LBracket, col));
                i += 1
            }
            ']' => {
                out.push((Tok::RBracket, col));
                i += 1
            }
            ':' => {
                out.push((Tok::Colon, col));
                i += 1
            }
            '.' if chars.get(i + 1) == Some(&'.') => {
                while i < chars.len() && chars[i] == '.' {
                    i += 1;
                }
                out.push((Tok::Dots, col));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(QueryError {
                                column: col,
                                expected: "a closing `\"`".into(),
                                found: "the end of the query".into(),
                                suggestions: vec![],
                            })
                        }
                        Some('\\') if i + 1 < chars.len() => {
                            s.push(chars[i + 1]);
                            i += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((Tok::Quoted(s), col));
            }
            _ => {
                // A value directly after a colon may itself contain colons.
                let after_colon = matches!(out.last(), Some((Tok::Colon, _)));
                let in_range = out.iter().rev().find_map(|(t, _)| match t {
                    Tok::LBracket => Some(true),
                    Tok::RBracket => Some(false),
                    _ => None,
                }) == Some(true);
                let mut s = String::new();
                while i < chars.len() {
                    let ch = chars[i];
                    let stop = ch.is_whitespace()
                        || matches!(ch, '(' | ')' | '[' | ']' | '"')
                        || (ch == ':' && !after_colon)
                        || (in_range && ch == '.' && chars.get(i + 1) == Some(&'.'));
                    if stop {
                        break;
                    }
                    s.push(ch);
                    i += 1;
                }
                out.push((Tok::Word(s), col));
            }
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    now: DateTime<Utc>,
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn peek(&self) -> &(Tok, usize) {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> (Tok, usize) {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    fn err(&self, expected: &str) -> QueryError {
        let (t, col) = self.peek();
        QueryError {
            column: *col,
            expected: expected.into(),
            found: t.describe(),
            suggestions: vec![],
        }
    }

    fn or(&mut self) -> Result<Node, QueryError> {
        let mut left = self.and()?;
        while is_kw(&self.peek().0, "or") {
            self.next();
            let right = self.and()?;
            left = Node::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, QueryError> {
        let mut left = self.unary()?;
        while is_kw(&self.peek().0, "and") {
            self.next();
            let right = self.unary()?;
            left = Node::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, QueryError> {
        if is_kw(&self.peek().0, "not") {
            self.next();
            return Ok(Node::Not(Box::new(self.unary()?)));
        }
        if self.peek().0 == Tok::LParen {
            self.next();
            let inner = self.or()?;
            if self.peek().0 != Tok::RParen {
                return Err(self.err("`)`, `and` or `or`"));
            }
            self.next();
            return Ok(inner);
        }
        self.term()
    }

    fn term(&mut self) -> Result<Node, QueryError> {
        let (tok, col) = self.next();
        let name = match tok {
            Tok::Word(w)
                if !["and", "or", "not"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                w
            }
            other => {
                self.pos -= 1;
                let _ = other;
                return Err(self.err("a field name such as `control.result`, `not` or `(`"));
            }
        };
        let Some(field) = lookup(&name) else {
            return Err(QueryError {
                column: col,
                expected: "a known field name".into(),
                found: format!("`{name}`"),
                suggestions: closest(&name).into_iter().map(String::from).collect(),
            });
        };
        if self.peek().0 != Tok::Colon {
            return Err(self.err(&format!("`:` after `{}`", field.name)));
        }
        self.next();
        let (tok, vcol) = self.next();
        let cond = match tok {
            Tok::LBracket => self.range(field, vcol)?,
            Tok::Word(w) => self.value(field, &w, false, vcol)?,
            Tok::Quoted(q) => self.value(field, &q, true, vcol)?,
            _ => {
                self.pos -= 1;
                return Err(self.err(&format!("a value for `{}`", field.name)));
            }
        };
        Ok(Node::Term(field, cond))
    }

    fn value(
        &self,
        field: &FieldDef,
        v: &str,
        quoted: bool,
        col: usize,
    ) -> Result<Cond, QueryError> {
        let bad = |expected: String| QueryError {
            column: col,
            expected,
            found: format!("`{v}`"),
            suggestions: vec![],
        };
        match field.kind {
            FieldKind::Text => {
                if quoted {
                    // In quotes, `*` and `?` are literal characters.
                    Ok(Cond::Like(
                        v.replace('\\', "\\\\")
                            .replace('*', "\\*")
                            .replace('?', "\\?"),
                    ))
                } else {
                    Ok(Cond::Like(v.to_string()))
                }
            }
            FieldKind::Enum(values) => values
                .iter()
                .find(|x| x.eq_ignore_ascii_case(v))
                .map(|x| Cond::Is(x.to_string()))
                .ok_or_else(|| bad(format!("one of {} for `{}`", values.join(", "), field.name))),
            FieldKind::Number => v
                .parse::<i64>()
                .map(|n| Cond::Range(Some(n), Some(n)))
                .map_err(|_| {
                    bad(format!(
                        "a whole number or a range `[a .. b]` for `{}`",
                        field.name
                    ))
                }),
            FieldKind::Date => {
                // A bare date means that whole day (UTC); a full time means that instant.
                let (start, end) = self.date(v).ok_or_else(|| {
                    bad(format!(
                        "a date (YYYY-MM-DD, RFC 3339, `now`, `now-4h`) or a range for `{}`",
                        field.name
                    ))
                })?;
                Ok(Cond::Range(Some(start), Some(end)))
            }
        }
    }

    fn range(&mut self, field: &FieldDef, col: usize) -> Result<Cond, QueryError> {
        if !matches!(field.kind, FieldKind::Number | FieldKind::Date) {
            return Err(QueryError {
                column: col,
                expected: format!(
                    "a value for `{}` (ranges work on dates and numbers)",
                    field.name
                ),
                found: "`[`".into(),
                suggestions: vec![],
            });
        }
        let lo = self.bound(field, true)?;
        if self.peek().0 != Tok::Dots {
            return Err(self.err("`..` between the ends of the range"));
        }
        self.next();
        let hi = self.bound(field, false)?;
        if self.peek().0 != Tok::RBracket {
            return Err(self.err("`]` to close the range"));
        }
        self.next();
        if let (Some(a), Some(b)) = (lo, hi) {
            if a > b {
                return Err(QueryError {
                    column: col,
                    expected: "a range whose start is not after its end".into(),
                    found: "an empty range".into(),
                    suggestions: vec![],
                });
            }
        }
        Ok(Cond::Range(lo, hi))
    }

    fn bound(&mut self, field: &FieldDef, low: bool) -> Result<Option<i64>, QueryError> {
        let (tok, col) = self.next();
        let text = match tok {
            Tok::Word(w) | Tok::Quoted(w) => w,
            _ => {
                self.pos -= 1;
                return Err(self.err("a range bound (a value or `*`)"));
            }
        };
        if text == "*" {
            return Ok(None);
        }
        let v = match field.kind {
            FieldKind::Number => text.parse::<i64>().ok(),
            _ => self.date(&text).map(|(a, b)| if low { a } else { b }),
        };
        v.map(Some).ok_or(QueryError {
            column: col,
            expected: match field.kind {
                FieldKind::Number => "a whole number or `*`".into(),
                _ => "a date (YYYY-MM-DD, RFC 3339, `now`, `now-4h`, `now-7d`) or `*`".into(),
            },
            found: format!("`{text}`"),
            suggestions: vec![],
        })
    }

    /// A date as the inclusive span of milliseconds it denotes: a day for
    /// `YYYY-MM-DD`, an instant otherwise.
    fn date(&self, v: &str) -> Option<(i64, i64)> {
        if let Some(rest) = v.strip_prefix("now") {
            let t = if rest.is_empty() {
                self.now
            } else {
                let sign = match rest.chars().next()? {
                    '-' => -1,
                    '+' => 1,
                    _ => return None,
                };
                let body = &rest[1..];
                let unit = body.chars().last()?;
                let n: i64 = body[..body.len() - unit.len_utf8()].parse().ok()?;
                let d = match unit {
                    's' => chrono::Duration::seconds(n),
                    'm' => chrono::Duration::minutes(n),
                    'h' => chrono::Duration::hours(n),
                    'd' => chrono::Duration::days(n),
                    'w' => chrono::Duration::weeks(n),
                    'M' => chrono::Duration::days(30 * n),
                    'y' => chrono::Duration::days(365 * n),
                    _ => return None,
                };
                self.now + d * sign
            };
            let ms = t.timestamp_millis();
            return Some((ms, ms));
        }
        if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            let start = Utc
                .from_utc_datetime(&d.and_hms_opt(0, 0, 0)?)
                .timestamp_millis();
            return Some((start, start + 86_400_000 - 1));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(v) {
            let ms = t.timestamp_millis();
            return Some((ms, ms));
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S") {
            let ms = Utc.from_utc_datetime(&t).timestamp_millis();
            return Some((ms, ms));
        }
        None
    }
}

impl Query {
    /// Parses a query; relative dates are resolved against `now`. An empty
    /// query matches everything.
    pub fn parse(text: &str, now: DateTime<Utc>) -> Result<Query, QueryError> {
        let toks = lex(text)?;
        if toks.len() == 1 {
            return Ok(Query::all());
        }
        let mut p = Parser { toks, pos: 0, now };
        let root = p.or()?;
        if p.peek().0 != Tok::End {
            return Err(p.err("`and`, `or` or the end of the query"));
        }
        Ok(Query {
            root: Some(root),
            text: text.to_string(),
        })
    }

    /// The query that matches everything.
    pub fn all() -> Query {
        Query {
            root: None,
            text: String::new(),
        }
    }

    /// The text the query was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Field names that start with `prefix`, for token suggestions.
    pub fn suggest(prefix: &str) -> Vec<&'static str> {
        FIELDS
            .iter()
            .filter(|f| {
                f.name
                    .to_ascii_lowercase()
                    .starts_with(&prefix.to_ascii_lowercase())
            })
            .map(|f| f.name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
    }

    fn parse(q: &str) -> Result<Query, QueryError> {
        Query::parse(q, now())
    }

    #[test]
    fn the_seed_examples_parse() {
        for q in [
            "control.result:FAIL and control.criticality:HIGH and firstEvaluated:[now-4h .. now]",
            "account.id: \"383031258652\"",
            "control.criticality:HIGH",
            "evaluatedOn:[2021-01-02 ... 2021-06-02]",
            "policy.name:\"AWS Best Practices Policy\"",
        ] {
            parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        }
    }

    #[test]
    fn relative_dates_resolve_against_now() {
        let q = parse("firstEvaluated:[now-4h .. now]").unwrap();
        let Some(Node::Term(_, Cond::Range(Some(a), Some(b)))) = q.root else {
            panic!("{q:?}")
        };
        assert_eq!(b - a, 4 * 3_600_000);
        assert_eq!(b, now().timestamp_millis());
    }

    #[test]
    fn a_bare_date_covers_its_whole_day_and_open_ends_are_allowed() {
        let q = parse("lastEvaluated:2026-11-23").unwrap();
        let Some(Node::Term(_, Cond::Range(Some(a), Some(b)))) = q.root else {
            panic!()
        };
        assert_eq!(b - a, 86_400_000 - 1);
        let q = parse("cid:[* .. 50]").unwrap();
        assert_eq!(
            q.root,
            Some(Node::Term(
                lookup("cid").unwrap(),
                Cond::Range(None, Some(50))
            ))
        );
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_override() {
        let q = parse("cid:1 or cid:2 and cid:3").unwrap();
        assert!(matches!(q.root, Some(Node::Or(_, _))));
        let q = parse("(cid:1 or cid:2) and not cid:3").unwrap();
        let Some(Node::And(_, right)) = q.root else {
            panic!()
        };
        assert!(matches!(*right, Node::Not(_)));
    }

    #[test]
    fn arn_values_keep_their_colons() {
        let q = parse("resource.id:arn:aws:s3:::logs*").unwrap();
        assert_eq!(
            q.root,
            Some(Node::Term(
                lookup("resource.id").unwrap(),
                Cond::Like("arn:aws:s3:::logs*".into())
            ))
        );
    }

    #[test]
    fn an_unknown_field_names_its_column_and_the_closest_fields() {
        let e = parse("control.result:FAIL and contrl.criticality:HIGH").unwrap_err();
        assert_eq!(e.column, 25);
        assert_eq!(e.suggestions[0], "control.criticality");
        assert!(
            e.to_string().contains("did you mean `control.criticality`"),
            "{e}"
        );
    }

    #[test]
    fn every_error_path_says_where_and_what() {
        let cases = [
            ("control.result:MAYBE", 16, "one of PASS, FAIL, PASSE, SKIP"),
            ("control.result FAIL", 16, "`:` after `control.result`"),
            ("control.result:", 16, "a value for `control.result`"),
            ("cid:abc", 5, "a whole number"),
            ("cid:[1 2]", 8, "`..` between"),
            ("cid:[1 .. 2", 12, "`]` to close"),
            ("cid:[5 .. 2]", 5, "not after its end"),
            ("cid:[x .. 2]", 6, "a whole number or `*`"),
            ("firstEvaluated:[now-4q .. now]", 17, "a date"),
            ("firstEvaluated:yesterday", 16, "a date"),
            (
                "resource.name:[a .. b]",
                15,
                "ranges work on dates and numbers",
            ),
            ("(cid:1", 7, "`)`"),
            ("cid:1 cid:2", 7, "`and`, `or` or the end"),
            ("and cid:1", 1, "a field name"),
            ("account.id:\"383", 12, "a closing `\"`"),
        ];
        for (q, col, expected) in cases {
            let e = parse(q).unwrap_err();
            assert_eq!(e.column, col, "{q}: {e}");
            assert!(e.expected.contains(expected), "{q}: {e}");
        }
    }

    #[test]
    fn empty_queries_match_everything_and_suggestions_complete_prefixes() {
        assert_eq!(parse("   ").unwrap(), Query::all());
        assert_eq!(Query::suggest("control.c"), vec!["control.criticality"]);
    }
}
