//! `vigil serve`: the REST API (see docs/api.md) on the same store as the
//! other commands. Thin glue over `vigil-server`.

use crate::setup::{open_store, runtime, Failure, Result};
use crate::Cli;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use vigil_server::{AdminBootstrap, Config, Server};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The address and port to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
}

pub fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let store: Arc<dyn vigil_store::Store> = Arc::from(open_store(cli).await?);
        let admin_password = std::env::var("VIGIL_ADMIN_PASSWORD").ok();
        let config = Config {
            listen: args.listen,
            admin_password,
            ..Config::default()
        };
        let server = Server::bind(store.clone(), config)
            .await
            .map_err(Failure::store)?;
        match &server.bootstrap {
            AdminBootstrap::Existing => {}
            AdminBootstrap::FromEnvironment => {
                eprintln!("created the Manager account `admin` with the password from VIGIL_ADMIN_PASSWORD")
            }
            AdminBootstrap::Generated(password) => eprintln!(
                "created the Manager account `admin` with the one-time password: {password}\n\
                 (it is shown only now; it cannot be shown again)"
            ),
        }
        println!(
            "vigil API ({} store) listening on http://{}",
            store.backend(),
            server.local_addr()
        );
        server
            .serve(vigil_server::shutdown_signal())
            .await
            .map_err(Failure::store)?;
        eprintln!("vigil API stopped");
        Ok(ExitCode::SUCCESS)
    })
}
