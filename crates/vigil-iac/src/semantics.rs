//! AWS semantics the Terraform and CloudFormation mappers share, computed on
//! [`Val`]s so that unknowns are never guessed: whether a resource policy
//! lets anyone in, which events a trail's event selectors record, when KMS
//! rotation applies. They mirror the live collectors (`policy_is_public` in
//! `vigil-aws/src/services/mod.rs`, `Events` in `cloudtrail.rs`, rotation in
//! `kms.rs`), so that a declared resource and its deployed form get the same
//! attributes.

use crate::aws::loose_bool;
use crate::value::{Unknown, Val};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use vigil_model::{Association, Origin, Provider, Resource};

/// A resource declared in IaC, before its attributes: AWS, with no account
/// or region (known only once deployed), its id (the address or logical
/// id), name, the controls its source suppresses and where it is declared.
pub(crate) fn declared_resource(
    service: &str,
    resource_type: &str,
    id: &str,
    name: String,
    suppressed: BTreeMap<u32, String>,
    origin: Origin,
) -> Resource {
    Resource {
        provider: Provider::Aws,
        account: String::new(),
        region: String::new(),
        service: service.into(),
        resource_type: resource_type.into(),
        id: id.into(),
        name,
        tags: BTreeMap::new(),
        attributes: Map::new(),
        associations: Vec::new(),
        uncollected: BTreeMap::new(),
        suppressed,
        first_discovered: None,
        last_updated: None,
        origin,
    }
}

/// Sets attribute `key` to `v` as JSON; when `v` is absent or null, to
/// `default` if given; when `v` is or contains an unknown, records it in
/// `uncollected` instead.
pub(crate) fn set(r: &mut Resource, key: &str, v: Option<&Val>, default: Option<Value>) {
    match v.filter(|v| !v.is_null()) {
        Some(v) => match v.to_json() {
            Ok(j) => {
                r.attributes.insert(key.into(), j);
            }
            Err(u) => unknown(r, key, u),
        },
        None => {
            if let Some(d) = default {
                r.attributes.insert(key.into(), d);
            }
        }
    }
}

/// Records that attribute `key` is not known at build time.
pub(crate) fn unknown(r: &mut Resource, key: &str, u: &Unknown) {
    r.attributes.remove(key);
    r.uncollected.insert(key.into(), u.reason());
}

/// What a control that only needs to know whether something is set can read
/// for `v`: an unknown (`v` itself or an element of the list `v`) whose
/// expression is a reference to a resource declared in the scan, or a
/// string built around one, becomes that expression's text as
/// `declared_text` gives it (it stands for the ARN or name that resource
/// will have, as in `docs/iac.md`); any other unknown (a variable or
/// parameter without a value, a data source, an import, a conditional)
/// stays unknown.
pub(crate) fn stand_in(v: &Val, declared_text: &dyn Fn(&str) -> Option<String>) -> Val {
    match v {
        Val::Unknown(u) => declared_text(&u.expr).map_or_else(|| v.clone(), Val::String),
        Val::List(items) => Val::List(items.iter().map(|i| stand_in(i, declared_text)).collect()),
        other => other.clone(),
    }
}

/// The satellites that configure one resource (Terraform blocks or
/// CloudFormation resources `T`).
pub(crate) struct Satellites<'a, T> {
    /// Those that name the resource (by reference or by its literal name).
    pub matched: Vec<&'a T>,
    /// When a satellite's target cannot be resolved (e.g. a variable or
    /// parameter without a value), it might configure this resource: the
    /// reason, to put in `uncollected` for the attributes it would set when
    /// `matched` is empty.
    pub unresolved: Option<String>,
}

/// A truth value that may depend on something not known at build time
/// (`Err` names it). Combined with Kleene's three-valued logic: `true || ?`
/// is `true`, `false && ?` is `false`, anything else with `?` is `?`.
pub(crate) type Tri = Result<bool, Unknown>;

