//! Who may do what (seed 001, "User Permissions"), custom roles, and the
//! audit log of every change.
//!
//! Permissions are the rows of seed 001's table plus the CloudView
//! permission groups its role editor shows (IaC security, alerting,
//! remediation, reporting, API access). A role is a named set of
//! permissions: four are built in (they cannot be changed or deleted, so no
//! one locks the Manager out), others are made by a Manager from the same
//! permissions.
//!
//! Every change made through the API is written with an [`AuditEntry`] in
//! the same transaction: a change and its audit record commit together or
//! not at all.

use crate::search::timestamp;
use crate::{Page, StoreError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use vigil_model::Timestamp;

/// One permission. The wire name is [`Permission::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Create new users (seed 001: "Create New Users").
    CreateUsers,
    /// Assign roles and tags to users, manage roles ("Grant Access to Sub-Users").
    GrantAccess,
    /// Change or delete existing users, read the audit log ("Update Access of Existing Users").
    UpdateAccess,
    /// Create, change, delete and run connectors ("Manage Connectors").
    ManageConnectors,
    /// Policies, exceptions and on-demand evaluation ("Manage Policies and Controls").
    ManagePoliciesControls,
    /// Copy, create, change and delete controls ("Customize Controls").
    CustomizeControls,
    /// Create, edit and delete reports ("Reports": Yes).
    Reports,
    /// Read reports and download datalists ("Reports": View only).
    ReportsView,
    /// Dashboards and saved searches ("Dashboards").
    Dashboards,
    /// Alerting rules (CloudView "Alerting Permissions").
    Alerting,
    /// Remediation actions (CloudView "Manage Remediation Permissions").
    Remediation,
    /// Upload IaC templates for scanning (CloudView "IaC Security Permissions").
    IacScan,
    /// View connectors, resources, controls, policies, evaluations and exceptions.
    ViewData,
    /// Use the API at all ("CLOUDVIEW API Access").
    ApiAccess,
    /// S3 delivery integrations and the CIPS configuration (seed 000: the
    /// Manager, or a role given this permission).
    ManageIntegrations,
}

impl Permission {
    /// Every permission, in the order of seed 001's table.
    pub const ALL: [Permission; 15] = [
        Permission::CreateUsers,
        Permission::GrantAccess,
        Permission::UpdateAccess,
        Permission::ManageConnectors,
        Permission::ManagePoliciesControls,
        Permission::CustomizeControls,
        Permission::Reports,
        Permission::ReportsView,
        Permission::Dashboards,
        Permission::Alerting,
        Permission::Remediation,
        Permission::IacScan,
        Permission::ViewData,
        Permission::ApiAccess,
        Permission::ManageIntegrations,
    ];

    /// The wire and stored name, e.g. `manage_connectors`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::CreateUsers => "create_users",
            Permission::GrantAccess => "grant_access",
            Permission::UpdateAccess => "update_access",
            Permission::ManageConnectors => "manage_connectors",
            Permission::ManagePoliciesControls => "manage_policies_controls",
            Permission::CustomizeControls => "customize_controls",
            Permission::Reports => "reports",
            Permission::ReportsView => "reports_view",
            Permission::Dashboards => "dashboards",
            Permission::Alerting => "alerting",
            Permission::Remediation => "remediation",
            Permission::IacScan => "iac_scan",
            Permission::ViewData => "view_data",
            Permission::ApiAccess => "api_access",
            Permission::ManageIntegrations => "manage_integrations",
        }
    }

    /// The permission named `name`.
    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// What the permission allows, for people.
    pub fn description(self) -> &'static str {
        match self {
            Permission::CreateUsers => "Create new users",
            Permission::GrantAccess => {
                "Grant access to sub-users: assign roles and tags, manage roles"
            }
            Permission::UpdateAccess => {
                "Update access of existing users, disable or delete them, read the audit log"
            }
            Permission::ManageConnectors => "Create, change, delete and run connectors",
            Permission::ManagePoliciesControls => {
                "Manage policies, exceptions and on-demand evaluation"
            }
            Permission::CustomizeControls => {
                "Copy, create, change and delete controls; change criticality"
            }
            Permission::Reports => "Create, edit and delete reports",
            Permission::ReportsView => "Read reports and download datalists",
            Permission::Dashboards => "Dashboards and saved searches",
            Permission::Alerting => "Alerting rules",
            Permission::Remediation => "Remediation actions",
            Permission::IacScan => "Upload IaC templates for scanning",
            Permission::ViewData => {
                "View connectors, resources, controls, policies, evaluations and exceptions"
            }
            Permission::ApiAccess => "Use the API",
            Permission::ManageIntegrations => {
                "Register, validate, change and delete S3 delivery integrations; the CIPS configuration"
            }
        }
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The built-in Manager role.
pub const MANAGER: &str = "manager";
/// The built-in sub user with all privileges (CloudView's "CLOUDVIEW User").
pub const SUB_USER: &str = "sub_user";
/// The built-in sub user with Reader privileges.
pub const READER: &str = "reader";
/// The built-in "CloudView - only Reports" role.
pub const REPORTS_ONLY: &str = "reports_only";

