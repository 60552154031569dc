//! Benchmarks whose figures go into `bench/RESULTS.md`. Run through
//! `bench/run`, in release mode.

use anyhow::Result;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Parser, Subcommand};
use std::time::Instant;
use vigil_engine::Catalog;
use vigil_model::Resource;

mod qualys;
mod s3_delivery;
mod store;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Evaluates the whole catalogue over N synthetic resources.
    Engine {
        #[arg(long, default_value_t = 1_000_000)]
        resources: usize,
        /// Also time each control on its own.
        #[arg(long)]
        per_control: bool,
        /// Also run the reference path (cel-interpreter only) on the same
        /// input and print the ratio.
        #[arg(long)]
        compare: bool,
    },
    /// Bulk-writes evaluations into SQLite and times filtered counts.
    Store {
        #[arg(long, default_value_t = 100_000)]
        resources: usize,
        #[arg(long, default_value_t = 10)]
        per_resource: usize,
    },
    /// Stores Qualys detections (batches of 1000, inserted then updated)
    /// into SQLite, and into PostgreSQL when `--postgres URL` is given.
    QualysStore {
        #[arg(long, default_value_t = 1_000_000)]
        detections: usize,
        /// A PostgreSQL URL (its `bench` connector's Qualys rows are
        /// replaced).
        #[arg(long)]
        postgres: Option<String>,
    },
    /// S3 delivery (issue 7): VM findings serialized + hashed + gzipped on
    /// one thread; with `--endpoint` (moto), the objects written through the
    /// Deliverer vs a plain `put_object`, and end to end.
    S3Delivery {
        #[arg(long, default_value_t = 20_000)]
        hosts: usize,
        #[arg(long, default_value_t = 25)]
        per_host: usize,
        #[arg(long, default_value_t = 1000)]
        hosts_per_object: usize,
        /// Write `.json` objects instead of `.gz`.
        #[arg(long)]
        no_compress: bool,
        /// An S3/STS endpoint (a moto server) for the end-to-end part; the
        /// operator's credentials come from the standard chain.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Writes a SQLite store of resources × per-resource evaluations to
    /// serve (the data API benchmark, bench/api).
    Seed {
        /// The SQLite file to write (created).
        #[arg(long)]
        db: std::path::PathBuf,
        #[arg(long, default_value_t = 100_000)]
        resources: usize,
        #[arg(long, default_value_t = 10)]
        per_resource: usize,
    },
}

/// Synthetic resources: copies of every fixture resource of the catalogue,
/// each with its own id, so every control meets PASS and FAIL cases.
pub fn synthetic(catalog: &Catalog, n: usize) -> Vec<Resource> {
    let templates: Vec<&Resource> = catalog
        .controls
        .iter()
        .flat_map(|c| c.fixtures.iter().flat_map(|f| f.resources.iter()))
        .collect();
    (0..n)
        .map(|i| {
            let mut r = templates[i % templates.len()].clone();
            r.id = format!("{}-{i}", r.id);
            r
        })
        .collect()
}

fn catalog_controls() -> Result<Vec<u32>> {
    Ok(Catalog::builtin()?
        .controls
        .iter()
        .map(|c| c.spec.cid)
        .collect())
}

/// The runtime of the store benchmarks: two workers, as the machine's cores.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.what {
        What::Seed {
            db,
            resources,
            per_resource,
        } => {
            let rt = runtime()?;
            rt.block_on(store::seed(&db, resources, per_resource))?;
        }
        What::S3Delivery {
            hosts,
            per_host,
            hosts_per_object,
            no_compress,
            endpoint,
        } => {
            // The serialization part runs on this thread; the runtime
            // serves the S3 part.
            let rt = runtime()?;
            rt.block_on(s3_delivery::run(s3_delivery::Options {
                hosts,
                per_host,
                hosts_per_object: hosts_per_object.max(1),
                compress: !no_compress,
                endpoint,
            }))?;
        }
        What::QualysStore {
            detections,
            postgres,
        } => {
            let rt = runtime()?;
            rt.block_on(qualys::run(detections, postgres))?;
        }
        What::Store {
            resources,
            per_resource,
        } => {
            let rt = runtime()?;
            rt.block_on(store::run(resources, per_resource))?;
        }
        What::Engine {
            resources,
            per_control,
            compare,
        } => {
            if per_control {
                for c in &catalog_controls()? {
                    let mut one = Catalog::builtin()?;
                    one.controls.retain(|x| x.spec.cid == *c);
                    let engine = one.compile(chrono::Utc::now())?;
                    let input = synthetic(&one, 200_000);
                    let t = Instant::now();
                    let out = engine.evaluate(&input, &|_| {});
                    let secs = t.elapsed().as_secs_f64();
                    println!(
                        "CID {c:>6}: {:>10.0} evaluations/s",
                        out.len() as f64 / secs
                    );
                }
            }
            let catalog = Catalog::builtin()?;
            let t = Instant::now();
            let engine = catalog.compile(chrono::Utc::now())?;
            let compile = t.elapsed();
            let input = synthetic(&catalog, resources);
            let t = Instant::now();
            let out = engine.evaluate(&input, &|_| {});
            let secs = t.elapsed().as_secs_f64();
            println!(
                "engine: {} controls compiled in {:.1} ms; {} resources, {} evaluations in {:.3} s = {:.0} evaluations/s on {} threads",
                catalog.controls.len(),
                compile.as_secs_f64() * 1e3,
                input.len(),
                out.len(),
                secs,
                out.len() as f64 / secs,
                std::thread::available_parallelism().map_or(1, |n| n.get())
            );
            if compare {
                let mut reference = catalog.compile(chrono::Utc::now())?;
                reference.set_fast(false);
                drop(out);
                let t = Instant::now();
                let slow = reference.evaluate(&input, &|_| {});
                let slow_secs = t.elapsed().as_secs_f64();
                println!(
                    "engine (cel-interpreter reference path): {} evaluations in {:.3} s = {:.0} evaluations/s; fast path is {:.1}x faster",
                    slow.len(),
                    slow_secs,
                    slow.len() as f64 / slow_secs,
                    slow_secs / secs
                );
            }
        }
    }
    Ok(())
}
