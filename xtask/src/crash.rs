//! `cargo xtask crash`: proves that no acknowledged write is lost. The server runs as a child
//! process on one data folder; clients create, patch and delete users concurrently while every
//! acknowledged write is recorded; the server is killed with SIGKILL at random moments (also
//! while it starts and recovers); after each restart every user is checked against the record,
//! the index against the records, and `scim-server check` against the whole store. The last
//! cycle stops the server with SIGTERM under load instead: it must exit 0 and lose nothing.
//!
//! The writes go to several tenants: `default` and the tenants created (with `scim-server
//! tenant create`, over the control socket) at the first start, each through its own base URL
//! and key; each create picks a tenant at random, so concurrent writes of different tenants
//! share the server's commit batches. After each restart every tenant is verified on its own,
//! and no tenant may see another's users: each user is looked up in another tenant (by
//! `userName` and by id) and must not be found there, and each tenant's user count must be
//! exactly the users it holds.
//!
//! The server gets the caller's settings (`SCIM_DURABILITY=periodic cargo xtask crash` must
//! fail), without rate limits; its log goes to `server.log` beside the data folder.
//!
//! With `--store postgres` the store is a database of a throwaway PostgreSQL cluster (durable
//! commits: `fsync` and `synchronous_commit` on): the server, a replica of the database's, is
//! killed at random moments under concurrent writes and started again on the same database, and
//! the same verification runs (`scim-server check` then reads the database directly). The
//! database itself is never killed.
//!
//! Webhooks too are delivered at least once across the kills ([`webhooks`]): a receiver in this
//! process has an endpoint on every tenant from the first start on, and after the last restart
//! every committed change's event must have arrived, signed, a duplicate with the same
//! `webhook-id` and body (but for the server's port in its location), each resource's in feed
//! order, and none for a change that was not committed.

mod webhooks;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::server::{Engine, Launch, Postgres, Server, Settings, Storage};
use crate::tenants;

/// What the clients know of one user.
#[derive(Debug, Clone, PartialEq)]
enum Known {
    Absent,
    Present { id: String, title: String },
}

/// A write that was sent but not acknowledged: it may or may not have happened.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    Create { title: String },
    Title(String),
    Delete,
}

#[derive(Debug, Clone)]
struct User {
    /// The index of its tenant in [`Tenants`].
    tenant: usize,
    known: Known,
    pending: Option<Pending>,
}

impl User {
    /// The states the server may hold: the acknowledged one, or that plus the pending write.
    fn allowed(&self) -> Vec<Known> {
        let mut out = vec![self.known.clone()];
        match (&self.pending, &self.known) {
            (Some(Pending::Create { title }), Known::Absent) => out.push(Known::Present {
                id: String::new(),
                title: title.clone(),
            }),
            (Some(Pending::Title(t)), Known::Present { id, .. }) => out.push(Known::Present {
                id: id.clone(),
                title: t.clone(),
            }),
            (Some(Pending::Delete), Known::Present { .. }) => out.push(Known::Absent),
            _ => {}
        }
        out
    }
}

type Model = Arc<Mutex<BTreeMap<String, User>>>;

/// Where a tenant's users are: its SCIM base path (`/scim/v2`, `/t/ID/scim/v2`: the port changes
/// at every start) and its key.
#[derive(Debug, Clone)]
struct Place {
    id: String,
    path: String,
    key: String,
}

/// The tenants written to, `default` first.
type Tenants = Arc<Vec<Place>>;

/// The tenants the test creates beside `default`.
const TENANTS: [&str; 2] = ["crash-a", "crash-b"];

impl Place {
    fn of(t: &tenants::Tenant) -> Result<Place, String> {
        let path = url::Url::parse(&t.base)
            .map_err(|e| format!("{}: {e}", t.base))?
            .path()
            .trim_end_matches('/')
            .to_string();
        Ok(Place {
            id: t.id.clone(),
            path,
            key: t.key.clone(),
        })
    }

    /// Its base URL on the server listening at `origin` (`http://127.0.0.1:PORT`).
    fn base(&self, origin: &str) -> String {
        format!("{origin}{}", self.path)
    }
}

/// Another tenant than `tenant`, chosen by `n` (`tenant` itself when there is only one).
fn other(tenant: usize, count: usize, n: usize) -> usize {
    if count < 2 {
        return tenant;
    }
    (tenant + 1 + n % (count - 1)) % count
}

