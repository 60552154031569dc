//! Shared test helpers: a stand-in, a collecting sink, expectations
//! computed from the stand-in's generator.
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use vigil_model::qualys::{DetectionType, QualysBatch, QualysDetection, QualysHost, QualysKbEntry};
use vigil_qualys::{ApiVersions, Client, Connection, Options, QualysError, Sink};
use vigil_qualys_standin::vm::{detection, host};
use vigil_qualys_standin::{StandIn, Subscription};

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

pub fn sub(hosts: u64, dets: u32) -> Subscription {
    Subscription {
        now: now(),
        hosts,
        detections_per_host: dets,
        ec2_instances: vec!["i-0aaa000000000001".into(), "i-0aaa000000000002".into()],
        qids: 40,
        ..Default::default()
    }
}

pub fn connection(url: &str) -> Connection {
    Connection {
        api_url: url.to_string(),
        username: "vigil_qa".into(),
        gateway_url: String::new(),
        account_name: "Acme".into(),
        api_versions: ApiVersions::default(),
        timeout_seconds: 30,
    }
}

/// VM only (the other families belong to other tests).
pub fn options() -> Options {
    Options {
        ingest_policy_compliance: false,
        ingest_web_app_scans: false,
        ingest_container_images: false,
        ..Default::default()
    }
}

pub fn client(conn: &Connection, options: &Options) -> Client {
    Client::new(conn, "Secret-123", options.max_retries).with_wait_scale(0.001)
}

#[derive(Default)]
pub struct Collect {
    pub batches: Mutex<Vec<QualysBatch>>,
}

impl Sink for Collect {
    fn put(&self, batch: QualysBatch) -> Result<(), String> {
        self.batches.lock().unwrap().push(batch);
        Ok(())
    }
}

impl Collect {
    pub fn hosts(&self) -> Vec<QualysHost> {
        let mut v = Vec::new();
        for b in self.batches.lock().unwrap().iter() {
            if let QualysBatch::Hosts(h) = b {
                v.extend(h.iter().cloned());
            }
        }
        v
    }
    pub fn host_ids(&self) -> BTreeSet<i64> {
        self.hosts().iter().map(|h| h.id).collect()
    }
    pub fn detections(&self) -> Vec<QualysDetection> {
        let mut v = Vec::new();
        for b in self.batches.lock().unwrap().iter() {
            if let QualysBatch::Detections(d) = b {
                v.extend(d.iter().cloned());
            }
        }
        v
    }
    pub fn kb(&self) -> Vec<QualysKbEntry> {
        let mut v = Vec::new();
        for b in self.batches.lock().unwrap().iter() {
            if let QualysBatch::Kb(d) = b {
                v.extend(d.iter().cloned());
            }
        }
        v
    }
    pub fn max_batch(&self) -> usize {
        self.batches
            .lock()
            .unwrap()
            .iter()
            .map(|b| b.len())
            .max()
            .unwrap_or(0)
    }
}

/// Runs `vm::ingest` against the stand-in on a blocking thread.
pub async fn run_vm(
    standin: &StandIn,
    conn: Connection,
    options: Options,
) -> (Result<BTreeMap<String, u64>, QualysError>, Collect) {
    let _ = standin;
    tokio::task::spawn_blocking(move || {
        let sink = Collect::default();
        let c = client(&conn, &options);
        let r = vigil_qualys::vm::ingest(&c, &options, now(), &sink);
        (r, sink)
    })
    .await
    .unwrap()
}

/// Hosts the fo host list selects (scan age, tags, ARS).
pub fn fo_hosts(sub: &Subscription, o: &Options) -> BTreeSet<i64> {
    let since = now() - Duration::days(o.host_scan_age_days as i64);
    (1..=sub.hosts)
        .map(|i| host(sub, i))
        .filter(|h| h.last_scan >= since)
        .filter(|h| {
            o.include_only_asset_tags.is_empty()
                || h.tags.iter().any(|t| o.include_only_asset_tags.contains(t))
        })
        .filter(|h| o.host.ars_min.is_none_or(|m| h.ars >= m))
        .filter(|h| o.host.ars_max.is_none_or(|m| h.ars <= m))
        .map(|h| h.id as i64)
        .collect()
}

/// Hosts the QPS host assets select (modified days, tags).
pub fn asset_hosts(sub: &Subscription, o: &Options) -> BTreeSet<i64> {
    let since = now() - Duration::days(o.devices_modified_days as i64);
    (1..=sub.hosts)
        .map(|i| host(sub, i))
        .filter(|h| h.modified > since)
        .filter(|h| {
            o.include_only_asset_tags.is_empty()
                || h.tags.iter().any(|t| o.include_only_asset_tags.contains(t))
        })
        .map(|h| h.id as i64)
        .collect()
}

/// (host, qid, port) of the detections the options select.
pub fn expected_detections(sub: &Subscription, o: &Options) -> BTreeSet<(i64, i64, u32)> {
    let scan = now() - Duration::days(o.host_scan_age_days as i64);
    let upd = now() - Duration::days(o.findings_age_days as i64);
    let mut out = BTreeSet::new();
    for i in 1..=sub.hosts {
        let h = host(sub, i);
        if h.last_scan < scan {
            continue;
        }
        if !o.include_only_asset_tags.is_empty()
            && !h.tags.iter().any(|t| o.include_only_asset_tags.contains(t))
        {
            continue;
        }
        for j in 0..sub.detections_per_host {
            let d = detection(sub, i, j);
            let kind = DetectionType::parse(d.kind).unwrap();
            if o.host_finding_types.contains(&kind)
                && o.host_finding_severities.contains(&d.severity)
                && d.last_found >= upd
            {
                out.insert((i as i64, d.qid as i64, d.port));
            }
        }
    }
    out
}

pub fn got_detections(c: &Collect) -> BTreeSet<(i64, i64, u32)> {
    c.detections()
        .iter()
        .map(|d| (d.host_id, d.qid, d.port.unwrap()))
        .collect()
}