fn or(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Ok(true), _) | (_, Ok(true)) => Ok(true),
        (Err(u), _) | (_, Err(u)) => Err(u),
        _ => Ok(false),
    }
}

fn and(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Ok(false), _) | (_, Ok(false)) => Ok(false),
        (Err(u), _) | (_, Err(u)) => Err(u),
        _ => Ok(true),
    }
}

fn any<'a>(items: impl IntoIterator<Item = &'a Val>, f: impl Fn(&'a Val) -> Tri) -> Tri {
    // Not `try_fold`: an unknown must not stop the search for a `true`.
    let mut acc = Ok(false);
    for v in items {
        acc = or(acc, f(v));
    }
    acc
}

/// Sets attribute `key` to a [`Tri`]: the boolean, or `uncollected` with the
/// unknown it depends on.
pub(crate) fn set_tri(r: &mut Resource, key: &str, t: Tri) {
    match t {
        Ok(b) => {
            r.uncollected.remove(key);
            r.attributes.insert(key.into(), Value::Bool(b));
        }
        Err(u) => {
            r.attributes.remove(key);
            r.uncollected.insert(key.into(), u.reason());
        }
    }
}

/// A policy document as a value: a JSON string (Terraform's `policy`, a
/// CloudFormation string) is parsed; an object (CloudFormation's
/// `KeyPolicy`) is taken as it is. `Err` is the reason to record in
/// `uncollected`: the value is unknown or is not a JSON document.
pub(crate) fn policy_document(v: &Val) -> Result<Val, String> {
    match v {
        Val::String(s) => serde_json::from_str::<Value>(s)
            .map(|j| Val::from_json(&j))
            .map_err(|e| format!("the policy is not a JSON document ({e}); fix the policy text")),
        Val::Map(_) => Ok(v.clone()),
        Val::Unknown(u) => Err(u.reason()),
        other => Err(format!(
            "the policy is a {}, not a JSON document",
            other.type_name()
        )),
    }
}

/// Whether a resource policy lets anyone in: an `Allow` statement whose
/// principal is `*` (or `{"AWS": "*"}`, or a `NotPrincipal`) with no
/// condition narrowing who may call (a Lambda URL's
/// `lambda:FunctionUrlAuthType` condition narrows nothing).
pub(crate) fn policy_is_public(doc: &Val) -> Tri {
    let statements: Vec<&Val> = match doc.get("Statement") {
        Some(Val::List(items)) => items.iter().collect(),
        Some(one @ Val::Map(_)) => vec![one],
        Some(Val::Unknown(u)) => return Err(u.clone()),
        _ => Vec::new(),
    };
    any(statements, |s| {
        let allow = match s.get("Effect") {
            Some(Val::String(e)) => Ok(e == "Allow"),
            Some(Val::Unknown(u)) => Err(u.clone()),
            _ => Ok(false),
        };
        let anyone = match (s.get("NotPrincipal"), s.get("Principal")) {
            (Some(p), _) if !p.is_null() => Ok(true),
            (_, Some(p)) => principal_is_anyone(p),
            _ => Ok(false),
        };
        let narrowed = narrowed(s.get("Condition")).map(|n| !n);
        and(allow, and(anyone, narrowed))
    })
}

fn principal_is_anyone(p: &Val) -> Tri {
    match p {
        Val::String(s) => Ok(s == "*"),
        Val::List(items) => any(items, principal_is_anyone),
        Val::Map(m) => any(m.values(), principal_is_anyone),
        Val::Unknown(u) => Err(u.clone()),
        _ => Ok(false),
    }
}

/// Whether a statement's condition limits who may use it.
fn narrowed(condition: Option<&Val>) -> Tri {
    match condition {
        None | Some(Val::Null) => Ok(false),
        Some(Val::Unknown(u)) => Err(u.clone()),
        Some(Val::Map(operators)) => any(operators.values(), |keys| match keys {
            Val::Map(keys) => Ok(keys
                .keys()
                .any(|k| !k.eq_ignore_ascii_case("lambda:FunctionUrlAuthType"))),
            Val::Unknown(u) => Err(u.clone()),
            _ => Ok(true),
        }),
        Some(_) => Ok(false),
    }
}