/// A small deterministic random source (xorshift), seeded from the command line or the clock.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Every start of the test: on the data folder `dir/data` and `storage`, with the caller's
/// settings, no rate limits, and webhooks allowed to the receiver on 127.0.0.1 over `http`.
fn launch(bin: &Path, dir: &Path, storage: Storage) -> Launch {
    let mut launch = Launch::new(bin, dir, &dir.join("data"))
        .with_storage(storage)
        .with_env(&[
            ("SCIM_RATE_LIMIT_PER_KEY", "0"),
            ("SCIM_RATE_LIMIT_UNAUTHENTICATED", "0"),
            ("SCIM_WEBHOOK_ALLOW_PRIVATE", "true"),
        ]);
    launch.settings = Settings::Caller;
    launch
}

/// The arguments of `cargo xtask crash`.
pub struct Options {
    pub cycles: usize,
    pub clients: usize,
    pub seed: Option<u64>,
    pub store: Engine,
}

pub fn run(bin: &Path, options: &Options) -> Result<(), String> {
    let dir = tempfile::Builder::new()
        .prefix("scim-crash-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let storage = match options.store {
        Engine::Sled => Storage::Sled,
        Engine::Postgres => Postgres::start()?.database("crash")?,
    };
    let launch = launch(bin, dir.path(), storage);
    let seed = options.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1
    });
    println!(
        "crash test on {}: {} cycles, {} clients, seed {seed} (--seed {seed} replays it)",
        options.store.name(),
        options.cycles,
        options.clients
    );
    let mut rng = Rng(seed);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let receiver = runtime.block_on(webhooks::Receiver::start());
    let first = launch.start()?;
    let key = first
        .minted_key
        .clone()
        .ok_or("the first start minted no key")?;
    let mut places = vec![Place::of(&tenants::Tenant {
        id: "default".into(),
        base: first.base.clone(),
        key,
    })?];
    for id in TENANTS {
        let t = tenants::create_with_cli(&launch, &first.base, id, id)?;
        places.push(Place::of(&t)?);
    }
    println!(
        "writing to {} tenants: {}",
        places.len(),
        places
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // An endpoint for every event on each tenant, added with the operator's admin key minted at
    // the first start (it opens every tenant).
    let admin_key = first
        .minted_admin_key
        .clone()
        .ok_or("the first start minted no admin key")?;
    let http = client()?;
    let origin = tenants::origin(&first.base)?;
    for place in &places {
        runtime.block_on(receiver.subscribe(&http, &origin, &admin_key, &place.id))?;
    }
    let places: Tenants = Arc::new(places);
    let model: Model = Arc::default();
    let mut first = Some(first);
    let mut totals = (0usize, 0usize);
    for cycle in 1..=options.cycles {
        let last = cycle == options.cycles;
        let server = match first.take() {
            Some(s) => s,
            None => {
                // Sometimes, kill it again while it starts or recovers.
                if rng.below(3) == 0 {
                    let early = launch.spawn()?;
                    std::thread::sleep(Duration::from_millis(rng.below(40)));
                    early.kill();
                }
                launch.start()?
            }
        };
        let origin = tenants::origin(&server.base)?;
        let verified = runtime.block_on(verify(&origin, &places, &model))?;
        check_store(&launch)?;
        let window = Duration::from_millis(100 + rng.below(500));
        let (acked, uncertain) = runtime.block_on(load(
            &origin,
            &places,
            &model,
            options.clients,
            cycle,
            window,
            server,
            last,
        ))?;
        totals.0 += acked;
        totals.1 += uncertain;
        println!(
            "cycle {cycle}: verified {verified} users, then {acked} acknowledged writes, {uncertain} cut short by {} after {} ms",
            if last { "SIGTERM" } else { "SIGKILL" },
            window.as_millis()
        );
    }
    // A last start: everything acknowledged is there, and the store is consistent.
    let server = launch.start()?;
    let origin = tenants::origin(&server.base)?;
    let verified = runtime.block_on(verify(&origin, &places, &model))?;
    check_store(&launch)?;
    let delivered =
        runtime.block_on(receiver.settle(&http, &origin, &admin_key, Duration::from_secs(60)))?;
    server.kill();
    println!("{delivered}");
    println!(
        "crash test on {}: PASS: {} acknowledged writes over {} cycles to {} tenants, none lost, none seen by another tenant ({} users verified at the end; {} writes were cut short and resolved either way)",
        options.store.name(), totals.0, options.cycles, places.len(), verified, totals.1
    );
    Ok(())
}

