//! The embedded storage engine: sled 0.34. It stores what the core decided (records with their
//! index keys, memberships, revision entries, keys, tenants) and keeps the seam's promises
//! ([`scim_core::store`]): one sled transaction per write (or per batch of concurrent writes),
//! durable before the commit returns, gap-free revision feeds, and the declared constraints.
//!
//! Each tenant's data is a partition, reached only through [`view::View`]s of its trees, so that
//! no read of one tenant can touch another's. `default` has trees of its own, with the names and
//! keys a store had before tenants (nothing to migrate); every other tenant's data is in one set
//! of trees that they share (`tenants/users` and so on), each key behind its tenant's prefix
//! (`acme\0…`), so that a tenant costs no tree: sled rewrites a list of every tree each time one
//! is made. A partition's trees:
//! - `users`, `groups`: id → [`Record`](scim_core::model::Record) (a binary header, then the
//!   document's JSON text: [`record`]; JSON in stores of earlier releases)
//! - `index`: tag, 0xB0, two bytes of a salted hash of the text → the entries of that bucket,
//!   each a text and an id ([`buckets`]; one key an entry in stores of earlier releases,
//!   moved into buckets at open)
//! - `group_members`: group id, 0, member id → [`Member`](scim_core::model::Member) (a few
//!   bytes: kind, id, display; JSON in stores of earlier releases: [`record`]), one key per
//!   membership
//! - `member_groups`: member id → JSON array of group ids (small: a user is in few groups)
//! - `revisions`: sequence number (big-endian) → [`Revision`](scim_core::model::Revision)
//!   (JSON): the tenant's feed
//! - `revisions_by_target`: type, ':', id, 0, sequence number → ()
//!
//! Other trees: `api_keys` (key id → [`ApiKey`], with its tenant), `tenants` (id → [`Tenant`]),
//! `webhooks` (tenant, 0, endpoint id → [`WebhookEndpoint`](scim_core::model::WebhookEndpoint)),
//! `deliveries` (keyed as `webhooks` → [`Delivery`](scim_core::delivery::Delivery)),
//! `tenants/deleting` (the tenants whose data a deletion is removing), and the operator's feed
//! (`op/revisions`, `op/revisions_by_target`). Sequence numbers are one sequence for every feed.
//!
//! Modules: [`write`] (what a write does inside a transaction), [`read`] (the `Store` and
//! `Partition` implementations), [`tenants`] (creating and deleting tenants, and moving a store
//! whose tenants had trees of their own into the shared trees), [`whole`] (export, import, the
//! engine's own checks), [`batch`] (concurrent commits share a transaction), [`census`] (list
//! counts and page positions), [`members`] (large groups' members kept in memory, moved by each
//! committed write), [`view`] (a tree, or one tenant's keys in it), [`keys`] (key
//! layouts), [`record`] (a record's stored form), [`buckets`] (the index's stored form).

mod batch;
mod buckets;
mod census;
mod keys;
mod members;
mod read;
mod record;
mod tenants;
mod view;
mod whole;
mod write;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use scim_core::model::{ApiKey, Kind, Tenant, TenantId};
use scim_core::store::StoreError;
use sled::Tree;

use batch::Committer;
use buckets::{IndexTree, Salt};
use census::Census;
use view::{Trees, View};

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct SledOptions {
    /// sled's page cache, in bytes.
    pub cache_capacity: u64,
    /// Background flush period; `None` disables it.
    pub flush_every_ms: Option<u64>,
    /// Whether a commit returns only once it is flushed (`per-request` durability). Without it, a
    /// crash may lose what the background flush had not written yet.
    pub durable: bool,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            cache_capacity: 48 * 1024 * 1024,
            flush_every_ms: Some(500),
            durable: true,
        }
    }
}

/// The sled engine. Cheap to clone: every clone is the same store.
#[derive(Clone)]
pub struct SledStore(Arc<Engine>);

impl std::ops::Deref for SledStore {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.0
    }
}

