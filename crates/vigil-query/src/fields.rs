//! The one documented list of searchable fields, with the SQL each maps to.

/// How a field's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text: matched case-insensitively, `*` and `?` are wildcards.
    Text,
    /// A closed set of values, matched exactly (case-insensitive on input).
    Enum(&'static [&'static str]),
    /// A whole number; ranges allowed.
    Number,
    /// A point in time (stored as milliseconds since the epoch); ranges and
    /// relative dates (`now-4h`) allowed.
    Date,
}

/// A searchable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub name: &'static str,
    pub kind: FieldKind,
    /// The SQL column, or for multi-valued fields an `EXISTS` template in
    /// which `{cond}` is replaced by the condition on the field's side
    /// column (see [`side_column`]) and `{instance}` by the EC2 instance id
    /// of the resource `r` in the dialect's JSON syntax.
    pub sql: &'static str,
    pub doc: &'static str,
}

impl FieldDef {
    /// Whether the field has several values per evaluation (any may match).
    pub fn multi_valued(&self) -> bool {
        self.sql.contains("{cond}")
    }
}

const RESULTS: &[&str] = &["PASS", "FAIL", "PASSE", "SKIP"];
const CRITICALITY: &[&str] = &["HIGH", "MEDIUM", "LOW"];
const PROVIDERS: &[&str] = &["aws", "azure", "gcp"];
const DETECTION_TYPES: &[&str] = &["Confirmed", "Potential", "Info"];
const DETECTION_STATUSES: &[&str] = &["New", "Active", "Fixed", "Re-Opened"];
const BOOLEANS: &[&str] = &["true", "false"];

/// The open (not Fixed) Qualys detections of the instance `r` is; the
/// partial index on `instance_id` serves the equality.
macro_rules! open_detections {
    ($join:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM qualys_detections x ",
            $join,
            "WHERE x.instance_id = {instance} AND x.status <> 'Fixed' AND {cond})"
        )
    };
}

