//! Seed 000's S3 integration and CIPS APIs over real HTTP, on SQLite and
//! PostgreSQL, with validation against moto: the seed's curl sequences with
//! their exact messages, every field error (the field named), 401 and 403,
//! regenerated external ids, the `test-file` in the bucket, and CIPS.
//!
//! Needs `VIGIL_TEST_MOTO_URL` (moto: S3, STS) and, for the PostgreSQL
//! variants, `VIGIL_TEST_POSTGRES_URL`; a test that needs one fails when it
//! is not set.

mod common;

use common::*;
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::123456789012:role/policy-role";
const VM: &str = "/partner-integration/aws/s3/vm";
const PC: &str = "/partner-integration/aws/s3/pc";
const OCSF: &str = "/partner-integration/aws/s3/ocsf";

/// Seed 000's "Request POST Data (integration.json)" for VM, with a bucket
/// of the test and a role ARN that parses.
fn vm_sample(bucket: &str) -> Value {
    json!({
        "bucketName": bucket,
        "bucketRegion": "us-east-1",
        "minSeverity": 4,
        "baseCategory": "Potential",
        "name": "Sample Name or Sample integration",
        "resultSectionNeeded": true,
        "sendVulnInfo": true,
        "compressData": true,
        "roleArn": ROLE,
        "sendAlerts": true,
        "errorEmails": ["secops@example.com", "oncall@example.org"]
    })
}

/// Seed 000's PC POST sample.
fn pc_sample(bucket: &str) -> Value {
    json!({
        "name": "AWS S3 PC integarion for quays_aa15",
        "bucketName": bucket,
        "bucketRegion": "us-east-1",
        "roleArn": "arn:aws:iam::123456789012:role/aa-15-pc-aws-s3-role"
    })
}

fn create_bucket(server: &Running, moto: &str, bucket: &str) {
    let s3 = s3_client(moto);
    server
        .rt
        .block_on(s3.create_bucket().bucket(bucket).send())
        .expect("create the bucket in moto");
}

/// The keys in `bucket`.
fn keys(server: &Running, moto: &str, bucket: &str) -> Vec<String> {
    let s3 = s3_client(moto);
    let listed = server
        .rt
        .block_on(s3.list_objects_v2().bucket(bucket).send())
        .expect("list the bucket");
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect()
}

fn object(server: &Running, moto: &str, bucket: &str, key: &str) -> Vec<u8> {
    let s3 = s3_client(moto);
    server.rt.block_on(async {
        let got = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .expect("get the object");
        got.body
            .collect()
            .await
            .expect("read the object")
            .into_bytes()
            .to_vec()
    })
}

fn register(server: &Running, token: &str, base: &str, body: &Value) -> (i64, String) {
    let reply = server.post(base, token, body);
    assert_eq!(reply.status, 201, "{}", reply.body);
    let v = reply.json();
    let keys: Vec<&String> = v.as_object().expect("an object").keys().collect();
    assert_eq!(keys, vec!["integrationId", "externalId"], "{v}");
    (
        v["integrationId"].as_i64().expect("integrationId"),
        v["externalId"].as_str().expect("externalId").to_string(),
    )
}

fn message(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["message"]
        .as_str()
        .expect("a message")
        .to_string()
}

/// `<POD>-<customerId>-<uuid>`.
fn assert_external_id(external_id: &str, customer_id: i64) {
    let prefix = format!("VIGIL_POD_1-{customer_id}-");
    let rest = external_id
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{external_id} does not start with {prefix}"));
    assert!(uuid::Uuid::parse_str(rest).is_ok(), "{external_id}");
}

fn audit_actions(server: &Running, token: &str, prefix: &str) -> (Vec<String>, String) {
    let audit = server.get(&format!("/api/v1/audit?action={prefix}"), Some(token));
    assert_eq!(audit.status, 200, "{}", audit.body);
    let actions = audit.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_string())
        .collect();
    (actions, audit.body)
}

// --- the seed's curl sequences ------------------------------------------------

