//! `vigil search`: query stored evaluations.

use crate::output::Rows;
use crate::setup::{open_store, runtime, Failure, Result};
use crate::{Cli, Format};
use std::process::ExitCode;
use vigil_query::{Query, FIELDS};
use vigil_store::Page;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The query, e.g. 'control.result:FAIL and control.criticality:HIGH and firstEvaluated:[now-4h .. now]'.
    /// Empty matches everything.
    #[arg(default_value = "")]
    pub query: String,
    /// Print the Monitor counts instead of the evaluations.
    #[arg(long)]
    pub counts: bool,
    /// List the searchable fields and exit.
    #[arg(long)]
    pub fields: bool,
    /// At most this many rows.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Skip this many rows.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
}

pub fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    if args.fields {
        let mut rows = Rows::new(vec!["FIELD", "KIND", "DESCRIPTION"]);
        for f in FIELDS {
            let kind = match f.kind {
                vigil_query::FieldKind::Text => "text".to_string(),
                vigil_query::FieldKind::Number => "number".to_string(),
                vigil_query::FieldKind::Date => "date".to_string(),
                vigil_query::FieldKind::Enum(v) => v.join("|"),
            };
            rows.push(
                vec![f.name.to_string(), kind.clone(), f.doc.to_string()],
                serde_json::json!({"field": f.name, "kind": kind, "description": f.doc}),
            );
        }
        rows.print(cli.format, 100)?;
        return Ok(ExitCode::SUCCESS);
    }
    let query = Query::parse(&args.query, chrono::Utc::now()).map_err(|e| {
        Failure::input(format!(
            "{e}\n  {}\n  {:>w$}",
            args.query,
            "^",
            w = e.column
        ))
    })?;
    runtime()?.block_on(async {
        let store = open_store(cli).await?;
        if args.counts {
            let c = store.counts(&query).await.map_err(Failure::store)?;
            let mut rows = Rows::new(vec![
                "CONTROLS EVALUATED",
                "EVALUATIONS",
                "PASS",
                "FAIL",
                "SKIP",
                "HIGH",
                "MEDIUM",
                "LOW",
                "REMEDIABLE",
            ]);
            rows.push(
                [
                    c.controls_evaluated,
                    c.evaluations,
                    c.pass,
                    c.fail,
                    c.skip,
                    c.fail_high,
                    c.fail_medium,
                    c.fail_low,
                    c.remediable,
                ]
                .iter()
                .map(u64::to_string)
                .collect(),
                &c,
            );
            rows.print(cli.format, 40)?;
            return Ok(ExitCode::SUCCESS);
        }
        let found = store
            .search(
                &query,
                Page {
                    limit: args.limit,
                    offset: args.offset,
                },
            )
            .await
            .map_err(Failure::store)?;
        let mut rows = Rows::new(vec![
            "RESULT",
            "CID",
            "CRITICALITY",
            "ACCOUNT",
            "REGION",
            "RESOURCE",
            "CONTROL",
            "LAST EVALUATED",
        ]);
        for r in &found {
            rows.push(
                vec![
                    r.result.to_string(),
                    r.cid.to_string(),
                    r.criticality.to_string(),
                    r.account.clone(),
                    r.region.clone(),
                    r.resource_id.clone(),
                    r.control.clone(),
                    r.last_evaluated.format("%Y-%m-%d %H:%M:%S").to_string(),
                ],
                r,
            );
        }
        rows.print(cli.format, 60)?;
        if cli.format == Format::Table && found.len() as u32 == args.limit {
            eprintln!(
                "(first {} rows; use --offset {} for more)",
                args.limit,
                args.offset + u64::from(args.limit)
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
