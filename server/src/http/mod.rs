//! HTTP: Rocket routes, guards, responders and catchers, and starting and stopping the server.

pub mod admin;
mod bulk;
pub mod discovery;
pub mod error;
pub mod front;
pub mod guards;
pub mod ops;
pub mod respond;
pub mod routes;
pub mod tenancy;
pub mod tenants;
pub mod web;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rocket::config::{Ident, LogLevel, Shutdown as ShutdownConfig};
use rocket::data::{Limits, ToByteUnit};
use rocket::fairing::{AdHoc, Fairing, Info, Kind as FairingKind};
use rocket::http::Header;
use rocket::outcome::Outcome;
use rocket::request::FromRequest;
use rocket::{Data, Request, Response};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::App;
use guards::Scim;

/// The request id: the client's `X-Request-Id` when it is short and plain, otherwise a new UUID.
struct RequestId(String);
struct Started(Instant);

pub fn request_id(req: &Request<'_>) -> String {
    req.local_cache(|| RequestId(uuid::Uuid::new_v4().to_string()))
        .0
        .clone()
}

/// Gives every request an id (echoed as `X-Request-Id`) and logs one line per request: method,
/// path without the query string (filter values stay out of logs), status, duration.
struct RequestLog;

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info {
            name: "request id and log",
            kind: FairingKind::Request | FairingKind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let incoming = req
            .headers()
            .get_one("X-Request-Id")
            .filter(|v| !v.is_empty() && v.len() <= 64)
            .filter(|v| {
                v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            })
            .map(str::to_string);
        req.local_cache(|| RequestId(incoming.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())));
        req.local_cache(|| Started(Instant::now()));
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let id = request_id(req);
        let elapsed = req.local_cache(|| Started(Instant::now())).0.elapsed();
        res.set_header(Header::new("X-Request-Id", id.clone()));
        if let Some(app) = req.rocket().state::<Arc<App>>() {
            let route = req
                .route()
                .map_or_else(|| "unmatched".to_string(), |r| r.uri.to_string());
            app.metrics
                .observe(req.method().as_str(), &route, res.status().code, elapsed);
        }
        tracing::info!(
            request_id = %id,
            method = %req.method(),
            path = %req.uri().path(),
            status = res.status().code,
            ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    }
}

/// Any other path under the base, whatever the method: 401 without a valid key, then 404.
#[derive(Clone)]
struct Fallback;

#[rocket::async_trait]
impl rocket::route::Handler for Fallback {
    async fn handle<'r>(&self, req: &'r Request<'_>, _: Data<'r>) -> rocket::route::Outcome<'r> {
        let error: error::ApiError = match Scim::from_request(req).await {
            Outcome::Error((_, e)) => e,
            _ => scim_core::Error::NotFound("no resource at this path".into()).into(),
        };
        rocket::route::Outcome::from(req, error)
    }
}

fn fallback_routes() -> Vec<rocket::Route> {
    use rocket::http::Method;
    [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
    ]
    .into_iter()
    .map(|m| rocket::Route::ranked(50, m, "/<_..>", Fallback))
    .collect()
}

fn rocket_config(app: &App) -> rocket::Config {
    let c = &app.config;
    let body = c.max_body_bytes.bytes();
    // Behind the front door (`front.rs`), Rocket listens on a loopback port of its own.
    let (address, port) = match front_timeouts(app) {
        Some(_) => (std::net::Ipv4Addr::LOCALHOST.into(), 0),
        None => (c.listen.ip(), c.listen.port()),
    };
    rocket::Config {
        address,
        port,
        log_level: LogLevel::Off,
        cli_colors: false,
        ident: Ident::none(),
        // The client address is the peer's: a header naming it would let anyone pick their own
        // rate-limit bucket. Behind a proxy, every request shares the proxy's bucket.
        ip_header: None,
        limits: Limits::default()
            .limit("json", body)
            .limit("bytes", body)
            .limit("string", body),
        shutdown: ShutdownConfig {
            ctrlc: false,
            #[cfg(unix)]
            signals: Default::default(),
            grace: c.shutdown_grace_secs,
            mercy: 2,
            ..Default::default()
        },
        ..rocket::Config::default()
    }
}

/// The front door's timeouts, if connections come in through it.
fn front_timeouts(app: &App) -> Option<front::Timeouts> {
    use crate::config::FrontDoor;
    let c = &app.config;
    let on = match c.front_door {
        FrontDoor::On => true,
        FrontDoor::Off => false,
        FrontDoor::Auto => !c.listen.ip().is_loopback(),
    };
    // A timeout of 0 would close every connection at once: it means "no limit" instead.
    let secs =
        |s: u32| std::time::Duration::from_secs(if s == 0 { 30 * 365 * 86_400 } else { s.into() });
    on.then(|| front::Timeouts {
        header: secs(c.header_timeout_secs),
        idle: secs(c.idle_timeout_secs),
    })
}

