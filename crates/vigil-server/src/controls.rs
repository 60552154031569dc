//! Customizing controls and policies (seed 001, "Policies and Controls"):
//! copies of customizable controls with new parameters, user-defined
//! controls written in CEL, criticality changes of any control, custom
//! policies, and re-evaluation on demand.
//!
//! The catalogue a run or a re-evaluation uses is [`effective_controls`]:
//! the built-in catalogue, plus the user-defined controls kept in the store,
//! with the criticality overrides applied, plus the custom policies. After
//! every change, [`sync_effective_controls`] writes it into the `controls`
//! and `policies` tables that search and counts read, so a new control or
//! criticality shows at once.
//!
//! The read-only listings of all controls and policies
//! (`GET /api/v1/controls`, `GET /api/v1/policies`) belong to the data API;
//! the paths here are distinct (`…/custom`, `…/copy`, `…/criticality`).

use crate::access::{self, Caller};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock};
use utoipa::ToSchema;
use vigil_engine::{
    Catalog, CatalogError, CompiledControl, ControlSpec, Engine, LoadedControl, Logic,
    MandateMapping, Parameter, Policy, Provenance, FIRST_USER_CID,
};
use vigil_model::{Criticality, EvalResult, ExecutionType, Origin, Provider};
use vigil_store::custom_controls::{
    CustomPolicyRecord, EvaluationWrite, Reevaluation, ResourceSelector, UserControlRecord,
};
use vigil_store::{ControlRecord, Permission, PolicyRecord, Store};

/// The catalogue in effect: built-in and user-defined controls with their
/// criticality overrides applied, system and custom policies, and the
/// records search reads.
#[derive(Debug, Clone)]
pub struct EffectiveCatalog {
    /// What the engine compiles (`catalog.compile(now)`); user-defined
    /// controls have `origin == Provenance::User`.
    pub catalog: Catalog,
    /// The custom policies as kept (with their connectors in scope).
    pub custom_policies: Vec<CustomPolicyRecord>,
    /// The user-defined controls as kept.
    pub user_controls: Vec<UserControlRecord>,
    /// The rows of the `controls` table.
    pub controls: Vec<ControlRecord>,
    /// The rows of the `policies` table.
    pub policies: Vec<PolicyRecord>,
}

impl EffectiveCatalog {
    /// The control with `cid`, if any.
    pub fn control(&self, cid: u32) -> Option<&LoadedControl> {
        self.catalog.control(cid)
    }

    /// Whether `name` is a system-defined policy.
    fn is_system_policy(&self, name: &str) -> bool {
        self.catalog
            .policy(name)
            .is_some_and(|p| p.origin == Some(Provenance::System))
    }
}

fn builtin() -> Result<&'static Catalog, ApiError> {
    static BUILTIN: OnceLock<Result<Catalog, CatalogError>> = OnceLock::new();
    BUILTIN
        .get_or_init(Catalog::builtin)
        .as_ref()
        .map_err(ApiError::internal)
}

/// A user-defined control's definition as the engine loads it.
fn load_user_control(record: &UserControlRecord) -> Result<LoadedControl, ApiError> {
    let file = format!("user-defined control {}", record.cid);
    let mut spec = ControlSpec::parse(&record.definition, &file).map_err(ApiError::internal)?;
    spec.cid = record.cid;
    Ok(LoadedControl {
        spec,
        file,
        text: record.definition.clone(),
        origin: Provenance::User,
        fixtures: Vec::new(),
        iac_fixtures: Vec::new(),
    })
}

/// The rows of the `controls` and `policies` tables (what search and counts
/// read) for a catalogue.
pub fn catalog_records(catalog: &Catalog) -> (Vec<ControlRecord>, Vec<PolicyRecord>) {
    let controls = catalog
        .controls
        .iter()
        .map(|c| ControlRecord {
            cid: c.spec.cid,
            title: c.spec.title.clone(),
            service: c.spec.service.clone(),
            resource_type: c.spec.resource_type.clone(),
            provider: c.spec.provider,
            criticality: c.spec.criticality,
            execution_type: c.spec.execution_type,
            remediable: c.spec.remediable,
        })
        .collect();
    let policies = catalog
        .policies
        .iter()
        .map(|p| PolicyRecord {
            name: p.name.clone(),
            provider: p.provider,
            description: p.description.clone(),
            cids: p.controls.clone(),
        })
        .collect();
    (controls, policies)
}

