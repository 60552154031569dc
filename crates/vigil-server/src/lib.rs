//! The Vigil REST API server (issue 5, first milestone): health, readiness,
//! Prometheus metrics, `POST /auth` (a JWT for a username and password, as
//! the seed API), `GET /api/v1/me` and the OpenAPI 3.1 document generated
//! from this code.
//!
//! The server works on any [`Store`]; users and the JWT signing key live
//! there, so several nodes on one PostgreSQL database share them. Passwords
//! are argon2id hashes; secrets (passwords, tokens, the key) are never
//! logged.

pub mod access;
pub mod auth;
pub mod body;
pub mod connectors;
pub mod controls;
pub mod data;
pub mod data_params;
pub mod datalists;
pub mod error;
pub mod exceptions;
pub mod iac;
pub mod integrations;
pub mod jwt;
pub mod metrics;
pub mod qualys;
pub mod ratelimit;
pub mod saved_searches;
pub mod secrets;
pub mod swagger;
pub mod users;
pub mod worker;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{OpenApi, ToSchema};
use vigil_store::{users::SIGNING_KEY, Store};

pub use auth::AdminBootstrap;

/// How a server is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The password of the first-start `admin` (from `VIGIL_ADMIN_PASSWORD`);
    /// `None` generates one.
    pub admin_password: Option<String>,
    /// Login attempts allowed per username and per client address in
    /// [`Config::login_window`].
    pub login_limit: u32,
    /// The window of the login limit.
    pub login_window: Duration,
    /// The key that seals connector secrets (`VIGIL_SECRET_KEY`); without
    /// it access-key connectors cannot be created.
    pub secret_key: Option<secrets::SecretKey>,
    /// What executes connector runs; `None`: this node runs none (runs stay
    /// queued for another node).
    pub executor: Option<Arc<dyn worker::RunExecutor>>,
    /// The worker's node id, tick and lease.
    pub worker: worker::WorkerConfig,
    /// The shortest polling interval accepted, in minutes (default 15).
    pub min_polling_minutes: u32,
    /// How often exceptions' start and end dates are checked.
    pub exception_sweep: Duration,
    /// S3 delivery (seed 000): the POD of external ids, how Vigil reaches
    /// AWS, alert e-mails, and whether this node runs the delivery loop.
    pub delivery: DeliverySettings,
}

/// How S3 delivery is set up on this node.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// The first part of every external id, `<POD>-<customerId>-<uuid>`
    /// (default `VIGIL_POD_1`).
    pub pod: String,
    /// How Vigil's own identity reaches STS and S3.
    pub aws: vigil_delivery::s3::AwsSettings,
    /// Where alert e-mails go out; `None`: alerts are logged only.
    pub smtp: Option<vigil_delivery::smtp::SmtpSettings>,
    /// Whether this node runs the delivery loop (planner and sender).
    pub run: bool,
    /// How often the loop looks for changes and due objects.
    pub tick: Duration,
    /// At most this many hosts (or findings) per object (default 1000).
    pub max_object_lines: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            pod: "VIGIL_POD_1".into(),
            aws: vigil_delivery::s3::AwsSettings::default(),
            smtp: None,
            run: true,
            tick: Duration::from_secs(1),
            max_object_lines: 1000,
        }
    }
}

/// What the S3 integration endpoints share with the delivery loop.
pub struct DeliveryContext {
    /// Writes to customers' buckets (validation uses it too).
    pub deliverer: Arc<vigil_delivery::s3::Deliverer>,
    /// `customerId` and `customerUuid` of this installation (from the
    /// store, the same on every node).
    pub customer: vigil_delivery::payload::Customer,
    /// The POD of external ids.
    pub pod: String,
    /// Wakes the delivery loop (an integration was validated or changed).
    pub wake: Arc<tokio::sync::Notify>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_password: None,
            login_limit: 10,
            login_window: Duration::from_secs(60),
            secret_key: None,
            executor: None,
            worker: worker::WorkerConfig::default(),
            min_polling_minutes: connectors::MIN_POLLING_MINUTES,
            exception_sweep: Duration::from_secs(5),
            delivery: DeliverySettings::default(),
        }
    }
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {reason} (is another server using it? choose another with --listen)")]
    Listen { addr: SocketAddr, reason: String },
    #[error("cannot prepare the store for the API: {0}")]
    Store(#[from] vigil_store::StoreError),
    #[error("the JWT signing key in the store is not 32 bytes of hex; delete the `jwt_signing_key` setting to get a new one")]
    SigningKey,
    #[error("cannot load the controls catalogue: {0}")]
    Catalog(String),
    #[error("the server stopped with an error: {0}")]
    Serve(String),
}

