//! `vigil controls`: the catalogue.

use crate::output::Rows;
use crate::setup::{catalog, user_controls_dir, Failure, Result, EXIT_FIXTURES};
use crate::{Cli, Format};
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use vigil_model::Criticality;

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List controls, optionally filtered.
    List {
        /// Only controls of this policy.
        #[arg(long)]
        policy: Option<String>,
        /// Only controls of this service (e.g. S3).
        #[arg(long)]
        service: Option<String>,
        /// Only controls of this criticality.
        #[arg(long)]
        criticality: Option<Criticality>,
        /// Only controls for this resource type (e.g. aws.s3.bucket).
        #[arg(long = "resource-type")]
        resource_type: Option<String>,
    },
    /// Show everything about one control.
    Show {
        /// The control's CID.
        cid: u32,
    },
    /// Copy a control into a user-defined control with its own CID,
    /// parameters, title or criticality; its fixtures (JSON and IaC) are
    /// copied along.
    Copy {
        /// The CID to copy.
        cid: u32,
        /// The new control's CID (100000 or more).
        #[arg(long = "new-cid")]
        new_cid: u32,
        /// A new title.
        #[arg(long)]
        title: Option<String>,
        /// A new criticality.
        #[arg(long)]
        criticality: Option<Criticality>,
        /// A parameter value, NAME=VALUE (repeatable), e.g. minimum_length=16.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Folder to write the copy into; defaults to <data-dir>/controls/<new-cid>.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Evaluate every control on its PASS/FAIL fixtures: the JSON resources
    /// and the IaC files (pass.tf, fail.tf, pass.cfn.yaml, fail.cfn.yaml).
    /// Fixtures are evaluated as of 2026-11-23T00:00:00Z so that results do
    /// not age.
    Test,
}

/// The file name of a catalogue path.
fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// What one IaC fixture gave: how many resources of the control's type it
/// declares, and the failures.
struct JudgedIac {
    resources: usize,
    failures: Vec<vigil_engine::FixtureFailure>,
}

/// Reads an IaC fixture with the IaC adapters (a `.tf` file with no input
/// variables, or a CloudFormation template) and judges it by the control; a
/// file that cannot be parsed is a failure naming the position.
fn test_iac_fixture(
    control: &vigil_engine::LoadedControl,
    fixture: &vigil_engine::IacFixture,
) -> Result<JudgedIac> {
    let files = [(fixture.file.clone(), fixture.text.clone())];
    let (resources, errors) = if fixture.is_terraform() {
        vigil_iac::terraform_resources(&files, &vigil_iac::terraform::TfInputs::default())
    } else {
        vigil_iac::cloudformation::cloudformation_resources(&files)
    };
    if let Some(e) = errors.first() {
        return Ok(JudgedIac {
            resources: 1,
            failures: vec![vigil_engine::FixtureFailure {
                cid: control.spec.cid,
                file: fixture.file.clone(),
                resource: "-".into(),
                expected: fixture.expect,
                got: None,
                message: format!("the file cannot be read: {e}"),
            }],
        });
    }
    let ty = control.spec.resource_type.as_str();
    let count = resources.iter().filter(|r| r.resource_type == ty).count();
    let failures = control
        .judge_iac_fixture(fixture, &resources, fixture_time())
        .map_err(Failure::input)?;
    Ok(JudgedIac {
        resources: count.max(1),
        failures,
    })
}

/// The time fixtures are evaluated at.
pub fn fixture_time() -> vigil_model::Timestamp {
    chrono::DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default()
}

