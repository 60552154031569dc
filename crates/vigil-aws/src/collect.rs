//! The scan: identity, regions, then every collector with bounded concurrency.

use crate::config::{in_region, sdk_config, AwsOptions, HOME_REGION};
use crate::error::{AwsError, CollectError};
use crate::services::{self, Ctx, Part};
use aws_smithy_types::error::display::DisplayErrorContext;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use vigil_model::Resource;

/// What a scan found.
#[derive(Debug, Default)]
pub struct Collection {
    pub account: String,
    pub regions: Vec<String>,
    pub resources: Vec<Resource>,
    pub errors: Vec<CollectError>,
}

/// Progress of a scan, for progress bars.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The scan will run this many collectors.
    Planned(usize),
    /// One collector finished.
    Done { task: String, resources: usize },
}

type Task = Pin<Box<dyn Future<Output = Part> + Send>>;

/// Scans the account `opts` points at.
pub async fn collect(
    opts: &AwsOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Collection, AwsError> {
    let sdk = sdk_config(opts).await?;
    let who = aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            let full = DisplayErrorContext(&e).to_string();
            if full.contains("loading credentials") || full.contains("no credentials") {
                AwsError::Credentials(
                    "no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, or run where an instance or container role is available".into(),
                )
            } else {
                // The SDK's full context repeats itself; its first lines say enough.
                let short: String = full.chars().take(400).collect();
                AwsError::Identity(short)
            }
        })?;
    let account = who.account().unwrap_or_default().to_string();
    let mut errors = Vec::new();
    let regions = if opts.regions.is_empty() {
        match services::ec2::enabled_regions(&in_region(&sdk, HOME_REGION)).await {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                vec![HOME_REGION.to_string()]
            }
        }
    } else {
        opts.regions.clone()
    };
    let ctx = Arc::new(Ctx {
        sdk,
        account: account.clone(),
        connector: opts.connector.clone(),
        run: opts.run.clone(),
        emulator: opts.endpoint_url.is_some(),
    });

    // Global services once; the account-level IAM collector first, as it may
    // wait a few seconds for the credential report.
    let mut tasks: Vec<(String, Task)> = vec![
        (
            "iam account".into(),
            Box::pin(services::iam_account::collect(ctx.clone())),
        ),
        ("iam".into(), Box::pin(services::iam::collect(ctx.clone()))),
        ("s3".into(), Box::pin(services::s3::collect(ctx.clone()))),
        (
            "s3 account".into(),
            Box::pin(services::s3_account::collect(ctx.clone())),
        ),
    ];
    type Regional = fn(Arc<Ctx>, String) -> Task;
    let regional: [(&str, Regional); 11] = [
        ("ec2", |c, r| Box::pin(services::ec2::collect(c, r))),
        ("ec2 instances", |c, r| {
            Box::pin(services::instances::collect(c, r))
        }),
        ("ebs", |c, r| Box::pin(services::ebs::collect(c, r))),
        ("vpc", |c, r| Box::pin(services::vpc::collect(c, r))),
        ("rds", |c, r| Box::pin(services::rds::collect(c, r))),
        ("autoscaling", |c, r| {
            Box::pin(services::autoscaling::collect(c, r))
        }),
        ("elbv2", |c, r| Box::pin(services::elbv2::collect(c, r))),
        ("lambda", |c, r| Box::pin(services::lambda::collect(c, r))),
        ("eks", |c, r| Box::pin(services::eks::collect(c, r))),
        ("cloudtrail", |c, r| {
            Box::pin(services::cloudtrail::collect(c, r))
        }),
        ("kms", |c, r| Box::pin(services::kms::collect(c, r))),
    ];
    for region in &regions {
        for (name, start) in &regional {
            tasks.push((
                format!("{name} {region}"),
                start(ctx.clone(), region.clone()),
            ));
        }
    }
    progress(Progress::Planned(tasks.len()));

    let limit = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (name, task) in tasks {
        let limit = limit.clone();
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (name, task.await)
        });
    }
    let mut resources = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((task, part)) => {
                progress(Progress::Done {
                    task,
                    resources: part.resources.len(),
                });
                resources.extend(part.resources);
                errors.extend(part.errors);
            }
            Err(e) => errors.push(CollectError {
                service: "vigil",
                region: String::new(),
                action: "collector",
                code: None,
                message: format!("a collector stopped unexpectedly: {e}"),
            }),
        }
    }
    // A stable order makes outputs and diffs reproducible.
    resources.sort_by(|a, b| {
        (&a.resource_type, &a.region, &a.id).cmp(&(&b.resource_type, &b.region, &b.id))
    });
    Ok(Collection {
        account,
        regions,
        resources,
        errors,
    })
}