/// A role: a name and its permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleRecord {
    pub name: String,
    pub description: String,
    pub permissions: Vec<Permission>,
    /// Built-in roles cannot be changed or deleted.
    pub builtin: bool,
}

impl RoleRecord {
    /// Whether the role grants `permission`.
    pub fn allows(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// Checks a role to create or change: a name of letters, digits, `-`,
    /// `_` or `.` that no built-in role has, and known permissions.
    pub fn validate(&self) -> Result<(), StoreError> {
        let ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(StoreError::Invalid(
                "a role name must be 1 to 64 letters, digits, `-`, `_` or `.`".into(),
            ));
        }
        if builtin_role(&self.name).is_some() {
            return Err(StoreError::Conflict(format!(
                "`{}` is a built-in role; choose another name",
                self.name
            )));
        }
        if self.description.len() > 1000 {
            return Err(StoreError::Invalid(
                "a role description must be at most 1,000 characters".into(),
            ));
        }
        Ok(())
    }

    /// The permissions as the JSON text the backends store.
    pub fn permissions_json(&self) -> String {
        serde_json::Value::from(
            self.permissions
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>(),
        )
        .to_string()
    }
}

/// The built-in roles, most privileged first (seed 001's table; a reports-only
/// role as CloudView's "CloudView - only Reports").
pub fn builtin_roles() -> Vec<RoleRecord> {
    use Permission::*;
    let role = |name: &str, description: &str, permissions: &[Permission]| RoleRecord {
        name: name.into(),
        description: description.into(),
        permissions: permissions.to_vec(),
        builtin: true,
    };
    vec![
        role(MANAGER, "Manager: every permission", &Permission::ALL),
        role(
            SUB_USER,
            "Sub user with all privileges except managing users and connectors",
            &[
                ManagePoliciesControls,
                CustomizeControls,
                Reports,
                ReportsView,
                Dashboards,
                Alerting,
                Remediation,
                IacScan,
                ViewData,
                ApiAccess,
            ],
        ),
        role(
            READER,
            "Sub user with Reader privileges: views data, dashboards and reports",
            &[ReportsView, Dashboards, ViewData, ApiAccess],
        ),
        role(
            REPORTS_ONLY,
            "Reports only: creates, reads and downloads reports and datalists",
            &[Reports, ReportsView, ApiAccess],
        ),
    ]
}

/// The built-in role named `name`.
pub fn builtin_role(name: &str) -> Option<RoleRecord> {
    builtin_roles().into_iter().find(|r| r.name == name)
}

/// The columns of `roles`, in the order the backends select them.
pub const ROLE_COLUMNS: &str = "name, description, permissions";

