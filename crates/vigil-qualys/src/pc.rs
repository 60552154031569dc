//! Policy Compliance (seed 004): policies (`compliance/policy/`), postures
//! (`compliance/posture/info/`, per policy) and controls
//! (`compliance/control/`), read as streams and handed to the sink in
//! batches of at most `page_size`.
//!
//! Seed 004's operation options become the parameters each endpoint takes:
//! the posture API filters by `asset_group_ids`, `host_ids`, `ips`,
//! `control_ids` (with `ids`), `criticality_labels`, `criticality_values`
//! and `status`; the control API only by `ids`, so the rest is enforced
//! here: criticality on the control's own `CRITICALITY`, and the host-scoped
//! options (asset groups, hosts, IPs, status) by keeping the controls that
//! the matching postures name. Seed 004's statuses are a violation's
//! (`open`, `active`, `reopened`: the posture `Failed`; `closed`: `Passed`).

use crate::http::Call;
use crate::xml::{parse_time, walk_body, Batcher, Ev};
use crate::{Client, Options, QualysError, Sink};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use vigil_model::qualys::{
    PostureStatus, QualysBatch, QualysPcControl, QualysPcPolicy, QualysPcPosture,
};
use vigil_model::Timestamp;

/// Ingests policies, postures and controls; returns records per kind.
pub fn ingest(
    client: &Client,
    options: &Options,
    now: Timestamp,
    sink: &dyn Sink,
) -> Result<BTreeMap<String, u64>, QualysError> {
    let _ = now;
    let mut counts = BTreeMap::new();
    let page = options.page_size.max(1) as usize;

    // Policies (their ids drive the posture calls; a policy id per call is
    // what Qualys requires).
    let mut policy_ids = Vec::new();
    let n = ingest_policies(client, options, sink, page, &mut policy_ids)?;
    counts.insert("pc_policies".to_string(), n);

    // Postures, per policy; the control ids they name scope the controls
    // when a host-scoped option is set.
    let scoped = host_scoped(options);
    let mut seen_controls: BTreeSet<i64> = BTreeSet::new();
    let mut postures = 0;
    for policy_id in &policy_ids {
        postures += ingest_postures(
            client,
            options,
            sink,
            page,
            *policy_id,
            scoped.then_some(&mut seen_controls),
        )?;
    }
    counts.insert("pc_postures".to_string(), postures);

    let keep = scoped.then_some(&seen_controls);
    let n = ingest_controls(client, options, sink, page, keep)?;
    counts.insert("pc_controls".to_string(), n);
    Ok(counts)
}

/// One minimal call per endpoint (for `vigil qualys check`). Qualys needs a
/// policy id for postures; the probe asks for policy 0, which a permitted
/// user gets an empty list (or a parameter error) for, and an unpermitted
/// one an authorization error.
pub fn probes(client: &Client, options: &Options) -> Vec<(String, Call)> {
    let _ = options;
    let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    vec![
        (
            "Policy Compliance policies".to_string(),
            Call::form(
                client,
                &client.fo_path("compliance/policy/"),
                p(&[("action", "list"), ("details", "None")]),
            ),
        ),
        (
            "Policy Compliance controls".to_string(),
            Call::form(
                client,
                &client.fo_path("compliance/control/"),
                p(&[
                    ("action", "list"),
                    ("details", "Basic"),
                    ("truncation_limit", "1"),
                ]),
            ),
        ),
        (
            "Policy Compliance postures".to_string(),
            Call::form(
                client,
                &client.fo_path("compliance/posture/info/"),
                p(&[
                    ("action", "list"),
                    ("policy_id", "0"),
                    ("details", "None"),
                    ("truncation_limit", "1"),
                ]),
            ),
        ),
    ]
}

