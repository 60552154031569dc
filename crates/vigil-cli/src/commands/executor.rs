//! The AWS executor of connector runs that `vigil serve` gives its worker:
//! collect the connector's account with `vigil-aws` (its regions; a role
//! assumed with the connector's external id, its access keys, or the host's
//! credentials; `AWS_ENDPOINT_URL` for an emulator such as moto), evaluate
//! with the engine and record the run under `connector:<id>`, as
//! `vigil scan aws` does. Qualys connectors go to
//! [`super::qualys::run_connector`] (hosts, detections, … into the store).

use super::pipeline;
use crate::setup::Failure;
use async_trait::async_trait;
use std::time::Duration;
use vigil_engine::Catalog;
use vigil_server::worker::{RunExecutor, RunJob};
use vigil_store::connectors::{Authentication, CollectionError, RunOutcome};

/// Test only: every run waits this many milliseconds before collecting, so
/// that a test can kill a node mid-run.
pub const TEST_RUN_DELAY_ENV: &str = "VIGIL_TEST_RUN_DELAY_MS";

/// Runs AWS connectors, and hands Qualys connectors to their run.
#[derive(Debug)]
pub struct AwsExecutor {
    catalog: Catalog,
    endpoint_url: Option<String>,
    delay: Option<Duration>,
}

impl AwsExecutor {
    /// An executor evaluating with `catalog`, reading `AWS_ENDPOINT_URL` and
    /// the test-only run delay from the environment.
    pub fn new(catalog: Catalog) -> AwsExecutor {
        let endpoint_url = std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|u| !u.trim().is_empty());
        let delay = std::env::var(TEST_RUN_DELAY_ENV)
            .ok()
            .and_then(|ms| ms.trim().parse().ok())
            .map(Duration::from_millis);
        AwsExecutor {
            catalog,
            endpoint_url,
            delay,
        }
    }

    /// The controls a run evaluates: the one place that decides it. The
    /// store's effective catalogue (built-in, user-defined controls,
    /// criticality overrides, custom policies) read at the start of each
    /// run, so a control changed through the API counts from the next run;
    /// the catalogue loaded at start when the store cannot give it.
    async fn controls(&self, job: &RunJob) -> Catalog {
        match vigil_server::controls::effective_controls(job.store.as_ref()).await {
            Ok(effective) => effective.catalog,
            Err(e) => {
                eprintln!(
                    "vigil serve: run {}: the user-defined controls could not be read ({}); evaluating the built-in catalogue",
                    job.run.id, e.message
                );
                self.catalog.clone()
            }
        }
    }

    /// The options of `vigil-aws` for the job's connector.
    fn options(&self, job: &RunJob) -> vigil_aws::AwsOptions {
        let c = &job.connector;
        let mut opts = vigil_aws::AwsOptions {
            endpoint_url: self.endpoint_url.clone(),
            regions: c.regions.clone(),
            concurrency: 16,
            connector: c.id.clone(),
            run: job.run.id.clone(),
            ..vigil_aws::AwsOptions::default()
        };
        match &c.authentication {
            Authentication::Role {
                role_arn,
                external_id,
            } => {
                opts.role_arn = Some(role_arn.clone());
                opts.external_id = Some(external_id.clone());
            }
            Authentication::AccessKeys { access_key_id, .. } => {
                opts.access_keys = Some(vigil_aws::AccessKeys {
                    access_key_id: access_key_id.clone(),
                    secret_access_key: job.secret_access_key.clone().unwrap_or_default(),
                });
            }
            Authentication::Default | Authentication::Qualys { .. } => {}
        }
        opts
    }

    async fn run(&self, job: &RunJob) -> Result<RunOutcome, Failure> {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let collection = vigil_aws::collect(&self.options(job), &|_| {})
            .await
            .map_err(|e| Failure::input(format!("AWS: {e}")))?;
        let errors: Vec<CollectionError> = collection
            .errors
            .iter()
            .map(|e| CollectionError {
                service: e.service.to_string(),
                region: e.region.clone(),
                message: e.reason(),
            })
            .collect();
        let resources = collection.resources;
        let catalog = self.controls(job).await;
        let (evaluated, resources) = tokio::task::spawn_blocking(move || {
            pipeline::evaluate_with(catalog, None, &resources).map(|e| (e, resources))
        })
        .await
        .map_err(|e| Failure::input(format!("the evaluation stopped: {e}")))??;
        let summary = pipeline::record(
            job.store.as_ref(),
            &evaluated,
            &job.connector.source(),
            &job.run.id,
            &resources,
        )
        .await?;
        Ok(RunOutcome::Completed {
            resources: summary.resources,
            evaluations: summary.evaluations,
            errors,
        })
    }
}

#[async_trait]
impl RunExecutor for AwsExecutor {
    async fn execute(&self, job: RunJob) -> RunOutcome {
        if matches!(job.connector.authentication, Authentication::Qualys { .. }) {
            if let Some(delay) = self.delay {
                tokio::time::sleep(delay).await;
            }
            return super::qualys::run_connector(&job).await;
        }
        self.run(&job).await.unwrap_or_else(|e| RunOutcome::Failed {
            errors: vec![CollectionError {
                service: "vigil".into(),
                region: String::new(),
                message: e.message,
            }],
        })
    }
}