/// Every field the language knows, in the order the documentation lists them.
pub const FIELDS: &[FieldDef] = &[
    FieldDef {
        name: "account.id",
        kind: FieldKind::Text,
        sql: "r.account",
        doc: "AWS account, Azure subscription or GCP project of the resource",
    },
    FieldDef {
        name: "region",
        kind: FieldKind::Text,
        sql: "r.region",
        doc: "region of the resource (`global` for global services)",
    },
    FieldDef {
        name: "provider",
        kind: FieldKind::Enum(PROVIDERS),
        sql: "r.provider",
        doc: "cloud provider: aws, azure, gcp",
    },
    FieldDef {
        name: "resource.id",
        kind: FieldKind::Text,
        sql: "r.native_id",
        doc: "native id of the resource (ARN, resource id, IaC address)",
    },
    FieldDef {
        name: "resource.name",
        kind: FieldKind::Text,
        sql: "r.name",
        doc: "name of the resource",
    },
    FieldDef {
        name: "resource.type",
        kind: FieldKind::Text,
        sql: "r.resource_type",
        doc: "normalized resource type, e.g. aws.s3.bucket",
    },
    FieldDef {
        name: "resource.service",
        kind: FieldKind::Text,
        sql: "r.service",
        doc: "service of the resource, e.g. S3",
    },
    FieldDef {
        name: "resource.source",
        kind: FieldKind::Text,
        sql: "r.source",
        doc: "where the resource came from, e.g. connector:aws-prod or iac:main.tf",
    },
    FieldDef {
        name: "resource.firstDiscovered",
        kind: FieldKind::Date,
        sql: "r.first_discovered",
        doc: "when the resource was first discovered",
    },
    FieldDef {
        name: "resource.lastUpdated",
        kind: FieldKind::Date,
        sql: "r.last_updated",
        doc: "when the resource was last updated",
    },
    FieldDef {
        name: "tags.name",
        kind: FieldKind::Text,
        sql: "EXISTS (SELECT 1 FROM resource_tags x WHERE x.resource_id = r.id AND {cond})",
        doc: "name (key) of any tag of the resource",
    },
    FieldDef {
        name: "tags.value",
        kind: FieldKind::Text,
        sql: "EXISTS (SELECT 1 FROM resource_tags x WHERE x.resource_id = r.id AND {cond})",
        doc: "value of any tag of the resource",
    },
    FieldDef {
        name: "cid",
        kind: FieldKind::Number,
        sql: "e.cid",
        doc: "control id",
    },
    FieldDef {
        name: "control.name",
        kind: FieldKind::Text,
        sql: "c.title",
        doc: "title of the control",
    },
    FieldDef {
        name: "control.criticality",
        kind: FieldKind::Enum(CRITICALITY),
        sql: "c.criticality",
        doc: "HIGH, MEDIUM or LOW",
    },
    FieldDef {
        name: "control.service",
        kind: FieldKind::Text,
        sql: "c.service",
        doc: "service the control judges, e.g. IAM",
    },
    FieldDef {
        name: "control.result",
        kind: FieldKind::Enum(RESULTS),
        sql: "e.result",
        doc: "PASS, FAIL, PASSE (pass with exception) or SKIP",
    },
    FieldDef {
        name: "policy.name",
        kind: FieldKind::Text,
        sql: "EXISTS (SELECT 1 FROM policy_controls x WHERE x.cid = e.cid AND {cond})",
        doc: "name of any policy that includes the control",
    },
    FieldDef {
        name: "firstEvaluated",
        kind: FieldKind::Date,
        sql: "e.first_evaluated",
        doc: "when the control was first evaluated on the resource",
    },
    FieldDef {
        name: "lastEvaluated",
        kind: FieldKind::Date,
        sql: "e.last_evaluated",
        doc: "when the control was last evaluated on the resource",
    },
    FieldDef {
        name: "evaluatedOn",
        kind: FieldKind::Date,
        sql: "e.last_evaluated",
        doc: "same as lastEvaluated (the name reports use)",
    },
    FieldDef {
        name: "lastReopened",
        kind: FieldKind::Date,
        sql: "e.last_reopened",
        doc: "when the result last turned FAIL after PASS",
    },
    FieldDef {
        name: "lastFixed",
        kind: FieldKind::Date,
        sql: "e.last_fixed",
        doc: "when the result last turned PASS after FAIL",
    },
    FieldDef {
        name: "vulnerability.severity",
        kind: FieldKind::Number,
        sql: open_detections!(""),
        doc: "severity (1–5) of any open Qualys detection on the EC2 instance",
    },
    FieldDef {
        name: "vulnerability.typeDetected",
        kind: FieldKind::Enum(DETECTION_TYPES),
        sql: open_detections!(""),
        doc: "type of any open Qualys detection on the instance: Confirmed, Potential, Info",
    },
    FieldDef {
        name: "vulnerability.status",
        kind: FieldKind::Enum(DETECTION_STATUSES),
        sql: "EXISTS (SELECT 1 FROM qualys_detections x WHERE x.instance_id = {instance} AND {cond})",
        doc: "status of any Qualys detection on the instance (Fixed included): New, Active, Fixed, Re-Opened",
    },
    FieldDef {
        name: "vulnerability.qid",
        kind: FieldKind::Number,
        sql: open_detections!(""),
        doc: "Qualys ID (QID) of any open detection on the instance",
    },
    FieldDef {
        name: "vulnerability.title",
        kind: FieldKind::Text,
        sql: open_detections!("JOIN qualys_kb k ON k.connector_id = x.connector_id AND k.qid = x.qid "),
        doc: "knowledge-base title of any open detection on the instance",
    },
    FieldDef {
        name: "vulnerability.cve",
        kind: FieldKind::Text,
        sql: open_detections!("JOIN qualys_kb_cves v ON v.connector_id = x.connector_id AND v.qid = x.qid "),
        doc: "CVE id of any open detection on the instance (from the knowledge base)",
    },
    FieldDef {
        name: "vulnerability.category",
        kind: FieldKind::Text,
        sql: open_detections!("JOIN qualys_kb k ON k.connector_id = x.connector_id AND k.qid = x.qid "),
        doc: "knowledge-base category of any open detection on the instance",
    },
    FieldDef {
        name: "vulnerability.patchable",
        kind: FieldKind::Enum(BOOLEANS),
        sql: open_detections!("JOIN qualys_kb k ON k.connector_id = x.connector_id AND k.qid = x.qid "),
        doc: "whether any open detection on the instance has a patch: true, false",
    },
    FieldDef {
        name: "vulnerability.firstFound",
        kind: FieldKind::Date,
        sql: open_detections!(""),
        doc: "when Qualys first found any open detection on the instance",
    },
    FieldDef {
        name: "vulnerability.lastFound",
        kind: FieldKind::Date,
        sql: open_detections!(""),
        doc: "when Qualys last found any open detection on the instance",
    },
];