/// The catalogue in effect now: the built-in catalogue, the user-defined
/// controls and custom policies of the store, and the criticality overrides.
/// One call; scheduled runs compile `.catalog` and record with
/// `.controls`/`.policies` (or call [`sync_effective_controls`]).
pub async fn effective_controls(store: &dyn Store) -> Result<EffectiveCatalog, ApiError> {
    let mut catalog = builtin()?.clone();
    let user_controls = store.user_controls().await.map_err(ApiError::internal)?;
    for record in &user_controls {
        catalog.controls.push(load_user_control(record)?);
    }
    catalog.controls.sort_by_key(|c| c.spec.cid);
    let overrides = store
        .criticality_overrides()
        .await
        .map_err(ApiError::internal)?;
    for (cid, criticality) in overrides {
        if let Some(c) = catalog.controls.iter_mut().find(|c| c.spec.cid == cid) {
            c.spec.criticality = criticality;
        }
    }
    let custom_policies = store.custom_policies().await.map_err(ApiError::internal)?;
    for p in &custom_policies {
        catalog.policies.push(Policy {
            name: p.name.clone(),
            description: p.description.clone(),
            provider: Provider::Aws,
            execution_type: ExecutionType::Both,
            controls: p.cids.clone(),
            origin: Some(Provenance::User),
            file: format!("custom policy {}", p.name),
        });
    }
    catalog.policies.sort_by(|a, b| a.name.cmp(&b.name));
    let (controls, policies) = catalog_records(&catalog);
    Ok(EffectiveCatalog {
        catalog,
        custom_policies,
        user_controls,
        controls,
        policies,
    })
}

/// [`effective_controls`], then written into the tables search reads
/// (`Store::sync_catalog`). Calls within one process are serialized, so the
/// last change is the one that stays.
pub async fn sync_effective_controls(store: &dyn Store) -> Result<EffectiveCatalog, ApiError> {
    static SYNC: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = SYNC.lock().await;
    let effective = effective_controls(store).await?;
    store
        .sync_catalog(&effective.controls, &effective.policies)
        .await
        .map_err(ApiError::internal)?;
    Ok(effective)
}

/// A CID in a path: a number, else 400.
fn cid_in_path(text: &str) -> Result<u32, ApiError> {
    text.trim().parse().map_err(|_| {
        ApiError::invalid_field(
            "cid",
            format!("`{text}` is not a CID; give a number, e.g. 11"),
        )
    })
}

fn no_control(cid: u32) -> ApiError {
    ApiError::missing(format!(
        "there is no control with CID {cid}; list them with GET /api/v1/controls"
    ))
}

/// The refusal for changing a system control other than its criticality.
fn system_control(cid: u32) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "system_control",
        format!(
            "CID {cid} is a system control: system controls can only have their criticality changed \
             (PUT /api/v1/controls/{cid}/criticality); copy it to change anything else"
        ),
    )
}

/// A user-defined control as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserControlView {
    #[schema(example = 100000)]
    pub cid: u32,
    pub title: String,
    /// The criticality in effect (an override included).
    #[schema(value_type = String, example = "HIGH")]
    pub criticality: Criticality,
    #[schema(example = "aws.iam.password_policy")]
    pub resource_type: String,
    /// The control it was copied from.
    pub based_on: Option<u32>,
    #[schema(value_type = String)]
    pub created: vigil_model::Timestamp,
    #[schema(value_type = String)]
    pub updated: vigil_model::Timestamp,
    /// The whole definition: metadata, parameters and logic, as in
    /// `control.toml`.
    #[schema(value_type = Object)]
    pub control: serde_json::Value,
}

fn view(record: &UserControlRecord, effective: Option<&LoadedControl>) -> UserControlView {
    let spec = effective.map(|c| &c.spec);
    UserControlView {
        cid: record.cid,
        title: record.title.clone(),
        criticality: spec.map_or(record.criticality, |s| s.criticality),
        resource_type: record.resource_type.clone(),
        based_on: record.based_on,
        created: record.created,
        updated: record.updated,
        control: spec
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or_default(),
    }
}

/// Writes `spec` as a `control.toml` text, reads it back and compiles it, so
/// that what is kept loads exactly as it was checked.
fn definition_of(spec: &ControlSpec) -> Result<(ControlSpec, String), ApiError> {
    let text = toml::to_string_pretty(spec).map_err(ApiError::internal)?;
    let file = format!("control {}", spec.cid);
    let reread = ControlSpec::parse(&text, &file)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_control", e.reason))?;
    let loaded = LoadedControl {
        spec: reread.clone(),
        file,
        text: text.clone(),
        origin: Provenance::User,
        fixtures: Vec::new(),
        iac_fixtures: Vec::new(),
    };
    CompiledControl::compile(&loaded)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_control", e.reason))?;
    Ok((reread, text))
}