/// What every handler shares.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub signer: jwt::Signer,
    pub logins: RateLimiter,
    pub metrics: Metrics,
    /// Seals and opens connector secrets.
    pub secret_key: Option<secrets::SecretKey>,
    /// The shortest polling interval accepted, in minutes.
    pub min_polling_minutes: u32,
    /// Wakes this node's worker (a run was queued here).
    pub worker_wake: tokio::sync::Notify,
    /// S3 delivery.
    pub delivery: DeliveryContext,
}

/// A bound server, ready to [`Server::serve`].
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
    addr: SocketAddr,
    /// What the first start did about the `admin` account.
    pub bootstrap: AdminBootstrap,
    /// This node's worker of connector runs, started by [`Server::serve`].
    worker: Option<(worker::Worker, Arc<AppState>)>,
    store: Arc<dyn Store>,
    exception_sweep: Duration,
    /// The delivery loop, when this node runs it.
    delivery: Option<(
        vigil_delivery::worker::DeliveryConfig,
        Option<vigil_delivery::smtp::Mailer>,
    )>,
    delivery_state: Arc<AppState>,
}

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Vigil API", description = "The Vigil REST API. Every error has the shape of `ApiError`."),
    paths(
        health, ready, metrics, auth::login, auth::me, openapi_json,
        users::permissions, users::list_roles, users::get_role, users::create_role,
        users::update_role, users::delete_role, users::list_users, users::get_user,
        users::create_user, users::update_user, users::delete_user, users::audit_log,
        iac::upload, iac::upload_qualys, iac::result, iac::result_qualys, iac::list,
        iac::list_qualys,
        connectors::list_connectors, connectors::get_connector, connectors::create_connector,
        connectors::update_connector, connectors::delete_connector, connectors::run_connector,
        connectors::list_runs, connectors::get_run, qualys::summary,
        exceptions::list, exceptions::get_one, exceptions::create, exceptions::update,
        exceptions::delete, exceptions::copy, exceptions::history,
        controls::copy_control, controls::create_control, controls::update_control,
        controls::delete_control, controls::list_controls, controls::set_criticality,
        controls::create_policy, controls::update_policy, controls::delete_policy,
        controls::list_policies, controls::evaluate,
        data::resources, data::resource, data::controls, data::control, data::policies,
        data::policy, data::evaluations, data::counts, datalists::download,
        saved_searches::create, saved_searches::list, saved_searches::get,
        saved_searches::delete, saved_searches::share, saved_searches::unshare,
        integrations::vm_register, integrations::vm_validate, integrations::vm_update,
        integrations::vm_list, integrations::vm_get, integrations::vm_delete,
        integrations::pc_register, integrations::pc_validate, integrations::pc_update,
        integrations::pc_list, integrations::pc_get, integrations::pc_delete,
        integrations::ocsf_register, integrations::ocsf_validate, integrations::ocsf_update,
        integrations::ocsf_list, integrations::ocsf_get, integrations::ocsf_delete,
        integrations::cips_add_policies, integrations::cips_delete_policies,
        integrations::cips_delete_policies_at_config, integrations::cips_create,
        integrations::cips_update, integrations::cips_get,
    ),
    components(schemas(ApiError, auth::Me, auth::LoginForm, Status)),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "auth", description = "Tokens and the caller's identity"),
        (name = "users", description = "Users, roles, permissions and the audit log"),
        (name = "iac", description = "IaC scans: upload files or archives, results, the scan list (also at Qualys' paths)"),
        (name = "connectors", description = "AWS and Qualys connectors, run now, scheduled runs and their history"),
        (name = "exceptions", description = "Exceptions: FAIL reads PASSE while one is active"),
        (name = "controls", description = "Copies, user-defined controls, criticality, custom policies, re-evaluation"),
        (name = "data", description = "Resources, controls, policies, evaluations, counts and datalists"),
        (name = "saved searches", description = "Named queries, private or shared"),
        (name = "s3 integrations", description = "Seed 000's AWS S3 delivery: VM, PC and OCSF integrations, CIPS policies and filter (see docs/s3-delivery.md)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A token from POST /auth, valid 4 hours"))
                    .build(),
            ),
        );
    }
}

/// The body of `/health` and `/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    #[schema(example = "ok")]
    pub status: String,
}

/// Answers 200 while the server is up.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The server is up", body = Status)))]
async fn health() -> Json<Status> {
    Json(Status {
        status: "ok".into(),
    })
}

