//! Test and benchmark tool (never shipped): serves a generated Qualys
//! subscription until killed.
//!
//! `qualys-standin [--port P] [--hosts N] [--detections-per-host D] [--qids Q]
//! [--username U] [--password P]` prints `http://127.0.0.1:PORT` once ready.

use vigil_qualys_standin::{StandIn, Subscription};

fn main() {
    let mut sub = Subscription::default();
    let mut port: u16 = 0;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        let number = || -> u64 {
            value.parse().unwrap_or_else(|_| {
                eprintln!("{}: `{value}` is not a number", args[i]);
                std::process::exit(2)
            })
        };
        match args[i].as_str() {
            "--port" => port = number() as u16,
            "--hosts" => sub.hosts = number(),
            "--detections-per-host" => sub.detections_per_host = number() as u32,
            "--qids" => sub.qids = number() as u32,
            "--username" => sub.username = value.clone(),
            "--password" => sub.password = value.clone(),
            other => {
                eprintln!("unknown argument `{other}`; see the file's doc comment");
                std::process::exit(2)
            }
        }
        i += 2;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            std::process::exit(1)
        }
    };
    runtime.block_on(async move {
        let standin = StandIn::start_on(sub, port).await;
        println!("{}", standin.url);
        std::future::pending::<()>().await;
    });
}
