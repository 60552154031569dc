//! The Terraform function library (hcl-rs has none): `call(name, args)`.
//!
//! Contract: a function whose arguments contain an unknown returns
//! `Ok(Val::Unknown)` with an empty `expr` (the evaluator fills in the call's
//! source text), unless it can give a known result anyway (e.g. `length` of a
//! list with unknown elements). Errors (`Err`) say what is wrong with which
//! argument, in Terraform's words where possible. `try` and `can` are special
//! forms evaluated by the evaluator, not here.
//!
//! Functions whose result depends on the moment, the machine or randomness
//! (`timestamp`, `uuid`, `bcrypt`, `abspath` of a relative path, …) are
//! always unknown: a value that differs at apply time must never be judged.

mod collections;
mod encoding;
mod files;
mod net;
mod numeric;
mod strings;
mod template;
mod time;

use crate::value::{Unknown, Val};
use std::sync::OnceLock;

/// Read access to the files of the module being evaluated, for `file`,
/// `fileexists`, `templatefile`: paths relative to the module's directory.
pub trait Files {
    /// The text of the file at `path`, or `None` when it cannot be read
    /// (the functions reading it then return an unknown).
    fn read(&self, path: &str) -> Option<String>;
}

/// No files: every `file()` is unknown.
pub struct NoFiles;

impl Files for NoFiles {
    fn read(&self, _path: &str) -> Option<String> {
        None
    }
}

/// How a function treats unknown arguments.
#[derive(Clone, Copy, PartialEq)]
enum Unknowns {
    /// Any unknown anywhere in the arguments makes the result unknown.
    Deep,
    /// Only an argument that is itself unknown makes the result unknown;
    /// the function copies unknown elements through (`concat`, `length`, …).
    Shallow,
    /// The function decides itself (`coalesce`, `contains`, …).
    Own,
}

type Impl = fn(&Args) -> Result<Val, String>;