pub struct Engine {
    db: sled::Db,
    api_keys: Tree,
    tenants: Tree,
    /// Every tenant's webhook endpoints, each key behind its tenant's prefix.
    webhooks: Tree,
    /// Where each endpoint's deliveries stand, keyed as `webhooks`.
    deliveries: Tree,
    /// The trees every tenant but `default` keeps its data in.
    shared: Trees,
    /// Tenants whose deletion has not removed all their data yet (id → nothing).
    deleting: Tree,
    /// The operator's feed.
    operator: Feed,
    /// The salt of the index buckets' hash ([`buckets`]).
    salt: Salt,
    /// The partitions opened so far.
    partitions: RwLock<HashMap<TenantId, Arc<Part>>>,
    /// The members every partition keeps in memory ([`members`]), counted together.
    kept_budget: Arc<members::Budget>,
    durable: bool,
    /// The sequence numbers handed to revisions, and those whose transaction has not finished
    /// yet. Feeds are read only below the smallest of these, so that an entry that commits late
    /// is never skipped by a reader that asked for "everything after N".
    sequence: Arc<Mutex<Sequence>>,
    /// Writes hold it shared; an export or a tenant's deletion holds it alone.
    barrier: RwLock<()>,
    /// Set by the first write that fails for a storage reason (disk full, read-only, I/O): sled
    /// does not recover from it in this process, so the server stops serving and exits.
    failed: Mutex<Option<String>>,
    /// The keys, decoded and by digest, as every request needs them; `keys_generation` moves
    /// with each key write, so that a copy read before a write is never kept after it
    /// (revocation is immediate).
    keys_cache: Mutex<Option<(u64, Arc<KeySet>)>>,
    keys_generation: std::sync::atomic::AtomicU64,
    /// The tenants, decoded, for the same reason; emptied by every tenant write.
    tenants_cache: RwLock<Option<Arc<HashMap<TenantId, Tenant>>>>,
    /// sled's log file, synced with `fdatasync` after each flush (see [`Engine::flush_now`]).
    log_file: std::fs::File,
    /// sled's folder of large values (over about 128 KiB, such as the revision of a group created
    /// with thousands of members), which sled writes without syncing them, and the blob files
    /// already synced.
    blobs: (std::path::PathBuf, Mutex<HashSet<std::ffi::OsString>>),
    /// The commit thread: concurrent commits share one transaction per partition, and one
    /// flush. Set once the engine is shared (the thread holds it weakly).
    committer: std::sync::OnceLock<Committer<write::Job, Result<u64, StoreError>>>,
    /// The admin page's sessions, by digest: in memory (one process serves a sled store; a
    /// restart signs everyone out).
    sessions: Mutex<HashMap<String, scim_core::model::WebSession>>,
}

/// The most writes one batch holds.
const MAX_BATCH: usize = 64;

/// A feed of revision entries: by sequence number, and by the resources each is about.
#[derive(Clone)]
pub(crate) struct Feed {
    revisions: View,
    by_target: View,
    /// How many entries long histories hold below a settled sequence number
    /// ([`SledStore::settled`]), so that a history page walks only the entries after it.
    counted: Arc<Mutex<Counted>>,
}

/// Counts of long histories: by history key prefix, how many entries lie below a settled
/// sequence number, and that number. `generation` moves when entries are written other than
/// by appending (an import), which forgets every count.
#[derive(Default)]
struct Counted {
    generation: u64,
    long: HashMap<Vec<u8>, (usize, u64)>,
}

impl Feed {
    fn new(revisions: View, by_target: View) -> Self {
        Feed {
            revisions,
            by_target,
            counted: Arc::default(),
        }
    }
}

/// Every key, and where each digest's key is among them.
pub(crate) struct KeySet {
    all: Vec<ApiKey>,
    by_digest: HashMap<String, usize>,
}

/// One tenant's trees, or its keys in the shared trees.
pub struct Part {
    tenant: TenantId,
    users: View,
    groups: View,
    index: IndexTree,
    group_members: View,
    member_groups: View,
    feed: Feed,
    /// Record counts and page cursors, so that a list page reads only its own records.
    census: Census,
    /// Large groups' members, as committed, so that a read of one is not a walk.
    kept: members::Members,
    /// Set when the tenant is deleted, before its data is removed: a request that began before
    /// holds this partition still, and from then on gets [`StoreError::Gone`] (its writes would
    /// otherwise reach a tenant made again with the same id).
    gone: AtomicBool,
}

