//! The evaluator's inputs: parsed `.tf` files with their line index,
//! variable files, the texts `file()` may read, and path arithmetic.

use super::expr::Env;
use super::{local_source, Ctx};
use crate::terraform::TfInputs;
use crate::value::Val;
use crate::ParseError;
use hcl::edit::expr::Expression;
use hcl::edit::structure::Body;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

/// A parsed `.tf` file.
pub(crate) struct SrcFile {
    pub path: String,
    pub text: String,
    pub body: Body,
    line_starts: Vec<usize>,
}

impl SrcFile {
    fn new(path: String, text: String, body: Body) -> Self {
        let line_starts = line_starts(&text);
        SrcFile {
            path,
            text,
            body,
            line_starts,
        }
    }

    /// The 1-based (line, column) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset.min(self.text.len()))
            .map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }

    /// First and last line of a span (a block's).
    pub fn lines_of(&self, span: Option<Range<usize>>) -> (usize, usize) {
        let Some(span) = span else {
            return (1, 1);
        };
        let end = self
            .text
            .get(span.clone())
            .map_or(span.end, |t| span.start + t.trim_end().len());
        let line = self.position(span.start).0;
        (line, self.position(end.saturating_sub(1).max(span.start)).0)
    }

    /// `# vigil:skip=<CID>:<reason>` (or `//`) comments on lines
    /// `first..=last`.
    pub fn suppressions(&self, first: usize, last: usize) -> BTreeMap<u32, String> {
        self.text
            .lines()
            .skip(first.saturating_sub(1))
            .take(last + 1 - first.max(1))
            .filter_map(suppression)
            .collect()
    }
}

