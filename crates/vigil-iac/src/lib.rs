//! IaC adapters: declared resources in the one normalized shape Vigil
//! evaluates, so that controls with `execution_type = "both"` judge a
//! Terraform file the way they judge the deployed account.
//!
//! [`terraform_resources`] reads the text of `.tf` files (the caller reads
//! them; nothing here touches the file system) and produces, with
//! [`Origin::Iac`] naming the file and the line of each `resource` block:
//!
//! * `aws_s3_bucket` → `aws.s3.bucket`, folding in the
//!   `aws_s3_bucket_versioning`, `aws_s3_bucket_public_access_block` and
//!   `aws_s3_bucket_acl` resources that name it (by `aws_s3_bucket.NAME.id`,
//!   `.bucket` or its literal name) into `versioning`, `public_access_block`
//!   and `acl_grants`, as the S3 collector reports them;
//! * `aws_security_group` → `aws.ec2.security_group`, with its inline
//!   `ingress`/`egress` blocks and the `aws_security_group_rule`,
//!   `aws_vpc_security_group_ingress_rule` and
//!   `aws_vpc_security_group_egress_rule` resources that name it folded into
//!   `ip_permissions` / `ip_permissions_egress`;
//! * `aws_db_instance` → `aws.rds.db_instance`, with Terraform's (and AWS's)
//!   defaults for omitted arguments;
//! * `aws_ebs_volume` → `aws.ec2.volume`.
//!
//! Only literal values are used, and those an argument reaches through
//! `var.NAME` (a `variable "NAME"` block in the same set of files with a
//! literal `default`), `local.NAME` (a `locals` entry bound to such a value),
//! a template that is a single interpolation of one of those (`"${var.x}"`),
//! or arrays and objects made of them only. Any other value (a variable
//! without a default, a function call, a reference to another resource's
//! attribute, a template mixing text and interpolations) is left out of
//! `attributes` and named in `uncollected` with the reason
//! `value not known at build time: <expression>`, so the controls that need
//! it are skipped rather than judged on a guess.
//!
//! The resource `id` is the Terraform address (`aws_s3_bucket.logs`), the
//! `name` the literal bucket, group or DB identifier when there is one, else
//! the address; account and region are empty.

pub mod cloudformation;
pub mod functions;
mod semantics;
pub mod source;
pub mod terraform;
pub mod value;

use hcl::expr::TraversalOperator;
use hcl::template::Element;
use hcl::{Block, BlockLabel, Body, Expression, ObjectKey, Structure, Template};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use vigil_model::{Association, Origin, Provider, Resource};

/// A `.tf` file that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// One `resource` block of a parsed file.
struct Decl<'a> {
    file: &'a str,
    line: u32,
    kind: String,
    name: String,
    body: Body,
}

impl Decl<'_> {
    fn address(&self) -> String {
        format!("{}.{}", self.kind, self.name)
    }

    fn attr(&self, key: &str) -> Option<&Expression> {
        attr(&self.body, key)
    }
}

/// A value that is not a literal: the reason controls that need it skip.
fn unknown(expr: &Expression) -> String {
    format!("value not known at build time: {}", text(expr))
}

fn text(expr: &Expression) -> String {
    expr.to_string().trim().to_string()
}

fn attr<'b>(body: &'b Body, key: &str) -> Option<&'b Expression> {
    body.attributes()
        .find(|a| a.key.as_str() == key)
        .map(|a| &a.expr)
}

/// The JSON value of a literal expression, or `Err` with the reason it is
/// not known at build time.
fn literal(expr: &Expression) -> Result<Value, String> {
    match expr {
        Expression::Null => Ok(Value::Null),
        Expression::Bool(b) => Ok(Value::Bool(*b)),
        Expression::Number(n) => Ok(if let Some(i) = n.as_i64() {
            json!(i)
        } else if let Some(u) = n.as_u64() {
            json!(u)
        } else {
            json!(n.as_f64())
        }),
        Expression::String(s) => Ok(Value::String(s.clone())),
        Expression::Array(items) => items.iter().map(literal).collect::<Result<_, _>>(),
        Expression::Object(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = match k {
                    ObjectKey::Identifier(id) => id.to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.clone(),
                    _ => return Err(unknown(expr)),
                };
                map.insert(key, literal(v).map_err(|_| unknown(expr))?);
            }
            Ok(Value::Object(map))
        }
        Expression::Parenthesis(inner) => literal(inner).map_err(|_| unknown(expr)),
        _ => Err(unknown(expr)),
    }
}

