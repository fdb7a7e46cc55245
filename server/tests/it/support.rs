//! Starting a server for a test, and a small SCIM client.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use scim_core::model::{Kind, Revision, TargetRef, TenantId};
use scim_core::store::{Partition, Store};
use scim_core::Core;
use serde_json::Value;
use server::app::App;
use server::config::Config;

pub const SCIM: &str = "application/scim+json";

/// A server running on a free port with its own store, and a valid SCIM key.
pub struct TestServer {
    pub base: String,
    /// `http://127.0.0.1:PORT`, for paths outside the SCIM base (the admin API).
    pub origin: String,
    pub key: String,
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    /// The default tenant's partition of the store.
    pub part: Arc<dyn Partition>,
    pub core: Arc<Core>,
    running: Option<server::http::Running>,
    pub client: reqwest::Client,
}

/// The database URL of a running PostgreSQL cluster when the suite runs on PostgreSQL
/// (`IT_POSTGRES_URL`, set by `cargo xtask ci` for its second pass over a throwaway cluster);
/// `None` on sled.
pub fn postgres() -> Option<String> {
    std::env::var("IT_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// With PostgreSQL: a database of the folder's own (made when missing), as `key=value` settings.
fn database_for(dir: &Path) -> Option<String> {
    use std::hash::{Hash, Hasher};
    let base = postgres()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    let name = format!("it_{:016x}", h.finish());
    let config: tokio_postgres::Config = base.parse().expect("IT_POSTGRES_URL is a URL");
    let mut settings = Vec::new();
    for host in config.get_hosts() {
        match host {
            tokio_postgres::config::Host::Unix(p) => settings.push(format!("host={}", p.display())),
            tokio_postgres::config::Host::Tcp(h) => settings.push(format!("host={h}")),
        }
    }
    if let Some(port) = config.get_ports().first() {
        settings.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        settings.push(format!("user={user}"));
    }
    settings.push(format!("dbname={name}"));
    let create = format!("CREATE DATABASE {name}");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .expect("the test cluster answers");
            let driver = tokio::spawn(connection);
            match client.batch_execute(&create).await {
                Ok(()) => {}
                Err(e)
                    if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
                Err(e) => panic!("{create}: {e}"),
            }
            drop(client);
            let _ = driver.await;
        });
    })
    .join()
    .expect("database");
    Some(settings.join(" "))
}

/// The store settings of a test server: sled in `dir`, or (with `IT_POSTGRES_URL`) a
/// database of its own.
pub fn store_for(config: &mut Config) {
    if let Some(url) = database_for(&config.data_dir) {
        config.store = server::config::StoreKind::Postgres;
        config.database_url = Some(server::config::DatabaseUrl(url));
        config.database_pool_size = 4;
    }
}