/// Checks a control's expressions: an error names the expression
/// (`logic.pass`, …) and says where in it, as line and column.
fn check_logic(spec: &ControlSpec) -> Result<(), ApiError> {
    CompiledControl::check_expressions(spec).map_err(|e| {
        let prefix = format!("in `{}`: ", e.file);
        let reason = e.reason.strip_prefix(&prefix).unwrap_or(&e.reason);
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_expression",
            format!(
                "{} at line {}, column {}: {reason}",
                e.file, e.line, e.column
            ),
        )
        .with_field(&e.file)
    })
}

/// Keeps a new user-defined control made from `spec` (whose CID is
/// allocated here), syncs search, and returns the record.
async fn create_user_control(
    state: &AppState,
    caller: &Caller,
    mut spec: ControlSpec,
    action: &str,
) -> Result<(StatusCode, Json<UserControlView>), ApiError> {
    check_logic(&spec)?;
    // Two creators may be handed the same CID; the second insert is refused
    // and asks for the next one.
    for _ in 0..8 {
        spec.cid = state
            .store
            .next_user_cid()
            .await
            .map_err(ApiError::internal)?;
        let (checked, definition) = definition_of(&spec)?;
        let now = chrono::Utc::now();
        let record = UserControlRecord {
            cid: checked.cid,
            title: checked.title.clone(),
            criticality: checked.criticality,
            resource_type: checked.resource_type.clone(),
            based_on: checked.based_on,
            definition,
            created: now,
            updated: now,
        };
        let audit = caller.audit(
            action,
            &format!("control:{}", record.cid),
            serde_json::json!({"title": record.title, "based_on": record.based_on,
                "criticality": record.criticality, "resource_type": record.resource_type}),
        );
        match state.store.create_user_control(&record, &audit).await {
            Ok(()) => {
                let effective = sync_effective_controls(state.store.as_ref()).await?;
                let shown = view(&record, effective.control(record.cid));
                return Ok((StatusCode::CREATED, Json(shown)));
            }
            Err(vigil_store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(ApiError::from_store(e)),
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "busy",
        "could not allocate a CID: other controls were being created; try again",
    ))
}

/// What a copy changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyForm {
    /// The copy's title (default: the original's with " (copy)").
    pub title: Option<String>,
    /// The copy's criticality (default: the original's in effect).
    #[schema(value_type = Option<String>, example = "HIGH")]
    pub criticality: Option<Criticality>,
    /// New values of the original's parameters, by name; each is checked
    /// against the parameter's type and range.
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"minimum_length": 16}))]
    pub parameters: BTreeMap<String, serde_json::Value>,
}

/// Copies a control (CloudView's "Create Copy") into a user-defined one
/// with a new CID, changing its title, criticality and — for a customizable
/// control — its parameters.
#[utoipa::path(post, path = "/api/v1/controls/{cid}/copy", tag = "controls",
    security(("bearer" = ["customize_controls"])),
    params(("cid" = u32, Path, description = "The CID of the control to copy")),
    request_body = CopyForm,
    responses(
        (status = 201, description = "The copy, with its new CID", body = UserControlView),
        (status = 400, description = "A field is invalid (e.g. `parameters.minimum_length`)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks customize_controls", body = ApiError),
        (status = 404, description = "No such control", body = ApiError),
    ))]
pub async fn copy_control(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(cid): Path<String>,
    body: JsonBody<CopyForm>,
) -> Result<(StatusCode, Json<UserControlView>), ApiError> {
    caller.require(Permission::CustomizeControls)?;
    let form = body.parse()?;
    let cid = cid_in_path(&cid)?;
    let effective = effective_controls(state.store.as_ref()).await?;
    let original = effective.control(cid).ok_or_else(|| no_control(cid))?;
    let mut spec = original.spec.clone();
    if !form.parameters.is_empty() && !spec.customizable {
        return Err(ApiError::invalid_field(
            "parameters",
            format!("CID {cid} is not customizable: it has no parameters to change; copy it without `parameters`"),
        ));
    }
    let known: Vec<&str> = original
        .spec
        .parameters
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    for (name, value) in &form.parameters {
        let field = format!("parameters.{name}");
        let p = spec
            .parameters
            .iter_mut()
            .find(|p| &p.name == name)
            .ok_or_else(|| {
                ApiError::invalid_field(
                    &field,
                    format!(
                        "CID {cid} has no parameter `{name}`; its parameters: {}",
                        known.join(", ")
                    ),
                )
            })?;
        let value: toml::Value = serde_json::from_value(value.clone()).map_err(|_| {
            ApiError::invalid_field(
                &field,
                format!(
                    "parameter `{name}` takes a {:?} value, not null",
                    p.param_type
                ),
            )
        })?;
        p.check(&value)
            .map_err(|e| ApiError::invalid_field(&field, e))?;
        p.default = value;
    }
    if let Some(title) = form.title {
        if title.trim().is_empty() {
            return Err(ApiError::invalid_field("title", "the title is empty"));
        }
        spec.title = title;
    } else {
        spec.title = format!("{} (copy)", spec.title);
    }
    if let Some(criticality) = form.criticality {
        spec.criticality = criticality;
    }
    spec.based_on = Some(cid);
    create_user_control(&state, &caller, spec, "control.copy").await
}