/// Answers 200 when the store answers, else 503.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "The store answers", body = Status),
        (status = 503, description = "The store does not answer", body = ApiError),
    ))]
async fn ready(State(state): State<Arc<AppState>>) -> Result<Json<Status>, ApiError> {
    let answer = tokio::time::timeout(Duration::from_secs(5), state.store.schema_version()).await;
    match answer {
        Ok(Ok(_)) => Ok(Json(Status {
            status: "ready".into(),
        })),
        Ok(Err(e)) => {
            eprintln!("vigil serve: not ready: {e}");
            Err(not_ready())
        }
        Err(_) => {
            eprintln!("vigil serve: not ready: the store did not answer within 5 seconds");
            Err(not_ready())
        }
    }
}

fn not_ready() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        "the store does not answer; see the server's log",
    )
}

/// Request counts and latencies in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain")))]
async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// This document: OpenAPI 3.1, generated from the code.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

/// 404 for any other path; counted here because the metrics layer only
/// sees matched routes.
async fn not_found(State(state): State<Arc<AppState>>, method: axum::http::Method) -> ApiError {
    state
        .metrics
        .observe(method.as_str(), "unmatched", 404, Duration::ZERO);
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see /api/openapi.json",
    )
}

/// Counts every request by route pattern and status.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let response = next.run(request).await;
    state
        .metrics
        .observe(&method, &route, response.status().as_u16(), start.elapsed());
    response
}