/// Every supported function: name, unknown handling, implementation.
fn table() -> &'static [(&'static str, Unknowns, Impl)] {
    use Unknowns::{Deep, Own, Shallow};
    &[
        ("abs", Deep, numeric::abs),
        ("abspath", Deep, files::abspath),
        ("alltrue", Deep, collections::alltrue),
        ("anytrue", Deep, collections::anytrue),
        ("base64decode", Deep, encoding::base64decode),
        ("base64encode", Deep, encoding::base64encode),
        ("base64sha256", Deep, encoding::base64sha256),
        ("base64sha512", Deep, encoding::base64sha512),
        ("basename", Deep, files::basename),
        ("bcrypt", Deep, always_unknown),
        ("ceil", Deep, numeric::ceil),
        ("chomp", Deep, strings::chomp),
        ("chunklist", Shallow, collections::chunklist),
        ("cidrhost", Deep, net::cidrhost),
        ("cidrnetmask", Deep, net::cidrnetmask),
        ("cidrsubnet", Deep, net::cidrsubnet),
        ("cidrsubnets", Deep, net::cidrsubnets),
        ("coalesce", Own, collections::coalesce),
        ("coalescelist", Own, collections::coalescelist),
        ("compact", Deep, collections::compact),
        ("concat", Shallow, collections::concat),
        ("contains", Own, collections::contains),
        ("csvdecode", Deep, encoding::csvdecode),
        ("dirname", Deep, files::dirname),
        ("distinct", Deep, collections::distinct),
        ("element", Shallow, collections::element),
        ("endswith", Deep, strings::endswith),
        ("file", Deep, files::file),
        ("filebase64", Deep, files::filebase64),
        ("filebase64sha256", Deep, files::filebase64sha256),
        ("fileexists", Deep, files::fileexists),
        ("filemd5", Deep, files::filemd5),
        ("filesha1", Deep, files::filesha1),
        ("filesha256", Deep, files::filesha256),
        ("filesha512", Deep, files::filesha512),
        ("flatten", Deep, collections::flatten),
        ("floor", Deep, numeric::floor),
        ("format", Deep, strings::format),
        ("formatdate", Deep, time::formatdate),
        ("formatlist", Deep, strings::formatlist),
        ("indent", Deep, strings::indent),
        ("index", Deep, collections::index),
        ("issensitive", Deep, always_unknown),
        ("join", Deep, strings::join),
        ("jsondecode", Deep, encoding::jsondecode),
        ("jsonencode", Deep, encoding::jsonencode),
        ("keys", Shallow, collections::keys),
        ("length", Shallow, collections::length),
        ("log", Deep, numeric::log),
        ("lookup", Shallow, collections::lookup),
        ("lower", Deep, strings::lower),
        ("matchkeys", Deep, collections::matchkeys),
        ("max", Deep, numeric::max),
        ("md5", Deep, encoding::md5),
        ("merge", Shallow, collections::merge),
        ("min", Deep, numeric::min),
        ("nonsensitive", Shallow, identity),
        ("one", Shallow, collections::one),
        ("parseint", Deep, numeric::parseint),
        ("pathexpand", Deep, always_unknown),
        ("plantimestamp", Deep, always_unknown),
        ("pow", Deep, numeric::pow),
        ("range", Deep, collections::range),
        ("regex", Deep, strings::regex),
        ("regexall", Deep, strings::regexall),
        ("replace", Deep, strings::replace),
        ("reverse", Shallow, collections::reverse),
        ("sensitive", Shallow, identity),
        ("setintersection", Deep, collections::setintersection),
        ("setproduct", Deep, collections::setproduct),
        ("setsubtract", Deep, collections::setsubtract),
        ("setunion", Deep, collections::setunion),
        ("sha1", Deep, encoding::sha1),
        ("sha256", Deep, encoding::sha256),
        ("sha512", Deep, encoding::sha512),
        ("signum", Deep, numeric::signum),
        ("slice", Shallow, collections::slice),
        ("sort", Deep, collections::sort),
        ("split", Deep, strings::split),
        ("startswith", Deep, strings::startswith),
        ("strcontains", Deep, strings::strcontains),
        ("strrev", Deep, strings::strrev),
        ("substr", Deep, strings::substr),
        ("sum", Deep, collections::sum),
        ("templatefile", Shallow, files::templatefile),
        ("templatestring", Shallow, files::templatestring),
        ("timeadd", Deep, time::timeadd),
        ("timecmp", Deep, time::timecmp),
        ("timestamp", Deep, always_unknown),
        ("title", Deep, strings::title),
        ("tobool", Deep, collections::tobool),
        ("tolist", Shallow, collections::tolist),
        ("tomap", Shallow, collections::tomap),
        ("tonumber", Deep, collections::tonumber),
        ("toset", Deep, collections::toset),
        ("tostring", Deep, collections::tostring),
        ("transpose", Deep, collections::transpose),
        ("trim", Deep, strings::trim),
        ("trimprefix", Deep, strings::trimprefix),
        ("trimspace", Deep, strings::trimspace),
        ("trimsuffix", Deep, strings::trimsuffix),
        ("upper", Deep, strings::upper),
        ("urlencode", Deep, encoding::urlencode),
        ("uuid", Deep, always_unknown),
        ("uuidv5", Deep, encoding::uuidv5),
        ("values", Shallow, collections::values),
        ("zipmap", Shallow, collections::zipmap),
    ]
}

/// Calls the Terraform function `name` (without a `provider::` prefix).
pub fn call(name: &str, args: &[Val], files: &dyn Files) -> Result<Val, String> {
    let Some((_, unknowns, f)) = table().iter().find(|(n, _, _)| *n == name) else {
        return Err(format!(
            "call to unknown function `{name}`; see docs/iac.md for the functions Vigil supports"
        ));
    };
    let blocked = match unknowns {
        Unknowns::Deep => args.iter().any(|a| !a.is_known()),
        Unknowns::Shallow => args.iter().any(|a| matches!(a, Val::Unknown(_))),
        Unknowns::Own => false,
    };
    if blocked {
        return Ok(unknown());
    }
    f(&Args { name, args, files })
}