/// Whether an option scopes postures to hosts (and so controls to those
/// the postures name).
fn host_scoped(o: &Options) -> bool {
    !o.pc.asset_group_ids.is_empty()
        || !o.pc.host_ids.is_empty()
        || !o.pc.ips.is_empty()
        || !o.pc.status.is_empty()
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The control ids of `control_ids` and `ids` together.
fn wanted_control_ids(o: &Options) -> Vec<i64> {
    let set: BTreeSet<i64> = o.pc.control_ids.iter().chain(&o.pc.ids).copied().collect();
    set.into_iter().collect()
}

/// The posture statuses seed 004's violation statuses select (empty: all).
pub fn wanted_statuses(o: &Options) -> Vec<PostureStatus> {
    let mut out = Vec::new();
    for s in &o.pc.status {
        let st = match s.as_str() {
            "closed" => PostureStatus::Passed,
            _ => PostureStatus::Failed,
        };
        if !out.contains(&st) {
            out.push(st);
        }
    }
    out
}

/// Whether a control passes the criticality options.
fn criticality_ok(o: &Options, label: Option<&str>, value: Option<i64>) -> bool {
    let labels_ok = o.pc.criticality_labels.is_empty()
        || label.is_some_and(|l| o.pc.criticality_labels.iter().any(|w| w == l));
    let values_ok = o.pc.criticality_values.is_empty()
        || value.is_some_and(|v| o.pc.criticality_values.iter().any(|w| i64::from(*w) == v));
    labels_ok && values_ok
}

fn pairs(list: &[(&str, String)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Calls a paged fo endpoint: each page is parsed by `page`, which returns
/// the truncation `WARNING`'s `URL` when there is a next page. A page that
/// cannot be read (cut short, malformed) is asked for again up to
/// `max_retries` times; records already handed over are handed over again
/// (the store upserts).
fn paged(
    client: &Client,
    options: &Options,
    path: &str,
    params: Vec<(String, String)>,
    mut page: impl FnMut(crate::http::Body) -> Result<Option<String>, QualysError>,
) -> Result<(), QualysError> {
    let mut params = params;
    let mut pages = 0u64;
    loop {
        let call = Call::form(client, path, params.clone());
        let mut attempt = 0;
        let next = loop {
            attempt += 1;
            let body = client.send(&call)?;
            match page(body) {
                Ok(next) => break next,
                Err(QualysError::Parse { .. }) if attempt < options.max_retries.max(1) => {}
                Err(e) => return Err(e),
            }
        };
        pages += 1;
        let Some(url) = next else { return Ok(()) };
        let id_min = query_param(&url, "id_min").ok_or_else(|| QualysError::Parse {
            endpoint: path.to_string(),
            offset: 0,
            message: format!("the truncation WARNING's URL has no id_min: {url}"),
        })?;
        if pages > 1_000_000 {
            return Err(QualysError::Parse {
                endpoint: path.to_string(),
                offset: 0,
                message: "more than a million pages: the truncation URL does not advance".into(),
            });
        }
        params.retain(|(k, _)| k != "id_min");
        params.push(("id_min".to_string(), id_min));
    }
}

/// A query parameter of a URL (percent-decoding `%2C`, `%3A`).
pub(crate) fn query_param(url: &str, key: &str) -> Option<String> {
    let url = url.replace("&amp;", "&");
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| {
            v.replace("%2C", ",")
                .replace("%2c", ",")
                .replace("%3A", ":")
                .replace("%3a", ":")
        })
    })
}

fn ingest_policies(
    client: &Client,
    options: &Options,
    sink: &dyn Sink,
    page: usize,
    ids: &mut Vec<i64>,
) -> Result<u64, QualysError> {
    // The policy list takes no truncation_limit (Qualys refuses unknown
    // parameters): it gives up to 1,000 policies and the WARNING.
    let path = client.fo_path("compliance/policy/");
    let params = pairs(&[("action", "list".into()), ("details", "All".into())]);
    let mut count = 0u64;
    paged(client, options, &path, params, |body| {
        let mut out = Batcher::new(sink, page, QualysBatch::PcPolicies);
        let mut cur: Option<QualysPcPolicy> = None;
        let mut next = None;
        walk_body(body, |ev| {
            match ev {
                Ev::Open(p) => {
                    if ends(p, &["POLICY_LIST", "POLICY"]) && p.len() == 4 {
                        cur = Some(QualysPcPolicy::default());
                    }
                }
                Ev::Close(p, text) => {
                    if p.len() == 4 && ends(p, &["POLICY_LIST", "POLICY"]) {
                        if let Some(pol) = cur.take() {
                            if !ids.contains(&pol.id) {
                                ids.push(pol.id);
                            }
                            out.push(pol)?;
                        }
                    } else if let (Some(pol), true) = (cur.as_mut(), p.len() > 4) {
                        let rel = &p[4..];
                        match rel {
                            [a] if a == "ID" => pol.id = int(text, p, &path)?,
                            [a] if a == "TITLE" => pol.title = text.trim().to_string(),
                            [a, b] if a == "CREATED" && b == "DATETIME" => {
                                pol.created = parse_time(text)
                            }
                            [a, b] if a == "LAST_MODIFIED" && b == "DATETIME" => {
                                pol.updated = parse_time(text)
                            }
                            [.., c, i] if c == "CONTROL" && i == "ID" => {
                                let id = int(text, p, &path)?;
                                if !pol.control_ids.contains(&id) {
                                    pol.control_ids.push(id);
                                }
                            }
                            _ => {}
                        }
                    } else if is_warning_url(p) {
                        next = Some(text.trim().to_string());
                    }
                }
            }
            Ok(())
        })?;
        count += out.finish()?;
        Ok(next)
    })?;
    Ok(count)
}