fn vm_sequence(place: &Place, moto: &str) {
    let server = start_delivery(place, Some(moto));
    let bucket = unique_bucket("vigil-api-vm");
    create_bucket(&server, moto, &bucket);

    // Generate a JWT token, as the seed's curl does.
    let token = server.admin_token();

    // Register, as the seed's curl sends it: `--data` (form content type)
    // with the JSON text.
    let reply = server.call_raw(
        "POST",
        VM,
        Some(&token),
        "application/x-www-form-urlencoded",
        vm_sample(&bucket).to_string().as_bytes(),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let created = reply.json();
    let id = created["integrationId"].as_i64().expect("integrationId");
    let external_id = created["externalId"].as_str().expect("externalId");

    // Get: seed 000's output fields, then Vigil's.
    let got = server.get(
        &format!("/partner-integration/aws/s3/{id}/vm"),
        Some(&token),
    );
    assert_eq!(got.status, 200, "{}", got.body);
    let got = got.json();
    let fields: Vec<&String> = got.as_object().expect("an object").keys().collect();
    let mut expected = vec![
        "integrationId",
        "customerId",
        "customerUUID",
        "bucketName",
        "bucketRegion",
        "minSeverity",
        "baseCategory",
        "name",
        "resultSectionNeeded",
        "sendVulnInfo",
        "compressData",
        "externalId",
        "roleArn",
        "integrationValidated",
        "sendAlerts",
        "errorEmails",
        "state",
        "problem",
        "lastDelivery",
        "objectsDelivered",
        "pendingObjects",
    ];
    expected.sort();
    let mut fields: Vec<&str> = fields.iter().map(|s| s.as_str()).collect();
    fields.sort();
    assert_eq!(fields, expected);
    let customer_id = got["customerId"].as_i64().expect("customerId");
    assert_external_id(external_id, customer_id);
    assert!(
        uuid::Uuid::parse_str(got["customerUUID"].as_str().unwrap_or_default()).is_ok(),
        "{got}"
    );
    for (field, value) in [
        ("integrationId", json!(id)),
        ("bucketName", json!(bucket)),
        ("bucketRegion", json!("us-east-1")),
        ("minSeverity", json!(4)),
        ("baseCategory", json!("Potential")),
        ("name", json!("Sample Name or Sample integration")),
        ("resultSectionNeeded", json!(true)),
        ("sendVulnInfo", json!(true)),
        ("compressData", json!(true)),
        ("externalId", json!(external_id)),
        ("roleArn", json!(ROLE)),
        ("integrationValidated", json!(false)),
        ("sendAlerts", json!(true)),
        (
            "errorEmails",
            json!(["secops@example.com", "oncall@example.org"]),
        ),
        ("state", json!("pending")),
        ("problem", Value::Null),
        ("lastDelivery", Value::Null),
        ("objectsDelivered", json!(0)),
        ("pendingObjects", json!(0)),
    ] {
        assert_eq!(got[field], value, "{field}: {got}");
    }

    // Validate: the test-file is written through the role.
    let reply = server.call(
        "PATCH",
        &format!("/partner-integration/aws/s3/{id}/vm/validate"),
        Some(&token),
        None,
    );
    assert_eq!(
        message(&reply),
        "AWS S3 VM integration successfully validated."
    );
    assert_eq!(
        reply.json(),
        json!({"message": "AWS S3 VM integration successfully validated."})
    );
    assert!(
        keys(&server, moto, &bucket).contains(&"test-file.gz".to_string()),
        "{:?}",
        keys(&server, moto, &bucket)
    );
    let gz = object(&server, moto, &bucket, "test-file.gz");
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "test-file.gz is gzip");
    let got = server
        .get(
            &format!("/partner-integration/aws/s3/{id}/vm"),
            Some(&token),
        )
        .json();
    assert_eq!(got["integrationValidated"], true, "{got}");
    assert_eq!(got["state"], "active", "{got}");

    // Update, seed 000's Sample 1 (the target is unchanged: still validated).
    let sample1 = json!({
        "bucketName": bucket,
        "bucketRegion": "us-east-1",
        "minSeverity": 2,
        "baseCategory": "Confirmed",
        "name": "Customer Name or integration name",
        "resultSectionNeeded": true,
        "sendVulnInfo": true,
        "compressData": true,
        "roleArn": ROLE,
        "regenerateExternalId": false,
        "sendAlerts": true,
        "errorEmails": ["secops@example.com", "oncall@example.org"]
    });
    let reply = server.put(
        &format!("/partner-integration/aws/s3/{id}/vm"),
        &token,
        &sample1,
    );
    assert_eq!(
        reply.json(),
        json!({"message": "AWS S3 VM integration successfully updated."}),
        "{}",
        reply.body
    );
    let got = server
        .get(
            &format!("/partner-integration/aws/s3/{id}/vm"),
            Some(&token),
        )
        .json();
    assert_eq!(got["minSeverity"], 2, "{got}");
    assert_eq!(got["baseCategory"], "Confirmed", "{got}");
    assert_eq!(got["name"], "Customer Name or integration name", "{got}");
    assert_eq!(got["externalId"], external_id, "{got}");
    assert_eq!(got["integrationValidated"], true, "{got}");

    // Update with only the required fields: the others keep their value.
    let reply = server.put(
        &format!("/partner-integration/aws/s3/{id}/vm"),
        &token,
        &json!({"roleArn": ROLE, "name": "Customer Name or integration name"}),
    );
    assert_eq!(
        message(&reply),
        "AWS S3 VM integration successfully updated."
    );
    let kept = server
        .get(
            &format!("/partner-integration/aws/s3/{id}/vm"),
            Some(&token),
        )
        .json();
    assert_eq!(kept, got, "absent fields keep their value");

    // Sample 2: a new external id; validate again.
    let mut sample2 = sample1.clone();
    sample2["regenerateExternalId"] = json!(true);
    let reply = server.put(
        &format!("/partner-integration/aws/s3/{id}/vm"),
        &token,
        &sample2,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer = reply.json();
    assert_eq!(
        answer["message"], "AWS S3 VM integration successfully updated.",
        "{answer}"
    );
    let new_external_id = answer["externalId"].as_str().expect("the new externalId");
    assert_ne!(new_external_id, external_id);
    assert_external_id(new_external_id, customer_id);
    let got = server
        .get(
            &format!("/partner-integration/aws/s3/{id}/vm"),
            Some(&token),
        )
        .json();
    assert_eq!(got["externalId"], new_external_id, "{got}");
    assert_eq!(got["integrationValidated"], false, "{got}");
    assert_eq!(got["state"], "pending", "{got}");
    let reply = server.call(
        "PATCH",
        &format!("/partner-integration/aws/s3/{id}/vm/validate"),
        Some(&token),
        None,
    );
    assert_eq!(
        message(&reply),
        "AWS S3 VM integration successfully validated."
    );

    // Get without the id: a JSON array of the same objects.
    let listed = server.get(VM, Some(&token));
    assert_eq!(listed.status, 200, "{}", listed.body);
    let listed = listed.json();
    let one = server
        .get(
            &format!("/partner-integration/aws/s3/{id}/vm"),
            Some(&token),
        )
        .json();
    assert_eq!(listed, json!([one]));
    // The VM list holds no PC integration.
    register(&server, &token, PC, &pc_sample(&bucket));
    assert_eq!(
        server.get(VM, Some(&token)).json().as_array().map(Vec::len),
        Some(1)
    );

    // Delete.
    let reply = server.delete(&format!("/partner-integration/aws/s3/{id}/vm"), &token);
    assert_eq!(
        reply.json(),
        json!({"message": "AWS S3 VM integration successfully deleted."}),
        "{}",
        reply.body
    );
    server
        .get(
            &format!("/partner-integration/aws/s3/{id}/vm"),
            Some(&token),
        )
        .error(404, "not_found");
    assert_eq!(server.get(VM, Some(&token)).json(), json!([]));

    // Every change is audited, without the external id.
    let (actions, body) = audit_actions(&server, &token, "integration.");
    for action in [
        "integration.create",
        "integration.validate",
        "integration.update",
        "integration.delete",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {body}");
    }
    assert!(!body.contains(external_id), "{body}");
    assert!(!body.contains(new_external_id), "{body}");
}

#[test]
fn the_seed_vm_sequence_on_sqlite() {
    let moto = moto_url("the_seed_vm_sequence_on_sqlite");
    vm_sequence(&Place::sqlite(), &moto);
}

#[test]
fn the_seed_vm_sequence_on_postgres() {
    let moto = moto_url("the_seed_vm_sequence_on_postgres");
    let rt = runtime();
    let place = postgres_required(&rt, "the_seed_vm_sequence_on_postgres");
    vm_sequence(&place, &moto);
}

fn pc_sequence(place: &Place, moto: &str) {
    let server = start_delivery(place, Some(moto));
    let bucket = unique_bucket("vigil-api-pc");
    create_bucket(&server, moto, &bucket);
    let token = server.admin_token();
    let (id, external_id) = register(&server, &token, PC, &pc_sample(&bucket));

    let got = server.get(
        &format!("/partner-integration/aws/s3/{id}/pc"),
        Some(&token),
    );
    assert_eq!(got.status, 200, "{}", got.body);
    let got = got.json();
    // Seed 000's PC output, then Vigil's additions.
    let keys: Vec<&str> = got
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "name",
        "compressData",
        "bucketName",
        "bucketRegion",
        "roleArn",
        "integrationValidated",
        "integrationId",
        "customerId",
        "customerUUID",
        "externalId",
        "sendAlerts",
        "errorEmails",
        "state",
        "problem",
        "lastDelivery",
        "objectsDelivered",
        "pendingObjects",
    ];
    expected.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, expected);
    assert_eq!(got["name"], "AWS S3 PC integarion for quays_aa15");
    assert_eq!(got["compressData"], true);
    assert_eq!(got["integrationValidated"], false);
    assert_eq!(got["externalId"], external_id);
    assert_external_id(
        &external_id,
        got["customerId"].as_i64().expect("customerId"),
    );

    // Sample 1 with compressData false, then validate: test-file.json.
    let update = json!({
        "name": "Customer Name or integration name",
        "compressData": false,
        "bucketName": bucket,
        "bucketRegion": "us-east-1",
        "roleArn": "arn:aws:iam::123456789012:role/policy-role",
        "regenerateExternalId": false
    });
    let reply = server.put(
        &format!("/partner-integration/aws/s3/{id}/pc"),
        &token,
        &update,
    );
    assert_eq!(
        reply.json(),
        json!({"message": "AWS S3 PC integration successfully updated."}),
        "{}",
        reply.body
    );
    let reply = server.call(
        "PATCH",
        &format!("/partner-integration/aws/s3/{id}/pc/validate"),
        Some(&token),
        None,
    );
    assert_eq!(
        reply.json(),
        json!({"message": "AWS S3 PC integration successfully validated."}),
        "{}",
        reply.body
    );
    let written = keys_of(&server, moto, &bucket);
    assert!(
        written.contains(&"test-file.json".to_string()),
        "{written:?}"
    );
    assert!(
        !written.contains(&"test-file.gz".to_string()),
        "{written:?}"
    );
    let text = object(&server, moto, &bucket, "test-file.json");
    assert!(
        serde_json::from_slice::<Value>(&text).is_ok(),
        "test-file.json is JSON: {}",
        String::from_utf8_lossy(&text)
    );
    let got = server
        .get(
            &format!("/partner-integration/aws/s3/{id}/pc"),
            Some(&token),
        )
        .json();
    assert_eq!(got["integrationValidated"], true, "{got}");
    assert_eq!(got["compressData"], false, "{got}");
    assert_eq!(got["roleArn"], "arn:aws:iam::123456789012:role/policy-role");

    // Sample 2: regenerate.
    let mut regenerate = update.clone();
    regenerate["regenerateExternalId"] = json!(true);
    let answer = server
        .put(
            &format!("/partner-integration/aws/s3/{id}/pc"),
            &token,
            &regenerate,
        )
        .json();
    assert_eq!(
        answer["message"],
        "AWS S3 PC integration successfully updated."
    );
    let new_id = answer["externalId"].as_str().expect("externalId");
    assert_ne!(new_id, external_id);
    let got = server
        .get(
            &format!("/partner-integration/aws/s3/{id}/pc"),
            Some(&token),
        )
        .json();
    assert_eq!(got["externalId"], new_id);
    assert_eq!(got["integrationValidated"], false);

    assert_eq!(
        server.get(PC, Some(&token)).json(),
        json!([got]),
        "the list is an array of the GET objects"
    );
    let reply = server.delete(&format!("/partner-integration/aws/s3/{id}/pc"), &token);
    assert_eq!(
        reply.json(),
        json!({"message": "AWS S3 PC integration successfully deleted."})
    );
    server
        .delete(&format!("/partner-integration/aws/s3/{id}/pc"), &token)
        .error(404, "not_found");
}