/// The suppression a source line carries, if any.
pub(crate) fn suppression(line: &str) -> Option<(u32, String)> {
    const MARK: &str = "vigil:skip=";
    let at = line.find(MARK)?;
    let before = &line[..at];
    if !before.contains('#') && !before.contains("//") {
        return None;
    }
    let rest = &line[at + MARK.len()..];
    let rest = rest.strip_prefix("CID-").unwrap_or(rest);
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let cid = rest[..digits].parse().ok()?;
    let reason = rest[digits..]
        .strip_prefix(':')
        .map(|r| r.trim().trim_end_matches("*/").trim())
        .unwrap_or("");
    let reason = if reason.is_empty() {
        "no reason given"
    } else {
        reason
    };
    Some((cid, reason.to_string()))
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// A variable definitions file, parsed.
enum VarFile {
    Hcl { text: String, body: Body },
    Json(serde_json::Value),
}

/// A `.tf` file that parsed, without its syntax tree (which
/// [`Outline::parse`] gives back when its module is evaluated, so that the
/// trees of modules no longer needed can be dropped).
pub(crate) struct Outline {
    /// Index of the file in the files given to `evaluate`.
    pub file: usize,
    /// Its module directory, normalized.
    pub dir: String,
    /// The directories its `module` blocks call with a local source.
    pub calls: Vec<String>,
}

impl Outline {
    /// The file parsed again; `None` cannot happen for the text that gave
    /// this outline (parsing is deterministic).
    pub fn parse(&self, files: &[(String, String)]) -> Option<SrcFile> {
        let (path, text) = files.get(self.file)?;
        let (body, text) = parse_tf(text).ok()?;
        Some(SrcFile::new(path.clone(), text, body))
    }
}

/// Everything `evaluate` was given except the `.tf` syntax trees, parsed
/// once.
pub(crate) struct Parsed {
    /// The `.tf` files that parsed, in the order given.
    pub tf: Vec<Outline>,
    /// The texts of the other files given (not `.tf`) by normalized path,
    /// for `file()`.
    pub texts: HashMap<String, String>,
    /// `.tfvars` files among the scanned files: (path, parsed).
    tfvars: Vec<(String, VarFile)>,
    /// `TfInputs::var_files`, parsed, in order.
    var_files: Vec<VarFile>,
}

fn is_tfvars(path: &str) -> bool {
    path.ends_with(".tfvars") || path.ends_with(".tfvars.json")
}

fn parse_error(file: &str, e: &hcl::edit::parser::Error) -> ParseError {
    ParseError {
        file: file.to_string(),
        line: e.location().line(),
        column: e.location().column(),
        message: e.message().to_string(),
    }
}

fn parse_var_file(path: &str, text: &str, errors: &mut Vec<ParseError>) -> Option<VarFile> {
    if path.ends_with(".json") {
        match serde_json::from_str(text) {
            Ok(v) => Some(VarFile::Json(v)),
            Err(e) => {
                errors.push(ParseError {
                    file: path.to_string(),
                    line: e.line(),
                    column: e.column(),
                    message: format!("invalid JSON variable file: {e}"),
                });
                None
            }
        }
    } else {
        match hcl::edit::parser::parse_body(text) {
            Ok(body) => Some(VarFile::Hcl {
                text: text.to_string(),
                body,
            }),
            Err(e) => {
                errors.push(parse_error(path, &e));
                None
            }
        }
    }
}

/// Parses the `.tf` and variable files; reports those that do not parse.
/// Of a `.tf` file only its [`Outline`] is kept.
pub(crate) fn parse_all(
    files: &[(String, String)],
    inputs: &TfInputs,
    errors: &mut Vec<ParseError>,
) -> Parsed {
    let mut parsed = Parsed {
        tf: Vec::new(),
        texts: HashMap::new(),
        tfvars: Vec::new(),
        var_files: Vec::new(),
    };
    for (path, text) in files.iter().chain(&inputs.extra) {
        if !path.ends_with(".tf") {
            parsed.texts.insert(normalize(path), text.clone());
        }
    }
    for (i, (path, text)) in files.iter().enumerate() {
        if path.ends_with(".tf") {
            match parse_tf(text) {
                Ok((body, _)) => {
                    let dir = dir_of(path);
                    let calls = body
                        .blocks()
                        .filter(|b| b.ident.as_str() == "module" && b.labels.len() == 1)
                        .filter_map(|b| local_source(&dir, b))
                        .collect();
                    parsed.tf.push(Outline {
                        file: i,
                        dir,
                        calls,
                    });
                }
                Err(e) => errors.push(parse_error(path, &e)),
            }
        } else if is_tfvars(path) {
            if let Some(v) = parse_var_file(path, text, errors) {
                parsed.tfvars.push((path.clone(), v));
            }
        }
    }
    for (path, text) in &inputs.var_files {
        if let Some(v) = parse_var_file(path, text, errors) {
            parsed.var_files.push(v);
        }
    }
    for v in &inputs.vars {
        if !v.contains('=') {
            errors.push(ParseError {
                file: "-var".into(),
                line: 1,
                column: 1,
                message: format!("expected NAME=VALUE, got {v:?}"),
            });
        }
    }
    parsed
}

/// How many nested conditionals [`parse_tf`] parenthesizes in one file.
const MAX_REPAIRS: usize = 32;

/// Parses a `.tf` file. hcl-edit 0.8 rejects a conditional anywhere in
/// the branches of a conditional whose condition is an operation
/// (`a == 1 ? x : b == 2 ? y : z`, `a != "" ? f(b == 1 ? x : y) : z`,
/// valid Terraform): where it fails at such a `?`, the inner conditional is
/// parenthesized (`: (b == 2 ? y : z)`) and the file parsed again; the text returned is the one parsed (same lines,
/// so block lines are unchanged). Any other error is the original one.
fn parse_tf(text: &str) -> Result<(Body, String), hcl::edit::parser::Error> {
    let first = match hcl::edit::parser::parse_body(text) {
        Ok(body) => return Ok((body, text.to_string())),
        Err(e) => e,
    };
    let mut current = text.to_string();
    for _ in 0..MAX_REPAIRS {
        let err = match hcl::edit::parser::parse_body(&current) {
            Ok(body) => return Ok((body, current)),
            Err(e) => e,
        };
        let Some(repaired) = parenthesize_conditional(&current, err.location().offset()) else {
            break;
        };
        current = repaired;
    }
    Err(first)
}

/// `text` with the conditional whose `?` is at byte `at` wrapped in
/// parentheses, from the start of its condition to its end.
pub(crate) fn parenthesize_conditional(text: &str, at: usize) -> Option<String> {
    let b = text.as_bytes();
    if b.get(at) != Some(&b'?') {
        return None;
    }
    // Back to the start of the conditional: after the `:`, `?`, `,`, `=`,
    // `=>`, line break or opening bracket before it at the same depth.
    let mut depth = 0i32;
    let mut i = at;
    let start = loop {
        if i == 0 {
            break 0;
        }
        i -= 1;
        match b[i] {
            b')' | b']' | b'}' => depth += 1,
            b'(' | b'[' | b'{' => {
                depth -= 1;
                if depth < 0 {
                    break i + 1;
                }
            }
            b'"' => i = skip_string_back(b, i)?,
            b':' if depth == 0 && b.get(i + 1) != Some(&b':') && (i == 0 || b[i - 1] != b':') => {
                break i + 1
            }
            b'?' | b',' if depth == 0 => break i + 1,
            b'=' if depth == 0 && is_assignment(b, i) => break i + 1,
            b'>' if depth == 0 && i > 0 && b[i - 1] == b'=' => break i + 1,
            b'\n' if depth == 0 && !continues(b, i) => break i + 1,
            _ => {}
        }
    };
    let start = start + (text[start..at].len() - text[start..at].trim_start().len());
    // Forward to the end of the inner conditional.
    let mut depth = 0i32;
    let mut j = at;
    let end = loop {
        if j >= b.len() {
            break j;
        }
        match b[j] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth < 0 {
                    break j;
                }
            }
            b'"' => j = skip_string(b, j)?,
            b',' if depth == 0 => break j,
            b'#' => break j,
            b'/' if depth == 0 && b.get(j + 1) == Some(&b'/') => break j,
            b'\n' if depth == 0 && !continues(b, j) => break j,
            _ => {}
        }
        j += 1;
    };
    let end = start + text[start..end].trim_end().len();
    Some(format!(
        "{}({}){}",
        &text[..start],
        &text[start..end],
        &text[end..]
    ))
}

