//! Numeric functions: abs, ceil, floor, log, max, min, parseint, pow, signum.

use super::{Args, Val};

fn unary(a: &Args, f: fn(f64) -> f64) -> Result<Val, String> {
    a.exactly(1)?;
    Ok(Val::Number(f(a.num(0)?)))
}

pub(super) fn abs(a: &Args) -> Result<Val, String> {
    unary(a, f64::abs)
}

pub(super) fn ceil(a: &Args) -> Result<Val, String> {
    unary(a, f64::ceil)
}

pub(super) fn floor(a: &Args) -> Result<Val, String> {
    unary(a, f64::floor)
}

pub(super) fn signum(a: &Args) -> Result<Val, String> {
    unary(a, |n| if n == 0.0 { 0.0 } else { n.signum() })
}

pub(super) fn log(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    Ok(Val::Number(a.num(0)?.log(a.num(1)?)))
}

pub(super) fn pow(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    Ok(Val::Number(a.num(0)?.powf(a.num(1)?)))
}

fn fold(a: &Args, pick: fn(f64, f64) -> f64) -> Result<Val, String> {
    a.count(1, usize::MAX)?;
    let mut acc = a.num(0)?;
    for i in 1..a.args.len() {
        acc = pick(acc, a.num(i)?);
    }
    Ok(Val::Number(acc))
}

pub(super) fn max(a: &Args) -> Result<Val, String> {
    fold(a, f64::max)
}

pub(super) fn min(a: &Args) -> Result<Val, String> {
    fold(a, f64::min)
}

/// `parseint(string, base)`: bases 2 to 62, digits 0-9, a-z, A-Z (letters
/// are case-insensitive up to base 36), an optional sign.
pub(super) fn parseint(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let text = a.str(0)?;
    let base = a.int(1)?;
    if !(2..=62).contains(&base) {
        return Err(a.arg_err(1, format!("must be between 2 and 62 inclusive, got {base}")));
    }
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    let bad = || a.err(format!("cannot parse {text:?} as a base {base} integer"));
    if digits.is_empty() {
        return Err(bad());
    }
    let mut acc: f64 = 0.0;
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as i64 - '0' as i64,
            'a'..='z' => c as i64 - 'a' as i64 + 10,
            'A'..='Z' if base <= 36 => c as i64 - 'A' as i64 + 10,
            'A'..='Z' => c as i64 - 'A' as i64 + 36,
            _ => return Err(bad()),
        };
        if d >= base {
            return Err(bad());
        }
        acc = acc * base as f64 + d as f64;
    }
    Ok(Val::Number(if neg { -acc } else { acc }))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn abs_ceil_floor_signum() {
        assert_eq!(t("abs", vec![n(-12.4)]), Ok(n(12.4)));
        assert_eq!(t("ceil", vec![n(4.1)]), Ok(n(5.0)));
        assert_eq!(t("floor", vec![n(-4.1)]), Ok(n(-5.0)));
        assert_eq!(t("signum", vec![n(-3.0)]), Ok(n(-1.0)));
        assert_eq!(t("signum", vec![n(0.0)]), Ok(n(0.0)));
        assert_eq!(t("abs", vec![s("-3")]), Ok(n(3.0)), "strings convert");
        assert_eq!(
            err("abs", vec![s("x")]),
            "abs: argument 1 must be a number, got string"
        );
        assert!(err("ceil", vec![n(1.0), n(2.0)]).contains("takes 1 argument"));
    }

    #[test]
    fn max_min_log_pow() {
        assert_eq!(t("max", vec![n(12.0), n(54.0), n(3.0)]), Ok(n(54.0)));
        assert_eq!(t("min", vec![n(12.0), n(54.0), n(3.0)]), Ok(n(3.0)));
        assert!(err("max", vec![]).contains("at least 1"));
        assert_eq!(t("pow", vec![n(3.0), n(2.0)]), Ok(n(9.0)));
        assert_eq!(t("log", vec![n(16.0), n(2.0)]), Ok(n(4.0)));
        assert!(err("pow", vec![n(3.0)]).contains("takes 2 arguments"));
    }

    #[test]
    fn parseint_bases_and_errors() {
        assert_eq!(t("parseint", vec![s("100"), n(10.0)]), Ok(n(100.0)));
        assert_eq!(t("parseint", vec![s("FF"), n(16.0)]), Ok(n(255.0)));
        assert_eq!(t("parseint", vec![s("-10"), n(2.0)]), Ok(n(-2.0)));
        assert_eq!(t("parseint", vec![s("aA"), n(62.0)]), Ok(n(656.0)));
        assert!(err("parseint", vec![s("12"), n(2.0)]).contains("cannot parse"));
        assert!(err("parseint", vec![s("1"), n(1.0)]).contains("between 2 and 62"));
    }
}