/// The logic of a control written through the API: CEL expressions over
/// `resource`, `meta`, `params` and `now` (see docs/controls.md).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogicForm {
    /// True when the resource passes.
    #[schema(example = "resource.minimum_password_length >= params.minimum_length")]
    pub pass: String,
    /// When present and false, the control does not apply to the resource.
    pub applies: Option<String>,
    /// The value shown as evidence for failures.
    pub actual: Option<String>,
    /// What a passing resource looks like; `${name}` is replaced by the
    /// value of parameter `name`.
    #[schema(example = "minimum password length >= ${minimum_length}")]
    pub expected: String,
    /// The message recorded with a failure (default: `evaluation`).
    pub fail_message: Option<String>,
}

/// A user-defined control: the fields of `control.toml` without `cid`
/// (allocated from 100000 up).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlForm {
    pub title: String,
    /// `aws` (default), `azure` or `gcp`.
    #[serde(default = "aws")]
    #[schema(value_type = String, example = "aws")]
    pub provider: Provider,
    /// The service as CloudView shows it, e.g. `IAM`.
    #[schema(example = "IAM")]
    pub service: String,
    /// The normalized resource type judged, `<provider>.<service>.<kind>`.
    #[schema(example = "aws.iam.password_policy")]
    pub resource_type: String,
    #[schema(value_type = String, example = "HIGH")]
    pub criticality: Criticality,
    /// `run` (default), `build` or `both`.
    #[serde(default = "run")]
    #[schema(value_type = String, example = "run")]
    pub execution_type: ExecutionType,
    /// What the control checks, in one sentence.
    pub evaluation: String,
    #[serde(default)]
    pub rationale: String,
    #[serde(default)]
    pub remediation: String,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub mandates: Vec<MandateMapping>,
    #[serde(default)]
    pub remediable: bool,
    /// Typed parameters (`name`, `type` int/bool/string/list, `default`,
    /// optional `min`, `max`, `allowed`, `description`).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub parameters: Vec<Parameter>,
    pub logic: LogicForm,
}

fn aws() -> Provider {
    Provider::Aws
}

fn run() -> ExecutionType {
    ExecutionType::Run
}

fn spanned(text: String) -> toml::Spanned<String> {
    toml::Spanned::new(0..0, text)
}

impl ControlForm {
    /// The spec this form describes, with `cid` and `based_on`; fields are
    /// checked first so that an error names the field.
    fn spec(self, cid: u32, based_on: Option<u32>) -> Result<ControlSpec, ApiError> {
        if self.title.trim().is_empty() {
            return Err(ApiError::invalid_field("title", "the title is empty"));
        }
        let prefix = format!("{}.", self.provider);
        if !self.resource_type.starts_with(&prefix) || self.resource_type.split('.').count() != 3 {
            return Err(ApiError::invalid_field(
                "resource_type",
                format!(
                    "`{}` must look like `{prefix}<service>.<kind>`, e.g. `{prefix}s3.bucket`",
                    self.resource_type
                ),
            ));
        }
        let mut names = HashSet::new();
        for (i, p) in self.parameters.iter().enumerate() {
            if !names.insert(p.name.as_str()) {
                return Err(ApiError::invalid_field(
                    &format!("parameters[{i}].name"),
                    format!("parameter `{}` is declared twice", p.name),
                ));
            }
            p.check(&p.default)
                .map_err(|e| ApiError::invalid_field(&format!("parameters[{i}].default"), e))?;
        }
        let customizable = !self.parameters.is_empty();
        Ok(ControlSpec {
            cid,
            title: self.title,
            provider: self.provider,
            service: self.service,
            resource_type: self.resource_type,
            criticality: self.criticality,
            execution_type: self.execution_type,
            evaluation: self.evaluation,
            rationale: self.rationale,
            remediation: self.remediation,
            references: self.references,
            mandates: self.mandates,
            remediable: self.remediable,
            customizable,
            based_on,
            parameters: self.parameters,
            logic: Logic {
                applies: self.logic.applies.map(spanned),
                pass: spanned(self.logic.pass),
                actual: self.logic.actual.map(spanned),
                expected: self.logic.expected,
                fail_message: self.logic.fail_message,
            },
        })
    }
}

