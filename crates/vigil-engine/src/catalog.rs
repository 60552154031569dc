//! The catalogue: controls with their fixtures, and policies, read from a set
//! of files the caller supplies (the engine itself reads no files).
//!
//! Layout, relative to a catalogue root:
//! - `controls/<any>/<folder>/control.toml`: one control;
//! - `controls/<any>/<folder>/pass.json`, `fail.json`, `skip.json`: fixtures,
//!   each a JSON array of resources that must give that result;
//! - `controls/<any>/<folder>/pass.tf`, `fail.tf`, `pass.cfn.yaml`,
//!   `fail.cfn.yaml`: IaC fixtures ([`IacFixture`]), kept as text: the engine
//!   does not read IaC, the caller maps them onto resources and judges them
//!   with [`LoadedControl::judge_iac_fixture`];
//! - `policies/<name>.toml`: one policy.

use crate::control::{ControlSpec, FIRST_USER_CID};
use crate::engine::Engine;
use crate::error::{line_col, CatalogError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use vigil_model::{EvalResult, ExecutionType, Provider, Resource, Timestamp};

/// One file of a catalogue: its path (as shown in errors) and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// Whether a control ships with Vigil or was written by its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    System,
    User,
}

/// A control as loaded: its spec, the file it came from and its fixtures.
#[derive(Debug, Clone)]
pub struct LoadedControl {
    pub spec: ControlSpec,
    pub file: String,
    pub text: String,
    pub origin: Provenance,
    pub fixtures: Vec<Fixture>,
    /// `pass.tf`, `fail.tf`, `pass.cfn.yaml`, `fail.cfn.yaml` beside
    /// `control.toml`, sorted by file.
    pub iac_fixtures: Vec<IacFixture>,
}

/// Resources that must give `expect` under a control.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub file: String,
    pub expect: EvalResult,
    pub resources: Vec<Resource>,
    /// The file's text, as read (to copy it).
    pub text: String,
}

/// The file names of IaC fixtures and the result each expects.
pub const IAC_FIXTURE_FILES: [(&str, EvalResult); 4] = [
    ("pass.tf", EvalResult::Pass),
    ("fail.tf", EvalResult::Fail),
    ("pass.cfn.yaml", EvalResult::Pass),
    ("fail.cfn.yaml", EvalResult::Fail),
];

/// An IaC fixture: a Terraform file or CloudFormation template whose
/// resources of the control's type must all PASS (`pass.*`, at least one)
/// or of which at least one must FAIL (`fail.*`).
#[derive(Debug, Clone)]
pub struct IacFixture {
    pub file: String,
    pub expect: EvalResult,
    pub text: String,
}

impl IacFixture {
    /// Whether this is a Terraform file (else a CloudFormation template).
    pub fn is_terraform(&self) -> bool {
        self.file.ends_with(".tf")
    }

    /// The fixture's file name (`pass.tf`, …).
    pub fn name(&self) -> &str {
        let norm = self.file.rsplit(['/', '\\']).next();
        norm.unwrap_or(&self.file)
    }
}

/// A named set of controls.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub provider: Provider,
    #[serde(default = "both")]
    pub execution_type: ExecutionType,
    pub controls: Vec<u32>,
    #[serde(skip_deserializing)]
    pub origin: Option<Provenance>,
    #[serde(skip)]
    pub file: String,
}

fn both() -> ExecutionType {
    ExecutionType::Both
}

/// All controls and policies of a run.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub controls: Vec<LoadedControl>,
    pub policies: Vec<Policy>,
}

/// A fixture whose resources did not give the result it expects; `resource`
/// is `-` for a failure of the fixture file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureFailure {
    pub cid: u32,
    pub file: String,
    pub resource: String,
    pub expected: EvalResult,
    pub got: Option<EvalResult>,
    pub message: String,
}

impl std::fmt::Display for FixtureFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A failure of the file as a whole (no fixture, unreadable, no
        // resource of the type): what is wrong, not a result.
        if self.resource == "-" && self.got.is_none() {
            return write!(
                f,
                "{}: CID {}: expected {}: {}",
                self.file, self.cid, self.expected, self.message
            );
        }
        write!(
            f,
            "{}: CID {} on `{}`: expected {}, got {}",
            self.file,
            self.cid,
            self.resource,
            self.expected,
            self.got
                .map_or("no evaluation (control does not apply)".into(), |g| g
                    .to_string())
        )?;
        if !self.message.is_empty() {
            write!(f, " ({})", self.message)?;
        }
        Ok(())
    }
}

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

