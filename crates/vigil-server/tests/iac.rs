//! The IaC scan API: upload (Vigil's and Qualys' paths), result, list; on
//! SQLite and PostgreSQL.

mod common;

use common::*;
use serde_json::Value;
use std::io::Write;

const BUCKET: &str =
    "resource \"aws_s3_bucket\" \"site\" {\n  bucket = \"site\"\n  acl    = \"public-read\"\n}\n";

/// One part of a multipart form: a field, or a file when `file_name` is set.
struct Part<'a> {
    name: &'a str,
    file_name: Option<&'a str>,
    body: &'a [u8],
}

fn field<'a>(name: &'a str, value: &'a str) -> Part<'a> {
    Part {
        name,
        file_name: None,
        body: value.as_bytes(),
    }
}

fn file<'a>(file_name: &'a str, body: &'a [u8]) -> Part<'a> {
    Part {
        name: "file",
        file_name: Some(file_name),
        body,
    }
}

/// The content type and body of a multipart form.
fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "vigil-test-boundary-7d1f";
    let mut body = Vec::new();
    for p in parts {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
            p.name
        )
        .unwrap();
        if let Some(f) = p.file_name {
            write!(
                body,
                "; filename=\"{f}\"\r\nContent-Type: application/octet-stream"
            )
            .unwrap();
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(p.body);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn upload(server: &Running, path: &str, token: Option<&str>, parts: &[Part<'_>]) -> Reply {
    let (content_type, body) = multipart(parts);
    server.call_raw("POST", path, token, &content_type, &body)
}

/// A zip archive of `(entry name, text)`.
fn zip(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    for (name, text) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(text.as_bytes()).unwrap();
    }
    w.finish().unwrap();
    out.into_inner()
}

fn failed_cids(doc: &Value) -> Vec<u64> {
    let mut cids: Vec<u64> = doc["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["results"]["failedChecks"].as_array().unwrap().clone())
        .map(|c| c["controlId"].as_u64().unwrap())
        .collect();
    cids.sort();
    cids
}

fn scenario(place: &Place) {
    let server = start(place);
    let admin = server.admin_token();

    // A file: 201 with the id; the result is the scan response document.
    let reply = upload(
        &server,
        "/api/v1/iac/scans",
        Some(&admin),
        &[
            field("name", "one file"),
            file("main.tf", BUCKET.as_bytes()),
        ],
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let launched = reply.json();
    let id = launched["scanUuid"].as_str().unwrap().to_string();
    assert_eq!(launched["status"], "FINISHED");
    assert_eq!(launched["summary"]["files"], 1);
    let doc = server.get(&format!("/api/v1/iac/scans/{id}"), Some(&admin));
    assert_eq!(doc.status, 200, "{}", doc.body);
    let doc = doc.json();
    assert_eq!(doc["scanUuid"], id.as_str());
    assert_eq!(doc["name"], "one file");
    assert_eq!(doc["paths"], serde_json::json!(["main.tf"]));
    let audit = server
        .get("/api/v1/audit?action=iac.scan", Some(&admin))
        .json();
    assert_eq!(audit["items"][0]["actor"], "admin", "{audit}");
    assert_eq!(audit["items"][0]["target"], id.as_str(), "{audit}");
    let failed = failed_cids(&doc);
    assert!(!failed.is_empty(), "{doc}");
    let check = &doc["result"][0]["results"]["failedChecks"][0];
    assert_eq!(check["filePath"], "main.tf");
    assert_eq!(check["resource"], "aws_s3_bucket.site");

    // An archive, at Qualys' path (200), with tags and a filter: its files
    // are named `<archive>!/<entry>`; the filter keeps one.
    let archive = zip(&[("infra/main.tf", BUCKET), ("other/skip.tf", BUCKET)]);
    let reply = upload(
        &server,
        "/cloudview-api/rest/v1/iac/scan",
        Some(&admin),
        &[
            field("name", "archive"),
            field("tags", r#"[{"env":"prod"}]"#),
            field("filter", "infra/"),
            file("infra.zip", &archive),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let zip_id = reply.json()["scanUuid"].as_str().unwrap().to_string();
    let doc = server.get(
        &format!("/cloudview-api/rest/v1/iac/scanResult?scanUuid={zip_id}"),
        Some(&admin),
    );
    assert_eq!(doc.status, 200, "{}", doc.body);
    let doc = doc.json();
    assert_eq!(doc["tags"], serde_json::json!([{"env": "prod"}]));
    assert_eq!(doc["summary"]["files"], 1, "{doc}");
    assert_eq!(
        doc["result"][0]["results"]["failedChecks"][0]["filePath"],
        "infra.zip!/infra/main.tf"
    );
    assert_eq!(failed_cids(&doc), failed);

    // The list, newest first, paged, filtered Qualys' way.
    let list = server.get("/api/v1/iac/scans", Some(&admin)).json();
    assert_eq!(list["totalElements"], 2, "{list}");
    assert_eq!(list["content"][0]["scanUuid"], zip_id.as_str());
    assert_eq!(list["content"][1]["name"], "one file");
    let page = server
        .get("/api/v1/iac/scans?pageSize=1&pageNo=1", Some(&admin))
        .json();
    assert_eq!(page["content"].as_array().unwrap().len(), 1);
    assert_eq!(page["content"][0]["scanUuid"], id.as_str());
    let one = server
        .get(
            &format!("/cloudview-api/rest/v1/iac/getScanList?filter=scanUuid:{id}"),
            Some(&admin),
        )
        .json();
    assert_eq!(one["totalElements"], 1);
    assert_eq!(one["content"][0]["status"], "FINISHED");

    // Bad input: 400 naming the field.
    let e = upload(
        &server,
        "/api/v1/iac/scans",
        Some(&admin),
        &[field("name", "x")],
    )
    .error(400, "missing_field");
    assert_eq!(e["field"], "file");
    let e = upload(
        &server,
        "/api/v1/iac/scans",
        Some(&admin),
        &[file("main.tf", BUCKET.as_bytes())],
    )
    .error(400, "missing_field");
    assert_eq!(e["field"], "name");
    let hostile = zip(&[("ok.tf", BUCKET), ("../../etc/evil.tf", BUCKET)]);
    let e = upload(
        &server,
        "/api/v1/iac/scans",
        Some(&admin),
        &[field("name", "hostile"), file("evil.zip", &hostile)],
    )
    .error(400, "invalid_field");
    assert_eq!(e["field"], "file");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("evil.zip")
            && message.contains("../../etc/evil.tf")
            && message.contains(".."),
        "{message}"
    );
    let e = upload(
        &server,
        "/api/v1/iac/scans",
        Some(&admin),
        &[field("name", "x"), file("tool.exe", b"MZ")],
    )
    .error(400, "invalid_field");
    assert_eq!(e["field"], "file");
    for (name, value) in [("tags", "{not json"), ("filter", "(")] {
        let e = upload(
            &server,
            "/api/v1/iac/scans",
            Some(&admin),
            &[
                field("name", "x"),
                field(name, value),
                file("main.tf", BUCKET.as_bytes()),
            ],
        )
        .error(400, "invalid_field");
        assert_eq!(e["field"], name);
    }
    let e = upload(
        &server,
        "/api/v1/iac/scans",
        Some(&admin),
        &[
            field("name", "x"),
            field("policyName", "No Such Policy"),
            file("main.tf", BUCKET.as_bytes()),
        ],
    )
    .error(400, "invalid_field");
    assert_eq!(e["field"], "policyName");
    server
        .call_raw(
            "POST",
            "/api/v1/iac/scans",
            Some(&admin),
            "application/json",
            b"{}",
        )
        .error(400, "invalid_form");
    let e = server
        .get("/api/v1/iac/scans?pageSize=0", Some(&admin))
        .error(400, "invalid_field");
    assert_eq!(e["field"], "pageSize");
    let e = server
        .get("/api/v1/iac/scans?filter=name:x", Some(&admin))
        .error(400, "invalid_field");
    assert_eq!(e["field"], "filter");
    let e = server
        .get("/cloudview-api/rest/v1/iac/scanResult", Some(&admin))
        .error(400, "invalid_field");
    assert_eq!(e["field"], "scanUuid");

    // Unknown scan: 404.
    server
        .get("/api/v1/iac/scans/no-such-scan", Some(&admin))
        .error(404, "not_found");

    // No token: 401.
    upload(&server, "/api/v1/iac/scans", None, &[field("name", "x")]).error(401, "unauthorized");
    server
        .get("/api/v1/iac/scans", None)
        .error(401, "unauthorized");
    server
        .get(&format!("/api/v1/iac/scans/{id}"), None)
        .error(401, "unauthorized");

    // Roles: reader and reports_only may not upload (403 whatever the
    // body); reader reads the list and results.
    let reader = server.user_token("rita", "reader", &[]);
    let reports = server.user_token("rex", "reports_only", &[]);
    for token in [&reader, &reports] {
        upload(
            &server,
            "/api/v1/iac/scans",
            Some(token),
            &[field("name", "x"), file("main.tf", BUCKET.as_bytes())],
        )
        .error(403, "forbidden");
        server
            .call_raw(
                "POST",
                "/cloudview-api/rest/v1/iac/scan",
                Some(token),
                "text/plain",
                b"",
            )
            .error(403, "forbidden");
    }
    assert_eq!(server.get("/api/v1/iac/scans", Some(&reader)).status, 200);
    let doc = server.get(&format!("/api/v1/iac/scans/{id}"), Some(&reader));
    assert_eq!(doc.status, 200, "{}", doc.body);
    assert_eq!(doc.json()["scanUuid"], id.as_str());
}

#[test]
fn iac_scans_on_sqlite() {
    scenario(&Place::sqlite());
}

#[test]
fn iac_scans_on_postgres() {
    let rt = runtime();
    if let Some(place) = Place::postgres(&rt, "iac_scans") {
        scenario(&place);
    }
}

#[test]
fn an_upload_over_the_limit_is_413_naming_the_limit() {
    let place = Place::sqlite();
    let server = start(&place);
    let admin = server.admin_token();
    let big = vec![b'#'; vigil_server::iac::UPLOAD_LIMIT + 1];
    let e = upload(
        &server,
        "/api/v1/iac/scans",
        Some(&admin),
        &[field("name", "big"), file("big.tf", &big)],
    )
    .error(413, "payload_too_large");
    assert!(e["message"].as_str().unwrap().contains("100 MiB"), "{e}");
}