fn ingest_controls(
    client: &Client,
    options: &Options,
    sink: &dyn Sink,
    page: usize,
    keep: Option<&BTreeSet<i64>>,
) -> Result<u64, QualysError> {
    if keep.is_some_and(|k| k.is_empty()) {
        return Ok(0);
    }
    let path = client.fo_path("compliance/control/");
    let mut params = pairs(&[
        ("action", "list".into()),
        ("details", "All".into()),
        ("truncation_limit", options.page_size.to_string()),
    ]);
    let wanted = wanted_control_ids(options);
    if !wanted.is_empty() {
        params.push(("ids".into(), join(&wanted)));
    }
    let mut count = 0u64;
    paged(client, options, &path, params, |body| {
        let mut out = Batcher::new(sink, page, QualysBatch::PcControls);
        let mut cur: Option<QualysPcControl> = None;
        let mut next = None;
        walk_body(body, |ev| {
            match ev {
                Ev::Open(p) => {
                    if p.len() == 4 && ends(p, &["CONTROL_LIST", "CONTROL"]) {
                        cur = Some(QualysPcControl::default());
                    }
                }
                Ev::Close(p, text) => {
                    if p.len() == 4 && ends(p, &["CONTROL_LIST", "CONTROL"]) {
                        if let Some(c) = cur.take() {
                            let in_scope = keep.is_none_or(|k| k.contains(&c.id));
                            let ids_ok = wanted.is_empty() || wanted.contains(&c.id);
                            if in_scope
                                && ids_ok
                                && criticality_ok(
                                    options,
                                    c.criticality_label.as_deref(),
                                    c.criticality_value,
                                )
                            {
                                out.push(c)?;
                            }
                        }
                    } else if let (Some(c), true) = (cur.as_mut(), p.len() > 4) {
                        let rel: Vec<&str> = p[4..].iter().map(|s| s.as_str()).collect();
                        let t = || Some(text.trim().to_string()).filter(|s| !s.is_empty());
                        match rel.as_slice() {
                            ["ID"] => c.id = int(text, p, &path)?,
                            ["STATEMENT"] => c.statement = text.trim().to_string(),
                            ["UPDATE_DATE"] => c.updated = parse_time(text),
                            ["CREATED_DATE"] => c.created = parse_time(text),
                            ["CATEGORY", "NAME"] => c.category = t(),
                            ["SUB_CATEGORY", "NAME"] => c.sub_category = t(),
                            ["CRITICALITY", "LABEL"] => c.criticality_label = t(),
                            ["CRITICALITY", "VALUE"] => c.criticality_value = opt_int(text),
                            ["CHECK_TYPE"] => c.check_type = t(),
                            ["TECHNOLOGY_LIST", "TECHNOLOGY", "NAME"] => {
                                if let Some(n) = t() {
                                    c.technologies.push(n)
                                }
                            }
                            ["FRAMEWORK_LIST", "FRAMEWORK", "NAME"] => {
                                if let Some(n) = t() {
                                    c.frameworks.push(n)
                                }
                            }
                            _ => {}
                        }
                    } else if is_warning_url(p) {
                        next = Some(text.trim().to_string());
                    }
                }
            }
            Ok(())
        })?;
        count += out.finish()?;
        Ok(next)
    })?;
    Ok(count)
}