/// Runs `scim-server check` on the store (through the running server's control socket with
/// sled; on the database with PostgreSQL).
fn check_store(launch: &Launch) -> Result<(), String> {
    let out = launch
        .command()?
        .arg("check")
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "scim-server check: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}

/// `GET {base}{path}` with `key`: the answer's status and JSON body (null when it has none).
async fn get(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    path: &str,
) -> Result<(u16, Value), String> {
    let r = http
        .get(format!("{base}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .map_err(|e| format!("GET {base}{path}: {e}"))?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// The users of the tenant at `base` whose `userName` is `name`.
async fn by_name(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    name: &str,
) -> Result<Value, String> {
    let (status, found) = get(
        http,
        base,
        key,
        &format!("/Users?filter=userName+eq+%22{name}%22"),
    )
    .await?;
    if status != 200 {
        return Err(format!("{name}: the filter answered {status}: {found}"));
    }
    Ok(found)
}

/// Checks every user against what was acknowledged (allowing pending writes either way), by
/// filter (the index) and by id (the record), in its own tenant, and resolves the pending writes
/// to what is there; checks that another tenant finds it neither by filter nor by id, and that
/// each tenant counts exactly its users.
async fn verify(origin: &str, places: &Tenants, model: &Model) -> Result<usize, String> {
    let http = client()?;
    let users: Vec<(String, User)> = model
        .lock()
        .map_err(|e| e.to_string())?
        .clone()
        .into_iter()
        .collect();
    for (n, (name, user)) in users.iter().enumerate() {
        let place = &places[user.tenant];
        let base = place.base(origin);
        let found = by_name(&http, &base, &place.key, name).await?;
        let truth = match found["totalResults"].as_u64() {
            Some(0) => Known::Absent,
            Some(1) => {
                let r = &found["Resources"][0];
                let id = r["id"].as_str().unwrap_or_default().to_string();
                let (status, _) = get(&http, &base, &place.key, &format!("/Users/{id}")).await?;
                if status != 200 {
                    return Err(format!(
                        "{name} (tenant {}): the index names {id}, which answers {status}",
                        place.id
                    ));
                }
                Known::Present {
                    id,
                    title: r["title"].as_str().unwrap_or_default().to_string(),
                }
            }
            _ => {
                return Err(format!(
                    "{name} (tenant {}): filter answered {found}",
                    place.id
                ))
            }
        };
        let ok = user
            .allowed()
            .iter()
            .any(|allowed| match (allowed, &truth) {
                (Known::Present { id: a, title: t }, Known::Present { id: b, title: u }) => {
                    t == u && (a.is_empty() || a == b)
                }
                (a, b) => a == b,
            });
        if !ok {
            return Err(format!(
                "{name} (tenant {}): acknowledged {:?} (pending {:?}), but the server holds {truth:?}: an acknowledged write was lost",
                place.id, user.known, user.pending
            ));
        }
        // Another tenant must not see it, by its userName or by its id.
        let stranger = &places[other(user.tenant, places.len(), n)];
        if stranger.id != place.id {
            let at = stranger.base(origin);
            let seen = by_name(&http, &at, &stranger.key, name).await?;
            if seen["totalResults"].as_u64() != Some(0) {
                return Err(format!(
                    "{name} of tenant {} is seen by tenant {}: {seen}",
                    place.id, stranger.id
                ));
            }
            if let Known::Present { id, .. } = &truth {
                let (status, body) =
                    get(&http, &at, &stranger.key, &format!("/Users/{id}")).await?;
                if status != 404 {
                    return Err(format!(
                        "{name} ({id}) of tenant {} answers {status} in tenant {}: {body}",
                        place.id, stranger.id
                    ));
                }
            }
        }
        if let Some(u) = model.lock().map_err(|e| e.to_string())?.get_mut(name) {
            u.known = truth;
            u.pending = None;
        }
    }
    // Each tenant holds exactly its own users: none of another's, none unaccounted for.
    let held: Vec<usize> = {
        let m = model.lock().map_err(|e| e.to_string())?;
        (0..places.len())
            .map(|t| {
                m.values()
                    .filter(|u| u.tenant == t && matches!(u.known, Known::Present { .. }))
                    .count()
            })
            .collect()
    };
    for (place, want) in places.iter().zip(held) {
        let (status, list) = get(&http, &place.base(origin), &place.key, "/Users?count=0").await?;
        if status != 200 || list["totalResults"].as_u64() != Some(want as u64) {
            return Err(format!(
                "tenant {} holds {want} users, but its list answers {status}: {list}",
                place.id
            ));
        }
    }
    Ok(users.len())
}

/// Drives the clients for `window`, then kills the server (SIGTERM in the last cycle) while they
/// still write. Returns (acknowledged, cut short).
#[allow(clippy::too_many_arguments)]
async fn load(
    origin: &str,
    places: &Tenants,
    model: &Model,
    clients: usize,
    cycle: usize,
    window: Duration,
    server: Server,
    graceful: bool,
) -> Result<(usize, usize), String> {
    let counts = Arc::new(Mutex::new((0usize, 0usize)));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (origin, places, model, counts) = (
            origin.to_string(),
            Arc::clone(places),
            Arc::clone(model),
            Arc::clone(&counts),
        );
        tasks.push(tokio::spawn(async move {
            let http = match client() {
                Ok(h) => h,
                Err(_) => return,
            };
            let mut rng = Rng(((cycle as u64) << 32) | ((c as u64 + 1) * 0x9E37_79B9));
            let mut n = 0u64;
            loop {
                n += 1;
                let mine: Vec<(String, User)> = match model.lock() {
                    Ok(m) => m.iter().filter(|(k, _)| k.starts_with(&format!("c{c}-"))).map(|(k, v)| (k.clone(), v.clone())).collect(),
                    Err(_) => return,
                };
                let present: Vec<&(String, User)> = mine.iter().filter(|(_, u)| matches!(u.known, Known::Present { .. })).collect();
                let choice = rng.below(10);
                let (name, tenant, pending, request) = if present.is_empty() || choice < 4 {
                    let name = format!("c{c}-{cycle}-{n}");
                    let title = format!("t{cycle}.{n}");
                    let tenant = rng.below(places.len() as u64) as usize;
                    let base = places[tenant].base(&origin);
                    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "title": title});
                    (name, tenant, Pending::Create { title }, http.post(format!("{base}/Users")).json(&body))
                } else {
                    let (name, user) = present[rng.below(present.len() as u64) as usize];
                    let Known::Present { id, .. } = &user.known else { continue };
                    let (tenant, base) = (user.tenant, places[user.tenant].base(&origin));
                    if choice < 8 {
                        let title = format!("t{cycle}.{n}");
                        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "replace", "path": "title", "value": title}]});
                        (name.clone(), tenant, Pending::Title(title), http.patch(format!("{base}/Users/{id}")).json(&body))
                    } else {
                        (name.clone(), tenant, Pending::Delete, http.delete(format!("{base}/Users/{id}")))
                    }
                };
                if let Ok(mut m) = model.lock() {
                    let entry = m.entry(name.clone()).or_insert(User { tenant, known: Known::Absent, pending: None });
                    entry.pending = Some(pending.clone());
                }
                let answer = request.bearer_auth(&places[tenant].key).header("Content-Type", "application/scim+json").send().await;
                let ok = match answer {
                    Ok(r) if r.status().is_success() => {
                        let body: Value = r.json().await.unwrap_or(Value::Null);
                        Some(body)
                    }
                    _ => None,
                };
                let Ok(mut m) = model.lock() else { return };
                let Some(user) = m.get_mut(&name) else { return };
                match ok {
                    Some(body) => {
                        user.known = match (&pending, &user.known) {
                            (Pending::Create { title }, _) => Known::Present {
                                id: body["id"].as_str().unwrap_or_default().to_string(),
                                title: title.clone(),
                            },
                            (Pending::Title(t), Known::Present { id, .. }) => Known::Present { id: id.clone(), title: t.clone() },
                            (Pending::Delete, _) => Known::Absent,
                            (_, known) => known.clone(),
                        };
                        user.pending = None;
                        if let Ok(mut k) = counts.lock() {
                            k.0 += 1;
                        }
                    }
                    None => {
                        // Cut short (the server is gone): it may or may not have happened.
                        if let Ok(mut k) = counts.lock() {
                            k.1 += 1;
                        }
                        return;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(window).await;
    if graceful {
        // The clients go on writing on the runtime's other worker meanwhile.
        tokio::task::block_in_place(|| server.stop(Duration::from_secs(30)))
            .map_err(|e| format!("under load: {e}"))?;
    } else {
        server.kill();
    }
    for t in tasks {
        let _ = t.await;
    }
    let k = *counts.lock().map_err(|e| e.to_string())?;
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_tenant_is_always_another_and_each_is_chosen() {
        for count in 2..5 {
            for t in 0..count {
                let chosen: std::collections::BTreeSet<usize> =
                    (0..10).map(|n| other(t, count, n)).collect();
                assert!(!chosen.contains(&t));
                assert_eq!(chosen.len(), count - 1, "{t} of {count}: {chosen:?}");
            }
        }
        assert_eq!(other(0, 1, 3), 0);
    }

    #[test]
    fn a_tenant_is_reached_at_its_path_on_every_start() {
        let p = Place::of(&tenants::Tenant {
            id: "crash-a".into(),
            base: "http://127.0.0.1:4000/t/crash-a/scim/v2".into(),
            key: "k".into(),
        })
        .expect("place");
        assert_eq!(p.path, "/t/crash-a/scim/v2");
        assert_eq!(
            p.base("http://127.0.0.1:5000"),
            "http://127.0.0.1:5000/t/crash-a/scim/v2"
        );
        let user = User {
            tenant: 1,
            known: Known::Absent,
            pending: Some(Pending::Create { title: "t".into() }),
        };
        assert_eq!(user.allowed().len(), 2);
    }
}