/// The Rocket application, ready to ignite.
pub fn build(app: Arc<App>) -> rocket::Rocket<rocket::Build> {
    let base = app.config.base_path.clone();
    let base = if base.is_empty() {
        "/".to_string()
    } else {
        base
    };
    let sessions = web::Sessions::new(Arc::clone(app.core.store()));
    rocket::custom(rocket_config(&app))
        .manage(sessions)
        .manage(app)
        .manage(Arc::new(front::Clients::default()))
        .mount(base.as_str(), routes::routes())
        .mount(base.as_str(), discovery::routes())
        .mount(base.as_str(), fallback_routes())
        .mount(admin::BASE, admin::routes())
        .mount(admin::BASE, tenants::routes())
        .mount(web::BASE, web::routes())
        .mount("/", ops::routes())
        .register("/", rocket::catchers![respond::default_catcher])
        // The web page answers its errors in HTML; the JSON admin API below it keeps SCIM errors.
        .register(web::BASE, web::catchers())
        .register(admin::BASE, rocket::catchers![respond::default_catcher])
        .attach(tenancy::TenantPaths {
            scim_base: base.clone(),
        })
        .attach(RequestLog)
        .attach(web::SecurityHeaders)
        // Every way of stopping (signal, control socket, storage failure) passes through here.
        .attach(AdHoc::on_shutdown("readiness off", |rocket| {
            Box::pin(async move {
                if let Some(app) = rocket.state::<Arc<App>>() {
                    app.begin_shutdown();
                }
            })
        }))
}

/// A running server.
pub struct Running {
    /// The address it listens on (the real port when 0 was asked for).
    pub addr: SocketAddr,
    shutdown: rocket::Shutdown,
    task: JoinHandle<Result<(), String>>,
}

impl Running {
    /// A handle that stops the server when notified.
    pub fn shutdown_handle(&self) -> rocket::Shutdown {
        self.shutdown.clone()
    }

    /// Stops accepting, lets requests in flight finish, flushes the store, and returns.
    pub async fn stop(self) -> Result<(), String> {
        self.shutdown.clone().notify();
        self.wait().await
    }

    /// Waits until the server has stopped (after a shutdown notification) and the store is flushed.
    pub async fn wait(self) -> Result<(), String> {
        self.task
            .await
            .map_err(|e| format!("server task failed: {e}"))?
    }
}

/// Starts the server on `app.config.listen` (port 0 picks a free port) and returns once it
/// accepts connections.
pub async fn start(app: Arc<App>) -> Result<Running, String> {
    let rocket = build(Arc::clone(&app));
    launch(app, rocket).await
}

/// Starts a Rocket built by [`build`] (and perhaps extended, as tests do) for `app`.
pub async fn launch(
    app: Arc<App>,
    rocket: rocket::Rocket<rocket::Build>,
) -> Result<Running, String> {
    let (tx, rx) = oneshot::channel::<u16>();
    let tx = Mutex::new(Some(tx));
    let rocket = rocket.attach(AdHoc::on_liftoff("report port", move |r| {
        let port = r.config().port;
        Box::pin(async move {
            if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(port);
            }
        })
    }));
    // The front door binds the public address first, so that a taken port is reported at once.
    let front = match front_timeouts(&app) {
        Some(timeouts) => Some((
            tokio::net::TcpListener::bind(app.config.listen)
                .await
                .map_err(|e| {
                    format!("cannot start: cannot listen on {}: {e}", app.config.listen)
                })?,
            timeouts,
        )),
        None => None,
    };
    let ignited = rocket
        .ignite()
        .await
        .map_err(|e| format!("cannot start: {e}"))?;
    let shutdown = ignited.shutdown();
    let clients = ignited
        .state::<Arc<front::Clients>>()
        .cloned()
        .unwrap_or_default();
    let store = Arc::clone(app.core.store());
    let ip = app.config.listen.ip();
    drop(app);
    let task = tokio::spawn(async move {
        let launched = ignited
            .launch()
            .await
            .map(drop)
            .map_err(|e| format!("server failed: {e}"));
        let flushed = store
            .flush()
            .await
            .map_err(|e| format!("flush failed: {e}"));
        launched.and(flushed)
    });
    match rx.await {
        Ok(port) => {
            let addr = match front {
                Some((listener, timeouts)) => {
                    let addr = listener
                        .local_addr()
                        .map_err(|e| format!("cannot start: {e}"))?;
                    let backend = SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), port);
                    tokio::spawn(front::serve(
                        listener,
                        backend,
                        clients,
                        timeouts,
                        shutdown.clone(),
                    ));
                    addr
                }
                None => SocketAddr::new(ip, port),
            };
            Ok(Running {
                addr,
                shutdown,
                task,
            })
        }
        Err(_) => Err(task
            .await
            .map_err(|e| e.to_string())?
            .err()
            .unwrap_or_else(|| "the server stopped before it started".into())),
    }
}
