//! The delivery loop: plan (store → outbox) and send (outbox → S3).
//!
//! Each tick, on the one node that holds the delivery lease:
//! 1. **Plan**, per validated integration: read what changed since its
//!    watermark (less a margin, see [`DeliveryConfig::margin`]), encode the
//!    lines its filter lets through, drop the subjects whose content hash
//!    is unchanged since they were last planned, pack the rest into objects
//!    of at most [`DeliveryConfig::max_object_lines`] lines and about
//!    [`DeliveryConfig::max_object_bytes`] bytes, and commit objects,
//!    hashes and the new watermark in one transaction. A crash before the
//!    commit plans the same again; after it, the objects are on disk.
//! 2. **Send** what is due: each object goes to S3 under the key fixed at
//!    plan time and leaves the outbox only once S3 confirmed the write. A
//!    failure reschedules it with exponential backoff; a failure a person
//!    must fix also puts the integration in error and, once per problem,
//!    e-mails its `errorEmails`.

use crate::error::DeliveryError;
use crate::payload::{self, Customer, Line, VmFilter};
use crate::s3::{Deliverer, Target};
use crate::smtp::Mailer;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use vigil_model::Timestamp;
use vigil_store::delivery::{
    HostKey, Integration, IntegrationKind, IntegrationState, NewObject, OutboxObject, PlanCommit,
};
use vigil_store::{Store, StoreError};

/// How the delivery loop runs.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// This node's id (for the delivery lease).
    pub node: String,
    /// How often it looks for changes and due objects (default 1 s): the
    /// most a change waits before it is planned.
    pub tick: Duration,
    /// How long the lease lasts without renewal.
    pub lease: Duration,
    pub customer: Customer,
    /// At most this many lines per object.
    pub max_object_lines: usize,
    /// At most about this many uncompressed bytes per object.
    pub max_object_bytes: usize,
    /// First retry after this long; doubled per attempt up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Each plan re-reads this much before the watermark, for writes that
    /// committed after a plan read past their time (the content hash keeps
    /// them from being sent twice).
    pub margin: Duration,
    /// Every `sweep_every`, a plan re-reads `sweep_margin` instead.
    pub sweep_every: Duration,
    pub sweep_margin: Duration,
    /// Objects written to S3 at once.
    pub concurrency: usize,
}