impl Part {
    /// This partition, unless its tenant was deleted.
    fn live(self: &Arc<Self>) -> Result<&Arc<Self>, StoreError> {
        if self.gone.load(Ordering::SeqCst) {
            Err(StoreError::Gone)
        } else {
            Ok(self)
        }
    }
}

/// The prefix of the shared trees' names (`tenants/users`, …).
const SHARED: &str = "tenants/";

impl Part {
    /// A tenant's views of `trees`: every key behind `prefix` (none for `default`).
    fn new(
        tenant: TenantId,
        trees: &Trees,
        prefix: &[u8],
        salt: Salt,
        budget: Arc<members::Budget>,
    ) -> Self {
        let view = |tree: &Tree| View::prefixed(tree.clone(), prefix.to_vec());
        Part {
            tenant,
            users: view(&trees.users),
            groups: view(&trees.groups),
            index: IndexTree {
                view: view(&trees.index),
                salt,
            },
            group_members: view(&trees.group_members),
            member_groups: view(&trees.member_groups),
            feed: Feed::new(view(&trees.revisions), view(&trees.by_target)),
            census: Census::default(),
            kept: members::Members::new(budget),
            gone: AtomicBool::new(false),
        }
    }

    fn records(&self, kind: Kind) -> &View {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }
}

/// A tenant's partition, as the core sees it.
#[derive(Clone)]
pub struct SledPartition {
    part: Arc<Part>,
    store: SledStore,
}

/// The revisions' sequence numbers: the largest handed out, and those whose transaction has
/// not finished yet. A number is handed out and marked in flight under one lock, so that no
/// reader sees it handed out and not in flight.
#[derive(Default)]
struct Sequence {
    handed: u64,
    in_flight: BTreeSet<u64>,
}

/// A sequence number reserved for a revision; released when its transaction is over.
struct Reserved {
    seq: u64,
    sequence: Arc<Mutex<Sequence>>,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if let Ok(mut s) = self.sequence.lock() {
            s.in_flight.remove(&self.seq);
        }
    }
}

/// Why a data folder could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the data folder {0} is in use by another process (is scim-server already running?)")]
    Locked(String),
    #[error("the data folder {path} is corrupt or unreadable: {reason}. Restore it from a backup; the server will not start on it")]
    Corrupt { path: String, reason: String },
    #[error("cannot open the data folder {path}: {reason}")]
    Io { path: String, reason: String },
}

impl OpenError {
    pub fn is_locked(&self) -> bool {
        matches!(self, OpenError::Locked(_))
    }
}

const MARKER: &[u8] = b"__scim_server_store__";
/// The salt of the index buckets' hash ([`buckets`]), in sled's default tree.
const SALT: &[u8] = b"__scim_index_salt__";
/// Set once every index entry is in its bucket ([`SledStore::index_in_buckets`]).
const IN_BUCKETS: &[u8] = b"__scim_index_in_buckets__";