/// Sets a trail's `event_selectors` and `advanced_event_selectors` (given in
/// the normalized shapes: `{read_write_type, include_management_events,
/// data_resources: [{type, values}]}` and `{name, field_selectors: [{field,
/// equals, not_equals, starts_with, not_starts_with, ends_with,
/// not_ends_with}]}`) and what they record: `logs_all_management_events`,
/// `s3_object_read_events`, `s3_object_write_events`. A selector with an
/// unknown inside can only add events: a `true` from the known selectors
/// stands, a `false` becomes unknown.
pub(crate) fn set_trail_events(r: &mut Resource, basic: Vec<Val>, advanced: Vec<Val>) {
    let none = basic.is_empty() && advanced.is_empty();
    // A trail without selectors records what a new trail records: every
    // management event.
    let mut management: Tri = Ok(none);
    let mut s3_read: Tri = Ok(false);
    let mut s3_write: Tri = Ok(false);
    let mut add = |m: Tri, rd: Tri, wr: Tri| {
        management = or(management.clone(), m);
        s3_read = or(s3_read.clone(), rd);
        s3_write = or(s3_write.clone(), wr);
    };
    for s in &basic {
        if let Some(u) = s.first_unknown() {
            add(Err(u.clone()), Err(u.clone()), Err(u.clone()));
            continue;
        }
        let rw = s
            .get("read_write_type")
            .and_then(Val::as_str)
            .unwrap_or("All");
        let management_events = s
            .get("include_management_events")
            .and_then(Val::as_bool)
            .unwrap_or(true);
        let all_buckets = s.blocks("data_resources").iter().any(|d| {
            d.get("type").and_then(Val::as_str) == Some("AWS::S3::Object")
                && strings(d.get("values")).any(|v| v == "arn:aws:s3" || v == "arn:aws:s3:::")
        });
        add(
            Ok(management_events && rw == "All"),
            Ok(all_buckets && rw != "WriteOnly"),
            Ok(all_buckets && rw != "ReadOnly"),
        );
    }
    for a in &advanced {
        if let Some(u) = a.first_unknown() {
            add(Err(u.clone()), Err(u.clone()), Err(u.clone()));
            continue;
        }
        let fields = a.blocks("field_selectors");
        let field = |name: &str| {
            fields
                .iter()
                .copied()
                .find(|f| f.get("field").and_then(Val::as_str) == Some(name))
        };
        let equals = |name: &str, value: &str| {
            field(name).is_some_and(|f| strings(f.get("equals")).any(|v| v == value))
        };
        // readOnly absent: reads and writes; equals true: reads; false: writes.
        let read_only = field("readOnly");
        let reads = read_only.is_none_or(|f| strings(f.get("equals")).any(|v| v == "true"));
        let writes = read_only.is_none_or(|f| strings(f.get("equals")).any(|v| v == "false"));
        let management = equals("eventCategory", "Management")
            && reads
            && writes
            && field("eventSource").is_none();
        let s3 = equals("eventCategory", "Data")
            && equals("resources.type", "AWS::S3::Object")
            && field("resources.ARN").is_none();
        add(Ok(management), Ok(s3 && reads), Ok(s3 && writes));
    }
    set(r, "event_selectors", Some(&Val::List(basic)), None);
    set(
        r,
        "advanced_event_selectors",
        Some(&Val::List(advanced)),
        None,
    );
    set_tri(r, "logs_all_management_events", management);
    set_tri(r, "s3_object_read_events", s3_read);
    set_tri(r, "s3_object_write_events", s3_write);
}