fn keys_of(server: &Running, moto: &str, bucket: &str) -> Vec<String> {
    keys(server, moto, bucket)
}

#[test]
fn the_seed_pc_sequence_on_sqlite() {
    let moto = moto_url("the_seed_pc_sequence_on_sqlite");
    pc_sequence(&Place::sqlite(), &moto);
}

#[test]
fn the_seed_pc_sequence_on_postgres() {
    let moto = moto_url("the_seed_pc_sequence_on_postgres");
    let rt = runtime();
    let place = postgres_required(&rt, "the_seed_pc_sequence_on_postgres");
    pc_sequence(&place, &moto);
}

#[test]
fn ocsf_integrations_take_the_pc_fields() {
    let moto = moto_url("ocsf_integrations_take_the_pc_fields");
    let place = Place::sqlite();
    let server = start_delivery(&place, Some(&moto));
    let bucket = unique_bucket("vigil-api-ocsf");
    create_bucket(&server, &moto, &bucket);
    let token = server.admin_token();
    let body = json!({
        "name": "cloud findings",
        "bucketName": bucket,
        "bucketRegion": "us-east-1",
        "roleArn": ROLE,
        "sendAlerts": true,
        "errorEmails": "secops@example.com, oncall@example.org"
    });
    let (id, _) = register(&server, &token, OCSF, &body);
    let got = server
        .get(
            &format!("/partner-integration/aws/s3/{id}/ocsf"),
            Some(&token),
        )
        .json();
    assert_eq!(
        got["errorEmails"],
        json!(["secops@example.com", "oncall@example.org"]),
        "comma-separated errorEmails, as seed 000 words it: {got}"
    );
    assert!(got.get("minSeverity").is_none(), "{got}");
    let reply = server.call(
        "PATCH",
        &format!("/partner-integration/aws/s3/{id}/ocsf/validate"),
        Some(&token),
        None,
    );
    assert_eq!(
        message(&reply),
        "AWS S3 OCSF integration successfully validated."
    );
    // A VM field is not an OCSF (or PC) field.
    let e = server
        .post(
            OCSF,
            &token,
            &json!({"name": "x", "bucketName": bucket, "bucketRegion": "us-east-1", "roleArn": ROLE, "minSeverity": 3}),
        )
        .error(400, "invalid_body");
    assert_eq!(e["field"], "minSeverity", "{e}");
    let reply = server.put(
        &format!("/partner-integration/aws/s3/{id}/ocsf"),
        &token,
        &json!({"name": "cloud findings 2", "roleArn": ROLE}),
    );
    assert_eq!(
        message(&reply),
        "AWS S3 OCSF integration successfully updated."
    );
    // The same id on another kind's path is not found.
    server
        .get(
            &format!("/partner-integration/aws/s3/{id}/vm"),
            Some(&token),
        )
        .error(404, "not_found");
    let reply = server.delete(&format!("/partner-integration/aws/s3/{id}/ocsf"), &token);
    assert_eq!(
        message(&reply),
        "AWS S3 OCSF integration successfully deleted."
    );
}