impl DeliveryConfig {
    /// The defaults for `node` and `customer`.
    pub fn new(node: &str, customer: Customer) -> DeliveryConfig {
        DeliveryConfig {
            node: node.to_string(),
            tick: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            customer,
            max_object_lines: 1000,
            max_object_bytes: 8 << 20,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            margin: Duration::from_secs(5),
            sweep_every: Duration::from_secs(60),
            sweep_margin: Duration::from_secs(300),
            concurrency: 8,
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Whether this node held the lease (else it did nothing).
    pub leader: bool,
    /// Objects planned into the outbox.
    pub planned: u64,
    /// Objects S3 confirmed.
    pub delivered: u64,
    /// Writes that failed (and wait for a retry).
    pub failed: u64,
    /// Alert e-mails sent.
    pub alerts: u64,
}

/// Runs until aborted: each tick (or when `wake` is notified) plans what
/// changed and sends what is due.
pub async fn run(
    store: Arc<dyn Store>,
    deliverer: Arc<Deliverer>,
    mailer: Option<Mailer>,
    config: DeliveryConfig,
    wake: Arc<tokio::sync::Notify>,
) {
    let mut loop_state = LoopState::default();
    loop {
        if let Err(e) = tick(
            store.as_ref(),
            &deliverer,
            mailer.as_ref(),
            &config,
            &mut loop_state,
        )
        .await
        {
            eprintln!("vigil delivery: {e} (retrying next tick)");
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(config.tick) => {}
        }
    }
}

/// What the loop remembers between ticks.
#[derive(Debug, Default)]
pub struct LoopState {
    last_sweep: Option<Timestamp>,
}

/// One tick: the lease, a plan of every validated integration, and one
/// round of sends.
pub async fn tick(
    store: &dyn Store,
    deliverer: &Arc<Deliverer>,
    mailer: Option<&Mailer>,
    config: &DeliveryConfig,
    loop_state: &mut LoopState,
) -> Result<TickReport, StoreError> {
    let mut report = TickReport::default();
    let now = Utc::now();
    let lease_ms = i64::try_from(config.lease.as_millis()).unwrap_or(i64::MAX);
    if !store.delivery_lease(&config.node, now, lease_ms).await? {
        return Ok(report);
    }
    report.leader = true;
    let sweep = match loop_state.last_sweep {
        Some(at) => now - at >= chrono_duration(config.sweep_every),
        None => true,
    };
    if sweep {
        loop_state.last_sweep = Some(now);
    }
    let margin = chrono_duration(if sweep {
        config.sweep_margin
    } else {
        config.margin
    });
    for integration in store.integrations(None).await? {
        if !integration.validated || integration.state == IntegrationState::Pending {
            continue;
        }
        match plan(store, &integration, config, margin).await {
            Ok(n) => report.planned += n,
            // Another node or an API change moved the watermark: plan again
            // next tick from the new one.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    send(store, deliverer, mailer, config, &mut report).await?;
    Ok(report)
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Hosts (or evaluations) read per page while planning.
const PAGE: u32 = 500;

/// Plans one integration; returns the objects committed to the outbox.
pub async fn plan(
    store: &dyn Store,
    integration: &Integration,
    config: &DeliveryConfig,
    margin: chrono::Duration,
) -> Result<u64, StoreError> {
    let started = Utc::now();
    let watermark = store.watermark(integration.id).await?;
    let since = if watermark <= DateTime::UNIX_EPOCH {
        watermark
    } else {
        watermark - margin
    };
    let mut packer = Packer::new(integration, config);
    match integration.kind {
        IntegrationKind::Vm => plan_vm(store, config, watermark, since, &mut packer).await?,
        IntegrationKind::Pc => plan_pc(store, config, watermark, since, &mut packer).await?,
        IntegrationKind::Ocsf => plan_ocsf(store, watermark, since, &mut packer).await?,
    }
    packer.flush(store, watermark, started, true).await
}

/// Lines waiting to become objects, and what was committed so far.
struct Packer<'a> {
    integration: &'a Integration,
    config: &'a DeliveryConfig,
    /// The object being filled, each line with its content hash.
    lines: Vec<(Line, i64)>,
    bytes: usize,
    /// Objects packed, not yet committed, with the subjects they carry
    /// (never subjects of lines not packed yet: a hash is committed only
    /// with the object that carries its line).
    objects: Vec<NewObject>,
    subjects: Vec<(String, i64)>,
    /// Objects committed.
    committed: u64,
}

impl<'a> Packer<'a> {
    fn new(integration: &'a Integration, config: &'a DeliveryConfig) -> Packer<'a> {
        Packer {
            integration,
            config,
            lines: Vec::new(),
            bytes: 0,
            objects: Vec::new(),
            subjects: Vec::new(),
            committed: 0,
        }
    }

    fn compress(&self) -> bool {
        self.integration.settings.compress_data
    }

    /// The lines whose content changed since they were last planned, with
    /// their hashes.
    async fn changed(
        &self,
        store: &dyn Store,
        lines: Vec<Line>,
    ) -> Result<Vec<(Line, i64)>, StoreError> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let subjects: Vec<String> = lines.iter().map(|l| l.subject.clone()).collect();
        let known = store.subject_hashes(self.integration.id, &subjects).await?;
        Ok(lines
            .into_iter()
            .map(|l| {
                let hash = payload::content_hash(&l.json);
                (l, hash)
            })
            .filter(|(l, hash)| known.get(&l.subject) != Some(hash))
            .collect())
    }

    /// Gathers the lines that changed into objects.
    async fn offer(&mut self, store: &dyn Store, lines: Vec<Line>) -> Result<(), StoreError> {
        for (line, hash) in self.changed(store, lines).await? {
            self.bytes += line.json.len() + 1;
            self.lines.push((line, hash));
            if self.lines.len() >= self.config.max_object_lines
                || self.bytes >= self.config.max_object_bytes
            {
                self.pack();
            }
        }
        Ok(())
    }

    /// Knowledge-base entries that changed: an object of their own each,
    /// at `vuln_info/vm/<QID>`.
    async fn offer_kb(
        &mut self,
        store: &dyn Store,
        kb: BTreeMap<i64, Line>,
    ) -> Result<(), StoreError> {
        let qids: HashMap<String, i64> = kb.iter().map(|(q, l)| (l.subject.clone(), *q)).collect();
        let compress = self.compress();
        let (content_type, encoding) = payload::content_headers(compress);
        for (line, hash) in self.changed(store, kb.into_values().collect()).await? {
            let Some(qid) = qids.get(&line.subject) else {
                continue;
            };
            self.objects.push(NewObject {
                key: payload::kb_key(*qid, compress),
                body: payload::pack(&[line.json.as_slice()], compress),
                content_type: content_type.to_string(),
                content_encoding: encoding.map(str::to_string),
                items: line.items.max(1),
            });
            self.subjects.push((line.subject, hash));
        }
        Ok(())
    }

    /// Turns the lines gathered into one object.
    fn pack(&mut self) {
        if self.lines.is_empty() {
            return;
        }
        let prefix = match self.integration.kind {
            IntegrationKind::Vm => payload::VM_PREFIX,
            IntegrationKind::Pc => payload::PC_PREFIX,
            IntegrationKind::Ocsf => payload::OCSF_PREFIX,
        };
        let compress = self.compress();
        let refs: Vec<&[u8]> = self.lines.iter().map(|(l, _)| l.json.as_slice()).collect();
        let body = payload::pack(&refs, compress);
        let items = self.lines.iter().map(|(l, _)| l.items).sum();
        let (content_type, encoding) = payload::content_headers(compress);
        self.objects.push(NewObject {
            key: payload::object_key(prefix, Utc::now(), compress),
            body,
            content_type: content_type.to_string(),
            content_encoding: encoding.map(str::to_string),
            items,
        });
        for (line, hash) in self.lines.drain(..) {
            self.subjects.push((line.subject, hash));
        }
        self.bytes = 0;
    }

    /// Commits the objects packed so far (with `last`, also the lines still
    /// gathered and the new watermark). Intermediate commits keep the old
    /// watermark: a crash in a long plan redoes only what was not committed.
    async fn flush(
        &mut self,
        store: &dyn Store,
        watermark: Timestamp,
        new_watermark: Timestamp,
        last: bool,
    ) -> Result<u64, StoreError> {
        if last {
            self.pack();
        } else if self.objects.is_empty() {
            return Ok(self.committed);
        }
        let objects = std::mem::take(&mut self.objects);
        let subjects = std::mem::take(&mut self.subjects);
        store
            .commit_plan(
                PlanCommit {
                    integration_id: self.integration.id,
                    expected_watermark: watermark,
                    watermark: if last { new_watermark } else { watermark },
                    objects: &objects,
                    subjects: &subjects,
                },
                Utc::now(),
            )
            .await?;
        self.committed += objects.len() as u64;
        Ok(self.committed)
    }
}

async fn plan_vm(
    store: &dyn Store,
    config: &DeliveryConfig,
    watermark: Timestamp,
    since: Timestamp,
    packer: &mut Packer<'_>,
) -> Result<(), StoreError> {
    let filter = VmFilter::from_settings(&packer.integration.settings);
    let mut after: Option<HostKey> = None;
    loop {
        let keys = store.vm_changed_hosts(since, after.as_ref(), PAGE).await?;
        let Some(last) = keys.last().cloned() else {
            break;
        };
        let hosts = store.vm_host_findings(&keys).await?;
        // The knowledge base of the QIDs seen, per connector.
        let mut kb_by_connector: HashMap<String, HashMap<i64, _>> = HashMap::new();
        if filter.send_vuln_info {
            let mut qids: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
            for h in &hosts {
                let list = qids.entry(h.connector_id.as_str()).or_default();
                list.extend(h.detections.iter().map(|d| d.qid));
            }
            for (connector, mut list) in qids {
                list.sort_unstable();
                list.dedup();
                let kb = store.kb_entries(connector, &list).await?;
                kb_by_connector.insert(connector.to_string(), kb);
            }
        }
        let empty = HashMap::new();
        let mut lines = Vec::with_capacity(hosts.len());
        let mut kb_lines: BTreeMap<i64, Line> = BTreeMap::new();
        for host in &hosts {
            let kb = kb_by_connector.get(&host.connector_id).unwrap_or(&empty);
            if let Some(line) = payload::vm_host_line(&config.customer, &filter, host, kb) {
                if filter.send_vuln_info {
                    for d in &host.detections {
                        if let Some(entry) = kb.get(&d.qid) {
                            kb_lines
                                .entry(d.qid)
                                .or_insert_with(|| payload::kb_line(entry));
                        }
                    }
                }
                lines.push(line);
            }
        }
        packer.offer_kb(store, kb_lines).await?;
        packer.offer(store, lines).await?;
        packer.flush(store, watermark, watermark, false).await?;
        after = Some(last);
        if keys.len() < PAGE as usize {
            break;
        }
    }
    Ok(())
}

async fn plan_pc(
    store: &dyn Store,
    config: &DeliveryConfig,
    watermark: Timestamp,
    since: Timestamp,
    packer: &mut Packer<'_>,
) -> Result<(), StoreError> {
    let cips = store.cips_config().await?;
    if cips.policies.is_empty() {
        // Seed 000: posture is sent only for the policies added to CIPS.
        return Ok(());
    }
    let mut after: Option<HostKey> = None;
    loop {
        let keys = store.pc_changed_hosts(since, after.as_ref(), PAGE).await?;
        let Some(last) = keys.last().cloned() else {
            break;
        };
        let hosts = store.pc_host_postures(&keys, &cips.policies).await?;
        let lines = hosts
            .iter()
            .filter_map(|h| payload::pc_host_line(&config.customer, &cips, h))
            .collect();
        packer.offer(store, lines).await?;
        packer.flush(store, watermark, watermark, false).await?;
        after = Some(last);
        if keys.len() < PAGE as usize {
            break;
        }
    }
    Ok(())
}

async fn plan_ocsf(
    store: &dyn Store,
    watermark: Timestamp,
    since: Timestamp,
    packer: &mut Packer<'_>,
) -> Result<(), StoreError> {
    let mut after: Option<(String, u32)> = None;
    loop {
        let rows = store
            .evaluations_changed(since, after.as_ref(), PAGE * 4)
            .await?;
        let Some(last) = rows.last().map(|r| (r.resource_id.clone(), r.cid)) else {
            break;
        };
        let lines = rows.iter().map(payload::ocsf_line).collect();
        packer.offer(store, lines).await?;
        packer.flush(store, watermark, watermark, false).await?;
        after = Some(last);
        if rows.len() < (PAGE * 4) as usize {
            break;
        }
    }
    // IaC scans kept since the watermark: every check as a finding.
    for scan in store.iac_scans().await? {
        if scan.created < since {
            continue;
        }
        let Some(full) = store.iac_scan(&scan.scan_id).await? else {
            continue;
        };
        let Some(document) = full.document else {
            continue;
        };
        packer
            .offer(store, iac_lines(&scan.scan_id, scan.created, &document))
            .await?;
        packer.flush(store, watermark, watermark, false).await?;
    }
    Ok(())
}

/// The checks of an IaC scan document, as much of it as OCSF needs.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IacDocument {
    #[serde(default)]
    result: Vec<IacCheckType>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IacCheckType {
    results: IacChecks,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct IacChecks {
    failed_checks: Vec<IacCheck>,
    passed_checks: Vec<IacCheck>,
    skipped_checks: Vec<IacCheck>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IacCheck {
    control_id: u32,
    check_name: String,
    criticality: vigil_model::Criticality,
    result: String,
    resource: String,
    resource_type: String,
    resource_name: String,
    file_path: String,
    #[serde(default)]
    expected: String,
    #[serde(default)]
    actual: String,
    #[serde(default)]
    message: String,
}

/// Every check of an IaC scan as an OCSF Detection Finding line: the
/// resource is `<file>#<resource address>`, the time the scan's.
pub fn iac_lines(scan_id: &str, at: Timestamp, document: &serde_json::Value) -> Vec<Line> {
    let Ok(doc) = IacDocument::deserialize(document) else {
        eprintln!("vigil delivery: IaC scan {scan_id}: its document is not a scan result; skipped");
        return Vec::new();
    };
    let mut lines = Vec::new();
    for t in &doc.result {
        let r = &t.results;
        for check in r
            .failed_checks
            .iter()
            .chain(&r.passed_checks)
            .chain(&r.skipped_checks)
        {
            let result = match check.result.as_str() {
                "FAILED" => vigil_model::EvalResult::Fail,
                "PASSED" => vigil_model::EvalResult::Pass,
                _ => vigil_model::EvalResult::Skip,
            };
            let resource_id = format!("{}#{}", check.file_path, check.resource);
            let row = vigil_store::EvaluationRow {
                cid: check.control_id,
                control: check.check_name.clone(),
                criticality: check.criticality,
                result,
                resource_id: resource_id.clone(),
                resource_name: check.resource_name.clone(),
                resource_type: check.resource_type.clone(),
                provider: vigil_model::Provider::Aws,
                account: String::new(),
                region: String::new(),
                expected: check.expected.clone(),
                actual: check.actual.clone(),
                message: check.message.clone(),
                first_evaluated: at,
                last_evaluated: at,
                last_reopened: None,
                last_fixed: None,
            };
            let mut line = payload::ocsf_line(&row);
            line.subject = format!("iac:{scan_id}:{resource_id}:{}", check.control_id);
            lines.push(line);
        }
    }
    lines
}

/// Objects taken from the outbox per round.
const SEND_BATCH: u32 = 64;

/// Sends what is due, `config.concurrency` objects at a time, until nothing
/// is due or a round delivered nothing.
async fn send(
    store: &dyn Store,
    deliverer: &Arc<Deliverer>,
    mailer: Option<&Mailer>,
    config: &DeliveryConfig,
    report: &mut TickReport,
) -> Result<(), StoreError> {
    loop {
        let now = Utc::now();
        let due = store.outbox_due(now, SEND_BATCH).await?;
        if due.is_empty() {
            return Ok(());
        }
        let integrations: HashMap<i64, Integration> = store
            .integrations(None)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        // Integrations that failed in this round are not tried again in it.
        let mut failed_now: HashSet<i64> = HashSet::new();
        let mut delivered_round = 0;
        for chunk in due.chunks(config.concurrency.max(1)) {
            let mut set = tokio::task::JoinSet::new();
            for object in chunk {
                let Some(integration) = integrations.get(&object.integration_id) else {
                    continue;
                };
                if failed_now.contains(&integration.id) {
                    continue;
                }
                let target = target_of(integration);
                let deliverer = deliverer.clone();
                let object = object.clone();
                set.spawn(async move {
                    let result = deliverer
                        .put(
                            &target,
                            &object.key,
                            object.body.clone(),
                            &object.content_type,
                            object.content_encoding.as_deref(),
                        )
                        .await;
                    (object, result)
                });
            }
            while let Some(joined) = set.join_next().await {
                let Ok((object, result)) = joined else {
                    continue;
                };
                let Some(integration) = integrations.get(&object.integration_id) else {
                    continue;
                };
                match result {
                    Ok(()) => {
                        match store.outbox_delivered(object.id, Utc::now()).await {
                            // The integration was deleted while the object
                            // was on its way: nothing is left to mark.
                            Ok(()) | Err(StoreError::NotFound(_)) => {}
                            Err(e) => return Err(e),
                        }
                        if integration.state == IntegrationState::Error
                            && !failed_now.contains(&integration.id)
                        {
                            store
                                .integration_recovered(integration.id, Utc::now())
                                .await?;
                        }
                        report.delivered += 1;
                        delivered_round += 1;
                    }
                    Err(e) => {
                        report.failed += 1;
                        failed_now.insert(integration.id);
                        if failed(store, mailer, config, integration, &object, &e).await? {
                            report.alerts += 1;
                        }
                    }
                }
            }
        }
        if delivered_round == 0 || due.len() < SEND_BATCH as usize {
            return Ok(());
        }
    }
}

/// Where an integration writes.
pub fn target_of(integration: &Integration) -> Target {
    Target {
        bucket: integration.settings.bucket_name.clone(),
        region: integration.settings.bucket_region.clone(),
        role_arn: integration.settings.role_arn.clone(),
        external_id: integration.external_id.clone(),
    }
}

/// The wait before attempt `attempts + 1`: `base · 2^attempts`, at most
/// `max`.
pub fn backoff(config: &DeliveryConfig, attempts: u32) -> Duration {
    let factor = 1u32.checked_shl(attempts.min(20)).unwrap_or(u32::MAX);
    config
        .backoff_base
        .checked_mul(factor)
        .unwrap_or(config.backoff_max)
        .min(config.backoff_max)
}

/// Records a failed write: the object waits for its retry; a problem a
/// person must fix puts the integration in error and, the first time, mails
/// `errorEmails`. Returns whether an e-mail went out.
async fn failed(
    store: &dyn Store,
    mailer: Option<&Mailer>,
    config: &DeliveryConfig,
    integration: &Integration,
    object: &OutboxObject,
    error: &DeliveryError,
) -> Result<bool, StoreError> {
    let now = Utc::now();
    let wait = backoff(config, object.attempts);
    store
        .outbox_retry(object.id, &error.message, now + chrono_duration(wait))
        .await
        .or_else(|e| match e {
            StoreError::NotFound(_) => Ok(()),
            e => Err(e),
        })?;
    if !error.problem.needs_human() {
        return Ok(false);
    }
    let first = store
        .integration_failed(integration.id, error.problem.code(), &error.message, now)
        .await?;
    let label = integration.kind.label();
    eprintln!(
        "vigil delivery: AWS S3 {label} integration {} ({}) is in error: {}",
        integration.id, integration.settings.name, error.message
    );
    if !first || !integration.settings.send_alerts || integration.settings.error_emails.is_empty() {
        return Ok(false);
    }
    let Some(mailer) = mailer else {
        eprintln!(
            "vigil delivery: no SMTP server is set (--smtp-url): the alert for integration {} was not e-mailed",
            integration.id
        );
        return Ok(false);
    };
    let pending = store
        .outbox_pending(Some(integration.id))
        .await
        .unwrap_or(0);
    let (subject, body) = alert_message(integration, error, pending);
    match mailer
        .send(&integration.settings.error_emails, &subject, &body)
        .await
    {
        Ok(()) => Ok(true),
        Err(e) => {
            eprintln!(
                "vigil delivery: cannot e-mail the alert for integration {}: {e} (tried again at the next failure)",
                integration.id
            );
            // Not alerted after all: record another code, so the next
            // failure with this problem tries the e-mail again.
            store
                .integration_failed(
                    integration.id,
                    &format!("{} (alert not sent)", error.problem.code()),
                    &error.message,
                    now,
                )
                .await?;
            Ok(false)
        }
    }
}

/// The subject and body of the alert about `error`.
pub fn alert_message(
    integration: &Integration,
    error: &DeliveryError,
    pending: u64,
) -> (String, String) {
    let label = integration.kind.label();
    let subject = format!(
        "Vigil: AWS S3 {label} integration \"{}\" cannot deliver: {}",
        integration.settings.name,
        error.problem.code()
    );
    let body = format!(
        "Vigil cannot write to the S3 bucket of the AWS S3 {label} integration \"{name}\" (integrationId {id}).\n\n\
         Problem: {code}\n{message}\n\n\
         Bucket: {bucket} ({region})\nRole: {role}\nExternal ID: {external}\n\n\
         Nothing is lost: {pending} object(s) wait in Vigil's outbox and are delivered once the problem is fixed; \
         Vigil retries on its own. You get this e-mail once for this problem.\n",
        name = integration.settings.name,
        id = integration.id,
        code = error.problem.code(),
        message = error.message,
        bucket = integration.settings.bucket_name,
        region = integration.settings.bucket_region,
        role = integration.settings.role_arn,
        external = integration.external_id,
    );
    (subject, body)
}