/// A trail's settings, as declared (absent: `None`), in either format.
pub(crate) struct TrailArgs<'a> {
    pub multi_region: Option<&'a Val>,
    pub organization: Option<&'a Val>,
    pub global_service_events: Option<&'a Val>,
    pub log_file_validation: Option<&'a Val>,
    pub kms_key_id: Option<&'a Val>,
    /// Whether `kms_key_id`, when unknown, refers to a KMS key or alias
    /// declared in the same files: then it is certainly set.
    pub kms_key_declared: bool,
    pub s3_bucket_name: Option<&'a Val>,
    pub s3_key_prefix: Option<&'a Val>,
    pub log_group_arn: Option<&'a Val>,
    /// `log_group_arn` with its stand-in (see [`stand_in`]) when it is
    /// unknown but names a log group declared in the scan: the attribute
    /// is then set, with no association (the ARN is not known).
    pub log_group_stand_in: Option<Val>,
    pub log_role_arn: Option<&'a Val>,
    /// Already defaulted by the caller where the format has a default.
    pub is_logging: Option<&'a Val>,
}

/// Sets a trail's attributes (not its event selectors: see
/// [`set_trail_events`]) with the CreateTrail defaults Terraform and
/// CloudFormation share: single-region, not an organization trail, global
/// service events included, no log file validation, no KMS encryption, no
/// CloudWatch Logs delivery; and its associations to the bucket, key and
/// log group when they are known.
pub(crate) fn set_trail(r: &mut Resource, a: &TrailArgs<'_>) {
    set(
        r,
        "is_multi_region_trail",
        a.multi_region,
        Some(false.into()),
    );
    set(
        r,
        "is_organization_trail",
        a.organization,
        Some(false.into()),
    );
    set(
        r,
        "include_global_service_events",
        a.global_service_events,
        Some(true.into()),
    );
    set(
        r,
        "log_file_validation_enabled",
        a.log_file_validation,
        Some(false.into()),
    );
    set(r, "kms_key_id", a.kms_key_id, Some(Value::Null));
    let encrypted = match a.kms_key_id.filter(|k| !k.is_null()) {
        None => Ok(false),
        Some(Val::Unknown(_)) if a.kms_key_declared => Ok(true),
        Some(k) => k.to_json().map(|_| true).map_err(Unknown::clone),
    };
    set_tri(r, "encrypted", encrypted);
    set(r, "s3_bucket_name", a.s3_bucket_name, None);
    set(r, "s3_key_prefix", a.s3_key_prefix, Some(Value::Null));
    set(
        r,
        "cloudwatch_logs_log_group_arn",
        a.log_group_stand_in.as_ref().or(a.log_group_arn),
        Some(Value::Null),
    );
    set(
        r,
        "cloudwatch_logs_role_arn",
        a.log_role_arn,
        Some(Value::Null),
    );
    set(r, "is_logging", a.is_logging, None);
    let known = |v: Option<&Val>| v.and_then(Val::as_str).map(str::to_string);
    if let Some(b) = known(a.s3_bucket_name) {
        r.associations.push(link(
            "logs_to",
            "aws.s3.bucket",
            format!("arn:aws:s3:::{b}"),
        ));
    }
    if let Some(k) = known(a.kms_key_id) {
        r.associations.push(link("uses", "aws.kms.key", k));
    }
    if let Some(g) = known(a.log_group_arn) {
        r.associations.push(link(
            "logs_to",
            "aws.logs.log_group",
            g.trim_end_matches(":*").to_string(),
        ));
    }
}

fn link(relation: &str, resource_type: &str, id: String) -> Association {
    Association {
        relation: relation.into(),
        resource_type: resource_type.into(),
        id,
    }
}

/// A map with the entries `from → to` of `v` renamed (absent entries are
/// left out); an unknown `v` stays unknown.
pub(crate) fn rename(v: &Val, pairs: &[(&str, &str)]) -> Val {
    if let Val::Unknown(_) = v {
        return v.clone();
    }
    Val::Map(
        pairs
            .iter()
            .filter_map(|(from, to)| v.get(from).map(|x| ((*to).to_string(), x.clone())))
            .collect(),
    )
}