// --- validation against moto fails with the reason -------------------------

#[test]
fn validation_names_a_missing_bucket() {
    let moto = moto_url("validation_names_a_missing_bucket");
    let place = Place::sqlite();
    let server = start_delivery(&place, Some(&moto));
    let token = server.admin_token();
    let bucket = unique_bucket("vigil-api-missing");
    let (id, _) = register(&server, &token, VM, &vm_sample(&bucket));
    let reply = server.call(
        "PATCH",
        &format!("/partner-integration/aws/s3/{id}/vm/validate"),
        Some(&token),
        None,
    );
    let e = reply.error(400, "validation_failed");
    assert_eq!(e["problem"], "NoSuchBucket", "{e}");
    let text = e["message"].as_str().unwrap_or_default();
    assert!(text.contains("NoSuchBucket"), "{text}");
    assert!(text.contains(&bucket), "{text}");
    let got = server
        .get(
            &format!("/partner-integration/aws/s3/{id}/vm"),
            Some(&token),
        )
        .json();
    assert_eq!(got["integrationValidated"], false, "{got}");
    assert_eq!(got["state"], "pending", "{got}");
    // Once the bucket exists, validation passes.
    create_bucket(&server, &moto, &bucket);
    let reply = server.call(
        "PATCH",
        &format!("/partner-integration/aws/s3/{id}/vm/validate"),
        Some(&token),
        None,
    );
    assert_eq!(
        message(&reply),
        "AWS S3 VM integration successfully validated."
    );
}

// --- field errors ---------------------------------------------------------------