impl SledStore {
    /// Opens (or creates) the store in `path`. A folder that holds files but no store of ours, a
    /// corrupt store, or one locked by another process is an error: never a silently empty store.
    pub fn open(path: &Path, options: &SledOptions) -> Result<Self, OpenError> {
        let shown = path.display().to_string();
        let existed = path.join("db").exists() || path.join("conf").exists();
        if !existed && path.is_dir() {
            let foreign = std::fs::read_dir(path)
                .map_err(|e| OpenError::Io {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?
                .filter_map(|e| e.ok())
                .any(|e| e.file_name() != "control.sock");
            if foreign {
                return Err(OpenError::Corrupt {
                    path: shown,
                    reason: "it holds files but no store (missing 'db' and 'conf')".into(),
                });
            }
        }
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(options.cache_capacity)
            .flush_every_ms(options.flush_every_ms)
            .open()
            .map_err(|e| classify_open_error(&shown, e))?;
        let tree = |name: &str| {
            db.open_tree(name)
                .map_err(|e| classify_open_error(&shown, e))
        };
        // sled makes its writes stable with `sync_file_range`, which writes the data pages but not
        // the file's size or block allocation: an append that the file system's journal has not
        // committed yet is lost if the file system aborts (a disk error turning ext4 read-only) or
        // the power fails, even though sled called it flushed. `fdatasync` on the same file after
        // each flush commits them. The folder is synced once, so that the files' names are stable.
        let io = |e: std::io::Error| OpenError::Io {
            path: shown.clone(),
            reason: e.to_string(),
        };
        let log_file = std::fs::File::open(path.join("db")).map_err(io)?;
        // sled writes its `conf` at open without syncing it (a disk error left it empty).
        if let Ok(conf) = std::fs::File::open(path.join("conf")) {
            conf.sync_all().map_err(io)?;
        }
        for dir in [path.to_path_buf(), path.join("blobs")] {
            if dir.is_dir() {
                std::fs::File::open(&dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io)?;
            }
        }
        // Blobs that exist at open were recovered from disk: nothing of theirs is pending.
        let known_blobs: HashSet<std::ffi::OsString> = std::fs::read_dir(path.join("blobs"))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.file_name()))
                    .collect()
            })
            .unwrap_or_default();
        // The index buckets' salt: the store's own, or a new one for a store that has none yet
        // (written below, once the store is known to be ours).
        let salt = match db.get(SALT).map_err(|e| classify_open_error(&shown, e))? {
            Some(bytes) => Salt::from_stored(&bytes).ok_or_else(|| OpenError::Corrupt {
                path: shown.clone(),
                reason: "its index salt is not 16 bytes".into(),
            })?,
            None => Salt::random().map_err(|reason| OpenError::Io {
                path: shown.clone(),
                reason,
            })?,
        };
        let engine = Engine {
            api_keys: tree("api_keys")?,
            tenants: tree("tenants")?,
            webhooks: tree("webhooks")?,
            deliveries: tree("deliveries")?,
            shared: Trees::open(&db, SHARED).map_err(|e| classify_open_error(&shown, e))?,
            deleting: tree(&format!("{SHARED}deleting"))?,
            operator: Feed::new(
                View::whole(tree("op/revisions")?),
                View::whole(tree("op/revisions_by_target")?),
            ),
            salt,
            partitions: RwLock::default(),
            kept_budget: Arc::default(),
            durable: options.durable,
            sequence: Arc::default(),
            barrier: RwLock::default(),
            failed: Mutex::default(),
            keys_cache: Mutex::default(),
            keys_generation: Default::default(),
            tenants_cache: RwLock::default(),
            log_file,
            blobs: (path.join("blobs"), Mutex::new(known_blobs)),
            committer: std::sync::OnceLock::new(),
            sessions: Mutex::default(),
            db,
        };
        let store = SledStore(Arc::new(engine));
        let engine = Arc::downgrade(&store.0);
        let committer = Committer::start(
            "scim-sled-commit",
            MAX_BATCH,
            move |jobs| match engine.upgrade() {
                // The engine is held only for the batch: dropped here, before any writer hears
                // back, so that a writer that drops the store next finds it closed.
                Some(engine) => SledStore(engine).commit_jobs(jobs),
                None => jobs.iter().map(|_| Err(StoreError::Gone)).collect(),
            },
            || {
                Err(StoreError::Io(
                    "the commit's batch ended without an answer".into(),
                ))
            },
        )
        .map_err(|e| OpenError::Io {
            path: shown.clone(),
            reason: format!("cannot start the commit thread: {e}"),
        })?;
        let _ = store.committer.set(committer);
        let marker = store
            .db
            .get(MARKER)
            .map_err(|e| classify_open_error(&shown, e))?;
        match (existed, marker) {
            (_, Some(_)) => {}
            (false, None) => {
                store
                    .db
                    .insert(MARKER, b"1".as_slice())
                    .map_err(|e| classify_open_error(&shown, e))?;
                store
                    .db
                    .flush()
                    .map_err(|e| classify_open_error(&shown, e))?;
            }
            (true, None) => {
                return Err(OpenError::Corrupt {
                    path: shown,
                    reason: "the store opened empty although its files exist".into(),
                })
            }
        }
        // A store whose tenants had trees of their own moves them into the shared trees, once; a
        // deletion cut short is finished; an index of an earlier release moves into buckets.
        store
            .move_into_shared_trees()
            .and_then(|()| store.finish_deletions())
            .and_then(|()| store.index_in_buckets())
            .map_err(|e| OpenError::Io {
                path: shown,
                reason: e.to_string(),
            })?;
        Ok(store)
    }

    /// Moves the index entries of an earlier release (one key each) into buckets, once: the salt
    /// is stored and flushed first, and the store is marked done last, so that a move cut short
    /// is taken up at the next open with the same salt ([`buckets::move_into_buckets`]).
    fn index_in_buckets(&self) -> Result<(), StoreError> {
        if self.db.get(IN_BUCKETS).map_err(storage)?.is_some() {
            return Ok(());
        }
        self.db.insert(SALT, self.salt.bytes()).map_err(storage)?;
        self.db.flush().map_err(storage)?;
        let has_own_index = self
            .db
            .tree_names()
            .iter()
            .any(|name| name.as_ref() == b"index");
        let own = if has_own_index {
            Some(self.db.open_tree("index").map_err(storage)?)
        } else {
            None
        };
        let trees: Vec<(&Tree, bool)> = own
            .iter()
            .map(|t| (t, false))
            .chain([(&self.shared.index, true)])
            .filter(|(t, _)| !t.is_empty())
            .collect();
        if !trees.is_empty() {
            // About 80 s for 1,000,000 users on one core (docs/performance.md): say why.
            tracing::info!("moving the index of an earlier release into buckets (once)");
        }
        let started = std::time::Instant::now();
        let mut moved = 0;
        for (tree, shared) in trees {
            moved += buckets::move_into_buckets(tree, shared, self.salt)?;
        }
        if moved > 0 {
            tracing::info!(
                entries = moved,
                seconds = started.elapsed().as_secs_f64(),
                "moved the index into buckets"
            );
        }
        self.db
            .insert(IN_BUCKETS, b"1".as_slice())
            .map_err(storage)?;
        self.db.flush().map_err(storage)?;
        Ok(())
    }

    pub fn was_recovered(&self) -> bool {
        self.db.was_recovered()
    }

    /// A tenant's partition, opened on first use.
    pub fn part(&self, tenant: &TenantId) -> Result<Arc<Part>, StoreError> {
        let poisoned = || StoreError::Io("partition table poisoned".into());
        if let Some(p) = self.partitions.read().map_err(|_| poisoned())?.get(tenant) {
            return Ok(Arc::clone(p));
        }
        let mut map = self.partitions.write().map_err(|_| poisoned())?;
        if let Some(p) = map.get(tenant) {
            return Ok(Arc::clone(p));
        }
        // A tenant deleted since the request found it: no new partition for it (a tenant made
        // again with its id would find what this request wrote). Deletion removes the tenant
        // before it takes the partition out of this table, both under this table's lock.
        let part = if tenant.is_default() {
            // `default`'s own trees, opened (made, in a new store) on first use.
            let trees = Trees::open(&self.db, "").map_err(storage)?;
            Part::new(
                tenant.clone(),
                &trees,
                &[],
                self.salt,
                Arc::clone(&self.kept_budget),
            )
        } else if self
            .tenants
            .contains_key(tenant.as_str())
            .map_err(storage)?
        {
            let prefix = view::tenant_prefix(tenant.as_str());
            Part::new(
                tenant.clone(),
                &self.shared,
                &prefix,
                self.salt,
                Arc::clone(&self.kept_budget),
            )
        } else {
            return Err(StoreError::Gone);
        };
        let part = Arc::new(part);
        map.insert(tenant.clone(), Arc::clone(&part));
        Ok(part)
    }

    /// The partition handle of a tenant.
    pub fn partition_of(&self, tenant: &TenantId) -> Result<SledPartition, StoreError> {
        Ok(SledPartition {
            part: self.part(tenant)?,
            store: self.clone(),
        })
    }

    /// Runs storage work on the blocking pool: it may wait on locks and on the disk.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(SledStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(store))
            .await
            .map_err(|e| StoreError::Io(format!("storage worker failed: {e}")))?
    }

    /// Forgets the cached tenants after a tenant write.
    fn tenants_changed(&self) {
        if let Ok(mut cache) = self.tenants_cache.write() {
            *cache = None;
        }
    }

    /// Forgets the cached keys after a key write.
    fn keys_changed(&self) {
        self.keys_generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut cache) = self.keys_cache.lock() {
            *cache = None;
        }
    }

    /// Records a storage failure of a write (the first one wins) and passes the error on. Only a
    /// failure of the storage itself stops writes; an entry that does not decode does not.
    fn note_failure(&self, e: StoreError) -> StoreError {
        if let StoreError::Io(reason) = &e {
            if let Ok(mut failed) = self.failed.lock() {
                failed.get_or_insert_with(|| reason.clone());
            }
        }
        e
    }

    /// Held by every write, shared: an export waits for writes in progress and holds new ones.
    fn writing(&self) -> Result<RwLockReadGuard<'_, ()>, StoreError> {
        self.barrier
            .read()
            .map_err(|_| StoreError::Io("write barrier poisoned".into()))
    }

    /// Held by an export or a tenant's deletion: no write is in progress, and new ones wait.
    fn alone(&self) -> Result<std::sync::RwLockWriteGuard<'_, ()>, StoreError> {
        self.barrier
            .write()
            .map_err(|_| StoreError::Io("write barrier poisoned".into()))
    }

    /// Reserves the next revision sequence number (monotonic, assigned before the transaction).
    fn reserve(&self) -> Result<Reserved, StoreError> {
        let mut sequence = self.sequence()?;
        let seq = self.db.generate_id().map_err(storage)? + 1;
        sequence.handed = sequence.handed.max(seq);
        sequence.in_flight.insert(seq);
        Ok(Reserved {
            seq,
            sequence: Arc::clone(&self.sequence),
        })
    }

    fn sequence(&self) -> Result<std::sync::MutexGuard<'_, Sequence>, StoreError> {
        self.sequence
            .lock()
            .map_err(|_| StoreError::Io("revision bookkeeping poisoned".into()))
    }

    /// The smallest sequence number still in flight: the feed is read only below it.
    fn horizon(&self) -> Result<u64, StoreError> {
        Ok(self
            .sequence()?
            .in_flight
            .first()
            .copied()
            .unwrap_or(u64::MAX))
    }

    /// A sequence number below which every entry has committed or never will, and at or above
    /// which every entry to come will be: the smallest in flight, else the next to be handed.
    fn settled(&self) -> Result<u64, StoreError> {
        let mut s = self.sequence()?;
        if s.handed == 0 {
            // None handed out since the store opened: the next one is above every entry.
            s.handed = self.db.generate_id().map_err(storage)?;
        }
        Ok(s.in_flight
            .first()
            .copied()
            .unwrap_or(s.handed.saturating_add(1)))
    }

    /// Makes every committed change durable: large values first (the log entries that point at
    /// them must not be durable without them), then sled's flush, then `fdatasync` on its log.
    fn flush_now(&self) -> Result<(), StoreError> {
        self.sync_new_blobs()
            .map_err(|e| self.note_failure(storage(e)))?;
        self.db
            .flush()
            .map(|_| ())
            .map_err(|e| self.note_failure(storage(e)))?;
        self.log_file
            .sync_data()
            .map_err(|e| self.note_failure(storage(e)))
    }

    /// Syncs the blob files sled wrote since the last flush (and their folder). Usually the
    /// folder is empty and this is one directory read.
    fn sync_new_blobs(&self) -> std::io::Result<()> {
        let (dir, synced) = &self.blobs;
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut synced = synced
            .lock()
            .map_err(|_| std::io::Error::other("blob bookkeeping poisoned"))?;
        let mut present = HashSet::new();
        let mut any = false;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if !synced.contains(&name) {
                match std::fs::File::open(entry.path()) {
                    Ok(f) => f.sync_data()?,
                    // Removed by sled meanwhile (a rewritten page frees its old blob).
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                any = true;
            }
            present.insert(name);
        }
        if any {
            std::fs::File::open(dir)?.sync_all()?;
        }
        *synced = present;
        Ok(())
    }
}

fn classify_open_error(path: &str, e: sled::Error) -> OpenError {
    match e {
        sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock") =>
        {
            OpenError::Locked(path.to_string())
        }
        sled::Error::Io(io) => OpenError::Io {
            path: path.to_string(),
            reason: io.to_string(),
        },
        other => OpenError::Corrupt {
            path: path.to_string(),
            reason: other.to_string(),
        },
    }
}

/// A failure of sled or of the file system.
fn storage(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests;
