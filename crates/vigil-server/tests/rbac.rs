//! The RBAC matrix, generated from the permission table: every operation of
//! the OpenAPI document names the permission it needs (the scope of its
//! `bearer` requirement); every built-in role calls every operation and gets
//! 403 exactly when its role lacks that permission — and something other
//! than 401/403 when it has it.

mod common;

use common::*;
use vigil_store::access::builtin_roles;
use vigil_store::Permission;

#[test]
fn every_operation_answers_every_role_as_the_permission_table_says() {
    let place = Place::sqlite();
    let server = start(&place);
    let doc = server.get("/api/openapi.json", None).json();
    let paths = doc["paths"].as_object().expect("paths");
    let roles = builtin_roles();
    let tokens: Vec<(String, String)> = roles
        .iter()
        .map(|r| {
            let name = format!("u-{}", r.name.replace('_', "-"));
            (r.name.clone(), server.user_token(&name, &r.name, &[]))
        })
        .collect();
    let mut checked = 0;
    let mut secured = 0;
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().expect("operations") {
            let Some(security) = operation["security"].as_array() else {
                continue; // public: /health, /auth, …
            };
            let scopes: Vec<&str> = security
                .iter()
                .filter_map(|s| s["bearer"].as_array())
                .flatten()
                .filter_map(|s| s.as_str())
                .collect();
            assert_eq!(
                scopes.len(),
                1,
                "{method} {path} must name exactly one permission as its bearer scope"
            );
            let permission = Permission::parse(scopes[0])
                .unwrap_or_else(|| panic!("{method} {path}: unknown permission {}", scopes[0]));
            secured += 1;
            // Dummy path parameters; no body: an allowed caller gets past
            // the permission check (then 400/404/…), a forbidden one gets 403.
            let concrete = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "1" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let method = method.to_uppercase();
            let unauthenticated = server.call(&method, &concrete, None, None);
            assert_eq!(
                unauthenticated.status, 401,
                "{method} {path} without a token: {}",
                unauthenticated.body
            );
            for (role, token) in &tokens {
                let allowed = roles
                    .iter()
                    .find(|r| &r.name == role)
                    .is_some_and(|r| r.allows(permission) && r.allows(Permission::ApiAccess));
                let reply = server.call(&method, &concrete, Some(token), None);
                if allowed {
                    assert!(
                        reply.status != 401 && reply.status != 403,
                        "{role} may {method} {path} ({permission}) but got {}: {}",
                        reply.status,
                        reply.body
                    );
                } else {
                    let error = reply.error(403, "forbidden");
                    assert!(
                        error["message"]
                            .as_str()
                            .is_some_and(|m| m.contains(permission.as_str())),
                        "{role} {method} {path}: {error}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(
        secured >= 13,
        "only {secured} secured operations in the document"
    );
    assert_eq!(checked, secured * roles.len());
}
