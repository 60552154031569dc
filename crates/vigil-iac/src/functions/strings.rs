//! String functions: chomp, endswith, format, formatlist, indent, join,
//! lower, regex, regexall, replace, split, startswith, strcontains, strrev,
//! substr, title, trim, trimprefix, trimsuffix, trimspace, upper.
//!
//! Lengths and offsets count Unicode scalar values (Terraform counts
//! grapheme clusters; the two differ only for combining sequences).

use super::{str_list, Args, Val};
use crate::value::number_text;
use regex::Regex;
use std::collections::BTreeMap;

fn map_str(a: &Args, f: impl Fn(&str) -> String) -> Result<Val, String> {
    a.exactly(1)?;
    Ok(Val::String(f(&a.str(0)?)))
}

pub(super) fn lower(a: &Args) -> Result<Val, String> {
    map_str(a, str::to_lowercase)
}

pub(super) fn upper(a: &Args) -> Result<Val, String> {
    map_str(a, str::to_uppercase)
}

pub(super) fn strrev(a: &Args) -> Result<Val, String> {
    map_str(a, |s| s.chars().rev().collect())
}

pub(super) fn trimspace(a: &Args) -> Result<Val, String> {
    map_str(a, |s| s.trim().to_string())
}

/// Removes every newline (`\n`, `\r\n`) at the end.
pub(super) fn chomp(a: &Args) -> Result<Val, String> {
    map_str(a, |s| s.trim_end_matches(['\n', '\r']).to_string())
}

/// Upper-cases the first letter of each word (Go's `strings.Title`).
pub(super) fn title(a: &Args) -> Result<Val, String> {
    map_str(a, |s| {
        let mut out = String::with_capacity(s.len());
        let mut after_separator = true;
        for c in s.chars() {
            if after_separator {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            // Go's rule: ASCII letters, digits and `_` continue a word,
            // other ASCII characters separate; beyond ASCII only spaces do.
            after_separator = if c.is_ascii() {
                !(c.is_ascii_alphanumeric() || c == '_')
            } else {
                c.is_whitespace()
            };
        }
        out
    })
}

fn two_str(a: &Args, f: impl Fn(&str, &str) -> Val) -> Result<Val, String> {
    a.exactly(2)?;
    Ok(f(&a.str(0)?, &a.str(1)?))
}

pub(super) fn startswith(a: &Args) -> Result<Val, String> {
    two_str(a, |s, p| Val::Bool(s.starts_with(p)))
}

pub(super) fn endswith(a: &Args) -> Result<Val, String> {
    two_str(a, |s, p| Val::Bool(s.ends_with(p)))
}

pub(super) fn strcontains(a: &Args) -> Result<Val, String> {
    two_str(a, |s, p| Val::Bool(s.contains(p)))
}

pub(super) fn trimprefix(a: &Args) -> Result<Val, String> {
    two_str(a, |s, p| Val::string(s.strip_prefix(p).unwrap_or(s)))
}

pub(super) fn trimsuffix(a: &Args) -> Result<Val, String> {
    two_str(a, |s, p| Val::string(s.strip_suffix(p).unwrap_or(s)))
}

/// `trim(string, cutset)`: removes any of the characters of `cutset` from
/// both ends.
pub(super) fn trim(a: &Args) -> Result<Val, String> {
    two_str(a, |s, cut| Val::string(s.trim_matches(|c| cut.contains(c))))
}

/// `split(separator, string)`, as Go's `strings.Split`.
pub(super) fn split(a: &Args) -> Result<Val, String> {
    two_str(a, |sep, s| {
        if sep.is_empty() {
            str_list(s.chars().map(String::from))
        } else {
            str_list(s.split(sep))
        }
    })
}

/// `join(separator, list...)`.
pub(super) fn join(a: &Args) -> Result<Val, String> {
    a.count(2, usize::MAX)?;
    let sep = a.str(0)?;
    let mut parts = Vec::new();
    for i in 1..a.args.len() {
        parts.extend(a.strings(i)?);
    }
    Ok(Val::String(parts.join(&sep)))
}

/// `indent(spaces, string)`: every line but the first gets `spaces` spaces.
pub(super) fn indent(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let n = a.int(0)?;
    if n < 0 {
        return Err(a.arg_err(0, format!("must not be negative, got {n}")));
    }
    let pad = " ".repeat(n as usize);
    Ok(Val::String(a.str(1)?.replace('\n', &format!("\n{pad}"))))
}

/// `substr(string, offset, length)`: a negative offset counts from the end,
/// a negative length means "to the end".
pub(super) fn substr(a: &Args) -> Result<Val, String> {
    a.exactly(3)?;
    let chars: Vec<char> = a.str(0)?.chars().collect();
    let len = chars.len() as i64;
    let mut offset = a.int(1)?;
    let length = a.int(2)?;
    if offset < 0 {
        offset = (len + offset).max(0);
    }
    if offset >= len {
        return Ok(Val::string(""));
    }
    let end = if length < 0 {
        len
    } else {
        (offset + length).min(len)
    };
    Ok(Val::String(
        chars[offset as usize..end as usize].iter().collect(),
    ))
}

/// `replace(string, substring, replacement)`; a `substring` wrapped in
/// slashes is a regular expression and `replacement` may use `$1`/`${name}`.
pub(super) fn replace(a: &Args) -> Result<Val, String> {
    a.exactly(3)?;
    let (s, find, with) = (a.str(0)?, a.str(1)?, a.str(2)?);
    if find.len() > 1 && find.starts_with('/') && find.ends_with('/') {
        let re = compile(a, 1, &find[1..find.len() - 1])?;
        return Ok(Val::String(re.replace_all(&s, with.as_str()).into_owned()));
    }
    Ok(Val::String(s.replace(&find, &with)))
}

fn compile(a: &Args, i: usize, pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| a.arg_err(i, format!("is not a valid regular expression: {e}")))
}