/// Creates a user-defined control from metadata, typed parameters and CEL
/// expressions. The expressions are compiled: an error names the expression
/// (`logic.pass`, …) and its line and column.
#[utoipa::path(post, path = "/api/v1/controls/custom", tag = "controls",
    security(("bearer" = ["customize_controls"])),
    request_body = ControlForm,
    responses(
        (status = 201, description = "The control, with its new CID", body = UserControlView),
        (status = 400, description = "A field or an expression is invalid", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks customize_controls", body = ApiError),
    ))]
pub async fn create_control(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody<ControlForm>,
) -> Result<(StatusCode, Json<UserControlView>), ApiError> {
    caller.require(Permission::CustomizeControls)?;
    let spec = body.parse()?.spec(FIRST_USER_CID, None)?;
    create_user_control(&state, &caller, spec, "control.create").await
}

/// The user-defined control `cid`, or why it cannot be changed.
async fn user_control(
    state: &AppState,
    cid: &str,
) -> Result<(EffectiveCatalog, UserControlRecord), ApiError> {
    let cid = cid_in_path(cid)?;
    let effective = effective_controls(state.store.as_ref()).await?;
    if let Some(record) = effective.user_controls.iter().find(|c| c.cid == cid) {
        let record = record.clone();
        return Ok((effective, record));
    }
    match effective.control(cid) {
        Some(c) if c.origin == Provenance::System => Err(system_control(cid)),
        _ => Err(ApiError::missing(format!(
            "there is no user-defined control with CID {cid}"
        ))),
    }
}

/// Replaces a user-defined control's definition. System controls are
/// refused (409): only their criticality can change.
#[utoipa::path(put, path = "/api/v1/controls/custom/{cid}", tag = "controls",
    security(("bearer" = ["customize_controls"])),
    params(("cid" = u32, Path, description = "The CID of a user-defined control")),
    request_body = ControlForm,
    responses(
        (status = 200, description = "The control as changed", body = UserControlView),
        (status = 400, description = "A field or an expression is invalid", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks customize_controls", body = ApiError),
        (status = 404, description = "No such user-defined control", body = ApiError),
        (status = 409, description = "A system control: only its criticality can change", body = ApiError),
    ))]
pub async fn update_control(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(cid): Path<String>,
    body: JsonBody<ControlForm>,
) -> Result<Json<UserControlView>, ApiError> {
    caller.require(Permission::CustomizeControls)?;
    let form = body.parse()?;
    let (_, old) = user_control(&state, &cid).await?;
    let spec = form.spec(old.cid, old.based_on)?;
    check_logic(&spec)?;
    let (checked, definition) = definition_of(&spec)?;
    let record = UserControlRecord {
        title: checked.title.clone(),
        criticality: checked.criticality,
        resource_type: checked.resource_type.clone(),
        definition,
        updated: chrono::Utc::now(),
        ..old
    };
    let audit = caller.audit(
        "control.update",
        &format!("control:{}", record.cid),
        serde_json::json!({"title": record.title, "criticality": record.criticality,
            "resource_type": record.resource_type}),
    );
    state
        .store
        .update_user_control(&record, &audit)
        .await
        .map_err(ApiError::from_store)?;
    let effective = sync_effective_controls(state.store.as_ref()).await?;
    Ok(Json(view(&record, effective.control(record.cid))))
}

/// Deletes a user-defined control and its evaluations. System controls are
/// refused (409); a control listed by a custom policy too (409).
#[utoipa::path(delete, path = "/api/v1/controls/custom/{cid}", tag = "controls",
    security(("bearer" = ["customize_controls"])),
    params(("cid" = u32, Path, description = "The CID of a user-defined control")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The CID is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks customize_controls", body = ApiError),
        (status = 404, description = "No such user-defined control", body = ApiError),
        (status = 409, description = "A system control, or one a custom policy lists", body = ApiError),
    ))]
pub async fn delete_control(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(cid): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::CustomizeControls)?;
    let (_, record) = user_control(&state, &cid).await?;
    let audit = caller.audit(
        "control.delete",
        &format!("control:{}", record.cid),
        serde_json::json!({"title": record.title}),
    );
    state
        .store
        .delete_user_control(record.cid, &audit)
        .await
        .map_err(ApiError::from_store)?;
    sync_effective_controls(state.store.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user-defined controls, by CID.
#[utoipa::path(get, path = "/api/v1/controls/custom", tag = "controls",
    security(("bearer" = ["view_data"])),
    responses(
        (status = 200, description = "The user-defined controls", body = Vec<UserControlView>),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
    ))]