pub fn config_for(dir: &Path) -> Config {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("address"),
        // Tests send many failing requests from one address on purpose; `ratelimit.rs` tests
        // the limit itself.
        rate_limit_unauthenticated: 0.0,
        // Every test goes through the front door (`http::front`), as clients of a server on a
        // public address do; on loopback it would be off by default.
        front_door: server::config::FrontDoor::On,
        ..Config::default()
    };
    store_for(&mut config);
    config
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with a configuration adjusted by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = config_for(dir.path());
        tweak(&mut config);
        Self::start_in(dir, config).await
    }

    /// Starts with every setting at its default but the data folder and the port (0): what a
    /// new user gets, rate limits and front door included.
    pub async fn start_on_defaults() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("address"),
            ..Config::default()
        };
        store_for(&mut config);
        Self::start_in(dir, config).await
    }

    async fn start_in(dir: tempfile::TempDir, config: Config) -> Self {
        let store = server::open(&config).await.expect("store").store;
        Self::launch(dir, config, store, None).await
    }

    /// Starts with the configured store wrapped by `wrap` (to inject faults).
    pub async fn start_wrapped(wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = config_for(dir.path());
        let store = wrap(server::open(&config).await.expect("store").store);
        Self::launch(dir, config, store, None).await
    }

    /// Starts a server on `store`, minting its first key unless `key` is the one it has.
    async fn launch(
        dir: tempfile::TempDir,
        config: Config,
        store: Arc<dyn Store>,
        key: Option<String>,
    ) -> Self {
        let base_path = config.base_path.clone();
        let core = server::core(&config, Arc::clone(&store)).expect("the core");
        core.ensure_default_tenant().await.expect("default tenant");
        let key = match key {
            Some(k) => k,
            None => core
                .ensure_scim_key(&TenantId::default_tenant())
                .await
                .expect("key")
                .expect("a first key"),
        };
        let part = store
            .partition(&TenantId::default_tenant())
            .expect("partition");
        let app = Arc::new(App::new(config, Arc::clone(&core)));
        let running = server::http::start(app).await.expect("server starts");
        TestServer {
            base: format!("http://{}{base_path}", running.addr),
            origin: format!("http://{}", running.addr),
            key,
            dir,
            store,
            part,
            core,
            running: Some(running),
            client: reqwest::Client::new(),
        }
    }

    /// Stops the server (flushing and closing the store) and starts a new one on the same folder.
    pub async fn restart(mut self) -> Self {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("clean stop");
        }
        let TestServer {
            dir,
            key,
            store,
            part,
            core,
            ..
        } = self;
        drop(core);
        drop(part);
        drop(store);
        let config = config_for(dir.path());
        let store = server::open(&config).await.expect("store reopens").store;
        Self::launch(dir, config, store, Some(key)).await
    }

    /// Stops the server and copies its data folder to `to` (the store closed and flushed).
    pub async fn stop_keeping_data(mut self, to: &Path) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("clean stop");
        }
        let TestServer {
            dir,
            store,
            part,
            core,
            ..
        } = self;
        drop(core);
        drop(part);
        drop(store);
        copy_dir(dir.path(), to);
    }

    /// Mints a key as the operator would: a SCIM key of `default`, or (when `admin`) an
    /// operator's admin key; returns its listing and the key.
    pub async fn mint(&self, label: &str, admin: bool) -> (scim_core::views::KeyInfo, String) {
        let (kind, tenant) = if admin {
            (scim_core::auth::KeyKind::Admin, None)
        } else {
            (
                scim_core::auth::KeyKind::Scim,
                Some(TenantId::default_tenant()),
            )
        };
        self.core
            .mint_key(label, kind, tenant.as_ref(), scim_core::auth::operator())
            .await
            .expect("key")
    }

    /// Creates a tenant as the operator would, with its first SCIM key and an admin key of its
    /// own.
    pub async fn tenant(&self, id: &str) -> TestTenant {
        let new = scim_core::NewTenant {
            id: TenantId::parse(id).expect("a tenant id"),
            name: format!("Tenant {id}"),
            default_role: None,
        };
        let (tenant, key_info, key) = self
            .core
            .create_tenant(new, scim_core::auth::operator())
            .await
            .expect("tenant");
        let (admin_info, admin) = self
            .core
            .mint_key(
                &format!("{id} admin"),
                scim_core::auth::KeyKind::Admin,
                Some(&tenant.id),
                scim_core::auth::operator(),
            )
            .await
            .expect("admin key");
        TestTenant {
            base: format!("{}/t/{id}{}", self.origin, &self.base[self.origin.len()..]),
            admin_api: format!("{}/admin/v1/tenants/{id}", self.origin),
            id: tenant.id,
            key,
            key_id: key_info.id,
            admin,
            admin_id: admin_info.id,
        }
    }

    /// A request to any URL with any key (`None`: no `Authorization` header); a body goes as
    /// `application/scim+json` to a SCIM URL, `application/json` elsewhere.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut r = self.client.request(method, url);
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        if let Some(b) = body {
            let media = if url.contains("/scim/v2") {
                SCIM
            } else {
                "application/json"
            };
            r = r.header("Content-Type", media).body(b.to_string());
        }
        Reply::from(r.send().await.expect("request")).await
    }

    /// A request to a tenant's SCIM or admin API with its own key of that API.
    pub async fn on(
        &self,
        t: &TestTenant,
        api: Api,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let (base, key) = match api {
            Api::Scim => (&t.base, &t.key),
            Api::Admin => (&t.admin_api, &t.admin),
        };
        self.call(method, &format!("{base}{path}"), Some(key), body)
            .await
    }

    /// Revokes a key as the operator would.
    pub async fn revoke(&self, id: &str) {
        self.core
            .revoke_key(id, None, scim_core::auth::operator())
            .await
            .expect("revoke");
    }

    /// A resource's revision entries, oldest first (as the store holds them).
    pub async fn revisions_of(&self, kind: Kind, id: &str) -> Vec<Revision> {
        let target = TargetRef {
            target_type: kind.into(),
            target_id: id.to_string(),
        };
        self.part.revisions_of(&target).await.expect("revisions")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.origin))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// A request with the test's key and the SCIM media type.
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("Authorization", format!("Bearer {}", self.key))
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut r = self.req(method, path);
        if let Some(b) = body {
            r = r.header("Content-Type", SCIM).body(b.to_string());
        }
        Reply::from(r.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, user_name: &str) -> String {
        let r = self.post("/Users", user_body(user_name)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.id()
    }

    /// Creates a group with members and returns its id.
    pub async fn group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members
            .iter()
            .map(|m| serde_json::json!({"value": m}))
            .collect();
        let r = self
            .post(
                "/Groups",
                serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name, "members": members}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.id()
    }
}

/// A tenant's two APIs.
#[derive(Debug, Clone, Copy)]
pub enum Api {
    Scim,
    Admin,
}

/// A tenant made by [`TestServer::tenant`].
pub struct TestTenant {
    pub id: TenantId,
    /// Its SCIM base URL, `http://127.0.0.1:PORT/t/{id}/scim/v2`.
    pub base: String,
    /// Its admin API, `http://127.0.0.1:PORT/admin/v1/tenants/{id}`.
    pub admin_api: String,
    /// Its first SCIM key.
    pub key: String,
    pub key_id: String,
    /// An admin key of its own (not the operator's).
    pub admin: String,
    pub admin_id: String,
}

/// The string `field` of each object in `array`.
pub fn each(array: &Value, field: &str) -> BTreeSet<String> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("an array: {array}"))
        .iter()
        .map(|o| o[field].as_str().expect(field).to_string())
        .collect()
}

/// A PatchOp request with these operations.
pub fn patch_op(ops: Value) -> Value {
    serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

pub fn user_body(user_name: &str) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
        "active": true
    })
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub async fn from(r: reqwest::Response) -> Self {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("an id").to_string()
    }

    /// Asserts a SCIM error with this status and scimType (or none).
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some(SCIM),
            "content type of a {status}"
        );
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            self.text
        );
        assert_eq!(
            self.body["status"],
            status.to_string(),
            "status is a string"
        );
        assert_eq!(
            self.body["scimType"].as_str(),
            scim_type,
            "scimType; body: {}",
            self.text
        );
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "a detail"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}
