//! Embeds the catalogue under `catalog/` at the workspace root into the
//! binary, so that `vigil` needs no files beside it: controls, policies and
//! fixtures (`.json`, and the IaC fixtures `.tf` and `.cfn.yaml`).
//!
//! Every path this script gives cargo is relative to the package root, never
//! absolute: cargo shares build-script results between clones of the
//! workspace that use one target directory (as CI and a developer do here), so
//! an absolute path would tie a clone's build to another clone's files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const ROOT: &str = "../../catalog";

fn walk(manifest: &Path, rel: &str, out: &mut Vec<String>) {
    println!("cargo:rerun-if-changed={rel}");
    let Ok(entries) = std::fs::read_dir(manifest.join(rel)) else {
        return;
    };
    let mut names: Vec<(String, bool)> = entries
        .filter_map(Result::ok)
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path().is_dir(),
            )
        })
        .collect();
    names.sort();
    for (name, dir) in names {
        let child = format!("{rel}/{name}");
        if dir {
            walk(manifest, &child, out);
        } else if name.ends_with(".toml")
            || name.ends_with(".json")
            || name.ends_with(".tf")
            || name.ends_with(".cfn.yaml")
        {
            println!("cargo:rerun-if-changed={child}");
            out.push(child);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut files = Vec::new();
    walk(&manifest, ROOT, &mut files);
    let mut src = String::from("pub static FILES: &[(&str, &str)] = &[\n");
    for f in &files {
        let shown = f.trim_start_matches(ROOT).trim_start_matches('/');
        let _ = writeln!(
            src,
            "    ({shown:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/{f}\"))),"
        );
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("builtin.rs");
    if let Err(e) = std::fs::write(&out, src) {
        panic!("cannot write {}: {e}", out.display());
    }
}
