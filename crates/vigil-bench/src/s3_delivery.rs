//! S3 delivery (issue 7): how fast VM findings become objects, and what
//! the Deliverer costs over a bare `PutObject`.
//!
//! 1. Serialize + hash + gzip, one thread: N synthetic hosts × M detections
//!    become JSON Lines objects of `--hosts-per-object` hosts, exactly as
//!    the planner makes them (`vm_host_line`, `content_hash`, `pack`).
//! 2. With `--endpoint` (a moto server; `bench/s3_delivery/run` starts one):
//!    the same objects written through the Deliverer (AssumeRole with the
//!    external id, HeadBucket, PutObject, credentials cached) and with a
//!    plain S3 client's `put_object` of the same bytes, one object at a
//!    time each; findings/s of both and their ratio. Then the whole path,
//!    serialize + gzip + Deliverer, end to end.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::time::Instant;
use vigil_delivery::payload::{self, Customer, VmFilter};
use vigil_delivery::s3::{AwsSettings, Deliverer, Target};
use vigil_model::qualys::{
    CloudSource, DetectionStatus, DetectionType, QualysDetection, QualysHost,
};
use vigil_store::delivery::{BaseCategory, HostFindings};

/// What to run.
pub struct Options {
    pub hosts: usize,
    pub per_host: usize,
    pub hosts_per_object: usize,
    pub compress: bool,
    pub endpoint: Option<String>,
}

fn hosts(n: usize, per_host: usize) -> Vec<HostFindings> {
    let base = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
    (0..n)
        .map(|i| {
            let id = i as i64 + 1;
            let host = QualysHost {
                id,
                asset_id: Some(5_000_000 + id),
                ip: Some(format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255)),
                dns: Some(format!(
                    "ip-10-{}-{}-{}.ec2.internal",
                    i >> 16 & 255,
                    i >> 8 & 255,
                    i & 255
                )),
                netbios: Some(format!("HOST{i}")),
                os: Some(
                    if i % 3 == 0 {
                        "Windows Server 2019"
                    } else {
                        "Amazon Linux 2"
                    }
                    .into(),
                ),
                tracking_method: Some("EC2".into()),
                tags: vec!["prod".into(), format!("team-{}", i % 7)],
                cloud: (i % 2 == 0).then(|| CloudSource {
                    provider: "aws".into(),
                    instance_id: format!("i-{i:017x}"),
                    account_id: Some("111122223333".into()),
                    region: Some("us-east-1".into()),
                }),
                last_vuln_scan: Some(base - chrono::Duration::minutes((i % 1440) as i64)),
                ..Default::default()
            };
            let detections = (0..per_host)
                .map(|k| {
                    let j = i * per_host + k;
                    let tcp = !j.is_multiple_of(4);
                    let fixed = j.is_multiple_of(11);
                    QualysDetection {
                        host_id: id,
                        instance_id: None,
                        qid: 38000 + ((j * 7919) % 4000) as i64,
                        kind: match j % 10 {
                            0 => DetectionType::Info,
                            1 | 2 => DetectionType::Potential,
                            _ => DetectionType::Confirmed,
                        },
                        severity: (j % 5) as u8 + 1,
                        port: tcp.then_some([22, 80, 443, 3389][j % 4]),
                        protocol: tcp.then(|| "tcp".to_string()),
                        ssl: j % 4 == 3,
                        status: if fixed {
                            DetectionStatus::Fixed
                        } else {
                            DetectionStatus::Active
                        },
                        first_found: Some(base - chrono::Duration::hours((j % 5000) as i64)),
                        last_found: Some(base - chrono::Duration::minutes((j % 900) as i64)),
                        times_found: Some((j % 40) as i64 + 1),
                        last_fixed: fixed.then(|| base - chrono::Duration::days(1)),
                        results: Some(format!("Package installed: openssl-1.0.{} ", j % 30)),
                    }
                })
                .collect();
            HostFindings {
                connector_id: "bench".into(),
                account_name: "Bench".into(),
                host,
                detections,
            }
        })
        .collect()
}

/// One packed object: its key, bytes and findings.
struct Object {
    key: String,
    body: Vec<u8>,
    findings: usize,
}

/// Serializes, hashes and packs `hosts` into objects as the planner does;
/// returns them with the uncompressed size.
fn build(
    hosts: &[HostFindings],
    customer: &Customer,
    filter: &VmFilter,
    per_object: usize,
    compress: bool,
) -> (Vec<Object>, usize, i64) {
    let kb = HashMap::new();
    let now = chrono::Utc::now();
    let mut objects = Vec::new();
    let mut raw = 0usize;
    let mut hashes = 0i64;
    for chunk in hosts.chunks(per_object) {
        let lines: Vec<payload::Line> = chunk
            .iter()
            .filter_map(|h| payload::vm_host_line(customer, filter, h, &kb))
            .collect();
        for l in &lines {
            hashes = hashes.wrapping_add(payload::content_hash(&l.json));
            raw += l.json.len() + 1;
        }
        let refs: Vec<&[u8]> = lines.iter().map(|l| l.json.as_slice()).collect();
        let findings = lines.iter().map(|l| l.items as usize).sum();
        objects.push(Object {
            key: payload::object_key(payload::VM_PREFIX, now, compress),
            body: payload::pack(&refs, compress),
            findings,
        });
    }
    (objects, raw, hashes)
}