fn ingest_postures(
    client: &Client,
    options: &Options,
    sink: &dyn Sink,
    page: usize,
    policy_id: i64,
    mut seen: Option<&mut BTreeSet<i64>>,
) -> Result<u64, QualysError> {
    let path = client.fo_path("compliance/posture/info/");
    let o = &options.pc;
    let mut params = pairs(&[
        ("action", "list".into()),
        ("policy_id", policy_id.to_string()),
        ("details", "All".into()),
        ("truncation_limit", options.page_size.to_string()),
    ]);
    let controls = wanted_control_ids(options);
    let lists: [(&str, String); 6] = [
        ("asset_group_ids", join(&o.asset_group_ids)),
        ("host_ids", join(&o.host_ids)),
        ("ips", o.ips.join(",")),
        ("control_ids", join(&controls)),
        ("criticality_labels", o.criticality_labels.join(",")),
        ("criticality_values", join(&o.criticality_values)),
    ];
    for (k, v) in lists {
        if !v.is_empty() {
            params.push((k.to_string(), v));
        }
    }
    let statuses = wanted_statuses(options);
    if statuses.len() == 1 {
        params.push(("status".into(), statuses[0].as_str().to_string()));
    }
    if o.cause_of_failure {
        params.push(("cause_of_failure".into(), "1".into()));
    }
    if o.show_extended_evidence {
        params.push(("show_extended_evidence".into(), "1".into()));
    }
    let mut count = 0u64;
    paged(client, options, &path, params, |body| {
        // A page (at most `truncation_limit` = page size records) is held
        // until its GLOSSARY has given the controls' criticality; beyond
        // the page size, records go out without it.
        let mut held: Vec<QualysPcPosture> = Vec::new();
        let mut criticality: HashMap<i64, i64> = HashMap::new();
        let mut gloss_id: Option<i64> = None;
        let mut cur: Option<QualysPcPosture> = None;
        let mut capture: Option<Capture> = None;
        let mut next = None;
        let info = ["INFO_LIST", "INFO"];
        walk_body(body, |ev| {
            if let Some(c) = capture.as_mut() {
                if c.feed(&ev) {
                    let c = capture.take();
                    if let (Some(c), Some(post)) = (c, cur.as_mut()) {
                        let text = Some(c.text).filter(|t| !t.trim().is_empty());
                        match c.name.as_str() {
                            "EVIDENCE" => post.evidence = text,
                            "CAUSE_OF_FAILURE" => post.cause_of_failure = text,
                            _ => post.extended_evidence = text,
                        }
                    }
                }
                return Ok(());
            }
            match ev {
                Ev::Open(p) => {
                    if p.len() == 4 && ends(p, &info) {
                        cur = Some(QualysPcPosture {
                            policy_id,
                            ..Default::default()
                        });
                    } else if p.len() == 5 && ends(&p[..4], &info) {
                        let name = p[4].as_str();
                        if matches!(name, "EVIDENCE" | "CAUSE_OF_FAILURE" | "EXTENDED_EVIDENCE") {
                            capture = Some(Capture::new(name, p.len()));
                        }
                    }
                }
                Ev::Close(p, text) => {
                    if p.len() == 4 && ends(p, &info) {
                        if let Some(post) = cur.take() {
                            let ok = statuses.is_empty()
                                || post.status.is_some_and(|s| statuses.contains(&s));
                            if ok {
                                if let Some(seen) = seen.as_deref_mut() {
                                    seen.insert(post.control_id);
                                }
                                if held.len() >= page {
                                    count += held.len() as u64;
                                    put(sink, QualysBatch::PcPostures(std::mem::take(&mut held)))?;
                                }
                                held.push(post);
                            }
                        }
                    } else if let (Some(post), true) = (cur.as_mut(), p.len() == 5) {
                        let t = text.trim();
                        match p[4].as_str() {
                            "ID" => post.id = int(text, p, &path)?,
                            "HOST_ID" => post.host_id = int(text, p, &path)?,
                            "CONTROL_ID" => post.control_id = int(text, p, &path)?,
                            "TECHNOLOGY_ID" => post.technology_id = opt_int(text),
                            "INSTANCE" => post.instance = t.to_string(),
                            "STATUS" => {
                                post.status = Some(PostureStatus::parse(t).ok_or_else(|| {
                                    QualysError::Parse {
                                        endpoint: path.clone(),
                                        offset: 0,
                                        message: format!(
                                        "posture {} has STATUS `{t}`, not Passed, Failed or Error",
                                        post.id
                                    ),
                                    }
                                })?)
                            }
                            "POSTURE_MODIFIED_DATE" => post.posture_modified = parse_time(t),
                            "FIRST_FAIL_DATE" | "FIRST_FOUND_DATE" => {
                                post.first_found = parse_time(t)
                            }
                            "LAST_EVALUATED_DATE" | "LAST_EVALUATED" => {
                                post.last_evaluated = parse_time(t)
                            }
                            _ => {}
                        }
                    } else if ends(p, &["GLOSSARY", "CONTROL_LIST", "CONTROL", "ID"]) {
                        gloss_id = opt_int(text);
                    } else if ends(p, &["CONTROL", "CRITICALITY", "VALUE"])
                        && p.iter().any(|s| s == "GLOSSARY")
                    {
                        if let (Some(id), Some(v)) = (gloss_id, opt_int(text)) {
                            criticality.insert(id, v);
                        }
                    } else if is_warning_url(p) {
                        next = Some(t_owned(text));
                    }
                }
            }
            Ok(())
        })?;
        for post in &mut held {
            if post.criticality_value.is_none() {
                post.criticality_value = criticality.get(&post.control_id).copied();
            }
        }
        count += held.len() as u64;
        if !held.is_empty() {
            put(sink, QualysBatch::PcPostures(held))?;
        }
        Ok(next)
    })?;
    Ok(count)
}