/// The value of one match: the match itself without capture groups, a list
/// of the groups, or an object of named groups (unmatched groups are null).
fn match_val(a: &Args, re: &Regex, caps: &regex::Captures) -> Result<Val, String> {
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    let group = |i: usize| caps.get(i).map_or(Val::Null, |m| Val::string(m.as_str()));
    if names.is_empty() {
        return Ok(group(0));
    }
    if names.iter().all(Option::is_some) {
        let mut m = BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            m.insert(name.unwrap_or_default().to_string(), group(i + 1));
        }
        return Ok(Val::Map(m));
    }
    if names.iter().any(Option::is_some) {
        return Err(a.arg_err(0, "cannot mix both named and unnamed capture groups"));
    }
    Ok(Val::List((1..=names.len()).map(group).collect()))
}

/// `regex(pattern, string)`: the first match; an error when none.
pub(super) fn regex(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let re = compile(a, 0, &a.str(0)?)?;
    let s = a.str(1)?;
    match re.captures(&s) {
        Some(c) => match_val(a, &re, &c),
        None => Err(a.err("pattern did not match any part of the given string")),
    }
}

/// `regexall(pattern, string)`: every match, possibly none.
pub(super) fn regexall(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let re = compile(a, 0, &a.str(0)?)?;
    let s = a.str(1)?;
    re.captures_iter(&s)
        .map(|c| match_val(a, &re, &c))
        .collect::<Result<_, _>>()
        .map(Val::List)
}

/// `format(spec, values...)`.
pub(super) fn format(a: &Args) -> Result<Val, String> {
    a.count(1, usize::MAX)?;
    let spec = a.str(0)?;
    format_values(a, &spec, &a.args[1..]).map(Val::String)
}

/// `formatlist(spec, values...)`: list arguments are iterated in step (they
/// must have the same length), others repeat.
pub(super) fn formatlist(a: &Args) -> Result<Val, String> {
    a.count(1, usize::MAX)?;
    let spec = a.str(0)?;
    let rest = &a.args[1..];
    let mut len: Option<usize> = None;
    for (i, v) in rest.iter().enumerate() {
        if let Val::List(items) = v {
            match len {
                Some(l) if l != items.len() => {
                    return Err(a.arg_err(
                        i + 1,
                        format!("has length {}, which does not match length {l} of the earlier list arguments", items.len()),
                    ))
                }
                _ => len = Some(items.len()),
            }
        }
    }
    let mut out = Vec::new();
    for k in 0..len.unwrap_or(1) {
        let row: Vec<Val> = rest
            .iter()
            .map(|v| match v {
                Val::List(items) => items[k].clone(),
                other => other.clone(),
            })
            .collect();
        out.push(Val::String(format_values(a, &spec, &row)?));
    }
    Ok(Val::List(out))
}