fn field_errors(place: &Place) {
    let server = start_delivery(place, None);
    let token = server.admin_token();
    let good = vm_sample("qualys-vm-findings");
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().expect("object").remove(field);
        body
    };

    // (body, code, field, a word of the message)
    let cases: Vec<(Value, &str, &str, &str)> = vec![
        (
            without("bucketName"),
            "missing_field",
            "bucketName",
            "required",
        ),
        (
            without("bucketRegion"),
            "missing_field",
            "bucketRegion",
            "required",
        ),
        (without("roleArn"), "missing_field", "roleArn", "required"),
        (without("name"), "missing_field", "name", "required"),
        (
            with("name", json!("n".repeat(51))),
            "invalid_field",
            "name",
            "50",
        ),
        (with("name", json!("  ")), "invalid_field", "name", "empty"),
        (
            with("bucketName", json!("Qualys_Findings")),
            "invalid_field",
            "bucketName",
            "bucket name",
        ),
        (
            with("bucketName", json!("ab")),
            "invalid_field",
            "bucketName",
            "3 to 63",
        ),
        (
            with("bucketRegion", json!("us-east")),
            "invalid_field",
            "bucketRegion",
            "region",
        ),
        (
            with("roleArn", json!("arn:aws:iam::xxxxxxx:role/policy-role")),
            "invalid_field",
            "roleArn",
            "role ARN",
        ),
        (
            with("roleArn", json!("arn:aws:iam::123456789012:user/u")),
            "invalid_field",
            "roleArn",
            "role ARN",
        ),
        (
            with("minSeverity", json!(0)),
            "invalid_field",
            "minSeverity",
            "1 to 5",
        ),
        (
            with("minSeverity", json!(6)),
            "invalid_field",
            "minSeverity",
            "1 to 5",
        ),
        (
            with("minSeverity", json!("high")),
            "invalid_field",
            "minSeverity",
            "1 to 5",
        ),
        (
            with("minSeverity", json!(2.5)),
            "invalid_field",
            "minSeverity",
            "whole number",
        ),
        (
            with("baseCategory", json!("confirmed")),
            "invalid_field",
            "baseCategory",
            "IG, Potential or Confirmed",
        ),
        (
            with("compressData", json!("true")),
            "invalid_body",
            "compressData",
            "boolean",
        ),
        (
            with("sendVulnInfo", json!(1)),
            "invalid_body",
            "sendVulnInfo",
            "boolean",
        ),
        (with("resultSectionNeeded", json!(null)), "", "", ""),
        (
            with(
                "errorEmails",
                json!(["a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com", "f@x.com"]),
            ),
            "invalid_field",
            "errorEmails",
            "at most 5",
        ),
        (
            with("errorEmails", json!(["a@x.com", "not an address"])),
            "invalid_field",
            "errorEmails[1]",
            "e-mail",
        ),
        (
            with("errorEmails", json!(["a@x.com", "A@x.com"])),
            "invalid_field",
            "errorEmails[1]",
            "twice",
        ),
        (
            with("errorEmails", json!([])),
            "invalid_field",
            "errorEmails",
            "sendAlerts",
        ),
        (
            with("errorEmails", json!(7)),
            "invalid_body",
            "errorEmails",
            "e-mail",
        ),
        (
            with("colour", json!("red")),
            "invalid_body",
            "colour",
            "unknown field",
        ),
        (
            with("regenerateExternalId", json!(true)),
            "invalid_field",
            "regenerateExternalId",
            "PUT",
        ),
    ];
    for (body, code, field, word) in &cases {
        if code.is_empty() {
            continue;
        }
        let e = server.post(VM, &token, body).error(400, code);
        assert_eq!(e["field"], *field, "{body}: {e}");
        assert!(
            e["message"].as_str().unwrap_or_default().contains(word),
            "{field}: `{word}` not in {e}"
        );
    }
    // null is as absent: the default.
    let (id, _) = register(
        &server,
        &token,
        VM,
        &with("resultSectionNeeded", json!(null)),
    );
    let got = server
        .get(
            &format!("/partner-integration/aws/s3/{id}/vm"),
            Some(&token),
        )
        .json();
    assert_eq!(got["resultSectionNeeded"], false, "{got}");

    // Defaults (seed 000): minSeverity 3, Confirmed, no results, no KB,
    // compressed, no alerts.
    let (id2, _) = register(
        &server,
        &token,
        VM,
        &json!({"bucketName": "qualys-vm-findings", "bucketRegion": "eu-west-3", "roleArn": ROLE, "name": "defaults"}),
    );
    let got = server
        .get(
            &format!("/partner-integration/aws/s3/{id2}/vm"),
            Some(&token),
        )
        .json();
    for (field, value) in [
        ("minSeverity", json!(3)),
        ("baseCategory", json!("Confirmed")),
        ("resultSectionNeeded", json!(false)),
        ("sendVulnInfo", json!(false)),
        ("compressData", json!(true)),
        ("sendAlerts", json!(false)),
        ("errorEmails", json!([])),
    ] {
        assert_eq!(got[field], value, "{field}: {got}");
    }

    // The name is unique per kind: 409 naming it; another kind may use it.
    let e = server
        .post(VM, &token, &with("name", json!("defaults")))
        .error(409, "conflict");
    assert_eq!(e["field"], "name", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("defaults"),
        "{e}"
    );
    register(
        &server,
        &token,
        PC,
        &json!({"name": "defaults", "bucketName": "qualys-pc-data", "bucketRegion": "ap-south-1", "roleArn": ROLE}),
    );
    let e = server
        .put(
            &format!("/partner-integration/aws/s3/{id2}/vm"),
            &token,
            &json!({"roleArn": ROLE, "name": "Sample Name or Sample integration"}),
        )
        .error(409, "conflict");
    assert_eq!(e["field"], "name", "{e}");
    // Renaming to its own name is fine.
    let reply = server.put(
        &format!("/partner-integration/aws/s3/{id2}/vm"),
        &token,
        &json!({"roleArn": ROLE, "name": "defaults"}),
    );
    assert_eq!(
        message(&reply),
        "AWS S3 VM integration successfully updated."
    );

    // PUT: roleArn and name are required; fields are checked as on POST.
    let put = format!("/partner-integration/aws/s3/{id2}/vm");
    let e = server
        .put(&put, &token, &json!({"name": "defaults"}))
        .error(400, "missing_field");
    assert_eq!(e["field"], "roleArn", "{e}");
    let e = server
        .put(&put, &token, &json!({"roleArn": ROLE}))
        .error(400, "missing_field");
    assert_eq!(e["field"], "name", "{e}");
    let e = server
        .put(
            &put,
            &token,
            &json!({"roleArn": ROLE, "name": "defaults", "sendAlerts": true}),
        )
        .error(400, "invalid_field");
    assert_eq!(e["field"], "errorEmails", "{e}");
    let e = server
        .put(
            &put,
            &token,
            &json!({"roleArn": ROLE, "name": "defaults", "regenerateExternalId": "yes"}),
        )
        .error(400, "invalid_body");
    assert_eq!(e["field"], "regenerateExternalId", "{e}");

    // PC takes no VM field; PC requires the same four on POST.
    let e = server
        .post(
            PC,
            &token,
            &json!({"name": "pc2", "bucketName": "qualys-pc-data", "bucketRegion": "ap-south-1", "roleArn": ROLE, "baseCategory": "IG"}),
        )
        .error(400, "invalid_body");
    assert_eq!(e["field"], "baseCategory", "{e}");
    let e = server
        .post(
            PC,
            &token,
            &json!({"name": "pc2", "bucketName": "qualys-pc-data", "roleArn": ROLE}),
        )
        .error(400, "missing_field");
    assert_eq!(e["field"], "bucketRegion", "{e}");

    // Malformed bodies.
    let e = server
        .call_raw(
            "POST",
            VM,
            Some(&token),
            "application/json",
            b"{\"bucketName\": ",
        )
        .error(400, "invalid_body");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not valid"),
        "{e}"
    );
    server
        .call_raw("POST", VM, Some(&token), "application/json", b"")
        .error(400, "invalid_body");
    server
        .call_raw("POST", VM, Some(&token), "text/plain", b"bucketName=x")
        .error(415, "unsupported_media_type");
    server
        .call_raw(
            "POST",
            VM,
            Some(&token),
            "application/x-www-form-urlencoded",
            b"bucketName=x",
        )
        .error(415, "unsupported_media_type");

    // Ids: not a number → 400 naming `id`; unknown → 404, on every verb.
    for (method, path) in [
        ("GET", "/partner-integration/aws/s3/abc/vm"),
        ("DELETE", "/partner-integration/aws/s3/abc/pc"),
        ("PATCH", "/partner-integration/aws/s3/abc/vm/validate"),
    ] {
        let e = server
            .call(method, path, Some(&token), None)
            .error(400, "invalid_field");
        assert_eq!(e["field"], "id", "{method} {path}: {e}");
    }
    let e = server
        .put(
            "/partner-integration/aws/s3/1x/ocsf",
            &token,
            &json!({"roleArn": ROLE, "name": "n"}),
        )
        .error(400, "invalid_field");
    assert_eq!(e["field"], "id", "{e}");
    for (method, path) in [
        ("GET", "/partner-integration/aws/s3/999999/vm"),
        ("DELETE", "/partner-integration/aws/s3/999999/vm"),
        ("PATCH", "/partner-integration/aws/s3/999999/vm/validate"),
        ("GET", "/partner-integration/aws/s3/999999/pc"),
        ("PATCH", "/partner-integration/aws/s3/999999/ocsf/validate"),
    ] {
        let e = server
            .call(method, path, Some(&token), None)
            .error(404, "not_found");
        assert!(
            e["message"].as_str().unwrap_or_default().contains("999999"),
            "{e}"
        );
    }
    server
        .put(
            "/partner-integration/aws/s3/999999/vm",
            &token,
            &json!({"roleArn": ROLE, "name": "n"}),
        )
        .error(404, "not_found");
}

