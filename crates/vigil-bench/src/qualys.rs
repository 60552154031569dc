//! Storing Qualys detections: batches of 1000 (as the connector hands
//! them) upserted into a fresh store, first inserted, then the same
//! detections again (a second run: every row an update).

use anyhow::Result;
use std::time::Instant;
use vigil_model::qualys::{
    CloudSource, DetectionStatus, DetectionType, QualysBatch, QualysDetection, QualysHost,
};
use vigil_store::{QualysStore, Store};

/// Detections per host, as in the 100,000-host, 5,000,000-detection
/// subscription.
const PER_HOST: usize = 50;
const BATCH: usize = 1000;

fn hosts(n: usize) -> Vec<QualysHost> {
    (0..n)
        .map(|i| QualysHost {
            id: i as i64 + 1,
            ip: Some(format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255)),
            dns: Some(format!("host-{i}")),
            tracking_method: Some("EC2".into()),
            cloud: (i % 2 == 0).then(|| CloudSource {
                provider: "aws".into(),
                instance_id: format!("i-{i:017x}"),
                account_id: Some("111122223333".into()),
                region: Some("us-east-1".into()),
            }),
            ..Default::default()
        })
        .collect()
}

/// The detections of batch `b` (hosts in order, `PER_HOST` each).
fn detections(b: usize, total: usize, status: DetectionStatus) -> Vec<QualysDetection> {
    let start = b * BATCH;
    (start..(start + BATCH).min(total))
        .map(|i| {
            let host = (i / PER_HOST) as i64 + 1;
            QualysDetection {
                host_id: host,
                instance_id: (host % 2 == 1).then(|| format!("i-{:017x}", host - 1)),
                qid: 38000 + (i % PER_HOST) as i64 * 7,
                kind: if i % 3 == 0 {
                    DetectionType::Potential
                } else {
                    DetectionType::Confirmed
                },
                severity: (i % 5) as u8 + 1,
                port: (i % 4 != 0).then_some(443),
                protocol: (i % 4 != 0).then(|| "tcp".to_string()),
                ssl: i % 4 == 1,
                status,
                first_found: Some(chrono::Utc::now()),
                last_found: Some(chrono::Utc::now()),
                times_found: Some(1),
                last_fixed: None,
                results: None,
            }
        })
        .collect()
}

async fn run_on(store: &dyn Store, label: &str, total: usize) -> Result<()> {
    let host_count = total.div_ceil(PER_HOST);
    let t = Instant::now();
    for chunk in hosts(host_count).chunks(BATCH) {
        store
            .qualys_ingest(
                "bench",
                "Bench",
                &QualysBatch::Hosts(chunk.to_vec()),
                chrono::Utc::now(),
            )
            .await?;
    }
    let host_secs = t.elapsed().as_secs_f64();
    println!(
        "qualys store ({label}): {host_count} hosts in {host_secs:.3} s = {:.0} hosts/s",
        host_count as f64 / host_secs
    );
    for (round, status) in [
        ("insert", DetectionStatus::New),
        ("update", DetectionStatus::Active),
    ] {
        let batches = total.div_ceil(BATCH);
        let mut store_secs = 0.0;
        for b in 0..batches {
            let batch = QualysBatch::Detections(detections(b, total, status));
            let t = Instant::now();
            store
                .qualys_ingest("bench", "Bench", &batch, chrono::Utc::now())
                .await?;
            store_secs += t.elapsed().as_secs_f64();
        }
        println!(
            "qualys store ({label}) {round}: {total} detections in {store_secs:.3} s = {:.0} detections/s",
            total as f64 / store_secs
        );
    }
    let summary = store.qualys_summary("bench").await?;
    anyhow::ensure!(
        summary.get("detections") == Some(&(total as u64)),
        "stored {:?} detections, expected {total}",
        summary.get("detections")
    );
    let t = Instant::now();
    let v = store
        .instance_vulnerabilities(&format!("i-{:017x}", 0), &None)
        .await?;
    println!(
        "qualys store ({label}): the {} vulnerabilities of one instance in {:.2} ms",
        v.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// Stores `total` detections into a fresh SQLite file and, when `postgres`
/// is given, a fresh PostgreSQL database at that URL (its Qualys rows of
/// connector `bench` are removed first).
pub async fn run(total: usize, postgres: Option<String>) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("vigil-bench-qualys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sqlite = vigil_store_sqlite::SqliteStore::open(&dir.join("vigil.db")).await?;
    let outcome = run_on(&sqlite, "sqlite", total).await;
    sqlite.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome?;
    if let Some(url) = postgres {
        let pg = vigil_store_postgres::PgStore::connect(&url).await?;
        pg.qualys_forget("bench").await?;
        let outcome = run_on(&pg, "postgres", total).await;
        pg.qualys_forget("bench").await?;
        pg.close().await;
        outcome?;
    }
    Ok(())
}