/// One `%` verb: flags, width, precision.
#[derive(Default)]
struct Verb {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Renders Terraform's `format` spec: verbs `%v %#v %s %q %t %d %b %o %x %X
/// %e %E %f %g %G %%`, flags `- + space 0 #`, width, `.precision` and
/// explicit argument indexes `%[n]v`.
fn format_values(a: &Args, spec: &str, vals: &[Val]) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = spec.char_indices().peekable();
    let mut next_arg = 0usize;
    let mut used = 0usize;
    while let Some((pos, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut v = Verb::default();
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => v.minus = true,
                '+' => v.plus = true,
                ' ' => v.space = true,
                '0' => v.zero = true,
                '#' => v.sharp = true,
                _ => break,
            }
            chars.next();
        }
        let digits = |chars: &mut std::iter::Peekable<std::str::CharIndices>| {
            let mut n: Option<usize> = None;
            while let Some(&(_, d)) = chars.peek() {
                let Some(d) = d.to_digit(10) else { break };
                n = Some(n.unwrap_or(0) * 10 + d as usize);
                chars.next();
            }
            n
        };
        if chars.peek().map(|&(_, c)| c) == Some('[') {
            chars.next();
            let n = digits(&mut chars);
            if chars.next().map(|(_, c)| c) != Some(']') || n.is_none() || n == Some(0) {
                return Err(a.err(format!(
                    "invalid argument index in format spec at offset {pos}"
                )));
            }
            next_arg = n.unwrap_or(1) - 1;
        }
        v.width = digits(&mut chars);
        if chars.peek().map(|&(_, c)| c) == Some('.') {
            chars.next();
            v.precision = Some(digits(&mut chars).unwrap_or(0));
        }
        let Some((_, verb)) = chars.next() else {
            return Err(a.err(format!(
                "format spec ends with an incomplete verb at offset {pos}"
            )));
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(val) = vals.get(next_arg) else {
            return Err(a.err(format!(
                "not enough arguments for \"%{verb}\" at offset {pos}"
            )));
        };
        next_arg += 1;
        used = used.max(next_arg);
        let text = format_verb(verb, &v, val).map_err(|e| {
            a.err(format!(
                "unsupported value for \"%{verb}\" at offset {pos}: {e}"
            ))
        })?;
        out.push_str(&pad(
            &v,
            text,
            matches!(
                verb,
                'd' | 'b' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'g' | 'G'
            ),
        ));
    }
    if used < vals.len() {
        return Err(a.err(format!(
            "too many arguments; only {used} used by format string"
        )));
    }
    Ok(out)
}

fn pad(v: &Verb, text: String, numeric: bool) -> String {
    let len = text.chars().count();
    let Some(width) = v.width.filter(|w| *w > len) else {
        return text;
    };
    let fill = width - len;
    if v.minus {
        format!("{text}{}", " ".repeat(fill))
    } else if v.zero && numeric {
        let (sign, digits) = match text.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (c.to_string(), &text[1..]),
            _ => (String::new(), text.as_str()),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{text}", " ".repeat(fill))
    }
}

fn json_text(val: &Val) -> Result<String, String> {
    let j = val
        .to_json()
        .map_err(|_| "value is not known".to_string())?;
    serde_json::to_string(&j).map_err(|e| e.to_string())
}