#[test]
fn field_errors_on_sqlite() {
    field_errors(&Place::sqlite());
}

#[test]
fn field_errors_on_postgres() {
    let rt = runtime();
    let place = postgres_required(&rt, "integrations_field_errors");
    field_errors(&place);
}

// --- 401 and 403 -----------------------------------------------------------

/// Every endpoint, with a body each accepts.
fn endpoints() -> Vec<(&'static str, &'static str, Option<Value>)> {
    let vm = vm_sample("qualys-vm-findings");
    let update = json!({"roleArn": ROLE, "name": "n"});
    let policies = json!([{"policy": [1]}]);
    let filter = json!([{"includeEvidenceData": false}]);
    vec![
        ("POST", VM, Some(vm.clone())),
        ("GET", VM, None),
        ("GET", "/partner-integration/aws/s3/1/vm", None),
        (
            "PUT",
            "/partner-integration/aws/s3/1/vm",
            Some(update.clone()),
        ),
        ("PATCH", "/partner-integration/aws/s3/1/vm/validate", None),
        ("DELETE", "/partner-integration/aws/s3/1/vm", None),
        ("POST", PC, Some(pc_sample("qualys-pc-data"))),
        ("GET", PC, None),
        ("GET", "/partner-integration/aws/s3/1/pc", None),
        (
            "PUT",
            "/partner-integration/aws/s3/1/pc",
            Some(update.clone()),
        ),
        ("PATCH", "/partner-integration/aws/s3/1/pc/validate", None),
        ("DELETE", "/partner-integration/aws/s3/1/pc", None),
        ("POST", OCSF, Some(pc_sample("qualys-pc-data"))),
        ("GET", OCSF, None),
        ("GET", "/partner-integration/aws/s3/1/ocsf", None),
        ("PUT", "/partner-integration/aws/s3/1/ocsf", Some(update)),
        ("PATCH", "/partner-integration/aws/s3/1/ocsf/validate", None),
        ("DELETE", "/partner-integration/aws/s3/1/ocsf", None),
        ("POST", "/pcas/cips/config/policy", Some(policies.clone())),
        ("DELETE", "/pcas/cips/config/policy", Some(policies.clone())),
        ("DELETE", "/pcas/cips/config", Some(policies)),
        ("POST", "/pcas/cips/config", Some(filter.clone())),
        ("PUT", "/pcas/cips/config", Some(filter)),
        ("GET", "/pcas/cips/config", None),
    ]
}

