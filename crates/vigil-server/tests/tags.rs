//! Tag-based connector access across capabilities (seed 001, "Configure
//! Tag-based Access"): a user whose tags reach one connector neither lists
//! nor reads another connector, nor exceptions scoped to it.

mod common;

use common::*;
use serde_json::json;

fn tags_reach_across_capabilities(place: &Place) {
    let server = start(place);
    let admin = server.admin_token();
    let connector = |name: &str, tag: &str| {
        let reply = server.post(
            "/api/v1/connectors",
            &admin,
            &json!({"name": name, "authentication": {"type": "default"}, "regions": ["us-east-1"], "tags": [tag]}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()["id"].as_str().expect("an id").to_string()
    };
    let prod = connector("prod", "CLV-prod");
    let dev = connector("dev", "CLV-dev");
    let exception = |name: &str, connector: &str| {
        let reply = server.post(
            "/api/v1/exceptions",
            &admin,
            &json!({"name": name, "reason": "Other", "explanation": "test",
                    "start": "2020-01-01", "end": "2099-12-31",
                    "scope": {"connectors": [connector]}, "controls": [1]}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()["id"].as_str().expect("an id").to_string()
    };
    let on_prod = exception("on prod", &prod);
    let on_dev = exception("on dev", &dev);

    let devs = server.user_token("dee", "reader", &["CLV-dev"]);
    let names: Vec<String> = server
        .get("/api/v1/connectors", Some(&devs))
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect();
    assert_eq!(names, vec!["dev"]);
    server
        .get(&format!("/api/v1/connectors/{prod}"), Some(&devs))
        .error(403, "forbidden");
    let listed = server.get("/api/v1/exceptions", Some(&devs)).json();
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(ids, vec![on_dev.as_str()], "{listed}");
    assert_eq!(listed["total"], 1);
    server
        .get(&format!("/api/v1/exceptions/{on_prod}"), Some(&devs))
        .error(403, "forbidden");
    server
        .get(
            &format!("/api/v1/exceptions/{on_prod}/history"),
            Some(&devs),
        )
        .error(403, "forbidden");
    assert_eq!(
        server
            .get(&format!("/api/v1/exceptions/{on_dev}"), Some(&devs))
            .status,
        200
    );

    // A tag that no connector carries reaches none; no tags reach all.
    let nobody = server.user_token("nob", "reader", &["CLV-none"]);
    assert_eq!(
        server.get("/api/v1/connectors", Some(&nobody)).json(),
        json!([])
    );
    let everyone = server.user_token("eve", "reader", &[]);
    assert_eq!(
        server
            .get("/api/v1/connectors", Some(&everyone))
            .json()
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        server.get("/api/v1/exceptions", Some(&everyone)).json()["total"],
        2
    );
}

#[test]
fn tags_reach_across_capabilities_on_sqlite() {
    tags_reach_across_capabilities(&Place::sqlite());
}

#[test]
fn tags_reach_across_capabilities_on_postgres() {
    if let Some(place) = Place::postgres(&runtime(), "tags_reach_across_capabilities") {
        tags_reach_across_capabilities(&place);
    }
}
