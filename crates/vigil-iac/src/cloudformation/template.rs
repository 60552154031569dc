//! Reading a CloudFormation template (JSON or YAML) into its resources, with
//! their `Properties` evaluated (see [`intrinsics`] for what is resolved and
//! what stays unknown), their lines, and their suppressions.

#[path = "intrinsics.rs"]
mod intrinsics;
#[path = "yaml.rs"]
mod yaml;

use crate::value::Val;
use crate::ParseError;
use intrinsics::Ctx;
use std::collections::{BTreeMap, HashMap};
use yaml::{Entry, Kind, Node};

/// One resource of a template, its `Properties` evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct CfnResource {
    /// The logical id, e.g. `LogsBucket`.
    pub logical_id: String,
    /// The resource type, e.g. `AWS::S3::Bucket`.
    pub resource_type: String,
    /// The template file, as given.
    pub file: String,
    /// First and last line of the resource (1-based, inclusive): the line of
    /// its logical id under `Resources` and the last line of its body.
    pub line: u32,
    /// See [`CfnResource::line`].
    pub end_line: u32,
    /// `Properties`, evaluated: parameters, pseudo parameters, mappings and
    /// conditions resolved; `Ref`/`Fn::GetAtt` of another resource is
    /// `Val::Unknown` with expr `!Ref LogicalId` / `!GetAtt LogicalId.Attr`.
    /// An empty map when the resource has no properties.
    pub props: Val,
    /// Suppressions from `Metadata` (`vigil: {skip: [{id, comment}]}`) and
    /// `# vigil:skip=<CID>:<reason>` comments, by CID.
    pub suppressed: BTreeMap<u32, String>,
}

/// Whether a JSON/YAML file is a CloudFormation template: its (first)
/// document is a mapping with `AWSTemplateFormatVersion`, or with
/// `Resources` of which one has a `Type` `AWS::…`. A file that does not
/// parse counts as a template when it names `AWSTemplateFormatVersion`, so
/// that its syntax error is reported. The decision is made on the content
/// only (`path` is not used: `.template` and other names are common).
pub fn is_template(_path: &str, text: &str) -> bool {
    if !text.contains("AWSTemplateFormatVersion") && !text.contains("AWS::") {
        return false;
    }
    match yaml::parse(text) {
        Ok(Some(root)) => {
            root.get("AWSTemplateFormatVersion").is_some()
                || root.get("Resources").is_some_and(|r| {
                    r.entries().iter().any(|e| {
                        e.value
                            .get("Type")
                            .and_then(Node::as_str)
                            .is_some_and(|t| t.starts_with("AWS::"))
                    })
                })
        }
        Ok(None) => false,
        Err(_) => text.contains("AWSTemplateFormatVersion"),
    }
}

/// Reads the resources of a template, in their order in the file. A
/// resource whose `Condition` is false is left out; one whose condition is
/// not known is kept. A template without `Resources` has none.
pub fn parse_template(file: &str, text: &str) -> Result<Vec<CfnResource>, ParseError> {
    let error = |line: u32, column: usize, message: String| ParseError {
        file: file.into(),
        line: line as usize,
        column,
        message,
    };
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => {
            return Err(ParseError {
                file: file.into(),
                line: e.line,
                column: e.column,
                message: e.message,
            })
        }
    };
    if !matches!(root.kind, Kind::Map(_)) {
        return Err(error(
            root.line,
            1,
            "not a CloudFormation template: the document is not a mapping \
             (expected `Resources:` at the top level)"
                .into(),
        ));
    }
    let Some(section) = root.entries().iter().rfind(|e| e.key == "Resources") else {
        return Ok(Vec::new());
    };
    let Kind::Map(entries) = &section.value.kind else {
        return Err(error(
            section.line,
            section.col as usize + 1,
            "`Resources` must be a mapping of logical ids to resources".into(),
        ));
    };
    let json = yaml::looks_like_json(text);
    let lines: Vec<&str> = text.lines().collect();
    // Where the `Resources` section ends: the next top-level key, else EOF.
    let section_end = root
        .entries()
        .iter()
        .map(|e| e.line)
        .filter(|&l| l > section.line)
        .min()
        .map_or(lines.len(), |l| l as usize - 1);
    let mut ctx = Ctx::new(&root);
    let mut out = Vec::with_capacity(entries.len());
    let mut seen = HashMap::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let body = &entry.value;
        let id = &entry.key;
        if let Some(first) = seen.insert(id.as_str(), entry.line) {
            return Err(error(
                entry.line,
                entry.col as usize + 1,
                format!("duplicate logical id `{id}` (first at line {first}): rename one"),
            ));
        }
        if !matches!(body.kind, Kind::Map(_)) {
            return Err(error(
                entry.line,
                entry.col as usize + 1,
                format!("resource `{id}` must be a mapping with `Type` and `Properties`"),
            ));
        }
        let Some(resource_type) = body.get("Type").and_then(Node::as_str) else {
            return Err(error(
                entry.line,
                entry.col as usize + 1,
                format!("resource `{id}` has no `Type` (a string such as `AWS::S3::Bucket`)"),
            ));
        };
        if let Some(c) = body.get("Condition").and_then(Node::as_str) {
            if ctx.condition(c) == Some(false) {
                continue;
            }
        }
        let props = match body.get("Properties") {
            Some(p) => ctx.eval(p),
            None => None,
        }
        .unwrap_or_else(|| Val::Map(BTreeMap::new()));
        let mut suppressed = metadata_skips(body);
        let end_line = if json {
            body.end_line
        } else {
            let bound = entries
                .get(i + 1)
                .map_or(section_end, |next| next.line as usize - 1);
            let end_line = yaml_end_line(&lines, entry, bound);
            comment_skips(&lines, entry, end_line, bound, &mut suppressed);
            end_line
        };
        out.push(CfnResource {
            logical_id: id.clone(),
            resource_type: resource_type.to_string(),
            file: file.into(),
            line: entry.line,
            end_line,
            props,
            suppressed,
        });
    }
    Ok(out)
}