/// The names of the functions `call` supports, sorted.
pub fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<_> = table().iter().map(|(n, _, _)| *n).collect();
        names.sort_unstable();
        names
    })
}

/// The unknown a function returns; the evaluator fills in the expression.
fn unknown() -> Val {
    Val::Unknown(Unknown::default())
}

/// `sensitive`/`nonsensitive`: Vigil does not track sensitivity, the value
/// passes through.
fn identity(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    Ok(a.args[0].clone())
}

/// Functions whose result is only known at apply time.
fn always_unknown(_: &Args) -> Result<Val, String> {
    Ok(unknown())
}

/// The arguments of one call, with typed accessors that give Terraform-like
/// errors naming the function and the (1-based) argument.
struct Args<'a> {
    name: &'a str,
    args: &'a [Val],
    files: &'a dyn Files,
}

impl<'a> Args<'a> {
    /// An error about the call as a whole.
    fn err(&self, msg: impl std::fmt::Display) -> String {
        format!("{}: {msg}", self.name)
    }

    /// An error about argument `i` (0-based).
    fn arg_err(&self, i: usize, msg: impl std::fmt::Display) -> String {
        format!("{}: argument {} {msg}", self.name, i + 1)
    }

    /// Requires between `min` and `max` arguments.
    fn count(&self, min: usize, max: usize) -> Result<(), String> {
        let n = self.args.len();
        if n < min || n > max {
            let want = match (min, max) {
                (a, b) if a == b => format!("{a}"),
                (a, usize::MAX) => format!("at least {a}"),
                (a, b) => format!("{a} to {b}"),
            };
            let s = if min == 1 && (max == 1 || max == usize::MAX) {
                ""
            } else {
                "s"
            };
            return Err(self.err(format!("takes {want} argument{s}, got {n}")));
        }
        Ok(())
    }

    fn exactly(&self, n: usize) -> Result<(), String> {
        self.count(n, n)
    }

    /// Argument `i`, which must be present and not null.
    fn val(&self, i: usize) -> Result<&'a Val, String> {
        match self.args.get(i) {
            None => Err(self.err(format!("missing argument {}", i + 1))),
            Some(Val::Null) => Err(self.arg_err(i, "must not be null")),
            Some(v) => Ok(v),
        }
    }

    fn type_err(&self, i: usize, want: &str, got: &Val) -> String {
        self.arg_err(i, format!("must be {want}, got {}", got.type_name()))
    }

    /// A string argument; numbers and bools convert as Terraform converts them.
    fn str(&self, i: usize) -> Result<String, String> {
        let v = self.val(i)?;
        v.to_display()
            .ok_or_else(|| self.type_err(i, "a string", v))
    }

    /// A number argument; strings holding a number convert.
    fn num(&self, i: usize) -> Result<f64, String> {
        let v = self.val(i)?;
        to_number(v).ok_or_else(|| self.type_err(i, "a number", v))
    }

    /// A whole-number argument.
    fn int(&self, i: usize) -> Result<i64, String> {
        let n = self.num(i)?;
        if n.fract() != 0.0 || n.abs() > 9.0e15 {
            return Err(self.arg_err(i, format!("must be a whole number, got {n}")));
        }
        Ok(n as i64)
    }

    /// A list, tuple or set argument.
    fn list(&self, i: usize) -> Result<&'a [Val], String> {
        let v = self.val(i)?;
        v.as_list().ok_or_else(|| self.type_err(i, "a list", v))
    }

    /// A list of strings (elements converted as for [`Args::str`]).
    fn strings(&self, i: usize) -> Result<Vec<String>, String> {
        self.list(i)?
            .iter()
            .enumerate()
            .map(|(j, v)| {
                v.to_display().ok_or_else(|| {
                    self.arg_err(
                        i,
                        format!("element {j} must be a string, got {}", v.type_name()),
                    )
                })
            })
            .collect()
    }

    /// A map or object argument.
    fn map(&self, i: usize) -> Result<&'a std::collections::BTreeMap<String, Val>, String> {
        let v = self.val(i)?;
        v.as_map().ok_or_else(|| self.type_err(i, "a map", v))
    }
}