/// The API's routes on `state`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/auth", post(auth::login))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/permissions", get(users::permissions))
        .route(
            "/api/v1/roles",
            get(users::list_roles).post(users::create_role),
        )
        .route(
            "/api/v1/roles/{name}",
            get(users::get_role)
                .put(users::update_role)
                .delete(users::delete_role),
        )
        .route(
            "/api/v1/users",
            get(users::list_users).post(users::create_user),
        )
        .route(
            "/api/v1/users/{username}",
            get(users::get_user)
                .patch(users::update_user)
                .delete(users::delete_user),
        )
        .route("/api/v1/audit", get(users::audit_log))
        .route(
            "/api/v1/connectors",
            get(connectors::list_connectors).post(connectors::create_connector),
        )
        .route(
            "/api/v1/connectors/{id}",
            get(connectors::get_connector)
                .put(connectors::update_connector)
                .delete(connectors::delete_connector),
        )
        .route(
            "/api/v1/connectors/{id}/run",
            post(connectors::run_connector),
        )
        .route("/api/v1/connectors/{id}/runs", get(connectors::list_runs))
        .route("/api/v1/runs/{run_id}", get(connectors::get_run))
        .route("/api/v1/connectors/{id}/qualys", get(qualys::summary))
        .route(
            "/api/v1/exceptions",
            get(exceptions::list).post(exceptions::create),
        )
        .route(
            "/api/v1/exceptions/{id}",
            get(exceptions::get_one)
                .put(exceptions::update)
                .delete(exceptions::delete),
        )
        .route("/api/v1/exceptions/{id}/copy", post(exceptions::copy))
        .route("/api/v1/exceptions/{id}/history", get(exceptions::history))
        .route(
            "/api/v1/controls/custom",
            get(controls::list_controls).post(controls::create_control),
        )
        .route(
            "/api/v1/controls/custom/{cid}",
            put(controls::update_control).delete(controls::delete_control),
        )
        .route("/api/v1/controls/{cid}/copy", post(controls::copy_control))
        .route(
            "/api/v1/controls/{cid}/criticality",
            put(controls::set_criticality),
        )
        .route(
            "/api/v1/policies/custom",
            get(controls::list_policies).post(controls::create_policy),
        )
        .route(
            "/api/v1/policies/custom/{name}",
            put(controls::update_policy).delete(controls::delete_policy),
        )
        .route("/api/v1/evaluate", post(controls::evaluate))
        .route("/api/v1/resources", get(data::resources))
        .route("/api/v1/resources/{id}", get(data::resource))
        .route("/api/v1/controls", get(data::controls))
        .route("/api/v1/controls/{cid}", get(data::control))
        .route("/api/v1/policies", get(data::policies))
        .route("/api/v1/policies/{name}", get(data::policy))
        .route("/api/v1/evaluations", get(data::evaluations))
        .route("/api/v1/evaluations/counts", get(data::counts))
        .route("/api/v1/datalists/{file}", get(datalists::download))
        .route(
            "/api/v1/saved-searches",
            get(saved_searches::list).post(saved_searches::create),
        )
        .route(
            "/api/v1/saved-searches/{id}",
            get(saved_searches::get).delete(saved_searches::delete),
        )
        .route(
            "/api/v1/saved-searches/{id}/share",
            axum::routing::put(saved_searches::share).delete(saved_searches::unshare),
        )
        .route("/api/openapi.json", get(openapi_json))
        .route("/swagger-ui", get(swagger::redirect))
        .route("/swagger-ui/", get(swagger::index))
        .route("/swagger-ui/{file}", get(swagger::file))
        .route("/cloudview-api/swagger-ui.html", get(swagger::index))
        .merge(iac::router())
        .merge(integrations::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// The JWT signing key shared through the store: 32 random bytes, created
/// by the first node that asks.
async fn signing_key(store: &dyn Store) -> Result<Vec<u8>, ServerError> {
    let hex = store
        .setting_or_insert(SIGNING_KEY, &auth::random_secret(32))
        .await?;
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    match bytes {
        Some(key) if key.len() == 32 => Ok(key),
        _ => Err(ServerError::SigningKey),
    }
}

impl Server {
    /// Prepares the store (first-start `admin`, signing key) and binds
    /// `config.listen`.
    pub async fn bind(store: Arc<dyn Store>, config: Config) -> Result<Server, ServerError> {
        let bootstrap =
            auth::bootstrap_admin(store.as_ref(), config.admin_password.as_deref()).await?;
        let key = signing_key(store.as_ref()).await?;
        // Search, exceptions and policies read the controls table: fill it
        // with the effective catalogue before the first request.
        controls::sync_effective_controls(store.as_ref())
            .await
            .map_err(|e| ServerError::Catalog(e.message))?;
        let customer = integrations::customer(store.as_ref()).await?;
        let delivery = DeliveryContext {
            deliverer: Arc::new(vigil_delivery::s3::Deliverer::new(
                config.delivery.aws.clone(),
            )),
            customer: customer.clone(),
            pod: config.delivery.pod.clone(),
            wake: Arc::new(tokio::sync::Notify::new()),
        };
        let state = Arc::new(AppState {
            store: store.clone(),
            signer: jwt::Signer::new(key),
            logins: RateLimiter::new(config.login_limit, config.login_window),
            metrics: Metrics::default(),
            secret_key: config.secret_key.clone(),
            min_polling_minutes: config.min_polling_minutes,
            worker_wake: tokio::sync::Notify::new(),
            delivery,
        });
        let worker = config
            .executor
            .clone()
            .map(|e| (worker::Worker::new(config.worker.clone(), e), state.clone()));
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| ServerError::Listen {
                addr: config.listen,
                reason: e.to_string(),
            })?;
        let addr = listener.local_addr().map_err(|e| ServerError::Listen {
            addr: config.listen,
            reason: e.to_string(),
        })?;
        let delivery = config.delivery.run.then(|| {
            let node = config
                .worker
                .node_id
                .clone()
                .unwrap_or_else(worker::default_node_id);
            let mut dc = vigil_delivery::worker::DeliveryConfig::new(&node, customer);
            dc.tick = config.delivery.tick;
            dc.max_object_lines = config.delivery.max_object_lines.max(1);
            (
                dc,
                config
                    .delivery
                    .smtp
                    .clone()
                    .map(vigil_delivery::smtp::Mailer::new),
            )
        });
        Ok(Server {
            listener,
            delivery,
            delivery_state: state.clone(),
            router: router(state),
            addr,
            bootstrap,
            worker,
            store,
            exception_sweep: config.exception_sweep,
        })
    }

    /// The address the server listens on (with the real port when 0 was
    /// asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then finishes the requests in
    /// flight. The exception sweep runs meanwhile.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let worker = self
            .worker
            .map(|(worker, state)| tokio::spawn(worker.run(state)));
        let delivery = self.delivery.map(|(config, mailer)| {
            let d = &self.delivery_state.delivery;
            tokio::spawn(vigil_delivery::worker::run(
                self.store.clone(),
                d.deliverer.clone(),
                mailer,
                config,
                d.wake.clone(),
            ))
        });
        let sweep = tokio::spawn(exceptions::sweep(self.store, self.exception_sweep));
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| ServerError::Serve(e.to_string()));
        // A run in flight is left to its lease: another node (or this one,
        // restarted) takes it over.
        if let Some(worker) = worker {
            worker.abort();
        }
        sweep.abort();
        if let Some(delivery) = delivery {
            delivery.abort();
        }
        served
    }

    /// The node id of this server's worker, if it runs connector runs.
    pub fn node_id(&self) -> Option<&str> {
        self.worker.as_ref().map(|(w, _)| w.node.as_str())
    }
}

/// Completes on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