/// Whether the `=` at `i` assigns (is not part of `==`, `!=`, `<=`, `>=`,
/// `=>`).
fn is_assignment(b: &[u8], i: usize) -> bool {
    let prev = i.checked_sub(1).map(|p| b[p]);
    let next = b.get(i + 1).copied();
    !matches!(prev, Some(b'=' | b'!' | b'<' | b'>')) && !matches!(next, Some(b'=' | b'>'))
}

/// Whether the expression continues past the line break at `nl` (the line
/// ends with, or the next starts with, an operator, `?` or `:`).
fn continues(b: &[u8], nl: usize) -> bool {
    const OPS: &[u8] = b"?:&|+-*/%<>=!";
    let before = b[..nl].iter().rev().find(|c| !c.is_ascii_whitespace());
    let after = b[nl + 1..].iter().find(|c| !c.is_ascii_whitespace());
    before.is_some_and(|c| OPS.contains(c)) || after.is_some_and(|c| OPS.contains(c))
}

/// The index of the `"` closing the string opened at `open`.
fn skip_string(b: &[u8], open: usize) -> Option<usize> {
    let mut k = open + 1;
    while k < b.len() {
        match b[k] {
            b'\\' => k += 1,
            b'"' => return Some(k),
            b'\n' => return None,
            _ => {}
        }
        k += 1;
    }
    None
}