/// The names a format gives the parts of event selectors.
pub(crate) struct SelectorNames {
    pub read_write_type: &'static str,
    pub include_management_events: &'static str,
    pub data_resources: &'static str,
    pub data_type: &'static str,
    pub data_values: &'static str,
    pub name: &'static str,
    pub field_selectors: &'static str,
    pub field: &'static str,
    /// `equals`, `not_equals`, `starts_with`, `not_starts_with`,
    /// `ends_with`, `not_ends_with`, in this order.
    pub lists: [&'static str; 6],
}

/// The normalized names of a field selector's lists (Terraform's too).
pub(crate) const FIELD_LISTS: [&str; 6] = [
    "equals",
    "not_equals",
    "starts_with",
    "not_starts_with",
    "ends_with",
    "not_ends_with",
];

/// The items of the list (or blocks) `key` of `v`: a single map is one
/// item; an unknown list is one unknown item, so that it is never lost.
pub(crate) fn items(v: &Val, key: &str) -> Vec<Val> {
    match v.get(key) {
        Some(Val::List(items)) => items.clone(),
        Some(one @ (Val::Map(_) | Val::Unknown(_))) => vec![one.clone()],
        _ => Vec::new(),
    }
}

fn or_default(v: Option<&Val>, default: Val) -> Val {
    v.filter(|v| !v.is_null()).cloned().unwrap_or(default)
}

/// An event selector in GetEventSelectors' shape, with the API's defaults
/// (`read_write_type` All, management events included).
pub(crate) fn basic_selector(s: &Val, n: &SelectorNames) -> Val {
    if let Val::Unknown(_) = s {
        return s.clone();
    }
    let data = items(s, n.data_resources)
        .iter()
        .map(|d| rename(d, &[(n.data_type, "type"), (n.data_values, "values")]))
        .collect();
    Val::Map(
        [
            (
                "read_write_type".to_string(),
                or_default(s.get(n.read_write_type), Val::string("All")),
            ),
            (
                "include_management_events".to_string(),
                loose_bool(&or_default(
                    s.get(n.include_management_events),
                    Val::Bool(true),
                )),
            ),
            ("data_resources".to_string(), Val::List(data)),
        ]
        .into(),
    )
}

/// An advanced event selector in GetEventSelectors' shape (absent lists
/// empty).
pub(crate) fn advanced_selector(s: &Val, n: &SelectorNames) -> Val {
    if let Val::Unknown(_) = s {
        return s.clone();
    }
    let fields = items(s, n.field_selectors)
        .iter()
        .map(|f| {
            if let Val::Unknown(_) = f {
                return f.clone();
            }
            let mut m: std::collections::BTreeMap<String, Val> = n
                .lists
                .iter()
                .zip(FIELD_LISTS)
                .map(|(from, to)| {
                    (
                        to.to_string(),
                        or_default(f.get(from), Val::List(Vec::new())),
                    )
                })
                .collect();
            m.insert("field".into(), or_default(f.get(n.field), Val::Null));
            Val::Map(m)
        })
        .collect();
    Val::Map(
        [
            ("name".to_string(), or_default(s.get(n.name), Val::Null)),
            ("field_selectors".to_string(), Val::List(fields)),
        ]
        .into(),
    )
}

/// Sets a list folded from satellites (`items`); when none matched but one
/// might (`unresolved`, see `Satellites`), the list is not known.
pub(crate) fn set_folded_list(
    r: &mut Resource,
    key: &str,
    items: Vec<Val>,
    unresolved: Option<String>,
) {
    match unresolved {
        Some(why) if items.is_empty() => {
            r.attributes.remove(key);
            r.uncollected.insert(key.into(), why);
        }
        _ => set(r, key, Some(&Val::List(items)), None),
    }
}

/// The strings of a list value (a single string counts as a list of one).
fn strings(v: Option<&Val>) -> impl Iterator<Item = &str> {
    let items: Vec<&str> = match v {
        Some(Val::List(items)) => items.iter().filter_map(Val::as_str).collect(),
        Some(Val::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    };
    items.into_iter()
}

/// Sets a KMS key's `key_state` (Enabled / Disabled) from `enabled`.
pub(crate) fn set_key_state(r: &mut Resource) {
    match r.attributes.get("enabled").and_then(Value::as_bool) {
        Some(on) => {
            let state = if on { "Enabled" } else { "Disabled" };
            r.attributes.insert("key_state".into(), state.into());
        }
        None => {
            if let Some(why) = r.uncollected.get("enabled").cloned() {
                r.uncollected.insert("key_state".into(), why);
            }
        }
    }
}

/// Sets a KMS key's `rotation_enabled` / `rotation_period_in_days`, after
/// `key_spec` and `origin` are set: automatic rotation exists only for
/// symmetric encryption keys with key material from KMS, elsewhere
/// `rotation_enabled` is null (not applicable), as the collector reports
/// it. `rotation` is the declared switch (absent: disabled, the default of
/// both Terraform and CloudFormation); `period` the declared period (AWS's
/// default when rotation is on: 365 days).
pub(crate) fn set_kms_rotation(r: &mut Resource, rotation: Option<&Val>, period: Option<&Val>) {
    let known = |r: &Resource, k: &str| -> Result<Option<String>, String> {
        match r.uncollected.get(k) {
            Some(why) => Err(why.clone()),
            None => Ok(r
                .attributes
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)),
        }
    };
    let applies = known(r, "key_spec").and_then(|spec| {
        known(r, "origin").map(|origin| {
            spec.as_deref() == Some("SYMMETRIC_DEFAULT") && origin.as_deref() == Some("AWS_KMS")
        })
    });
    match applies {
        Err(why) => {
            r.uncollected.insert("rotation_enabled".into(), why);
        }
        Ok(false) => {
            r.attributes.insert("rotation_enabled".into(), Value::Null);
        }
        Ok(true) => {
            let rotation = rotation.map(loose_bool);
            set(
                r,
                "rotation_enabled",
                rotation.as_ref(),
                Some(Value::Bool(false)),
            );
            let on = r
                .attributes
                .get("rotation_enabled")
                .and_then(Value::as_bool);
            let default = (on == Some(true)).then(|| Value::from(365));
            set(r, "rotation_period_in_days", period, default);
        }
    }
}

/// Sets what a multi-Region replica key takes from its primary key (key
/// spec, usage, origin and rotation status: GetKeyRotationStatus of a
/// replica answers for its primary): from the primary's normalized form,
/// or, when the primary is not known (`Err(reason)`), uncollected.
pub(crate) fn set_from_primary(r: &mut Resource, primary: Result<Resource, String>) {
    const FROM_PRIMARY: [&str; 5] = [
        "key_spec",
        "key_usage",
        "origin",
        "rotation_enabled",
        "rotation_period_in_days",
    ];
    r.attributes.insert("multi_region".into(), true.into());
    for k in FROM_PRIMARY {
        r.attributes.remove(k);
        match &primary {
            Ok(p) => {
                if let Some(v) = p.attributes.get(k) {
                    r.attributes.insert(k.into(), v.clone());
                }
                if let Some(why) = p.uncollected.get(k) {
                    r.uncollected.insert(k.into(), why.clone());
                }
            }
            Err(why) => {
                r.uncollected.insert(k.into(), why.clone());
            }
        }
    }
}

/// Sets a KMS key's `public_policy` from its key policy: `None` when no
/// policy is declared (the default key policy gives the account, not
/// everyone, access), else the declared document.
pub(crate) fn set_key_policy(r: &mut Resource, policy: Option<&Val>) {
    match policy.filter(|p| !p.is_null()) {
        None => set_tri(r, "public_policy", Ok(false)),
        Some(p) => match policy_document(p) {
            Ok(doc) => set_tri(r, "public_policy", policy_is_public(&doc)),
            Err(why) => {
                r.attributes.remove("public_policy");
                r.uncollected.insert("public_policy".into(), why);
            }
        },
    }
}

/// Test helpers for the mappers' tests: files in, normalized resources out.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::terraform::{eval::evaluate, map::to_resources, TfInputs, TfResource};
    use crate::value::Val;
    use serde_json::Value;
    use vigil_model::Resource;

