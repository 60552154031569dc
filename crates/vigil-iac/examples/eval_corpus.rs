//! Evaluates every `.tf` file under a directory with the Terraform evaluator
//! and prints the number of files, resources, unknown-valued resources,
//! parse errors (each one) and the time taken.
//!
//! `cargo run --release -p vigil-iac --example eval_corpus -- DIR`

use std::path::{Path, PathBuf};
use std::time::Instant;
use vigil_iac::terraform::eval::evaluate;
use vigil_iac::terraform::TfInputs;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "tf" || e == "tfvars") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: eval_corpus DIR");
        std::process::exit(2);
    };
    let mut paths = Vec::new();
    if let Err(e) = walk(Path::new(&dir), &mut paths) {
        eprintln!("cannot read {dir}: {e}");
        std::process::exit(2);
    }
    paths.sort();
    let mut files = Vec::new();
    for p in &paths {
        match std::fs::read_to_string(p) {
            Ok(text) => files.push((p.display().to_string(), text)),
            Err(e) => eprintln!("skipping {}: {e}", p.display()),
        }
    }
    let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    let start = Instant::now();
    let (resources, errors) = evaluate(&files, &TfInputs::default());
    let elapsed = start.elapsed();
    let with_unknown = resources.iter().filter(|r| !r.attrs.is_known()).count();
    for e in &errors {
        println!("error: {e}");
    }
    println!(
        "files: {}  lines: {lines}  resources: {}  (with unknown values: {with_unknown})  errors: {}  time: {:.1} ms",
        files.len(),
        resources.len(),
        errors.len(),
        elapsed.as_secs_f64() * 1000.0
    );
}
