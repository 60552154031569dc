//! Every control that runs at build time is shown to judge Terraform and
//! CloudFormation: its folder holds `pass.tf`/`fail.tf` and
//! `pass.cfn.yaml`/`fail.cfn.yaml` next to the live-AWS `pass.json`/
//! `fail.json`; the adapters read them and the engine must give PASS for
//! every resource of the control's type in the pass file and at least one
//! FAIL in the fail file (`LoadedControl::judge_iac_fixture`, the rule
//! `vigil controls test` applies too). This test also checks that every
//! build-time control has the files it should.

use std::path::{Path, PathBuf};
use vigil_engine::{Catalog, IacFixture, IAC_FIXTURE_FILES};
use vigil_iac::terraform::{eval::evaluate, map::to_resources, TfInputs};
use vigil_model::{Resource, Timestamp};

/// Resource types that exist in Terraform but not in CloudFormation: their
/// controls have Terraform fixtures only.
const TERRAFORM_ONLY: &[&str] = &[
    "aws.iam.password_policy",
    "aws.ec2.ebs_encryption_default",
    "aws.s3.account_public_access_block",
    "aws.terraform.provider",
];

/// Controls whose resource exists in CloudFormation but whose subject does
/// not: a template cannot declare a VPC's default security group (CID 40).
const TERRAFORM_ONLY_CIDS: &[u32] = &[40];

/// Controls that CloudFormation can fail but never pass: MFA delete cannot
/// be enabled through CloudFormation (only by the root user with the API),
/// so CID 22 has a `fail.cfn.yaml` and no `pass.cfn.yaml`.
const NO_CLOUDFORMATION_PASS: &[u32] = &[22];

fn catalog_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog/controls")
}

/// The control folders, with the CID their name starts with.
fn control_dirs() -> Vec<(u32, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![catalog_dir()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.join("control.toml").is_file() {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                if let Some(cid) = name.split('-').next().and_then(|c| c.parse().ok()) {
                    out.push((cid, p));
                }
            } else if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn now() -> Timestamp {
    "2026-11-23T00:00:00Z".parse().unwrap()
}

fn read(path: &Path) -> Vec<Resource> {
    let text = std::fs::read_to_string(path).unwrap();
    let file = path.display().to_string();
    let (resources, errors) = if path.extension().is_some_and(|e| e == "tf") {
        let (decls, errors) = evaluate(&[(file, text)], &TfInputs::default());
        (to_resources(&decls), errors)
    } else {
        vigil_iac::cloudformation::cloudformation_resources(&[(file, text)])
    };
    assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    resources
}

#[test]
fn every_build_time_control_judges_its_terraform_and_cloudformation_fixtures() {
    let catalog = Catalog::builtin().unwrap();
    let mut wrong = Vec::new();
    for (cid, dir) in control_dirs() {
        let Some(control) = catalog.control(cid) else {
            wrong.push(format!(
                "{}: no control {cid} in the catalogue",
                dir.display()
            ));
            continue;
        };
        let ty = control.spec.resource_type.as_str();
        let build_time = control.spec.execution_type.at_build_time();
        let files: &[&str] = if TERRAFORM_ONLY.contains(&ty) || TERRAFORM_ONLY_CIDS.contains(&cid) {
            &["pass.tf", "fail.tf"]
        } else if NO_CLOUDFORMATION_PASS.contains(&cid) {
            &["pass.tf", "fail.tf", "fail.cfn.yaml"]
        } else {
            &["pass.tf", "fail.tf", "pass.cfn.yaml", "fail.cfn.yaml"]
        };
        for f in files {
            let path = dir.join(f);
            if !path.is_file() {
                if build_time {
                    wrong.push(format!(
                        "{}: missing (CID {cid} runs at build time)",
                        path.display()
                    ));
                }
                continue;
            }
            let fixture = IacFixture {
                file: path.display().to_string(),
                expect: IAC_FIXTURE_FILES
                    .iter()
                    .find(|(n, _)| n == f)
                    .map(|(_, e)| *e)
                    .unwrap(),
                text: String::new(),
            };
            let failures = control
                .judge_iac_fixture(&fixture, &read(&path), now())
                .unwrap();
            wrong.extend(failures.iter().map(ToString::to_string));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