    /// A map value (an argument block) from its entries.
    pub fn block(pairs: Vec<(&str, Val)>) -> Val {
        Val::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// An evaluated resource block `kind.name` with these arguments, as the
    /// evaluator would give it (for tests that need unknowns by hand).
    pub fn decl(kind: &str, name: &str, attrs: Vec<(&str, Val)>) -> TfResource {
        TfResource {
            root: String::new(),
            kind: kind.into(),
            name: name.into(),
            address: format!("{kind}.{name}"),
            file: "main.tf".into(),
            line: 1,
            end_line: 5,
            attrs: block(attrs),
            suppressed: std::collections::BTreeMap::new(),
        }
    }

    /// The resources of one `.tf` file (which must parse).
    pub fn tf(text: &str) -> Vec<Resource> {
        let (decls, errors) = evaluate(&[("main.tf".into(), text.into())], &TfInputs::default());
        assert!(errors.is_empty(), "{errors:?}");
        to_resources(&decls)
    }

    /// The resources of one CloudFormation template (which must parse).
    pub fn cfn(text: &str) -> Vec<Resource> {
        let (out, errors) =
            crate::cloudformation::cloudformation_resources(&[("t.yaml".into(), text.into())]);
        assert!(errors.is_empty(), "{errors:?}");
        out
    }

    /// The resource with this id; panics with the ids there are.
    pub fn by_id<'a>(rs: &'a [Resource], id: &str) -> &'a Resource {
        rs.iter().find(|r| r.id == id).unwrap_or_else(|| {
            panic!(
                "no {id} in {:?}",
                rs.iter().map(|r| &r.id).collect::<Vec<_>>()
            )
        })
    }

    /// An attribute's value (`None` when absent).
    pub fn attr<'a>(r: &'a Resource, key: &str) -> Option<&'a Value> {
        r.attributes.get(key)
    }

    /// Whether an attribute is uncollected with a reason that mentions `what`.
    pub fn uncollected(r: &Resource, key: &str, what: &str) -> bool {
        !r.attributes.contains_key(key)
            && r.uncollected.get(key).is_some_and(|why| why.contains(what))
    }

    /// The built-in catalogue's verdict of control `cid` on resource `r`
    /// (`None`: the control does not apply to it).
    pub fn verdict(r: &Resource, cid: u32) -> Option<vigil_model::EvalResult> {
        let now = "2026-11-23T00:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let catalog = vigil_engine::Catalog::builtin().unwrap_or_else(|e| panic!("{e}"));
        let engine = catalog.compile(now).unwrap_or_else(|e| panic!("{e}"));
        let rs = std::slice::from_ref(r);
        engine
            .evaluate(rs, &|_| {})
            .into_iter()
            .find(|e| e.cid == cid)
            .map(|e| e.result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use test_support::{attr, by_id, tf};

    #[test]
    fn quoted_booleans_and_numbers_drive_what_mappers_compute() {
        let rs = tf(r#"
resource "aws_lb" "a" {
  internal = "true"
}
resource "aws_network_acl" "n" {}
resource "aws_network_acl_rule" "out" {
  network_acl_id = aws_network_acl.n.id
  rule_number    = "100"
  egress         = "true"
  protocol       = "-1"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
}
resource "aws_kms_key" "k" {
  enable_key_rotation = "true"
}
resource "aws_iam_account_password_policy" "p" {
  password_reuse_prevention = "0"
}
resource "aws_ebs_volume" "v" {
  availability_zone = "us-east-1a"
  encrypted         = "true"
  size              = "8"
}
"#);
        let lb = by_id(&rs, "aws_lb.a");
        assert_eq!(attr(lb, "internet_facing"), Some(&json!(false)));
        assert_eq!(attr(lb, "scheme"), Some(&json!("internal")));
        let acl = by_id(&rs, "aws_network_acl.n");
        let out = attr(acl, "entries")
            .and_then(Value::as_array)
            .and_then(|es| es.iter().find(|e| e["rule_number"] == json!(100)));
        assert_eq!(out.map(|e| &e["egress"]), Some(&json!(true)));
        let k = by_id(&rs, "aws_kms_key.k");
        assert_eq!(attr(k, "rotation_enabled"), Some(&json!(true)));
        assert_eq!(attr(k, "rotation_period_in_days"), Some(&json!(365)));
        let p = by_id(&rs, "aws_iam_account_password_policy.p");
        assert_eq!(attr(p, "password_reuse_prevention"), Some(&json!(null)));
        let v = by_id(&rs, "aws_ebs_volume.v");
        assert_eq!(attr(v, "encrypted"), Some(&json!(true)));
        assert_eq!(attr(v, "size"), Some(&json!(8)));
    }

    fn doc(j: Value) -> Val {
        Val::from_json(&j)
    }

    #[test]
    fn public_policies_are_recognized_like_the_collector() {
        let public = doc(
            json!({"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}),
        );
        assert_eq!(policy_is_public(&public), Ok(true));
        let aws_star = doc(json!({"Statement":{"Effect":"Allow","Principal":{"AWS":["*"]}}}));
        assert_eq!(policy_is_public(&aws_star), Ok(true));
        let not_principal = doc(
            json!({"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::1:root"}}]}),
        );
        assert_eq!(policy_is_public(&not_principal), Ok(true));
        let narrowed = doc(
            json!({"Statement":[{"Effect":"Allow","Principal":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}),
        );
        assert_eq!(policy_is_public(&narrowed), Ok(false));
        let deny = doc(json!({"Statement":[{"Effect":"Deny","Principal":"*"}]}));
        assert_eq!(policy_is_public(&deny), Ok(false));
        let account = doc(
            json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"}}]}),
        );
        assert_eq!(policy_is_public(&account), Ok(false));
    }

    #[test]
    fn an_unknown_principal_is_unknown_unless_another_statement_decides() {
        let mut m = std::collections::BTreeMap::new();
        m.insert("Effect".into(), Val::string("Allow"));
        m.insert(
            "Principal".into(),
            Val::unknown("!Sub arn:aws:iam::${AWS::AccountId}:root"),
        );
        let unknown_stmt = Val::Map(m);
        let only = Val::Map([("Statement".into(), Val::List(vec![unknown_stmt.clone()]))].into());
        assert!(policy_is_public(&only).is_err());
        let public = doc(json!({"Effect":"Allow","Principal":"*"}));
        let with_public = Val::Map(
            [(
                "Statement".into(),
                Val::List(vec![unknown_stmt.clone(), public]),
            )]
            .into(),
        );
        assert_eq!(policy_is_public(&with_public), Ok(true));
        let deny_unknown = Val::Map(
            [(
                "Statement".into(),
                Val::List(vec![doc(json!({"Effect":"Deny"}))
                    .as_map()
                    .map(|m| {
                        let mut m = m.clone();
                        m.insert("Principal".into(), Val::unknown("var.p"));
                        Val::Map(m)
                    })
                    .unwrap_or(Val::Null)]),
            )]
            .into(),
        );
        assert_eq!(policy_is_public(&deny_unknown), Ok(false));
    }

    #[test]
    fn policy_text_that_is_not_json_is_named() {
        let e = policy_document(&Val::string("{not json"))
            .err()
            .unwrap_or_default();
        assert!(e.contains("not a JSON document"), "{e}");
        assert_eq!(
            policy_document(&Val::unknown("jsonencode(local.p)")).err(),
            Some("value not known at build time: jsonencode(local.p)".into())
        );
    }
}