/// Leading spaces of a line.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// A line with content (not blank, not only a comment).
fn has_content(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

/// The last line of a YAML resource: the last line up to `bound` (the line
/// before the next resource or section) with content indented deeper than
/// the logical id, and at least the last line the parser saw a value on
/// (block scalars and multi-line strings only show their first line).
fn yaml_end_line(lines: &[&str], entry: &Entry, bound: usize) -> u32 {
    let seen = entry.value.end_line.max(entry.line);
    let col = entry.col as usize;
    let mut l = bound.min(lines.len());
    while l > seen as usize {
        let s = lines[l - 1];
        if has_content(s) && indent(s) > col {
            return u32::try_from(l).unwrap_or(u32::MAX);
        }
        l -= 1;
    }
    seen
}

/// `# vigil:skip=<CID>:<reason>` comments on the lines of a resource (and
/// comment lines indented under it before the next resource).
fn comment_skips(
    lines: &[&str],
    entry: &Entry,
    end_line: u32,
    bound: usize,
    out: &mut BTreeMap<u32, String>,
) {
    let first = entry.line as usize;
    let last = bound.max(end_line as usize).min(lines.len());
    for (n, line) in lines.iter().enumerate().take(last).skip(first - 1) {
        if n + 1 > end_line as usize && indent(line) <= entry.col as usize {
            continue;
        }
        let Some(comment) = comment(line) else {
            continue;
        };
        for spec in comment.split("vigil:skip=").skip(1) {
            let spec = spec.trim_end();
            let (cid, reason) = spec.split_once(':').unwrap_or((spec, ""));
            if let Some(cid) = parse_cid(cid) {
                let reason = reason_or(reason.trim(), "suppressed by a `# vigil:skip` comment");
                out.insert(cid, reason);
            }
        }
    }
}

/// The comment of a YAML line: from a `#` at its start or after a space,
/// outside quoted scalars.
fn comment(line: &str) -> Option<&str> {
    let mut quote = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '#') if prev.is_whitespace() => return Some(&line[i..]),
            (None, '\'' | '"') if prev.is_whitespace() || "[{,:".contains(prev) => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        prev = c;
    }
    None
}

/// `Metadata: {vigil: {skip: [{id: 48, comment: "…"}]}}` (one entry may
/// also be given without the list).
fn metadata_skips(body: &Node) -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    let Some(skip) = body
        .get("Metadata")
        .and_then(|m| m.get("vigil"))
        .and_then(|v| v.get("skip"))
    else {
        return out;
    };
    let items = match &skip.kind {
        Kind::Seq(items) => items.as_slice(),
        _ => std::slice::from_ref(skip),
    };
    for item in items {
        let cid = match item.get("id").map(|n| &n.kind) {
            Some(Kind::Number(n)) if n.fract() == 0.0 && *n >= 0.0 => u32::try_from(*n as u64).ok(),
            Some(Kind::Str(s)) => parse_cid(s),
            _ => None,
        };
        let comment = item.get("comment").and_then(Node::as_str).unwrap_or("");
        if let Some(cid) = cid {
            out.insert(
                cid,
                reason_or(comment.trim(), "suppressed in the resource's Metadata"),
            );
        }
    }
    out
}

/// `48`, `CID-48` or `CID48` as 48.
fn parse_cid(s: &str) -> Option<u32> {
    let s = s.trim();
    let s = s
        .strip_prefix("CID-")
        .or_else(|| s.strip_prefix("CID"))
        .unwrap_or(s);
    let digits: &str = &s[..s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len())];
    digits.parse().ok()
}

fn reason_or(reason: &str, default: &str) -> String {
    if reason.is_empty() {
        default.to_string()
    } else {
        reason.to_string()
    }
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