/// The literal value of `key`, `Ok(None)` when it is absent or null.
fn value(body: &Body, key: &str) -> Result<Option<Value>, String> {
    match attr(body, key) {
        None => Ok(None),
        Some(e) => literal(e).map(|v| if v.is_null() { None } else { Some(v) }),
    }
}

/// Sets `key` from the argument `arg`, or `default` when it is omitted; an
/// unknown value goes to `uncollected`.
fn set_from(r: &mut Resource, body: &Body, arg: &str, key: &str, default: Option<Value>) {
    match value(body, arg) {
        Ok(Some(v)) => {
            r.attributes.insert(key.into(), v);
        }
        Ok(None) => {
            if let Some(d) = default {
                r.attributes.insert(key.into(), d);
            }
        }
        Err(reason) => {
            r.uncollected.insert(key.into(), reason);
        }
    }
}

fn label(l: &BlockLabel) -> String {
    match l {
        BlockLabel::Identifier(i) => i.to_string(),
        BlockLabel::String(s) => s.clone(),
    }
}

/// The 1-based line of `resource "kind" "name"` in `source`; 1 if not found.
fn line_of(source: &str, kind: &str, name: &str) -> u32 {
    for (i, line) in source.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("resource") else {
            continue;
        };
        let mut labels = Vec::new();
        let mut rest = rest.trim_start();
        while labels.len() < 2 && !rest.is_empty() {
            if let Some(q) = rest.strip_prefix('"') {
                let Some(end) = q.find('"') else { break };
                labels.push(&q[..end]);
                rest = q[end + 1..].trim_start();
            } else {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(rest.len());
                if end == 0 {
                    break;
                }
                labels.push(&rest[..end]);
                rest = rest[end..].trim_start();
            }
        }
        if labels == [kind, name] {
            return u32::try_from(i + 1).unwrap_or(u32::MAX);
        }
    }
    1
}

fn new_resource(d: &Decl<'_>, service: &str, resource_type: &str, name: String) -> Resource {
    let mut r = Resource {
        provider: Provider::Aws,
        account: String::new(),
        region: String::new(),
        service: service.into(),
        resource_type: resource_type.into(),
        id: d.address(),
        name,
        tags: BTreeMap::new(),
        attributes: Map::new(),
        associations: Vec::new(),
        uncollected: BTreeMap::new(),
        suppressed: Default::default(),
        first_discovered: None,
        last_updated: None,
        origin: Origin::Iac {
            file: d.file.to_string(),
            line: d.line,
            end_line: 0,
        },
    };
    match value(&d.body, "tags") {
        Ok(Some(Value::Object(tags))) => {
            for (k, v) in tags {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                r.tags.insert(k, v);
            }
        }
        Ok(_) => {}
        Err(reason) => {
            r.uncollected.insert("tags".into(), reason);
        }
    }
    r
}

/// The name of a resource: the literal `arg`, else its address.
fn name_of(d: &Decl<'_>, arg: &str) -> String {
    match value(&d.body, arg) {
        Ok(Some(Value::String(s))) => s,
        _ => d.address(),
    }
}

/// What a reference to another resource resolves to.
enum Target {
    /// The resource with this address.
    Address(String),
    /// A literal name or id, matched against the targets' literal names.
    Literal(String),
    /// Cannot be resolved: the reason.
    Unknown(String),
}

/// Resolves `expr` as a reference to a resource of `kind` through one of
/// `attrs` (e.g. `aws_s3_bucket.logs.id`), or as a literal.
fn target(expr: Option<&Expression>, kind: &str, attrs: &[&str]) -> Target {
    let Some(expr) = expr else {
        return Target::Unknown("value not known at build time: (not set)".into());
    };
    if let Expression::String(s) = expr {
        return Target::Literal(s.clone());
    }
    let t = text(expr);
    let parts: Vec<&str> = t.split('.').collect();
    if parts.len() == 3
        && parts[0] == kind
        && attrs.contains(&parts[2])
        && !parts[1].is_empty()
        && parts[1]
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Target::Address(format!("{}.{}", parts[0], parts[1]));
    }
    Target::Unknown(unknown(expr))
}

