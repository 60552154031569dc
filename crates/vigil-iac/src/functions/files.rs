//! Filesystem functions: file, fileexists, filebase64, file hashes,
//! templatefile (through [`super::template`]), and the path functions
//! dirname, basename, abspath.
//!
//! Files are read through [`Files`](super::Files), relative to the module's
//! directory; a file that cannot be read makes the result unknown (the
//! scanner may not see every file Terraform would), never an invented value.

use super::encoding::Hash;
use super::{template, unknown, Args, Val};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// The text of the file named by argument 0, or `None` when unreadable.
fn read(a: &Args) -> Result<Option<String>, String> {
    let path = a.str(0)?;
    Ok(a.files.read(&path))
}

fn with_file(a: &Args, f: impl Fn(String) -> String) -> Result<Val, String> {
    a.exactly(1)?;
    Ok(read(a)?.map_or_else(unknown, |text| Val::String(f(text))))
}

pub(super) fn file(a: &Args) -> Result<Val, String> {
    with_file(a, |t| t)
}

pub(super) fn filebase64(a: &Args) -> Result<Val, String> {
    with_file(a, |t| B64.encode(t))
}

pub(super) fn filemd5(a: &Args) -> Result<Val, String> {
    with_file(a, |t| Hash::Md5.hex(t.as_bytes()))
}

pub(super) fn filesha1(a: &Args) -> Result<Val, String> {
    with_file(a, |t| Hash::Sha1.hex(t.as_bytes()))
}

pub(super) fn filesha256(a: &Args) -> Result<Val, String> {
    with_file(a, |t| Hash::Sha256.hex(t.as_bytes()))
}

pub(super) fn filesha512(a: &Args) -> Result<Val, String> {
    with_file(a, |t| Hash::Sha512.hex(t.as_bytes()))
}

pub(super) fn filebase64sha256(a: &Args) -> Result<Val, String> {
    with_file(a, |t| Hash::Sha256.base64(t.as_bytes()))
}

/// True when the file can be read; unknown otherwise (it may exist where
/// Terraform runs).
pub(super) fn fileexists(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    Ok(read(a)?.map_or_else(unknown, |_| Val::Bool(true)))
}

/// `templatefile(path, vars)`.
pub(super) fn templatefile(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let vars = a.map(1)?;
    let Some(text) = read(a)? else {
        return Ok(unknown());
    };
    template::render(&text, vars, a.files)
        .map_err(|e| a.err(format!("{}: {e}", a.str(0).unwrap_or_default())))
}

/// `templatestring(template, vars)`: a template held in a string.
pub(super) fn templatestring(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let vars = a.map(1)?;
    template::render(&a.str(0)?, vars, a.files).map_err(|e| a.err(e))
}

/// Go's `filepath.Clean` for slash-separated paths.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Everything but the last element of a path.
pub(super) fn dirname(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    let path = a.str(0)?;
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    };
    Ok(Val::String(clean(dir)))
}

/// The last element of a path.
pub(super) fn basename(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    let path = a.str(0)?;
    if path.is_empty() {
        return Ok(Val::string("."));
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(Val::string("/"));
    }
    Ok(Val::string(trimmed.rsplit('/').next().unwrap_or(trimmed)))
}

/// An absolute path is cleaned; a relative one depends on the directory
/// Terraform runs in, so it is unknown.
pub(super) fn abspath(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    let path = a.str(0)?;
    if path.starts_with('/') {
        Ok(Val::String(clean(&path)))
    } else {
        Ok(unknown())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::test_support::*;
    use super::super::{call, unknown, Files};
    use crate::value::Val;
    use std::collections::BTreeMap;

    /// Files held in memory.
    pub struct Mem(pub BTreeMap<&'static str, &'static str>);

    impl Files for Mem {
        fn read(&self, path: &str) -> Option<String> {
            self.0.get(path).map(|s| s.to_string())
        }
    }

    pub fn mem(files: &[(&'static str, &'static str)]) -> Mem {
        Mem(files.iter().copied().collect())
    }

    #[test]
    fn file_reads_or_is_unknown() {
        let fs = mem(&[("hello.txt", "Hello World")]);
        assert_eq!(call("file", &[s("hello.txt")], &fs), Ok(s("Hello World")));
        assert_eq!(call("file", &[s("missing.txt")], &fs), Ok(unknown()));
        assert_eq!(
            call("fileexists", &[s("hello.txt")], &fs),
            Ok(Val::Bool(true))
        );
        assert_eq!(call("fileexists", &[s("nope")], &fs), Ok(unknown()));
        assert_eq!(
            call("filebase64", &[s("hello.txt")], &fs),
            Ok(s("SGVsbG8gV29ybGQ="))
        );
        assert_eq!(
            call("filemd5", &[s("hello.txt")], &fs),
            Ok(s("b10a8db164e0754105b7a99be72e3fe5"))
        );
        assert!(call("filesha256", &[s("hello.txt")], &fs)
            .is_ok_and(|v| v.as_str().is_some_and(|h| h.len() == 64)));
        assert!(call("filesha1", &[s("hello.txt")], &fs)
            .is_ok_and(|v| v.as_str().is_some_and(|h| h.len() == 40)));
        assert!(call("filesha512", &[s("hello.txt")], &fs)
            .is_ok_and(|v| v.as_str().is_some_and(|h| h.len() == 128)));
        assert!(call("filebase64sha256", &[s("hello.txt")], &fs)
            .is_ok_and(|v| v.as_str().is_some_and(|h| h.ends_with('='))));
        assert!(err("file", vec![l(vec![])]).contains("file: argument 1 must be a string"));
    }

    #[test]
    fn path_functions() {
        assert_eq!(t("dirname", vec![s("foo/bar/baz.txt")]), Ok(s("foo/bar")));
        assert_eq!(t("dirname", vec![s("foo")]), Ok(s(".")));
        assert_eq!(t("dirname", vec![s("/foo")]), Ok(s("/")));
        assert_eq!(t("basename", vec![s("foo/bar/baz.txt")]), Ok(s("baz.txt")));
        assert_eq!(t("basename", vec![s("foo/bar/")]), Ok(s("bar")));
        assert_eq!(t("basename", vec![s("")]), Ok(s(".")));
        assert_eq!(t("abspath", vec![s("/a/./b/../c")]), Ok(s("/a/c")));
        assert_eq!(t("abspath", vec![s("a/b")]), Ok(unknown()));
        assert!(err("dirname", vec![]).contains("takes 1 argument"));
    }
}