fn t_owned(s: &str) -> String {
    s.trim().to_string()
}

fn is_warning_url(p: &[String]) -> bool {
    ends(p, &["WARNING", "URL"])
}

/// Whether a path ends with these element names.
pub(crate) fn ends(p: &[String], tail: &[&str]) -> bool {
    p.len() >= tail.len()
        && p[p.len() - tail.len()..]
            .iter()
            .zip(tail)
            .all(|(a, b)| a == b)
}

/// Keeps a subtree as text: the element's own text, and child elements
/// written back as XML (`<LABEL>…</LABEL>`), so evidence keeps whatever
/// structure Qualys gives it.
struct Capture {
    name: String,
    depth: usize,
    text: String,
}

impl Capture {
    fn new(name: &str, depth: usize) -> Capture {
        Capture {
            name: name.to_string(),
            depth,
            text: String::new(),
        }
    }

    /// Feeds an event; true when the captured element has closed.
    fn feed(&mut self, ev: &Ev<'_>) -> bool {
        match ev {
            Ev::Open(p) => {
                if let Some(n) = p.last() {
                    self.text.push('<');
                    self.text.push_str(n);
                    self.text.push('>');
                }
                false
            }
            Ev::Close(p, text) => {
                if p.len() == self.depth {
                    // Text directly in the element (no children) or after them.
                    self.text.push_str(text.trim());
                    return true;
                }
                self.text.push_str(&escape(text.trim()));
                if let Some(n) = p.last() {
                    self.text.push_str("</");
                    self.text.push_str(n);
                    self.text.push('>');
                }
                false
            }
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn put(sink: &dyn Sink, batch: QualysBatch) -> Result<(), QualysError> {
    sink.put(batch).map_err(QualysError::Stopped)
}

pub(crate) fn int(text: &str, path: &[String], endpoint: &str) -> Result<i64, QualysError> {
    text.trim().parse::<i64>().map_err(|_| QualysError::Parse {
        endpoint: endpoint.to_string(),
        offset: 0,
        message: format!("{} is `{}`, not a number", path.join("/"), text.trim()),
    })
}

pub(crate) fn opt_int(text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_in_qualys_forms() {
        assert!(parse_time("2024-05-01T10:00:00Z").is_some());
        assert!(parse_time("2024-05-01").is_some());
        assert_eq!(
            parse_time("1587718810000").map(|t| t.timestamp()),
            Some(1587718810)
        );
        assert!(parse_time("soon").is_none());
    }

    #[test]
    fn truncation_urls_give_id_min() {
        let u = "https://q/api/2.0/fo/compliance/control/?action=list&amp;truncation_limit=100&amp;id_min=101";
        assert_eq!(query_param(u, "id_min").as_deref(), Some("101"));
    }

    #[test]
    fn seed_statuses_map_to_postures() {
        let mut o = Options::default();
        o.pc.status = vec!["open".into(), "reopened".into()];
        assert_eq!(wanted_statuses(&o), vec![PostureStatus::Failed]);
        o.pc.status.push("closed".into());
        assert_eq!(
            wanted_statuses(&o),
            vec![PostureStatus::Failed, PostureStatus::Passed]
        );
    }
}