/// The index of the `"` opening the string closed at `close`.
fn skip_string_back(b: &[u8], close: usize) -> Option<usize> {
    let mut k = close;
    while k > 0 {
        k -= 1;
        match b[k] {
            b'"' if k == 0 || b[k - 1] != b'\\' => return Some(k),
            b'\n' => return None,
            _ => {}
        }
    }
    None
}

/// The file name part of a path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Parsed {
    /// The values of the root module `dir`'s input variables: automatic
    /// `.tfvars` files of the directory, then `inputs.var_files`, then
    /// `inputs.vars` (later wins).
    pub(crate) fn root_vars(&self, ctx: &Ctx<'_>, inst: usize) -> HashMap<String, Val> {
        let dir = &ctx.module_of(inst).dir;
        let mut auto: Vec<(u8, &str, &VarFile)> = self
            .tfvars
            .iter()
            .filter(|(p, _)| dir_of(p) == *dir)
            .filter_map(|(p, v)| {
                let name = file_name(p);
                let rank = match name {
                    "terraform.tfvars" => 0,
                    "terraform.tfvars.json" => 1,
                    n if n.ends_with(".auto.tfvars") || n.ends_with(".auto.tfvars.json") => 2,
                    _ => return None,
                };
                Some((rank, name, v))
            })
            .collect();
        auto.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let mut vars = HashMap::new();
        for f in auto.into_iter().map(|(_, _, v)| v).chain(&self.var_files) {
            match f {
                VarFile::Json(serde_json::Value::Object(m)) => {
                    for (k, v) in m {
                        vars.insert(k.clone(), Val::from_json(v));
                    }
                }
                VarFile::Json(_) => {}
                VarFile::Hcl { text, body } => {
                    let env = Env::with_src(ctx, inst, text);
                    for a in body.attributes() {
                        vars.insert(a.key.as_str().to_string(), env.eval_or_unknown(&a.value));
                    }
                }
            }
        }
        let m = ctx.module_of(inst);
        for v in &ctx.inputs.vars {
            let Some((name, value)) = v.split_once('=') else {
                continue;
            };
            let is_string = m
                .variables
                .get(name)
                .and_then(|(_, b)| b.body.get_attribute("type"))
                .is_some_and(
                    |t| matches!(&t.value, Expression::Variable(v) if v.as_str() == "string"),
                );
            let parsed = if is_string {
                None
            } else {
                hcl::edit::parser::parse_expr(value)
                    .ok()
                    .and_then(|e| Env::with_src(ctx, inst, value).eval(&e).ok())
                    .filter(Val::is_known)
            };
            vars.insert(
                name.to_string(),
                parsed.unwrap_or_else(|| Val::string(value)),
            );
        }
        vars
    }
}

/// The text of `path` among `texts`: relative to the current directory
/// (Terraform's rule; `"${path.module}/x"` names such a path), else to the
/// module directory `dir`.
pub(crate) fn read(texts: &HashMap<String, String>, dir: &str, path: &str) -> Option<String> {
    texts
        .get(&normalize(path))
        .or_else(|| texts.get(&join(dir, path)))
        .cloned()
}

/// The directory of a path ("" for the current one), normalized.
pub(crate) fn dir_of(path: &str) -> String {
    let p = normalize(path);
    match p.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => p[..i].to_string(),
        None => String::new(),
    }
}

/// A directory as shown in messages: `a/b/`, `./` for the current one.
pub(crate) fn display_dir(dir: &str) -> String {
    if dir.is_empty() {
        "./".into()
    } else if dir.ends_with('/') {
        dir.to_string()
    } else {
        format!("{dir}/")
    }
}

/// `rel` resolved against directory `dir`, normalized.
pub(crate) fn join(dir: &str, rel: &str) -> String {
    if rel.starts_with('/') || dir.is_empty() {
        normalize(rel)
    } else {
        normalize(&format!("{dir}/{rel}"))
    }
}

/// A path without `.` segments, `x/..` pairs or repeated slashes.
pub(crate) fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(p) if *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}