impl Catalog {
    /// The catalogue that ships inside the binary.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        let files: Vec<SourceFile> = builtin::FILES
            .iter()
            .map(|(p, t)| SourceFile {
                path: format!("catalog/{p}"),
                text: t.to_string(),
            })
            .collect();
        Catalog::from_files(&files, Provenance::System)
    }

    /// Builds a catalogue from files; `origin` says whether they are system or
    /// user-defined. Files that are neither controls, fixtures nor policies are
    /// ignored, so a catalogue may carry READMEs.
    pub fn from_files(files: &[SourceFile], origin: Provenance) -> Result<Catalog, CatalogError> {
        let mut controls = Vec::new();
        let mut fixtures: HashMap<String, Vec<&SourceFile>> = HashMap::new();
        let mut iac: HashMap<String, Vec<IacFixture>> = HashMap::new();
        let mut policies = Vec::new();
        for f in files {
            let norm = f.path.replace('\\', "/");
            let (dir, name) = norm.rsplit_once('/').unwrap_or(("", norm.as_str()));
            match name {
                "control.toml" => {
                    let spec = ControlSpec::parse(&f.text, &f.path)?;
                    let user = spec.cid >= FIRST_USER_CID;
                    if user != (origin == Provenance::User) {
                        return Err(CatalogError::at(
                            &f.path,
                            1,
                            1,
                            match origin {
                                Provenance::User => format!(
                                    "user-defined controls take CIDs from {FIRST_USER_CID} up; {} is a system CID",
                                    spec.cid
                                ),
                                Provenance::System => format!(
                                    "system controls take CIDs below {FIRST_USER_CID}; {} is a user CID",
                                    spec.cid
                                ),
                            },
                        ));
                    }
                    controls.push((dir.to_string(), f, spec));
                }
                "pass.json" | "fail.json" | "skip.json" => {
                    fixtures.entry(dir.to_string()).or_default().push(f);
                }
                _ if IAC_FIXTURE_FILES.iter().any(|(n, _)| *n == name) => {
                    let expect = IAC_FIXTURE_FILES
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map_or(EvalResult::Fail, |(_, e)| *e);
                    iac.entry(dir.to_string()).or_default().push(IacFixture {
                        file: f.path.clone(),
                        expect,
                        text: f.text.clone(),
                    });
                }
                _ if name.ends_with(".toml") && dir.rsplit('/').next() == Some("policies") => {
                    let mut p: Policy = toml::from_str(&f.text).map_err(|e| {
                        let (line, column) =
                            e.span().map_or((1, 1), |s| line_col(&f.text, s.start));
                        CatalogError::at(&f.path, line, column, e.message().trim())
                    })?;
                    p.origin = Some(origin);
                    p.file = f.path.clone();
                    policies.push(p);
                }
                _ => {}
            }
        }
        let mut loaded = Vec::with_capacity(controls.len());
        for (dir, f, spec) in controls {
            let mut fx = Vec::new();
            for file in fixtures.remove(&dir).unwrap_or_default() {
                let expect = if file.path.ends_with("pass.json") {
                    EvalResult::Pass
                } else if file.path.ends_with("fail.json") {
                    EvalResult::Fail
                } else {
                    EvalResult::Skip
                };
                let resources = vigil_model::parse_resources(&file.text, &file.path)
                    .map_err(|e| CatalogError::at(&file.path, 1, 1, e.to_string()))?;
                fx.push(Fixture {
                    file: file.path.clone(),
                    expect,
                    resources,
                    text: file.text.clone(),
                });
            }
            fx.sort_by(|a, b| a.file.cmp(&b.file));
            let mut iac_fixtures = iac.remove(&dir).unwrap_or_default();
            iac_fixtures.sort_by(|a, b| a.file.cmp(&b.file));
            loaded.push(LoadedControl {
                spec,
                file: f.path.clone(),
                text: f.text.clone(),
                origin,
                fixtures: fx,
                iac_fixtures,
            });
        }
        if let Some((dir, files)) = iac.into_iter().next() {
            return Err(CatalogError::at(
                &files[0].file,
                1,
                1,
                format!("IaC fixtures in `{dir}` have no control.toml beside them"),
            ));
        }
        if let Some((dir, files)) = fixtures.into_iter().next() {
            return Err(CatalogError::at(
                &files[0].path,
                1,
                1,
                format!("fixtures in `{dir}` have no control.toml beside them"),
            ));
        }
        loaded.sort_by_key(|c| c.spec.cid);
        policies.sort_by(|a, b| a.name.cmp(&b.name));
        let catalog = Catalog {
            controls: loaded,
            policies,
        };
        // A user catalogue may name system controls, so its cross-references
        // are checked when it is merged into the catalogue of a run.
        if origin == Provenance::System {
            catalog.check()?;
        }
        Ok(catalog)
    }

    /// Adds another catalogue (user-defined controls and policies) to this one.
    pub fn merge(&mut self, other: Catalog) -> Result<(), CatalogError> {
        self.controls.extend(other.controls);
        self.controls.sort_by_key(|c| c.spec.cid);
        self.policies.extend(other.policies);
        self.policies.sort_by(|a, b| a.name.cmp(&b.name));
        self.check()
    }

    /// Checks what spans files: unique CIDs and policy names, and policies
    /// that name existing controls.
    fn check(&self) -> Result<(), CatalogError> {
        let mut by_cid: BTreeMap<u32, &str> = BTreeMap::new();
        for c in &self.controls {
            if let Some(first) = by_cid.insert(c.spec.cid, &c.file) {
                return Err(CatalogError::at(
                    &c.file,
                    1,
                    1,
                    format!("CID {} is already used by {first}", c.spec.cid),
                ));
            }
        }
        let mut names: BTreeMap<&str, &str> = BTreeMap::new();
        for p in &self.policies {
            if let Some(first) = names.insert(&p.name, &p.file) {
                return Err(CatalogError::at(
                    &p.file,
                    1,
                    1,
                    format!("policy name `{}` is already used by {first}", p.name),
                ));
            }
            for cid in &p.controls {
                if !by_cid.contains_key(cid) {
                    return Err(CatalogError::at(
                        &p.file,
                        1,
                        1,
                        format!(
                            "policy `{}` lists CID {cid}, which is not in the catalogue",
                            p.name
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn control(&self, cid: u32) -> Option<&LoadedControl> {
        self.controls.iter().find(|c| c.spec.cid == cid)
    }

    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The names of the policies that include a control.
    pub fn policies_of(&self, cid: u32) -> Vec<&str> {
        self.policies
            .iter()
            .filter(|p| p.controls.contains(&cid))
            .map(|p| p.name.as_str())
            .collect()
    }

    /// Keeps only the controls of the named policy.
    pub fn restrict_to_policy(&mut self, name: &str) -> Result<(), String> {
        let policy = self.policy(name).ok_or_else(|| {
            format!(
                "no policy named `{name}`; known: {}",
                self.policies
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let keep = policy.controls.clone();
        self.controls.retain(|c| keep.contains(&c.spec.cid));
        Ok(())
    }

    /// Compiles the catalogue for a run at `now`.
    pub fn compile(&self, now: Timestamp) -> Result<Engine, CatalogError> {
        Engine::new(&self.controls, now)
    }

    /// Runs every control on its fixtures. A shipped control without a PASS
    /// and a FAIL fixture is itself a failure.
    pub fn self_test(&self, now: Timestamp) -> Result<Vec<FixtureFailure>, CatalogError> {
        let mut failures = Vec::new();
        for control in &self.controls {
            let engine = Engine::new(std::slice::from_ref(control), now)?;
            let cid = control.spec.cid;
            // Shipped controls must prove both outcomes; a user's copy may
            // come without fixtures (its original's fixtures may not hold for
            // its new parameters), but fixtures it has must cover both.
            let required: &[EvalResult] =
                if control.origin == Provenance::System || !control.fixtures.is_empty() {
                    &[EvalResult::Pass, EvalResult::Fail]
                } else {
                    &[]
                };
            for &needed in required {
                if !control
                    .fixtures
                    .iter()
                    .any(|f| f.expect == needed && !f.resources.is_empty())
                {
                    failures.push(FixtureFailure {
                        cid,
                        file: control.file.clone(),
                        resource: "-".into(),
                        expected: needed,
                        got: None,
                        message: format!(
                            "the control has no {} fixture; add {}.json beside control.toml",
                            needed,
                            needed.as_str().to_lowercase()
                        ),
                    });
                }
            }
            let mut ctx = engine.context();
            for fixture in &control.fixtures {
                for (i, r) in fixture.resources.iter().enumerate() {
                    let mut out = Vec::new();
                    engine.evaluate_resource(&mut ctx, i, r, &mut out);
                    let got = out.first();
                    if got.map(|e| e.result) != Some(fixture.expect) {
                        failures.push(FixtureFailure {
                            cid,
                            file: fixture.file.clone(),
                            resource: r.id.clone(),
                            expected: fixture.expect,
                            got: got.map(|e| e.result),
                            message: got.map_or(String::new(), |e| e.evidence.message.to_string()),
                        });
                    }
                }
            }
        }
        Ok(failures)
    }
}

impl LoadedControl {
    /// Judges an IaC fixture of this control from the resources the caller
    /// read from it (all types; those of the control's type are judged): a
    /// pass file needs at least one such resource and every one PASS, a
    /// fail file at least one FAIL. Returns the failures (empty when the
    /// fixture holds).
    pub fn judge_iac_fixture(
        &self,
        fixture: &IacFixture,
        resources: &[Resource],
        now: Timestamp,
    ) -> Result<Vec<FixtureFailure>, CatalogError> {
        let cid = self.spec.cid;
        let failure = |resource: &str, got: Option<EvalResult>, message: String| FixtureFailure {
            cid,
            file: fixture.file.clone(),
            resource: resource.to_string(),
            expected: fixture.expect,
            got,
            message,
        };
        if !self.spec.execution_type.at_build_time() {
            return Ok(vec![failure(
                "-",
                None,
                format!(
                    "CID {cid} has execution type {}: IaC resources never meet it; make it `both` or remove the IaC fixture",
                    self.spec.execution_type
                ),
            )]);
        }
        let ty = self.spec.resource_type.as_str();
        let own: Vec<Resource> = resources
            .iter()
            .filter(|r| r.resource_type == ty)
            .cloned()
            .collect();
        if own.is_empty() {
            return Ok(vec![failure(
                "-",
                None,
                format!("the file declares no resource of type {ty}"),
            )]);
        }
        let engine = Engine::new(std::slice::from_ref(self), now)?;
        let results: Vec<(usize, EvalResult, String)> = engine
            .evaluate(&own, &|_| {})
            .into_iter()
            .map(|e| (e.resource, e.result, e.evidence.message.to_string()))
            .collect();
        let mut out = Vec::new();
        if fixture.expect == EvalResult::Pass {
            for (i, r) in own.iter().enumerate() {
                match results.iter().find(|(j, _, _)| *j == i) {
                    Some((_, EvalResult::Pass, _)) => {}
                    Some((_, got, message)) => {
                        out.push(failure(&r.id, Some(*got), message.clone()))
                    }
                    None => out.push(failure(&r.id, None, String::new())),
                }
            }
        } else if !results.iter().any(|(_, r, _)| *r == EvalResult::Fail) {
            let got: Vec<String> = results
                .iter()
                .map(|(i, r, m)| {
                    format!(
                        "{} {r}{}",
                        own[*i].id,
                        if m.is_empty() {
                            String::new()
                        } else {
                            format!(" ({m})")
                        }
                    )
                })
                .collect();
            out.push(failure(
                "-",
                results.first().map(|(_, r, _)| *r),
                format!(
                    "no resource of type {ty} failed: {}",
                    if got.is_empty() {
                        "none was evaluated".to_string()
                    } else {
                        got.join("; ")
                    }
                ),
            ));
        }
        Ok(out)
    }
}

/// Writes a user-defined copy of a control: a new CID, optionally a new title
/// and criticality, and parameter values checked against their declarations.
/// Returns the text of the new `control.toml`.
pub fn copy_control(
    original: &LoadedControl,
    new_cid: u32,
    title: Option<&str>,
    criticality: Option<vigil_model::Criticality>,
    params: &[(String, String)],
) -> Result<String, String> {
    let mut spec = original.spec.clone();
    if !spec.customizable && !params.is_empty() {
        return Err(format!(
            "CID {} is not customizable; its parameters cannot be changed",
            spec.cid
        ));
    }
    if new_cid < FIRST_USER_CID {
        return Err(format!(
            "user-defined controls take CIDs from {FIRST_USER_CID} up; {new_cid} is reserved for system controls"
        ));
    }
    spec.based_on = Some(spec.cid);
    spec.cid = new_cid;
    if let Some(t) = title {
        spec.title = t.to_string();
    }
    if let Some(c) = criticality {
        spec.criticality = c;
    }
    for (name, value) in params {
        let known: Vec<String> = spec.parameters.iter().map(|p| p.name.clone()).collect();
        let p = spec
            .parameters
            .iter_mut()
            .find(|p| &p.name == name)
            .ok_or_else(|| {
                format!(
                    "CID {} has no parameter `{name}`; its parameters: {}",
                    original.spec.cid,
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                )
            })?;
        p.default = p.parse_cli(value)?;
    }
    let text = toml::to_string_pretty(&spec).map_err(|e| e.to_string())?;
    // Re-read what was written so that the copy is validated exactly as it
    // will be loaded.
    let reread = ControlSpec::parse(&text, "copy").map_err(|e| e.to_string())?;
    let loaded = LoadedControl {
        spec: reread,
        file: "copy".into(),
        text: text.clone(),
        origin: Provenance::User,
        fixtures: Vec::new(),
        iac_fixtures: Vec::new(),
    };
    crate::engine::CompiledControl::compile(&loaded).map_err(|e| e.to_string())?;
    Ok(text)
}