fn permissions(place: &Place) {
    let server = start_delivery(place, None);
    let admin = server.admin_token();
    let reader = server.user_token("rita", "reader", &[]);
    let sub_user = server.user_token("sam", "sub_user", &[]);
    let reports = server.user_token("rhea", "reports_only", &[]);
    for (name, permissions) in [
        (
            "connector-admins",
            json!(["manage_connectors", "view_data", "api_access"]),
        ),
        ("s3-admins", json!(["manage_integrations", "api_access"])),
    ] {
        let role = server.post(
            "/api/v1/roles",
            &admin,
            &json!({"name": name, "permissions": permissions}),
        );
        assert_eq!(role.status, 201, "{}", role.body);
    }
    let without = server.user_token("carl", "connector-admins", &[]);
    let with = server.user_token("ivy", "s3-admins", &[]);

    for (method, path, body) in endpoints() {
        let e = server
            .call(method, path, None, body.as_ref())
            .error(401, "unauthorized");
        assert!(!e["message"].as_str().unwrap_or_default().is_empty());
        let e = server
            .call(method, path, Some("not.a.token"), body.as_ref())
            .error(401, "unauthorized");
        assert!(!e["message"].as_str().unwrap_or_default().is_empty());
        for token in [&reader, &sub_user, &reports, &without] {
            let e = server
                .call(method, path, Some(token), body.as_ref())
                .error(403, "forbidden");
            assert!(
                e["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("manage_integrations"),
                "{method} {path}: {e}"
            );
        }
        // 403 comes before the body is looked at.
        server
            .call_raw(method, path, Some(&reader), "application/json", b"{broken")
            .error(403, "forbidden");
    }

    // A custom role with the permission does everything.
    let (id, _) = register(&server, &with, VM, &vm_sample("qualys-vm-findings"));
    assert_eq!(
        server.get(VM, Some(&with)).json().as_array().map(Vec::len),
        Some(1)
    );
    let reply = server.put(
        &format!("/partner-integration/aws/s3/{id}/vm"),
        &with,
        &json!({"roleArn": ROLE, "name": "by ivy"}),
    );
    assert_eq!(
        message(&reply),
        "AWS S3 VM integration successfully updated."
    );
    let reply = server.call(
        "POST",
        "/pcas/cips/config/policy",
        Some(&with),
        Some(&json!([{"policy": [7]}])),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    let reply = server.call(
        "POST",
        "/pcas/cips/config",
        Some(&with),
        Some(&json!([{"includeEvidenceData": false}])),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = server.delete(&format!("/partner-integration/aws/s3/{id}/vm"), &with);
    assert_eq!(
        message(&reply),
        "AWS S3 VM integration successfully deleted."
    );
    // The audit log names who did it.
    let audit = server.get("/api/v1/audit?action=integration.", Some(&admin));
    assert!(audit.body.contains("\"ivy\""), "{}", audit.body);
}

#[test]
fn permissions_on_sqlite() {
    permissions(&Place::sqlite());
}

#[test]
fn permissions_on_postgres() {
    let rt = runtime();
    let place = postgres_required(&rt, "integrations_permissions");
    permissions(&place);
}

// --- CIPS ----------------------------------------------------------------------

/// `2022-11-14T06:34:26.148+00:00`.
fn is_seed_time(text: &str) -> bool {
    let b = text.as_bytes();
    text.len() == 29
        && text.ends_with("+00:00")
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

fn cips(place: &Place) {
    let server = start_delivery(place, None);
    let token = server.admin_token();
    let (id, _) = register(&server, &token, VM, &vm_sample("qualys-vm-findings"));
    let customer_id = server
        .get(
            &format!("/partner-integration/aws/s3/{id}/vm"),
            Some(&token),
        )
        .json()["customerId"]
        .as_i64()
        .expect("customerId");

    // Before anything: no filter, no policies (everything would be sent).
    let got = server.get("/pcas/cips/config", Some(&token));
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(
        got.json(),
        json!({
            "id": null, "subscriptionId": customer_id,
            "includeEvidenceData": true, "includeFailPosture": true,
            "includePassPosture": true, "includeErrorPosture": true,
            "lastUpdated": null, "policy": []
        })
    );

    // Add a policy: seed 000's body, answer 202 and its text.
    let reply = server.call(
        "POST",
        "/pcas/cips/config/policy",
        Some(&token),
        Some(&json!([{"policy": [4771746, 3606517, 4342692, 1109776]}])),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body, "Policy added successfully.");
    assert!(
        reply.content_type.starts_with("text/plain"),
        "{}",
        reply.content_type
    );
    // The object form too; a policy added twice is one.
    let reply = server.call(
        "POST",
        "/pcas/cips/config/policy",
        Some(&token),
        Some(&json!({"policy": [3523484, 4771746]})),
    );
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (202, "Policy added successfully.")
    );
    assert_eq!(
        server.get("/pcas/cips/config", Some(&token)).json()["policy"],
        json!([1109776, 3523484, 3606517, 4342692, 4771746])
    );

    // Delete, at the documented path and at the sample's.
    let reply = server.call(
        "DELETE",
        "/pcas/cips/config/policy",
        Some(&token),
        Some(&json!([{"policy": [4342692, 999]}])),
    );
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (202, "Policy deleted successfully.")
    );
    let reply = server.call(
        "DELETE",
        "/pcas/cips/config",
        Some(&token),
        Some(&json!([{"policy": [3523484]}])),
    );
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (202, "Policy deleted successfully.")
    );
    assert_eq!(
        server.get("/pcas/cips/config", Some(&token)).json()["policy"],
        json!([1109776, 3606517, 4771746])
    );

    // Bad policy bodies name the field.
    for (body, field) in [
        (json!([{"policy": []}]), "policy"),
        (json!([]), "policy"),
        (json!([{"policy": [0]}]), "policy"),
        (json!([{"policy": [1, "x"]}]), "[0].policy[1]"),
        (json!([{"policies": [1]}]), "[0].policies"),
        (json!({"policy": "1"}), "policy"),
    ] {
        let reply = server.call(
            "POST",
            "/pcas/cips/config/policy",
            Some(&token),
            Some(&body),
        );
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.json()["field"], field, "{body}: {}", reply.body);
    }

    // Up to 100 policies in all.
    let ninety_seven: Vec<i64> = (1..=97).collect();
    let reply = server.call(
        "POST",
        "/pcas/cips/config/policy",
        Some(&token),
        Some(&json!([{"policy": ninety_seven}])),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(
        server.get("/pcas/cips/config", Some(&token)).json()["policy"]
            .as_array()
            .map(Vec::len),
        Some(100)
    );
    let e = server
        .call(
            "POST",
            "/pcas/cips/config/policy",
            Some(&token),
            Some(&json!([{"policy": [98, 99]}])),
        )
        .error(400, "invalid_field");
    assert_eq!(e["field"], "policy");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 100"),
        "{e}"
    );
    // Adding one already there is no more.
    let reply = server.call(
        "POST",
        "/pcas/cips/config/policy",
        Some(&token),
        Some(&json!([{"policy": [1]}])),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(
        server.get("/pcas/cips/config", Some(&token)).json()["policy"]
            .as_array()
            .map(Vec::len),
        Some(100)
    );

    // The filter: PUT before POST is 404; POST creates; POST again is 409.
    let e = server
        .call(
            "PUT",
            "/pcas/cips/config",
            Some(&token),
            Some(&json!([{"includeFailPosture": false}])),
        )
        .error(404, "not_found");
    assert!(
        e["message"].as_str().unwrap_or_default().contains("POST"),
        "{e}"
    );
    let created = server.call(
        "POST",
        "/pcas/cips/config",
        Some(&token),
        Some(&json!([{"includeEvidenceData": false, "includeFailPosture": true, "includePassPosture": true, "includeErrorPosture": true}])),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let created = created.json();
    let keys: Vec<&str> = created
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut keys = keys;
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "includeErrorPosture",
            "includeEvidenceData",
            "includeFailPosture",
            "includePassPosture",
            "lastUpdated",
            "subscriptionId"
        ]
    );
    assert_eq!(created["subscriptionId"], customer_id);
    assert_eq!(created["includeEvidenceData"], false);
    assert_eq!(created["includeFailPosture"], true);
    let when = created["lastUpdated"].as_str().expect("lastUpdated");
    assert!(is_seed_time(when), "{when}");
    let e = server
        .call(
            "POST",
            "/pcas/cips/config",
            Some(&token),
            Some(&json!([{"includeEvidenceData": true}])),
        )
        .error(409, "conflict");
    assert!(
        e["message"].as_str().unwrap_or_default().contains("PUT"),
        "{e}"
    );

    // PUT: seed 000's sample; absent flags keep their value.
    let updated = server.call(
        "PUT",
        "/pcas/cips/config",
        Some(&token),
        Some(&json!([{"includeEvidenceData": false, "includeFailPosture": false, "includePassPosture": true, "includeErrorPosture": true}])),
    );
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.json()["includeFailPosture"], false);
    let updated = server.call(
        "PUT",
        "/pcas/cips/config",
        Some(&token),
        Some(&json!({"includeErrorPosture": false})),
    );
    assert_eq!(updated.status, 200, "{}", updated.body);
    let updated = updated.json();
    assert_eq!(
        (
            &updated["includeEvidenceData"],
            &updated["includeFailPosture"],
            &updated["includePassPosture"],
            &updated["includeErrorPosture"]
        ),
        (&json!(false), &json!(false), &json!(true), &json!(false))
    );

    // GET: seed 000's shape with the id.
    let got = server.get("/pcas/cips/config", Some(&token)).json();
    let mut keys: Vec<&str> = got
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "id",
            "includeErrorPosture",
            "includeEvidenceData",
            "includeFailPosture",
            "includePassPosture",
            "lastUpdated",
            "policy",
            "subscriptionId"
        ]
    );
    assert!(got["id"].as_i64().is_some(), "{got}");
    assert_eq!(got["includeErrorPosture"], false);
    assert!(
        is_seed_time(got["lastUpdated"].as_str().unwrap_or_default()),
        "{got}"
    );

    // Bad filter bodies.
    for (body, code, field) in [
        (
            json!([{"includeFailPosture": "no"}]),
            "invalid_body",
            Some("[0].includeFailPosture"),
        ),
        (
            json!([{"includeWarnings": true}]),
            "invalid_body",
            Some("[0].includeWarnings"),
        ),
        (json!([{}, {}]), "invalid_body", None),
        (json!([]), "invalid_body", None),
    ] {
        let e = server
            .call("PUT", "/pcas/cips/config", Some(&token), Some(&body))
            .error(400, code);
        if let Some(field) = field {
            assert_eq!(e["field"], field, "{body}: {e}");
        }
    }

    let (actions, body) = audit_actions(&server, &token, "cips.");
    for action in [
        "cips.policy.add",
        "cips.policy.delete",
        "cips.filter.create",
        "cips.filter.update",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {body}");
    }
}

#[test]
fn cips_on_sqlite() {
    cips(&Place::sqlite());
}

#[test]
fn cips_on_postgres() {
    let rt = runtime();
    let place = postgres_required(&rt, "integrations_cips");
    cips(&place);
}

#[test]
fn the_openapi_document_has_every_endpoint() {
    let place = Place::sqlite();
    let server = start_delivery(&place, None);
    let doc = server.get("/api/openapi.json", None).json();
    for (method, path, _) in endpoints() {
        let path = path.replace("/1/", "/{id}/");
        let op = &doc["paths"][path.as_str()][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert_eq!(op["tags"], json!(["s3 integrations"]), "{method} {path}");
    }
    for schema in [
        "VmForm",
        "PcForm",
        "VmIntegration",
        "PcIntegration",
        "Registered",
        "Message",
        "ValidationFailed",
        "CipsFilter",
        "CipsDetails",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}