/// Runs the benchmark and prints its figures.
pub async fn run(o: Options) -> Result<()> {
    let customer = Customer {
        customer_id: 250021,
        customer_uuid: "0a387e70-8b26-78ff-8145-017b816fa17f".into(),
    };
    let t = Instant::now();
    let data = hosts(o.hosts, o.per_host);
    println!(
        "s3 delivery: {} hosts x {} detections generated in {:.2} s",
        o.hosts,
        o.per_host,
        t.elapsed().as_secs_f64()
    );
    let mut filters = vec![(
        "all detections, host + detection fields",
        VmFilter {
            min_severity: 1,
            base_category: BaseCategory::Ig,
            result_section_needed: false,
            send_vuln_info: false,
        },
    )];
    filters.push((
        "with results",
        VmFilter {
            result_section_needed: true,
            ..filters[0].1
        },
    ));
    let mut kept = None;
    for (label, filter) in &filters {
        // Serialize alone, then serialize + hash + gzip (what the planner
        // does per object).
        let kb = HashMap::new();
        let t = Instant::now();
        let mut n = 0usize;
        for h in &data {
            if let Some(l) = payload::vm_host_line(&customer, filter, h, &kb) {
                n += l.items as usize;
                std::hint::black_box(&l.json);
            }
        }
        let ser = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let (objects, raw, hashes) =
            build(&data, &customer, filter, o.hosts_per_object, o.compress);
        let secs = t.elapsed().as_secs_f64();
        std::hint::black_box(hashes);
        let findings: usize = objects.iter().map(|x| x.findings).sum();
        let packed: usize = objects.iter().map(|x| x.body.len()).sum();
        println!(
            "serialize ({label}): {n} findings in {ser:.3} s = {:.0} findings/s (1 thread)",
            n as f64 / ser
        );
        println!(
            "serialize + hash + {} ({label}): {findings} findings in {secs:.3} s = {:.0} findings/s (1 thread); {} objects, {:.1} MB JSON -> {:.1} MB ({:.1}x)",
            if o.compress { "gzip" } else { "pack" },
            findings as f64 / secs,
            objects.len(),
            raw as f64 / 1e6,
            packed as f64 / 1e6,
            raw as f64 / packed.max(1) as f64
        );
        if kept.is_none() {
            kept = Some(objects);
        }
    }
    let Some(endpoint) = o.endpoint else {
        return Ok(());
    };
    let objects = kept.unwrap_or_default();
    let findings: usize = objects.iter().map(|x| x.findings).sum();
    let bytes: usize = objects.iter().map(|x| x.body.len()).sum();
    let (content_type, encoding) = payload::content_headers(o.compress);

    // A plain client on the same SDK configuration (HTTP client, retries,
    // time-outs) as the Deliverer's, with the operator's keys.
    let sdk = vigil_aws::sdk_config(&vigil_aws::AwsOptions {
        endpoint_url: Some(endpoint.clone()),
        ..Default::default()
    })
    .await?;
    let plain = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!(
        "vigil-bench-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp()
    );
    plain
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .with_context(|| format!("creating bucket {bucket} at {endpoint}"))?;

    let t = Instant::now();
    for x in &objects {
        plain
            .put_object()
            .bucket(&bucket)
            .key(format!("raw/{}", x.key))
            .body(x.body.clone().into())
            .content_type(content_type)
            .set_content_encoding(encoding.map(str::to_string))
            .send()
            .await
            .with_context(|| format!("raw put_object of {}", x.key))?;
    }
    let raw_secs = t.elapsed().as_secs_f64();

    let deliverer = Deliverer::new(AwsSettings {
        endpoint_url: Some(endpoint.clone()),
        profile: None,
    });
    let target = Target {
        bucket: bucket.clone(),
        region: "us-east-1".into(),
        role_arn: "arn:aws:iam::123456789012:role/vigil-bench".into(),
        external_id: "US_POD_1-250021-bench".into(),
    };
    let t = Instant::now();
    for x in &objects {
        deliverer
            .put(&target, &x.key, x.body.clone(), content_type, encoding)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let del_secs = t.elapsed().as_secs_f64();
    println!(
        "to moto, {} objects ({:.1} MB), one at a time: raw put_object {:.0} findings/s ({raw_secs:.2} s); Deliverer (assume role once, then cached) {:.0} findings/s ({del_secs:.2} s); Deliverer / raw = {:.2}",
        objects.len(),
        bytes as f64 / 1e6,
        findings as f64 / raw_secs,
        findings as f64 / del_secs,
        raw_secs / del_secs
    );

    // End to end: serialize + gzip + Deliverer put, a fresh Deliverer (its
    // AssumeRole counted).
    let deliverer = Deliverer::new(AwsSettings {
        endpoint_url: Some(endpoint.clone()),
        profile: None,
    });
    let t = Instant::now();
    let mut n = 0usize;
    for chunk in data.chunks(o.hosts_per_object) {
        let (objs, _, _) = build(
            chunk,
            &customer,
            &filters[0].1,
            o.hosts_per_object,
            o.compress,
        );
        for x in objs {
            n += x.findings;
            deliverer
                .put(
                    &target,
                    &format!("e2e/{}", x.key),
                    x.body,
                    content_type,
                    encoding,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "end to end (serialize + gzip + Deliverer put to moto): {n} findings in {secs:.2} s = {:.0} findings/s",
        n as f64 / secs
    );
    Ok(())
}