/// A custom role read in [`ROLE_COLUMNS`] order.
pub fn read_role(
    (name, description, permissions): (String, String, String),
) -> Result<RoleRecord, StoreError> {
    let names: Vec<String> = serde_json::from_str(&permissions).map_err(|e| {
        StoreError::Database(format!("role {name}: permissions are not a JSON list: {e}"))
    })?;
    let permissions = names
        .iter()
        .map(|p| {
            Permission::parse(p).ok_or_else(|| {
                StoreError::Database(format!(
                    "role {name}: unknown permission `{p}` in the store"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RoleRecord {
        name,
        description,
        permissions,
        builtin: false,
    })
}

/// One change, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    /// The username that made the change (`system` for Vigil itself).
    pub actor: String,
    /// What was done, e.g. `user.create`, `connector.update`, `exception.delete`.
    pub action: String,
    /// What it was done to, e.g. `user:alice`, `connector:7f3…`.
    pub target: String,
    /// The change's details (never a secret).
    pub details: serde_json::Value,
}

impl AuditEntry {
    /// An entry made now by `actor`.
    pub fn now(actor: &str, action: &str, target: &str, details: serde_json::Value) -> AuditEntry {
        AuditEntry {
            at: chrono::Utc::now(),
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            details,
        }
    }
}

/// A kept audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Increasing with time; the cursor of the audit log.
    pub id: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// The columns of `audit_log`, in the order the backends select them.
pub const AUDIT_COLUMNS: &str = "id, at, actor, action, target, details";

/// An audit record read in [`AUDIT_COLUMNS`] order.
pub fn read_audit(
    (id, at, actor, action, target, details): (i64, i64, String, String, String, String),
) -> Result<AuditRecord, StoreError> {
    let details = serde_json::from_str(&details).map_err(|e| {
        StoreError::Database(format!("audit entry {id}: details are not JSON: {e}"))
    })?;
    Ok(AuditRecord {
        id,
        entry: AuditEntry {
            at: timestamp(at)?,
            actor,
            action,
            target,
            details,
        },
    })
}

/// Which audit entries to read: all filters are optional and combine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// An action, or a prefix of actions ending in `.` (e.g. `user.`).
    pub action: Option<String>,
    pub target: Option<String>,
    /// Only entries with an id below this one (the cursor of the next page;
    /// entries come newest first).
    pub before: Option<i64>,
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    pub password_hash: Option<String>,
    pub role: Option<String>,
    pub tags: Option<Vec<String>>,
    pub disabled: Option<bool>,
}

/// Roles, user changes and the audit log.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// The custom roles, by name (the built-in ones are [`builtin_roles`]).
    async fn custom_roles(&self) -> Result<Vec<RoleRecord>, StoreError>;

    /// The role named `name`, built-in or custom.
    async fn role(&self, name: &str) -> Result<Option<RoleRecord>, StoreError> {
        if let Some(role) = builtin_role(name) {
            return Ok(Some(role));
        }
        Ok(self
            .custom_roles()
            .await?
            .into_iter()
            .find(|r| r.name == name))
    }

    /// Creates a custom role (the name must be new: else `Conflict`).
    async fn create_role(&self, role: &RoleRecord, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Replaces a custom role's description and permissions (`NotFound` when
    /// it does not exist).
    async fn update_role(&self, role: &RoleRecord, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Deletes a custom role; `Conflict` while users have it.
    async fn delete_role(&self, name: &str, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Changes a user (`NotFound` when there is none). A role must exist.
    async fn update_user(
        &self,
        username: &str,
        change: &UserChange,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Deletes a user (`NotFound` when there is none).
    async fn delete_user(&self, username: &str, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Audit entries that match `filter`, newest first, at most `page.limit`
    /// (`page.offset` is ignored: use `filter.before`).
    async fn audit_log(
        &self,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}

/// The SQL condition (with `?` placeholders, in order) and values of an
/// [`AuditFilter`]; the backends rewrite placeholders to their dialect.
pub fn audit_condition(filter: &AuditFilter) -> (String, Vec<String>, Option<i64>) {
    let mut sql = vec!["1 = 1".to_string()];
    let mut values = Vec::new();
    if let Some(actor) = &filter.actor {
        sql.push("actor = ?".into());
        values.push(actor.clone());
    }
    if let Some(action) = &filter.action {
        if action.ends_with('.') {
            sql.push(format!("substr(action, 1, {}) = ?", action.chars().count()));
        } else {
            sql.push("action = ?".into());
        }
        values.push(action.clone());
    }
    if let Some(target) = &filter.target {
        sql.push("target = ?".into());
        values.push(target.clone());
    }
    (sql.join(" AND "), values, filter.before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert!(!p.description().is_empty());
        }
        assert_eq!(Permission::parse("root"), None);
    }

    #[test]
    fn builtin_roles_follow_seed_001_table() {
        let manager = builtin_role(MANAGER).unwrap();
        let sub = builtin_role(SUB_USER).unwrap();
        let reader = builtin_role(READER).unwrap();
        let reports = builtin_role(REPORTS_ONLY).unwrap();
        assert!(Permission::ALL.iter().all(|p| manager.allows(*p)));
        // Seed 001: Create New Users / Grant / Update / Manage Connectors: Manager only.
        for p in [
            Permission::CreateUsers,
            Permission::GrantAccess,
            Permission::UpdateAccess,
            Permission::ManageConnectors,
        ] {
            assert!(!sub.allows(p) && !reader.allows(p) && !reports.allows(p));
        }
        // Manage Policies and Controls, Customize Controls: Manager and Sub User.
        for p in [
            Permission::ManagePoliciesControls,
            Permission::CustomizeControls,
        ] {
            assert!(sub.allows(p) && !reader.allows(p));
        }
        // Reports: Yes, Yes, View only. Dashboards: everyone.
        assert!(sub.allows(Permission::Reports) && !reader.allows(Permission::Reports));
        assert!(reader.allows(Permission::ReportsView));
        assert!(reader.allows(Permission::Dashboards));
        assert!(reports.allows(Permission::Reports) && !reports.allows(Permission::ViewData));
    }

    #[test]
    fn custom_role_names_are_checked() {
        let mut role = RoleRecord {
            name: "auditors".into(),
            description: String::new(),
            permissions: vec![Permission::ViewData],
            builtin: false,
        };
        assert!(role.validate().is_ok());
        role.name = "reader".into();
        assert!(matches!(role.validate(), Err(StoreError::Conflict(_))));
        role.name = "bad name".into();
        assert!(matches!(role.validate(), Err(StoreError::Invalid(_))));
        assert_eq!(role.permissions_json(), r#"["view_data"]"#);
    }

    #[test]
    fn audit_filters_become_conditions() {
        let (sql, values, before) = audit_condition(&AuditFilter {
            actor: Some("admin".into()),
            action: Some("user.".into()),
            target: None,
            before: Some(9),
        });
        assert_eq!(sql, "1 = 1 AND actor = ? AND substr(action, 1, 5) = ?");
        assert_eq!(values, vec!["admin", "user."]);
        assert_eq!(before, Some(9));
    }
}