/// The column of a multi-valued field's side table.
pub(crate) fn side_column(name: &str) -> &'static str {
    match name {
        "tags.name" => "x.key",
        "tags.value" => "x.value",
        "vulnerability.severity" => "x.severity",
        "vulnerability.typeDetected" => "x.type_detected",
        "vulnerability.status" => "x.status",
        "vulnerability.qid" => "x.qid",
        "vulnerability.title" => "k.title",
        "vulnerability.cve" => "v.cve",
        "vulnerability.category" => "k.category",
        "vulnerability.patchable" => "(CASE WHEN k.patchable THEN 'true' ELSE 'false' END)",
        "vulnerability.firstFound" => "x.first_found",
        "vulnerability.lastFound" => "x.last_found",
        _ => "x.policy_name",
    }
}

/// The EC2 instance id of the resource `r` (its `instance_id` attribute),
/// NULL for any other resource type.
pub(crate) fn instance_id_sql(dialect: crate::Dialect) -> &'static str {
    match dialect {
        crate::Dialect::Sqlite => {
            "(CASE WHEN r.resource_type = 'aws.ec2.instance' \
             THEN json_extract(r.attributes, '$.instance_id') END)"
        }
        crate::Dialect::Postgres => {
            "(CASE WHEN r.resource_type = 'aws.ec2.instance' \
             THEN CAST(r.attributes AS jsonb) ->> 'instance_id' END)"
        }
    }
}

/// Looks a field up by name, case-insensitively.
pub fn lookup(name: &str) -> Option<&'static FieldDef> {
    FIELDS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// The field names closest to `name`, best first.
pub fn closest(name: &str) -> Vec<&'static str> {
    let lower = name.to_ascii_lowercase();
    let mut scored: Vec<(usize, &'static str)> = FIELDS
        .iter()
        .map(|f| (distance(&lower, &f.name.to_ascii_lowercase()), f.name))
        .collect();
    scored.sort();
    let best = scored.first().map_or(0, |s| s.0);
    scored
        .into_iter()
        .filter(|(d, _)| *d <= best.max(2) && *d <= lower.len().max(3))
        .take(3)
        .map(|(_, n)| n)
        .collect()
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names_suggest_the_intended_field() {
        assert_eq!(closest("contrl.result")[0], "control.result");
        assert_eq!(closest("accountid")[0], "account.id");
        assert_eq!(closest("firstevaluated")[0], "firstEvaluated");
    }

    #[test]
    fn every_multi_valued_field_has_its_own_side_column() {
        for f in FIELDS.iter().filter(|f| f.multi_valued()) {
            let column = side_column(f.name);
            let alias = &column[..column.find('.').unwrap_or(0)];
            let alias = alias.trim_start_matches("(CASE WHEN ");
            assert!(
                f.sql.contains(&format!(" {alias} ")),
                "{}: {column} is not a table of {}",
                f.name,
                f.sql
            );
            if f.name.starts_with("vulnerability.") {
                assert_ne!(column, "x.policy_name", "{}", f.name);
                assert!(f.sql.contains("{instance}"), "{}", f.name);
            }
        }
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup("Control.Result").unwrap().name, "control.result");
        assert!(lookup("nope").is_none());
    }
}