pub fn run(cli: &Cli, cmd: &Cmd) -> Result<ExitCode> {
    let catalog = catalog(cli)?;
    match cmd {
        Cmd::List {
            policy,
            service,
            criticality,
            resource_type,
        } => {
            let in_policy = match policy {
                Some(name) => Some(
                    catalog
                        .policy(name)
                        .ok_or_else(|| {
                            Failure::input(format!(
                                "no policy named `{name}`; see `vigil policies list`"
                            ))
                        })?
                        .controls
                        .clone(),
                ),
                None => None,
            };
            let mut rows = Rows::new(vec![
                "CID",
                "CRITICALITY",
                "SERVICE",
                "RESOURCE TYPE",
                "EXECUTION",
                "ORIGIN",
                "TITLE",
            ]);
            for c in &catalog.controls {
                let s = &c.spec;
                let keep = in_policy.as_ref().is_none_or(|p| p.contains(&s.cid))
                    && service
                        .as_ref()
                        .is_none_or(|v| s.service.eq_ignore_ascii_case(v))
                    && criticality.is_none_or(|v| s.criticality == v)
                    && resource_type.as_ref().is_none_or(|v| &s.resource_type == v);
                if keep {
                    rows.push(
                        vec![
                            s.cid.to_string(),
                            s.criticality.to_string(),
                            s.service.clone(),
                            s.resource_type.clone(),
                            s.execution_type.to_string(),
                            format!("{:?}", c.origin).to_lowercase(),
                            s.title.clone(),
                        ],
                        s,
                    );
                }
            }
            rows.print(cli.format, 90)?;
        }
        Cmd::Show { cid } => {
            let c = catalog.control(*cid).ok_or_else(|| {
                Failure::input(format!(
                    "no control with CID {cid}; see `vigil controls list`"
                ))
            })?;
            let s = &c.spec;
            if cli.format != Format::Table {
                let mut rows = Rows::new(vec!["CID", "TITLE"]);
                rows.push(vec![s.cid.to_string(), s.title.clone()], s);
                return rows.print(cli.format, 200).map(|_| ExitCode::SUCCESS);
            }
            println!("CID-{} {}", s.cid, s.title);
            println!("  Provider:       {}", s.provider);
            println!("  Service:        {}", s.service);
            println!("  Resource type:  {}", s.resource_type);
            println!("  Criticality:    {}", s.criticality);
            println!("  Execution type: {}", s.execution_type);
            println!(
                "  Origin:         {:?}{}",
                c.origin,
                s.based_on
                    .map_or(String::new(), |b| format!(" (copy of CID {b})"))
            );
            println!(
                "  Policies:       {}",
                catalog.policies_of(s.cid).join("; ")
            );
            println!(
                "  Remediable:     {}",
                if s.remediable { "yes" } else { "no" }
            );
            println!(
                "  Customizable:   {}",
                if s.customizable { "yes" } else { "no" }
            );
            println!("  File:           {}", c.file);
            println!("\nEvaluation\n  {}", s.evaluation);
            println!("  Expected: {}", s.logic.expected);
            if !s.rationale.is_empty() {
                println!("\nRationale\n  {}", s.rationale);
            }
            if !s.parameters.is_empty() {
                println!("\nParameters");
                for p in &s.parameters {
                    let range = match (p.min, p.max) {
                        (Some(a), Some(b)) => format!(" [{a}..{b}]"),
                        _ => String::new(),
                    };
                    println!(
                        "  {} ({:?}{range}) = {}: {}",
                        p.name, p.param_type, p.default, p.description
                    );
                }
            }
            println!("\nLogic (CEL)\n  pass: {}", s.logic.pass.get_ref().trim());
            if let Some(a) = &s.logic.applies {
                println!("  applies: {}", a.get_ref().trim());
            }
            if !s.remediation.is_empty() {
                println!("\nRemediation\n{}", s.remediation.trim_end());
            }
            if !s.mandates.is_empty() {
                println!("\nMandates");
                for m in &s.mandates {
                    println!("  {}: {}", m.mandate, m.requirements.join(", "));
                }
            }
            if !s.references.is_empty() {
                println!("\nReferences");
                for r in &s.references {
                    println!("  {r}");
                }
            }
        }
        Cmd::Copy {
            cid,
            new_cid,
            title,
            criticality,
            params,
            out,
        } => {
            let original = catalog.control(*cid).ok_or_else(|| {
                Failure::input(format!(
                    "no control with CID {cid}; see `vigil controls list`"
                ))
            })?;
            if catalog.control(*new_cid).is_some() {
                return Err(Failure::input(format!(
                    "CID {new_cid} is already used; pick another --new-cid"
                )));
            }
            let params: Vec<(String, String)> = params
                .iter()
                .map(|p| {
                    p.split_once('=')
                        .map(|(a, b)| (a.trim().to_string(), b.to_string()))
                        .ok_or_else(|| Failure::input(format!("--param `{p}` must be NAME=VALUE")))
                })
                .collect::<Result<_>>()?;
            let text = vigil_engine::copy_control(
                original,
                *new_cid,
                title.as_deref(),
                *criticality,
                &params,
            )
            .map_err(Failure::input)?;
            let dir = match out {
                Some(d) => d.clone(),
                None => user_controls_dir(cli)?.join(new_cid.to_string()),
            };
            std::fs::create_dir_all(&dir)
                .map_err(|e| Failure::input(format!("cannot create {}: {e}", dir.display())))?;
            let file = dir.join("control.toml");
            let write = |path: &std::path::Path, text: &str| {
                std::fs::write(path, text)
                    .map_err(|e| Failure::input(format!("cannot write {}: {e}", path.display())))
            };
            write(&file, &text)?;
            println!(
                "wrote CID {new_cid} (copy of CID {cid}) to {}",
                file.display()
            );
            // The original's fixtures come along, so that the copy is tested
            // like the original; they were written for its parameters.
            let fixtures = original
                .fixtures
                .iter()
                .map(|f| (f.file.as_str(), f.text.as_str()))
                .chain(
                    original
                        .iac_fixtures
                        .iter()
                        .map(|f| (f.file.as_str(), f.text.as_str())),
                );
            let mut copied = Vec::new();
            for (path, text) in fixtures {
                let name = file_name(path);
                write(&dir.join(name), text)?;
                copied.push(name);
            }
            if !copied.is_empty() {
                println!(
                    "copied the fixtures of CID {cid}: {}; they were written for its parameters: adjust them and check with `vigil controls test`",
                    copied.join(", ")
                );
            }
        }
        Cmd::Test => {
            let mut failures = catalog.self_test(fixture_time()).map_err(Failure::input)?;
            let json: usize = catalog
                .controls
                .iter()
                .flat_map(|c| &c.fixtures)
                .map(|f| f.resources.len())
                .sum();
            let mut iac = 0;
            for control in &catalog.controls {
                for fixture in &control.iac_fixtures {
                    let judged = test_iac_fixture(control, fixture)?;
                    iac += judged.resources;
                    failures.extend(judged.failures);
                }
            }
            for f in &failures {
                println!("FAIL {f}");
            }
            let fixtures = json + iac;
            println!(
                "{} controls, {} fixture resources ({json} JSON, {iac} IaC): {} passed, {} failed",
                catalog.controls.len(),
                fixtures,
                fixtures.saturating_sub(failures.len()),
                failures.len()
            );
            if !failures.is_empty() {
                return Ok(ExitCode::from(EXIT_FIXTURES));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