/// Folded settings for one attribute of a target, and the reasons settings
/// of unresolved targets might apply to any of them.
struct Fold<T> {
    by_address: BTreeMap<String, T>,
    by_literal: BTreeMap<String, T>,
    unresolved: Option<String>,
}

impl<T> Fold<T> {
    fn new() -> Self {
        Fold {
            by_address: BTreeMap::new(),
            by_literal: BTreeMap::new(),
            unresolved: None,
        }
    }

    fn add(&mut self, target: Target, v: T, from: &str) {
        match target {
            Target::Address(a) => {
                self.by_address.insert(a, v);
            }
            Target::Literal(l) => {
                self.by_literal.insert(l, v);
            }
            Target::Unknown(reason) => {
                self.unresolved
                    .get_or_insert_with(|| format!("{reason} (target of {from})"));
            }
        }
    }

    fn take(&mut self, address: &str, name: &str) -> Option<T> {
        self.by_address
            .remove(address)
            .or_else(|| self.by_literal.remove(name))
    }
}

/// Parses the given `.tf` files (path, text) and returns the normalized
/// resources they declare, and the files that could not be parsed.
pub fn terraform_resources(files: &[(String, String)]) -> (Vec<Resource>, Vec<ParseError>) {
    let mut errors = Vec::new();
    let mut decls = Vec::new();
    let mut scope = Scope::default();
    for (file, source) in files {
        let body = match hcl::parse(source) {
            Ok(b) => b,
            Err(e) => {
                errors.push(parse_error(file, &e));
                continue;
            }
        };
        for block in body.into_blocks() {
            match block.identifier.as_str() {
                "variable" if block.labels.len() == 1 => {
                    let name = label(&block.labels[0]);
                    let default = attr(&block.body, "default").cloned();
                    // A name declared twice is an error in Terraform: unknown.
                    let known = !scope.variables.contains_key(&name);
                    scope.variables.insert(name, default.filter(|_| known));
                    continue;
                }
                "locals" if block.labels.is_empty() => {
                    for a in block.body.attributes() {
                        let name = a.key.to_string();
                        let known = !scope.locals.contains_key(&name);
                        scope
                            .locals
                            .insert(name, Some(a.expr.clone()).filter(|_| known));
                    }
                    continue;
                }
                "resource" if block.labels.len() == 2 => {}
                _ => continue,
            }
            let Block { labels, body, .. } = block;
            let kind = label(&labels[0]);
            let name = label(&labels[1]);
            decls.push(Decl {
                file,
                line: line_of(source, &kind, &name),
                kind,
                name,
                body,
            });
        }
    }
    for d in &mut decls {
        scope.substitute(&mut d.body);
    }
    (normalize(&decls), errors)
}

/// The `variable` defaults and `locals` of the files, by name; `None` for a
/// variable without a default or a name declared twice.
#[derive(Default)]
struct Scope {
    variables: BTreeMap<String, Option<Expression>>,
    locals: BTreeMap<String, Option<Expression>>,
}

/// How many `local` → `local` steps are followed before giving up (cycles).
const MAX_DEPTH: usize = 8;

impl Scope {
    /// Replaces, throughout `body`, every argument value that resolves to a
    /// literal through variable defaults and locals by that literal. Values
    /// that do not resolve as a whole are left as written, so they are
    /// reported unknown with their own text.
    fn substitute(&self, body: &mut Body) {
        for structure in body.iter_mut() {
            match structure {
                Structure::Attribute(a) => {
                    if let Some(v) = self.resolve(&a.expr, 0) {
                        a.expr = v;
                    }
                }
                Structure::Block(b) => self.substitute(&mut b.body),
            }
        }
    }