pub async fn list_controls(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<UserControlView>>, ApiError> {
    caller.require(Permission::ViewData)?;
    let effective = effective_controls(state.store.as_ref()).await?;
    Ok(Json(
        effective
            .user_controls
            .iter()
            .map(|r| view(r, effective.control(r.cid)))
            .collect(),
    ))
}

/// A criticality to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CriticalityForm {
    #[schema(value_type = String, example = "HIGH")]
    pub criticality: Criticality,
}

/// A control's criticality as set.
#[derive(Debug, Serialize, ToSchema)]
pub struct CriticalityView {
    pub cid: u32,
    #[schema(value_type = String, example = "HIGH")]
    pub criticality: Criticality,
    #[schema(value_type = String, example = "MEDIUM")]
    pub previous: Criticality,
}

/// Changes the criticality of any control, system or user-defined; search
/// and counts use it at once.
#[utoipa::path(put, path = "/api/v1/controls/{cid}/criticality", tag = "controls",
    security(("bearer" = ["customize_controls"])),
    params(("cid" = u32, Path, description = "The control's CID")),
    request_body = CriticalityForm,
    responses(
        (status = 200, description = "The criticality in effect", body = CriticalityView),
        (status = 400, description = "The criticality is not HIGH, MEDIUM or LOW", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks customize_controls", body = ApiError),
        (status = 404, description = "No such control", body = ApiError),
    ))]
pub async fn set_criticality(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(cid): Path<String>,
    body: JsonBody<CriticalityForm>,
) -> Result<Json<CriticalityView>, ApiError> {
    caller.require(Permission::CustomizeControls)?;
    let form = body.parse()?;
    let cid = cid_in_path(&cid)?;
    let effective = effective_controls(state.store.as_ref()).await?;
    let previous = effective
        .control(cid)
        .ok_or_else(|| no_control(cid))?
        .spec
        .criticality;
    let audit = caller.audit(
        "control.criticality",
        &format!("control:{cid}"),
        serde_json::json!({"criticality": form.criticality, "previous": previous}),
    );
    state
        .store
        .set_criticality(cid, form.criticality, &audit)
        .await
        .map_err(ApiError::from_store)?;
    sync_effective_controls(state.store.as_ref()).await?;
    Ok(Json(CriticalityView {
        cid,
        criticality: form.criticality,
        previous,
    }))
}

/// A custom policy to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyForm {
    #[schema(example = "Production S3")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The controls, by CID (system or user-defined).
    #[schema(example = json!([48, 100000]))]
    pub cids: Vec<u32>,
    /// Connector ids whose resources the policy covers; empty: every connector.
    #[serde(default)]
    pub connectors: Vec<String>,
}

/// A custom policy's new content (its name is in the path).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyChangeForm {
    #[serde(default)]
    pub description: String,
    pub cids: Vec<u32>,
    #[serde(default)]
    pub connectors: Vec<String>,
}

/// A custom policy as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomPolicyView {
    pub name: String,
    pub description: String,
    pub cids: Vec<u32>,
    pub connectors: Vec<String>,
}

impl From<CustomPolicyRecord> for CustomPolicyView {
    fn from(p: CustomPolicyRecord) -> Self {
        CustomPolicyView {
            name: p.name,
            description: p.description,
            cids: p.cids,
            connectors: p.connectors,
        }
    }
}

/// Checks a policy's content against the catalogue in effect and the
/// connectors the caller may see, and makes its record.
async fn policy_record(
    state: &AppState,
    caller: &Caller,
    effective: &EffectiveCatalog,
    name: String,
    form: PolicyChangeForm,
) -> Result<CustomPolicyRecord, ApiError> {
    if form.cids.is_empty() {
        return Err(ApiError::invalid_field(
            "cids",
            "a policy needs at least one control",
        ));
    }
    let mut seen = HashSet::new();
    for (i, cid) in form.cids.iter().enumerate() {
        let field = format!("cids[{i}]");
        if effective.control(*cid).is_none() {
            return Err(ApiError::invalid_field(
                &field,
                format!("there is no control with CID {cid}; list them with GET /api/v1/controls"),
            ));
        }
        if !seen.insert(cid) {
            return Err(ApiError::invalid_field(
                &field,
                format!("CID {cid} is listed twice"),
            ));
        }
    }
    for (i, id) in form.connectors.iter().enumerate() {
        let connector = access::connector(state, id).await?.ok_or_else(|| {
            ApiError::invalid_field(
                &format!("connectors[{i}]"),
                format!("there is no connector {id}; list them with GET /api/v1/connectors"),
            )
        })?;
        caller.require_tags(&connector.tags, &format!("connector {id}"))?;
    }
    let record = CustomPolicyRecord {
        name,
        description: form.description,
        cids: form.cids,
        connectors: form.connectors,
    };
    record
        .validate()
        .map_err(|e| ApiError::from_store(e).with_field("name"))?;
    Ok(record)
}