fn format_verb(verb: char, v: &Verb, val: &Val) -> Result<String, String> {
    let number = || {
        super::to_number(val)
            .ok_or_else(|| format!("a number is required, got {}", val.type_name()))
    };
    let sign = |n: f64, body: String| {
        if n < 0.0 {
            format!("-{body}")
        } else if v.plus {
            format!("+{body}")
        } else if v.space {
            format!(" {body}")
        } else {
            body
        }
    };
    Ok(match verb {
        'v' if v.sharp => json_text(val)?,
        'v' => match val.to_display() {
            Some(s) => s,
            None if val.is_null() => "null".into(),
            None => json_text(val)?,
        },
        's' => {
            let s = val
                .to_display()
                .ok_or_else(|| format!("a string is required, got {}", val.type_name()))?;
            match v.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            }
        }
        'q' => {
            let s = val
                .to_display()
                .ok_or_else(|| format!("a string is required, got {}", val.type_name()))?;
            serde_json::to_string(&s).map_err(|e| e.to_string())?
        }
        't' => super::to_bool(val)
            .ok_or_else(|| format!("a bool is required, got {}", val.type_name()))?
            .to_string(),
        'd' | 'b' | 'o' | 'x' | 'X' => {
            let n = number()?;
            if n.fract() != 0.0 {
                return Err(format!(
                    "a whole number is required, got {}",
                    number_text(n)
                ));
            }
            let m = n.abs() as u128;
            let body = match verb {
                'b' => format!("{m:b}"),
                'o' => format!("{m:o}"),
                'x' => format!("{m:x}"),
                'X' => format!("{m:X}"),
                _ => m.to_string(),
            };
            sign(n, body)
        }
        'f' => {
            let n = number()?;
            sign(n, format!("{:.*}", v.precision.unwrap_or(6), n.abs()))
        }
        'e' | 'E' => {
            let n = number()?;
            let raw = format!("{:.*e}", v.precision.unwrap_or(6), n.abs());
            let (mantissa, exp) = raw.split_once('e').unwrap_or((&raw, "0"));
            let exp: i32 = exp.parse().unwrap_or(0);
            let e = if verb == 'e' { 'e' } else { 'E' };
            let esign = if exp < 0 { '-' } else { '+' };
            sign(n, format!("{mantissa}{e}{esign}{:02}", exp.abs()))
        }
        'g' | 'G' => {
            let n = number()?;
            sign(n, format!("{}", n.abs()))
        }
        other => return Err(format!("unsupported verb %{other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::value::Val;

    #[test]
    fn case_and_reverse() {
        assert_eq!(t("lower", vec![s("HELLO")]), Ok(s("hello")));
        assert_eq!(t("upper", vec![s("hello")]), Ok(s("HELLO")));
        assert_eq!(t("upper", vec![n(5.0)]), Ok(s("5")), "numbers convert");
        assert_eq!(t("strrev", vec![s("héllo")]), Ok(s("olléh")));
        assert_eq!(
            t("title", vec![s("hello world-wide_web")]),
            Ok(s("Hello World-Wide_web"))
        );
        assert_eq!(t("title", vec![s("éa ça—va")]), Ok(s("Éa Ça—va")));
        assert!(err("lower", vec![l(vec![])]).contains("must be a string, got list"));
    }

    #[test]
    fn trimming() {
        assert_eq!(t("chomp", vec![s("hello\n\r\n")]), Ok(s("hello")));
        assert_eq!(t("chomp", vec![s("a\nb")]), Ok(s("a\nb")));
        assert_eq!(t("trim", vec![s("?!hello?!"), s("!?")]), Ok(s("hello")));
        assert_eq!(t("trimspace", vec![s("  x \n")]), Ok(s("x")));
        assert_eq!(
            t("trimprefix", vec![s("helloworld"), s("hello")]),
            Ok(s("world"))
        );
        assert_eq!(
            t("trimprefix", vec![s("helloworld"), s("x")]),
            Ok(s("helloworld"))
        );
        assert_eq!(
            t("trimsuffix", vec![s("helloworld"), s("world")]),
            Ok(s("hello"))
        );
        assert!(err("trim", vec![s("x")]).contains("takes 2 arguments"));
    }

    #[test]
    fn predicates() {
        assert_eq!(
            t("startswith", vec![s("hello"), s("he")]),
            Ok(Val::Bool(true))
        );
        assert_eq!(
            t("endswith", vec![s("hello"), s("he")]),
            Ok(Val::Bool(false))
        );
        assert_eq!(
            t("strcontains", vec![s("hello"), s("ll")]),
            Ok(Val::Bool(true))
        );
        assert!(err("strcontains", vec![s("a"), Val::Null]).contains("argument 2 must not be null"));
    }

    #[test]
    fn split_join_indent() {
        assert_eq!(
            t("split", vec![s(","), s("a,b,c")]),
            Ok(sl(&["a", "b", "c"]))
        );
        assert_eq!(t("split", vec![s(","), s("")]), Ok(sl(&[""])));
        assert_eq!(
            t("join", vec![s("-"), sl(&["a", "b"]), l(vec![n(1.0)])]),
            Ok(s("a-b-1"))
        );
        assert!(err("join", vec![s("-")]).contains("at least 2"));
        assert!(err("join", vec![s("-"), l(vec![l(vec![])])]).contains("argument 2 element 0"));
        assert_eq!(t("indent", vec![n(2.0), s("a\nb\n")]), Ok(s("a\n  b\n  ")));
        assert!(err("indent", vec![n(-1.0), s("a")]).contains("must not be negative"));
    }

    #[test]
    fn substr_offsets() {
        assert_eq!(
            t("substr", vec![s("hello world"), n(1.0), n(4.0)]),
            Ok(s("ello"))
        );
        assert_eq!(
            t("substr", vec![s("hello world"), n(-5.0), n(-1.0)]),
            Ok(s("world"))
        );
        assert_eq!(
            t("substr", vec![s("hello world"), n(6.0), n(10.0)]),
            Ok(s("world"))
        );
        assert_eq!(t("substr", vec![s("🤔🤷"), n(0.0), n(1.0)]), Ok(s("🤔")));
        assert_eq!(t("substr", vec![s("abc"), n(5.0), n(1.0)]), Ok(s("")));
        assert!(err("substr", vec![s("abc"), n(0.5), n(1.0)]).contains("whole number"));
    }

    #[test]
    fn replace_plain_and_regex() {
        assert_eq!(
            t("replace", vec![s("1 + 2 + 3"), s("+"), s("-")]),
            Ok(s("1 - 2 - 3"))
        );
        assert_eq!(
            t("replace", vec![s("hello world"), s("/w(or)ld/"), s("W$1")]),
            Ok(s("hello Wor"))
        );
        assert!(err("replace", vec![s("x"), s("/(/"), s("")])
            .contains("argument 2 is not a valid regular expression"));
    }

    #[test]
    fn regex_shapes() {
        assert_eq!(
            t(
                "regex",
                vec![s("[a-z]+"), s("53453453.345345aaabbbccc23454")]
            ),
            Ok(s("aaabbbccc"))
        );
        assert_eq!(
            t("regex", vec![s(r"(\d\d\d\d)-(\d\d)"), s("2019-02-01")]),
            Ok(sl(&["2019", "02"]))
        );
        assert_eq!(
            t("regex", vec![s(r"(?P<y>\d+)-(?P<m>x)?"), s("2019-")]),
            Ok(m(&[("y", s("2019")), ("m", Val::Null)]))
        );
        assert!(err("regex", vec![s("z"), s("abc")]).contains("did not match"));
        assert!(err("regex", vec![s("(?P<a>x)(y)"), s("xy")]).contains("cannot mix"));
        assert_eq!(
            t("regexall", vec![s("[a-z]+"), s("1a2bb3")]),
            Ok(sl(&["a", "bb"]))
        );
        assert_eq!(t("regexall", vec![s("z"), s("abc")]), Ok(l(vec![])));
    }

    #[test]
    fn format_verbs() {
        let f = |spec: &str, args: Vec<Val>| {
            let mut all = vec![s(spec)];
            all.extend(args);
            t("format", all)
        };
        assert_eq!(f("Hello, %s!", vec![s("Ander")]), Ok(s("Hello, Ander!")));
        assert_eq!(
            f("There are %d lights", vec![n(4.0)]),
            Ok(s("There are 4 lights"))
        );
        assert_eq!(
            f("%v|%v|%v", vec![n(1.5), Val::Bool(true), sl(&["a"])]),
            Ok(s("1.5|true|[\"a\"]"))
        );
        assert_eq!(f("%q", vec![s("a\"b")]), Ok(s("\"a\\\"b\"")));
        assert_eq!(
            f("%.2f|%f", vec![n(1.23456), n(1.0)]),
            Ok(s("1.23|1.000000"))
        );
        assert_eq!(
            f("%5d|%-4s|%03d|%+d", vec![n(42.0), s("ab"), n(7.0), n(3.0)]),
            Ok(s("   42|ab  |007|+3"))
        );
        assert_eq!(
            f("%x %e 100%%", vec![n(255.0), n(1234.5)]),
            Ok(s("ff 1.234500e+03 100%"))
        );
        assert_eq!(f("%[2]s %[1]s", vec![s("a"), s("b")]), Ok(s("b a")));
        assert!(f("%d", vec![n(1.5)]).is_err_and(|e| e.contains("whole number")));
        assert!(f("%s %s", vec![s("a")]).is_err_and(|e| e.contains("not enough arguments")));
        assert!(f("%s", vec![s("a"), s("b")]).is_err_and(|e| e.contains("too many arguments")));
    }

    #[test]
    fn formatlist_iterates_lists() {
        assert_eq!(
            t(
                "formatlist",
                vec![s("Hello, %s!"), sl(&["Valentina", "Ander"])]
            ),
            Ok(sl(&["Hello, Valentina!", "Hello, Ander!"]))
        );
        assert_eq!(
            t(
                "formatlist",
                vec![s("%s, %s!"), s("Salutations"), sl(&["a", "b"])]
            ),
            Ok(sl(&["Salutations, a!", "Salutations, b!"]))
        );
        assert!(
            t("formatlist", vec![s("%s%s"), sl(&["a"]), sl(&["a", "b"])])
                .is_err_and(|e| e.contains("does not match"))
        );
    }
}