    /// The literal `expr` stands for, when it is a literal, `var.NAME` with
    /// a literal default, `local.NAME` bound to such a value, a template that
    /// is a single interpolation of one of those, or an array or object made
    /// of them only; `None` otherwise.
    fn resolve(&self, expr: &Expression, depth: usize) -> Option<Expression> {
        if depth > MAX_DEPTH {
            return None;
        }
        match expr {
            Expression::Null
            | Expression::Bool(_)
            | Expression::Number(_)
            | Expression::String(_) => Some(expr.clone()),
            Expression::Array(items) => items
                .iter()
                .map(|i| self.resolve(i, depth + 1))
                .collect::<Option<Vec<_>>>()
                .map(Expression::Array),
            Expression::Object(entries) => {
                let mut out = hcl::Object::new();
                for (k, v) in entries {
                    match k {
                        ObjectKey::Identifier(_) | ObjectKey::Expression(Expression::String(_)) => {
                        }
                        _ => return None,
                    }
                    out.insert(k.clone(), self.resolve(v, depth + 1)?);
                }
                Some(Expression::Object(out))
            }
            Expression::Parenthesis(inner) => self.resolve(inner, depth + 1),
            Expression::Traversal(t) => {
                let Expression::Variable(root) = &t.expr else {
                    return None;
                };
                let [TraversalOperator::GetAttr(name)] = t.operators.as_slice() else {
                    return None;
                };
                let bound = match root.as_str() {
                    "var" => self.variables.get(name.as_str())?.as_ref()?,
                    "local" => self.locals.get(name.as_str())?.as_ref()?,
                    _ => return None,
                };
                let v = self.resolve(bound, depth + 1)?;
                // A default must be a literal, not a reference of its own.
                if root.as_str() == "var" && !is_literal(bound) {
                    return None;
                }
                Some(v)
            }
            Expression::TemplateExpr(t) => {
                let template = Template::from_expr(t).ok()?;
                match template.elements() {
                    [Element::Interpolation(i)] => self.resolve(&i.expr, depth + 1),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Whether `expr` is written as a literal (no references at all).
fn is_literal(expr: &Expression) -> bool {
    literal(expr).is_ok()
}

fn parse_error(file: &str, e: &hcl::Error) -> ParseError {
    match e {
        hcl::Error::Parse(p) => ParseError {
            file: file.into(),
            line: p.location().line(),
            column: p.location().column(),
            message: p.message().to_string(),
        },
        other => ParseError {
            file: file.into(),
            line: 1,
            column: 1,
            message: other.to_string(),
        },
    }
}

type Settled = Result<Value, String>;

fn normalize(decls: &[Decl<'_>]) -> Vec<Resource> {
    let mut versioning: Fold<Settled> = Fold::new();
    let mut access_block: Fold<Settled> = Fold::new();
    let mut acls: Fold<Settled> = Fold::new();
    let mut ingress: Fold<Vec<Settled>> = Fold::new();
    let mut egress: Fold<Vec<Settled>> = Fold::new();
    for d in decls {
        let bucket = || target(d.attr("bucket"), "aws_s3_bucket", &["id", "bucket"]);
        let group = || target(d.attr("security_group_id"), "aws_security_group", &["id"]);
        let from = d.address();
        match d.kind.as_str() {
            "aws_s3_bucket_versioning" => versioning.add(bucket(), versioning_of(d), &from),
            "aws_s3_bucket_public_access_block" => {
                access_block.add(bucket(), public_access_block_of(&d.body), &from)
            }
            "aws_s3_bucket_acl" => acls.add(bucket(), acl_resource_grants(&d.body), &from),
            "aws_security_group_rule" => {
                let fold = match value(&d.body, "type") {
                    Ok(Some(Value::String(t))) if t == "egress" => &mut egress,
                    Ok(Some(Value::String(t))) if t == "ingress" => &mut ingress,
                    _ => {
                        // Which list it belongs to is unknown: both are.
                        let reason = d.attr("type").map(unknown).unwrap_or_else(|| {
                            "value not known at build time: (type not set)".into()
                        });
                        ingress.add(Target::Unknown(reason.clone()), Vec::new(), &from);
                        egress.add(Target::Unknown(reason), Vec::new(), &from);
                        continue;
                    }
                };
                let rule = classic_rule(&d.body, None);
                extend(fold, group(), rule, &from);
            }
            "aws_vpc_security_group_ingress_rule" => {
                extend(&mut ingress, group(), vpc_rule(&d.body), &from)
            }
            "aws_vpc_security_group_egress_rule" => {
                extend(&mut egress, group(), vpc_rule(&d.body), &from)
            }
            _ => {}
        }
    }

    let mut out = Vec::new();
    for d in decls {
        match d.kind.as_str() {
            "aws_s3_bucket" => out.push(bucket(d, &mut versioning, &mut access_block, &mut acls)),
            "aws_security_group" => out.push(security_group(d, &mut ingress, &mut egress)),
            "aws_db_instance" => out.push(db_instance(d)),
            "aws_ebs_volume" => out.push(ebs_volume(d)),
            _ => {}
        }
    }
    out
}

/// Adds one rule to the rules of a security group.
fn extend(fold: &mut Fold<Vec<Settled>>, target: Target, rule: Settled, from: &str) {
    match target {
        Target::Address(a) => fold.by_address.entry(a).or_default().push(rule),
        Target::Literal(l) => fold.by_literal.entry(l).or_default().push(rule),
        t @ Target::Unknown(_) => fold.add(t, Vec::new(), from),
    }
}

/// Sets `key` from folded settings: the resource's own, else what an
/// unresolved reference makes unknown, else `default`.
fn settle(
    r: &mut Resource,
    key: &str,
    own: Option<Settled>,
    unresolved: &Option<String>,
    default: Value,
) {
    match (own, unresolved) {
        (Some(Ok(v)), _) => {
            r.attributes.insert(key.into(), v);
        }
        (Some(Err(reason)), _) => {
            r.attributes.remove(key);
            r.uncollected.insert(key.into(), reason);
        }
        (None, Some(reason)) => {
            r.attributes.remove(key);
            r.uncollected.insert(key.into(), reason.clone());
        }
        (None, None) => {
            r.attributes.insert(key.into(), default);
        }
    }
}

// ---------------------------------------------------------------- S3

fn bucket(
    d: &Decl<'_>,
    versioning: &mut Fold<Settled>,
    access_block: &mut Fold<Settled>,
    acls: &mut Fold<Settled>,
) -> Resource {
    let name = name_of(d, "bucket");
    let mut r = new_resource(d, "S3", "aws.s3.bucket", name.clone());
    let address = d.address();
    set_from(&mut r, &d.body, "bucket", "bucket", None);
    r.uncollected.insert(
        "creation_date".into(),
        "value not known at build time: set by AWS when the bucket is created".into(),
    );

    // The inline (deprecated) `acl` and `versioning` arguments, overridden by
    // the separate resources.
    let inline_acl = d.attr("acl").map(|e| match literal(e) {
        Ok(Value::String(s)) => canned_grants(&s).ok_or_else(|| unknown(e)),
        _ => Err(unknown(e)),
    });
    let own_acl = acls.take(&address, &name).or(inline_acl);
    settle(
        &mut r,
        "acl_grants",
        own_acl,
        &acls.unresolved,
        canned_grants("private").unwrap_or_default(),
    );

    let inline_versioning = d
        .body
        .blocks()
        .find(|b| b.identifier.as_str() == "versioning");
    let inline_versioning = inline_versioning.map(|b| {
        let enabled = value(&b.body, "enabled")?.and_then(|v| v.as_bool());
        let mfa = value(&b.body, "mfa_delete")?.and_then(|v| v.as_bool());
        Ok(json!({
            "status": if enabled == Some(true) { "Enabled" } else { "" },
            "mfa_delete": match mfa { Some(true) => "Enabled", _ => "" },
        }))
    });
    let own_versioning = versioning.take(&address, &name).or(inline_versioning);
    settle(
        &mut r,
        "versioning",
        own_versioning,
        &versioning.unresolved,
        json!({"status": "", "mfa_delete": ""}),
    );

    let own_block = access_block.take(&address, &name);
    settle(
        &mut r,
        "public_access_block",
        own_block,
        &access_block.unresolved,
        json!({"block_public_acls": false, "ignore_public_acls": false,
               "block_public_policy": false, "restrict_public_buckets": false}),
    );
    r
}

fn versioning_of(d: &Decl<'_>) -> Settled {
    let Some(conf) = d
        .body
        .blocks()
        .find(|b| b.identifier.as_str() == "versioning_configuration")
    else {
        return Err("value not known at build time: (no versioning_configuration)".into());
    };
    let status = match value(&conf.body, "status")? {
        Some(Value::String(s)) if s == "Enabled" || s == "Suspended" => s,
        // `Disabled` only applies to a bucket that never had versioning.
        Some(Value::String(s)) if s == "Disabled" => String::new(),
        _ => {
            return Err(conf
                .body
                .attributes()
                .find(|a| a.key.as_str() == "status")
                .map(|a| unknown(&a.expr))
                .unwrap_or_else(|| "value not known at build time: (status not set)".into()))
        }
    };
    let mfa = match value(&conf.body, "mfa_delete")? {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    Ok(json!({"status": status, "mfa_delete": mfa}))
}

fn public_access_block_of(body: &Body) -> Settled {
    let mut out = Map::new();
    for key in [
        "block_public_acls",
        "ignore_public_acls",
        "block_public_policy",
        "restrict_public_buckets",
    ] {
        let v = match value(body, key)? {
            None => false,
            Some(Value::Bool(b)) => b,
            Some(_) => return Err(attr(body, key).map(unknown).unwrap_or_default()),
        };
        out.insert(key.into(), Value::Bool(v));
    }
    Ok(Value::Object(out))
}

fn grant(kind: &str, uri: &str, id: &str, permission: &str) -> Value {
    json!({"grantee_type": kind, "grantee_uri": uri, "grantee_id": id, "permission": permission})
}

/// The grants of a canned ACL, as GetBucketAcl reports them (the owner's
/// canonical id is not known before the bucket exists).
fn canned_grants(acl: &str) -> Option<Value> {
    let owner = grant("CanonicalUser", "", "", "FULL_CONTROL");
    let group = |uri, p| grant("Group", uri, "", p);
    let grants = match acl {
        "private" | "bucket-owner-read" | "bucket-owner-full-control" => vec![owner],
        "public-read" => vec![owner, group(ALL_USERS, "READ")],
        "public-read-write" => vec![owner, group(ALL_USERS, "READ"), group(ALL_USERS, "WRITE")],
        "authenticated-read" => vec![owner, group(AUTHENTICATED_USERS, "READ")],
        "log-delivery-write" => vec![
            owner,
            group(LOG_DELIVERY, "WRITE"),
            group(LOG_DELIVERY, "READ_ACP"),
        ],
        "aws-exec-read" => vec![owner, grant("CanonicalUser", "", "", "READ")],
        _ => return None,
    };
    Some(Value::Array(grants))
}

fn acl_resource_grants(body: &Body) -> Settled {
    if let Some(e) = attr(body, "acl") {
        return match literal(e) {
            Ok(Value::String(s)) => canned_grants(&s).ok_or_else(|| unknown(e)),
            _ => Err(unknown(e)),
        };
    }
    let Some(policy) = body
        .blocks()
        .find(|b| b.identifier.as_str() == "access_control_policy")
    else {
        return Err(
            "value not known at build time: (neither acl nor access_control_policy)".into(),
        );
    };
    let mut grants = Vec::new();
    for g in policy
        .body
        .blocks()
        .filter(|b| b.identifier.as_str() == "grant")
    {
        let permission = string(&g.body, "permission")?;
        let Some(grantee) = g.body.blocks().find(|b| b.identifier.as_str() == "grantee") else {
            continue;
        };
        grants.push(grant(
            &string(&grantee.body, "type")?,
            &string(&grantee.body, "uri")?,
            &string(&grantee.body, "id")?,
            &permission,
        ));
    }
    Ok(Value::Array(grants))
}

/// A literal string argument, empty when omitted.
fn string(body: &Body, key: &str) -> Result<String, String> {
    match value(body, key)? {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Ok(other.to_string()),
    }
}

// ---------------------------------------------------------------- EC2

fn security_group(
    d: &Decl<'_>,
    ingress: &mut Fold<Vec<Settled>>,
    egress: &mut Fold<Vec<Settled>>,
) -> Resource {
    let name = name_of(d, "name");
    let mut r = new_resource(d, "EC2", "aws.ec2.security_group", name.clone());
    let address = d.address();
    r.uncollected.insert(
        "group_id".into(),
        "value not known at build time: assigned by AWS when the group is created".into(),
    );
    set_from(
        &mut r,
        &d.body,
        "description",
        "description",
        Some(json!("Managed by Terraform")),
    );
    match value(&d.body, "vpc_id") {
        Ok(Some(v)) => {
            r.attributes.insert("vpc_id".into(), v);
        }
        Ok(None) => {
            r.uncollected.insert(
                "vpc_id".into(),
                "value not known at build time: the region's default VPC".into(),
            );
        }
        Err(reason) => {
            r.uncollected.insert("vpc_id".into(), reason);
        }
    }
    for (key, block, fold) in [
        ("ip_permissions", "ingress", ingress),
        ("ip_permissions_egress", "egress", egress),
    ] {
        let mut rules: Vec<Settled> = d
            .body
            .blocks()
            .filter(|b| b.identifier.as_str() == block)
            .map(|b| classic_rule(&b.body, Some(&address)))
            .collect();
        if let Some(e) = attr(&d.body, block) {
            // `ingress = [...]`: known only when literal (usually empty).
            match literal(e) {
                Ok(Value::Array(items)) if items.is_empty() => {}
                _ => rules.push(Err(unknown(e))),
            }
        }
        rules.extend(fold.take(&address, &name).unwrap_or_default());
        let own = rules
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
        settle(&mut r, key, Some(own), &None, Value::Array(Vec::new()));
        if let (Some(reason), Some(Value::Array(_))) = (&fold.unresolved, r.attributes.get(key)) {
            r.attributes.remove(key);
            r.uncollected.insert(key.into(), reason.clone());
        }
    }
    r
}

/// AWS reports protocols by name where it has one.
fn protocol(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".into(),
        "6" | "tcp" => "tcp".into(),
        "17" | "udp" => "udp".into(),
        "1" | "icmp" => "icmp".into(),
        "58" | "icmpv6" => "icmpv6".into(),
        other => other.into(),
    }
}

fn permission(
    proto: &str,
    from: Option<i64>,
    to: Option<i64>,
    v4: Vec<Value>,
    v6: Vec<Value>,
    groups: Vec<Value>,
) -> Value {
    let all = proto == "-1";
    json!({
        "ip_protocol": proto,
        "from_port": if all { 0 } else { from.unwrap_or(0) },
        "to_port": if all { 65535 } else { to.unwrap_or(65535) },
        "ip_ranges": v4,
        "ipv6_ranges": v6,
        "referenced_groups": groups,
    })
}

fn port(body: &Body, key: &str) -> Result<Option<i64>, String> {
    match value(body, key)? {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| attr(body, key).map(unknown).unwrap_or_default()),
    }
}

fn strings(body: &Body, key: &str) -> Result<Vec<Value>, String> {
    match value(body, key)? {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Ok(vec![other]),
    }
}

/// A referenced security group: its literal id, or the address of the group
/// a reference names (the id a declared group has in Vigil).
fn group_ref(expr: &Expression) -> Result<Value, String> {
    match target(Some(expr), "aws_security_group", &["id"]) {
        Target::Address(a) => Ok(json!(a)),
        Target::Literal(l) => Ok(json!(l)),
        Target::Unknown(reason) => Err(reason),
    }
}

/// An inline `ingress`/`egress` block or an `aws_security_group_rule`;
/// `own` is the address of the group an inline block belongs to.
fn classic_rule(body: &Body, own: Option<&str>) -> Settled {
    let proto = match value(body, "protocol")? {
        Some(Value::String(p)) => protocol(&p),
        Some(other) => protocol(&other.to_string()),
        None => return Err("value not known at build time: (protocol not set)".into()),
    };
    let mut groups = Vec::new();
    let sg_key = if own.is_some() {
        "security_groups"
    } else {
        "source_security_group_id"
    };
    if let Some(e) = attr(body, sg_key) {
        match e {
            Expression::Array(items) => {
                for item in items {
                    groups.push(group_ref(item)?);
                }
            }
            Expression::Null => {}
            other => groups.push(group_ref(other)?),
        }
    }
    if value(body, "self")? == Some(Value::Bool(true)) {
        match own {
            Some(a) => groups.push(json!(a)),
            None => match attr(body, "security_group_id").map(group_ref) {
                Some(Ok(g)) => groups.push(g),
                Some(Err(reason)) => return Err(reason),
                None => {}
            },
        }
    }
    Ok(permission(
        &proto,
        port(body, "from_port")?,
        port(body, "to_port")?,
        strings(body, "cidr_blocks")?,
        strings(body, "ipv6_cidr_blocks")?,
        groups,
    ))
}

/// An `aws_vpc_security_group_{ingress,egress}_rule`.
fn vpc_rule(body: &Body) -> Settled {
    let proto = match value(body, "ip_protocol")? {
        Some(Value::String(p)) => protocol(&p),
        Some(other) => protocol(&other.to_string()),
        None => return Err("value not known at build time: (ip_protocol not set)".into()),
    };
    let mut groups = Vec::new();
    if let Some(e) = attr(body, "referenced_security_group_id") {
        groups.push(group_ref(e)?);
    }
    Ok(permission(
        &proto,
        port(body, "from_port")?,
        port(body, "to_port")?,
        strings(body, "cidr_ipv4")?,
        strings(body, "cidr_ipv6")?,
        groups,
    ))
}

fn ebs_volume(d: &Decl<'_>) -> Resource {
    let mut r = new_resource(d, "EC2", "aws.ec2.volume", d.address());
    set_from(
        &mut r,
        &d.body,
        "encrypted",
        "encrypted",
        Some(json!(false)),
    );
    set_from(&mut r, &d.body, "kms_key_id", "kms_key_id", None);
    set_from(&mut r, &d.body, "size", "size", None);
    set_from(&mut r, &d.body, "type", "volume_type", Some(json!("gp2")));
    set_from(&mut r, &d.body, "iops", "iops", None);
    set_from(
        &mut r,
        &d.body,
        "availability_zone",
        "availability_zone",
        None,
    );
    set_from(&mut r, &d.body, "snapshot_id", "snapshot_id", None);
    set_from(
        &mut r,
        &d.body,
        "multi_attach_enabled",
        "multi_attach_enabled",
        Some(json!(false)),
    );
    r
}

// ---------------------------------------------------------------- RDS

fn db_instance(d: &Decl<'_>) -> Resource {
    let name = name_of(d, "identifier");
    let mut r = new_resource(d, "RDS", "aws.rds.db_instance", name);
    let body = &d.body;
    match value(body, "engine") {
        Ok(Some(v)) => {
            r.attributes.insert("engine".into(), v);
        }
        Ok(None) => {
            r.uncollected.insert(
                "engine".into(),
                "value not known at build time: inherited from the source database or snapshot"
                    .into(),
            );
        }
        Err(reason) => {
            r.uncollected.insert("engine".into(), reason);
        }
    }
    set_from(&mut r, body, "engine_version", "engine_version", None);
    set_from(&mut r, body, "instance_class", "instance_class", None);
    let default_port = match r.attributes.get("engine").and_then(Value::as_str) {
        Some(e) if e.contains("mysql") || e.contains("mariadb") => Some(json!(3306)),
        Some(e) if e.contains("postgres") => Some(json!(5432)),
        Some(e) if e.starts_with("oracle") => Some(json!(1521)),
        Some(e) if e.starts_with("sqlserver") => Some(json!(1433)),
        Some(e) if e.starts_with("db2") => Some(json!(50000)),
        _ => None,
    };
    if attr(body, "port").is_none() && default_port.is_none() {
        r.uncollected.insert(
            "port".into(),
            "value not known at build time: the engine's default port".into(),
        );
    }
    set_from(&mut r, body, "port", "port", default_port);
    set_from(
        &mut r,
        body,
        "publicly_accessible",
        "publicly_accessible",
        Some(json!(false)),
    );
    set_from(
        &mut r,
        body,
        "storage_encrypted",
        "storage_encrypted",
        Some(json!(false)),
    );
    set_from(
        &mut r,
        body,
        "auto_minor_version_upgrade",
        "auto_minor_version_upgrade",
        Some(json!(true)),
    );
    set_from(&mut r, body, "multi_az", "multi_az", Some(json!(false)));
    set_from(
        &mut r,
        body,
        "backup_retention_period",
        "backup_retention_period",
        Some(json!(1)),
    );
    if let Some(Expression::Array(groups)) = attr(body, "vpc_security_group_ids") {
        for g in groups {
            if let Ok(Value::String(id)) = group_ref(g) {
                r.associations.push(Association {
                    relation: "uses".into(),
                    resource_type: "aws.ec2.security_group".into(),
                    id,
                });
            }
        }
    }
    r
}

#[cfg(test)]
mod tests;