fn system_policy(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "system_policy",
        format!("`{name}` is a system-defined policy: it is read-only; create a custom policy with another name"),
    )
}

/// Creates a custom policy: controls plus the connectors in scope.
#[utoipa::path(post, path = "/api/v1/policies/custom", tag = "controls",
    security(("bearer" = ["manage_policies_controls"])),
    request_body = PolicyForm,
    responses(
        (status = 201, description = "The policy", body = CustomPolicyView),
        (status = 400, description = "A field is invalid (e.g. `cids[1]`)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller lacks manage_policies_controls or a connector's tag", body = ApiError),
        (status = 409, description = "The name is taken", body = ApiError),
    ))]
pub async fn create_policy(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody<PolicyForm>,
) -> Result<(StatusCode, Json<CustomPolicyView>), ApiError> {
    caller.require(Permission::ManagePoliciesControls)?;
    let form = body.parse()?;
    let effective = effective_controls(state.store.as_ref()).await?;
    if effective.is_system_policy(&form.name) {
        return Err(system_policy(&form.name));
    }
    let change = PolicyChangeForm {
        description: form.description,
        cids: form.cids,
        connectors: form.connectors,
    };
    let record = policy_record(&state, &caller, &effective, form.name, change).await?;
    let audit = caller.audit(
        "policy.create",
        &format!("policy:{}", record.name),
        serde_json::json!({"cids": record.cids, "connectors": record.connectors}),
    );
    state
        .store
        .create_custom_policy(&record, &audit)
        .await
        .map_err(ApiError::from_store)?;
    sync_effective_controls(state.store.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

/// Replaces a custom policy's description, controls and connectors.
/// System-defined policies are read-only (409).
#[utoipa::path(put, path = "/api/v1/policies/custom/{name}", tag = "controls",
    security(("bearer" = ["manage_policies_controls"])),
    params(("name" = String, Path, description = "The custom policy's name")),
    request_body = PolicyChangeForm,
    responses(
        (status = 200, description = "The policy as changed", body = CustomPolicyView),
        (status = 400, description = "A field is invalid (e.g. `cids[1]`)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller lacks manage_policies_controls or a connector's tag", body = ApiError),
        (status = 404, description = "No such custom policy", body = ApiError),
        (status = 409, description = "A system-defined policy", body = ApiError),
    ))]
pub async fn update_policy(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    body: JsonBody<PolicyChangeForm>,
) -> Result<Json<CustomPolicyView>, ApiError> {
    caller.require(Permission::ManagePoliciesControls)?;
    let form = body.parse()?;
    let effective = effective_controls(state.store.as_ref()).await?;
    if effective.is_system_policy(&name) {
        return Err(system_policy(&name));
    }
    let record = policy_record(&state, &caller, &effective, name, form).await?;
    let audit = caller.audit(
        "policy.update",
        &format!("policy:{}", record.name),
        serde_json::json!({"cids": record.cids, "connectors": record.connectors}),
    );
    state
        .store
        .update_custom_policy(&record, &audit)
        .await
        .map_err(ApiError::from_store)?;
    sync_effective_controls(state.store.as_ref()).await?;
    Ok(Json(record.into()))
}

/// Deletes a custom policy. System-defined policies are read-only (409).
#[utoipa::path(delete, path = "/api/v1/policies/custom/{name}", tag = "controls",
    security(("bearer" = ["manage_policies_controls"])),
    params(("name" = String, Path, description = "The custom policy's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_policies_controls", body = ApiError),
        (status = 404, description = "No such custom policy", body = ApiError),
        (status = 409, description = "A system-defined policy", body = ApiError),
    ))]
pub async fn delete_policy(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::ManagePoliciesControls)?;
    let effective = effective_controls(state.store.as_ref()).await?;
    if effective.is_system_policy(&name) {
        return Err(system_policy(&name));
    }
    let audit = caller.audit(
        "policy.delete",
        &format!("policy:{name}"),
        serde_json::json!({}),
    );
    state
        .store
        .delete_custom_policy(&name, &audit)
        .await
        .map_err(ApiError::from_store)?;
    sync_effective_controls(state.store.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The custom policies, by name.
#[utoipa::path(get, path = "/api/v1/policies/custom", tag = "controls",
    security(("bearer" = ["view_data"])),
    responses(
        (status = 200, description = "The custom policies", body = Vec<CustomPolicyView>),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
    ))]
pub async fn list_policies(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<CustomPolicyView>>, ApiError> {
    caller.require(Permission::ViewData)?;
    let policies = state
        .store
        .custom_policies()
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(policies.into_iter().map(Into::into).collect()))
}