/// Terraform's conversion to number (strings holding a number convert).
fn to_number(v: &Val) -> Option<f64> {
    match v {
        Val::Number(n) => Some(*n),
        Val::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

/// Terraform's conversion to bool (`"true"`/`"false"` convert).
fn to_bool(v: &Val) -> Option<bool> {
    match v {
        Val::Bool(b) => Some(*b),
        Val::String(s) if s == "true" => Some(true),
        Val::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// A list of strings as a value.
fn str_list<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Val {
    Val::List(items.into_iter().map(|s| Val::String(s.into())).collect())
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Calls `name` with no files.
    pub fn t(name: &str, args: Vec<Val>) -> Result<Val, String> {
        call(name, &args, &NoFiles)
    }

    pub fn s(x: &str) -> Val {
        Val::string(x)
    }

    pub fn n(x: f64) -> Val {
        Val::Number(x)
    }

    pub fn l(items: Vec<Val>) -> Val {
        Val::List(items)
    }

    pub fn sl(items: &[&str]) -> Val {
        str_list(items.iter().copied())
    }

    pub fn m(entries: &[(&str, Val)]) -> Val {
        Val::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    pub fn unk() -> Val {
        Val::unknown("var.x")
    }

    /// The error of a call, failing the test if it succeeded.
    pub fn err(name: &str, args: Vec<Val>) -> String {
        match t(name, args) {
            Ok(v) => panic!("{name} should fail, gave {v:?}"),
            Err(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn names_are_sorted_unique_and_callable() {
        let names = names();
        assert!(names.len() >= 90, "{}", names.len());
        assert!(names.windows(2).all(|w| w[0] < w[1]));
        assert!(names.contains(&"cidrsubnet"));
    }

    #[test]
    fn unknown_function_is_an_error_pointing_at_the_docs() {
        let e = err("nosuch", vec![]);
        assert!(e.contains("`nosuch`") && e.contains("docs/iac.md"), "{e}");
    }

    #[test]
    fn unknown_arguments_give_unknown_results() {
        assert_eq!(t("upper", vec![unk()]), Ok(unknown()));
        assert_eq!(
            t("join", vec![s(","), l(vec![s("a"), unk()])]),
            Ok(unknown())
        );
        // Shallow: known shape, unknown element.
        assert_eq!(t("length", vec![l(vec![s("a"), unk()])]), Ok(n(2.0)));
        assert_eq!(t("length", vec![unk()]), Ok(unknown()));
    }

    #[test]
    fn always_unknown_functions() {
        for f in ["timestamp", "uuid", "plantimestamp"] {
            assert_eq!(t(f, vec![]), Ok(unknown()), "{f}");
        }
        assert_eq!(t("bcrypt", vec![s("pw")]), Ok(unknown()));
        assert_eq!(t("pathexpand", vec![s("~/x")]), Ok(unknown()));
        assert_eq!(t("issensitive", vec![s("x")]), Ok(unknown()));
    }

    #[test]
    fn sensitive_passes_values_through() {
        assert_eq!(t("sensitive", vec![l(vec![unk()])]), Ok(l(vec![unk()])));
        assert_eq!(t("nonsensitive", vec![s("x")]), Ok(s("x")));
        assert!(err("sensitive", vec![]).contains("takes 1 argument"));
    }

    #[test]
    fn errors_name_function_and_argument() {
        assert_eq!(
            err("lookup", vec![m(&[]), l(vec![])]),
            "lookup: argument 2 must be a string, got list"
        );
        assert_eq!(err("upper", vec![]), "upper: takes 1 argument, got 0");
        assert_eq!(
            err("concat", vec![]),
            "concat: takes at least 1 argument, got 0"
        );
        assert_eq!(err("range", vec![]), "range: takes 1 to 3 arguments, got 0");
        assert_eq!(
            err("upper", vec![Val::Null]),
            "upper: argument 1 must not be null"
        );
    }
}
