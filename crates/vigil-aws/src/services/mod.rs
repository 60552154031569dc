//! One module per AWS service. Each `collect` returns the resources it found
//! and the calls that failed; none of them stops the scan.

pub mod ec2;
pub mod iam;
pub mod rds;
pub mod s3;

use crate::error::CollectError;
use aws_config::SdkConfig;
use serde_json::{Map, Value};
use vigil_model::{Origin, Provider, Resource};

/// What every collector needs.
pub struct Ctx {
    pub sdk: SdkConfig,
    pub account: String,
    pub connector: String,
    pub run: String,
    /// Talking to an emulator (an endpoint override is set).
    pub emulator: bool,
}

/// A collector's findings.
#[derive(Debug, Default)]
pub struct Part {
    pub resources: Vec<Resource>,
    pub errors: Vec<CollectError>,
}

impl Ctx {
    /// A resource of this account with its origin filled in.
    pub fn resource(
        &self,
        region: &str,
        service: &str,
        resource_type: &str,
        id: String,
        name: String,
    ) -> Resource {
        Resource {
            provider: Provider::Aws,
            account: self.account.clone(),
            region: region.to_string(),
            service: service.to_string(),
            resource_type: resource_type.to_string(),
            id,
            name,
            tags: Default::default(),
            attributes: Map::new(),
            associations: Vec::new(),
            uncollected: Default::default(),
            first_discovered: None,
            last_updated: None,
            origin: Origin::Connector {
                connector: self.connector.clone(),
                run: self.run.clone(),
            },
        }
    }
}

/// Sets an attribute.
pub fn set(r: &mut Resource, key: &str, value: impl Into<Value>) {
    r.attributes.insert(key.to_string(), value.into());
}

/// Records that an attribute could not be collected, and why.
pub fn missing(r: &mut Resource, key: &str, e: &CollectError) {
    r.uncollected.insert(key.to_string(), e.reason());
}

/// An SDK time as RFC 3339 text, the form controls parse with `timestamp()`.
pub fn time(t: Option<&aws_smithy_types::DateTime>) -> Value {
    match t.and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())) {
        Some(t) => Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        None => Value::Null,
    }
}