/// What to re-evaluate: one control over the stored resources of its type,
/// or every control over one resource. Give exactly one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateForm {
    #[schema(example = 48)]
    pub cid: Option<u32>,
    /// A resource's native id (e.g. an ARN).
    pub resource_id: Option<String>,
}

/// What a re-evaluation wrote.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct EvaluateSummary {
    /// Resources evaluated.
    pub resources: u64,
    /// Evaluations written.
    pub evaluations: u64,
    pub pass: u64,
    pub fail: u64,
    pub skip: u64,
    /// Stored evaluations removed because the control no longer applies.
    pub removed: u64,
}

/// Re-evaluates, with the controls in effect (built-in, user-defined,
/// criticality overrides), one control over the stored resources of its type
/// or every control over one resource, and writes the results (lifecycle
/// kept: reopened, fixed). Only resources of connectors the caller sees;
/// IaC resources are judged again by scanning their files.
#[utoipa::path(post, path = "/api/v1/evaluate", tag = "controls",
    security(("bearer" = ["manage_policies_controls"])),
    request_body = EvaluateForm,
    responses(
        (status = 200, description = "What was written", body = EvaluateSummary),
        (status = 400, description = "Neither or both of `cid` and `resource_id`, or no such control", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_policies_controls", body = ApiError),
        (status = 404, description = "No such resource", body = ApiError),
    ))]
pub async fn evaluate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody<EvaluateForm>,
) -> Result<Json<EvaluateSummary>, ApiError> {
    caller.require(Permission::ManagePoliciesControls)?;
    let form = body.parse()?;
    let effective = effective_controls(state.store.as_ref()).await?;
    let sources = access::visible_sources(&state, &caller).await?;
    let (controls, selector, target) = match (form.cid, form.resource_id) {
        (Some(cid), None) => {
            let control = effective.control(cid).ok_or_else(|| {
                ApiError::invalid_field("cid", format!("there is no control with CID {cid}"))
            })?;
            let selector = ResourceSelector {
                types: Some(vec![control.spec.resource_type.clone()]),
                native_id: None,
                sources,
            };
            (vec![control.clone()], selector, format!("control:{cid}"))
        }
        (None, Some(id)) => {
            let selector = ResourceSelector {
                types: None,
                native_id: Some(id.clone()),
                sources,
            };
            (effective.catalog.controls, selector, format!("resource:{id}"))
        }
        _ => {
            return Err(ApiError::invalid_field(
                "cid",
                "give either `cid` (a control over its resources) or `resource_id` (every control over one resource)",
            ))
        }
    };
    let mut stored = state
        .store
        .stored_resources(&selector)
        .await
        .map_err(ApiError::internal)?;
    // The store does not keep the suppressions of IaC resources: they are
    // judged again by scanning their files, not here.
    stored.retain(|s| !matches!(s.resource.origin, Origin::Iac { .. }));
    if stored.is_empty() && selector.native_id.is_some() {
        return Err(ApiError::missing(format!(
            "there is no present resource {} of a connector you can see",
            selector.native_id.unwrap_or_default()
        )));
    }
    let now = chrono::Utc::now();
    let cids: Vec<u32> = controls.iter().map(|c| c.spec.cid).collect();
    let resources: Vec<vigil_model::Resource> = stored.iter().map(|s| s.resource.clone()).collect();
    let evaluations = tokio::task::spawn_blocking(move || {
        let engine = Engine::new(&controls, now)?;
        Ok::<_, CatalogError>(engine.evaluate(&resources, &|_| {}))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let mut summary = EvaluateSummary {
        resources: stored.len() as u64,
        ..EvaluateSummary::default()
    };
    let writes: Vec<EvaluationWrite> = evaluations
        .into_iter()
        .map(|e| {
            match e.result {
                EvalResult::Fail => summary.fail += 1,
                EvalResult::Skip => summary.skip += 1,
                _ => summary.pass += 1,
            }
            EvaluationWrite {
                resource: stored[e.resource].row_id,
                cid: e.cid,
                result: e.result,
                expected: e.evidence.expected.to_string(),
                actual: e.evidence.actual,
                message: e.evidence.message.to_string(),
            }
        })
        .collect();
    let ids: Vec<i64> = stored.iter().map(|s| s.row_id).collect();
    let audit = caller.audit(
        "evaluation.run",
        &target,
        serde_json::json!({"resources": ids.len(), "evaluations": writes.len()}),
    );
    let written = state
        .store
        .reevaluate(
            &Reevaluation {
                at: now,
                resources: &ids,
                cids: &cids,
                evaluations: &writes,
            },
            &audit,
        )
        .await
        .map_err(ApiError::from_store)?;
    summary.evaluations = written.written;
    summary.removed = written.removed;
    Ok(Json(summary))
}
