//! Large groups' members kept in memory, so that a read of a group of hundreds of members copies
//! nothing instead of walking `group_members` (sled's iterator costs about 0.6 µs a member, most
//! of a member PATCH's answer: docs/performance.md, issue 17, tenth part).
//!
//! A group's members are kept in *runs*: up to [`RUN`] members each, in `group_members`' order
//! (by id), each run shared (`Arc`) with the reads that hold it. A read takes the runs' handles
//! ([`SharedMembers`]); a write copies only the runs it changes, and only while a read holds them.
//! Each run also keeps its members' text once an answer has written it ([`Run::kept`]), so the
//! answers that follow copy it; a run a write changes starts without it.
//!
//! The cache holds what sled holds, never something else:
//! - A write that changes a group's members or its version marks the group *written*
//!   ([`Members::begin`]) before its transaction and unmarks it once its outcome is known
//!   ([`Members::end`]); the kept members are then moved by the write's change (a committed
//!   write, from the group's version they are at to the next), or forgotten (any other outcome).
//! - Kept members carry the version of the group they are at, and a read is given them only at
//!   the version of the group's record it read ([`Members::get`]): a record and its members
//!   change in one transaction, so a reader that read the version before a write (still under
//!   way or not) reads the members before it too.
//! - A read that missed offers what it read from sled ([`Members::offer`]); the offer is kept only
//!   when no write of the group began since the read began and none was marked when it began,
//!   so that a read that raced a write never lands.
//! - Anything else that writes members (an import) forgets everything ([`Members::forget_all`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use scim_core::model::{Member, Run, SharedMembers};
use scim_core::store::MemberChange;

/// Groups with fewer members are not kept: walking them costs little.
const KEPT_FROM: usize = 64;
/// At most this many members are kept in all, every partition's together (about 320 bytes each
/// with their text once an answer has shown them, measured by `docs/perf/group_memory.py`; 390
/// under glibc's malloc: some 20 to 24 MiB); past it, the partition that reads forgets what it
/// kept and fills again with the groups it reads from then on, or keeps nothing more while
/// others hold the rest.
const MOST_MEMBERS: usize = 64_000;
/// At most this many groups of a partition have bookkeeping (about 130 bytes each); past it,
/// that of groups neither kept nor being written is forgotten, then that of those kept.
const MOST_GROUPS: usize = 1_024;
/// Members a run holds when made; a run that grows to twice this is cut in two.
const RUN: usize = 64;

/// A group's members in runs, in order.
pub(crate) type Runs = Vec<Arc<Run>>;

/// `members` (in order) cut into runs, moved, not copied.
pub(crate) fn into_runs(members: Vec<Member>) -> Runs {
    cut(members)
        .into_iter()
        .map(|run| Arc::new(Run::kept(run)))
        .collect()
}

/// `members` in pieces of [`RUN`], each holding no more room than its members: a piece split
/// off the front of the list would keep the whole list's room (`Vec::split_off` leaves the
/// capacity where it was), which made a group of 10,000 members take 44 MiB.
fn cut(members: Vec<Member>) -> Vec<Vec<Member>> {
    let mut pieces = Vec::with_capacity(members.len().div_ceil(RUN));
    let mut left = members.into_iter();
    loop {
        let piece: Vec<Member> = left.by_ref().take(RUN).collect();
        if piece.is_empty() {
            return pieces;
        }
        pieces.push(piece);
    }
}

fn count(runs: &Runs) -> usize {
    runs.iter().map(|run| run.len()).sum()
}

/// The members kept by every partition of a store, counted together.
#[derive(Default)]
pub(crate) struct Budget(AtomicUsize);

impl Budget {
    fn kept(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    fn take(&self, n: usize) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    fn give_back(&self, n: usize) {
        self.0.fetch_sub(n, Ordering::Relaxed);
    }
}

/// The members of a partition's large groups, as committed.
pub(crate) struct Members {
    inner: Mutex<Slots>,
    budget: Arc<Budget>,
}

#[derive(Default)]
struct Slots {
    groups: HashMap<String, Slot>,
    /// Counts beginnings (of reads and of writes) and forgettings; never goes back.
    clock: u64,
    /// A read that began before this cannot add a group the bookkeeping forgot.
    floor: u64,
    /// Counts [`Members::forget_all`]: a write that ends after one keeps nothing it took before.
    forgot: u64,
}

#[derive(Default)]
struct Slot {
    /// Writes of the group begun and not ended.
    writers: u32,
    /// When the last write of the group began.
    began: u64,
    /// The members, when kept.
    members: Option<Runs>,
    /// The group's version the kept members are at.
    version: u64,
}

/// What a read that missed must show when it offers what it read.
pub(crate) struct Ticket {
    began: u64,
}

/// A read's answer: the kept members, or a ticket to offer what it reads.
pub(crate) enum Kept {
    Hit(SharedMembers),
    Miss(Ticket),
}

impl Members {
    pub(crate) fn new(budget: Arc<Budget>) -> Self {
        Members {
            inner: Mutex::default(),
            budget,
        }
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        // The bookkeeping stays whole whatever panicked while it was held (each change is made
        // under one lock, after its checks).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept members of `group` at `version` (the version of the group's record the reader
    /// read), if those are kept. A write under way does not matter: its record and members
    /// change in one transaction, so a reader that read the version before it reads the members
    /// before it too.
    pub(crate) fn get(&self, group: &str, version: u64) -> Kept {
        let mut s = self.slots();
        s.clock += 1;
        match s.groups.get(group) {
            Some(slot) => match &slot.members {
                Some(runs) if slot.version == version => {
                    Kept::Hit(SharedMembers::from_runs(runs.clone()))
                }
                // Being written: no read that begins now may land.
                _ if slot.writers > 0 => Kept::Miss(Ticket { began: 0 }),
                _ => Kept::Miss(Ticket { began: s.clock }),
            },
            None => Kept::Miss(Ticket { began: s.clock }),
        }
    }

    /// Keeps `runs`, read from sled since `ticket` was given, as the members at `version`,
    /// unless a write of the group began since (or was under way then), or they are too few to
    /// be worth keeping.
    pub(crate) fn offer(&self, group: &str, ticket: Ticket, version: u64, runs: &Runs) {
        let n = count(runs);
        if !(KEPT_FROM..=MOST_MEMBERS).contains(&n) {
            return;
        }
        let budget = &self.budget;
        let mut s = self.slots();
        if !s.lands(group, &ticket) {
            return;
        }
        if budget.kept() + n > MOST_MEMBERS {
            s.forget_idle(budget);
            if budget.kept() + n > MOST_MEMBERS {
                return;
            }
        }
        if !s.groups.contains_key(group) && s.groups.len() >= MOST_GROUPS {
            s.make_room(budget);
        }
        budget.take(n);
        let slot = s.groups.entry(group.to_string()).or_default();
        slot.members = Some(runs.clone());
        slot.version = version;
    }

    /// Marks `group` written: called before the transaction of a write that changes its members.
    pub(crate) fn begin(&self, group: &str) {
        let mut s = self.slots();
        s.clock += 1;
        let now = s.clock;
        if !s.groups.contains_key(group) && s.groups.len() >= MOST_GROUPS {
            s.make_room(&self.budget);
        }
        let slot = s.groups.entry(group.to_string()).or_default();
        slot.writers += 1;
        slot.began = now;
    }

    /// Unmarks `group`, once the write's outcome is known: `Some(change)` when it committed
    /// and its change is known (the kept members move by it, to the group's next version),
    /// `None` otherwise (they are forgotten). The members move without the lock, while the
    /// group is still marked.
    pub(crate) fn end(&self, group: &str, moved: Option<Change<'_>>) {
        let (kept, forgot) = {
            let mut s = self.slots();
            let kept = s
                .groups
                .get_mut(group)
                .and_then(|slot| slot.members.take().map(|runs| (slot.version, runs)));
            self.budget
                .give_back(kept.as_ref().map_or(0, |(_, runs)| count(runs)));
            (kept, s.forgot)
        };
        let members = match (moved, kept) {
            // Kept at the version the write moved the group from (any other, and something
            // moved the group without a change seen here: forgotten).
            (Some(change), Some((version, mut runs))) if change.from(version) => {
                change.apply(&mut runs);
                (KEPT_FROM..=MOST_MEMBERS)
                    .contains(&count(&runs))
                    .then_some((version + 1, runs))
            }
            _ => None,
        };
        let mut s = self.slots();
        let forgotten = s.forgot != forgot;
        let Some(slot) = s.groups.get_mut(group) else {
            return;
        };
        slot.writers = slot.writers.saturating_sub(1);
        if let Some((version, runs)) = members.filter(|_| !forgotten) {
            self.budget.take(count(&runs));
            slot.members = Some(runs);
            slot.version = version;
        }
    }

    /// Forgets every group's members: for a write that does not go through [`Self::begin`].
    pub(crate) fn forget_all(&self) {
        let mut s = self.slots();
        s.forgot += 1;
        self.budget.give_back(s.held());
        for slot in s.groups.values_mut() {
            slot.members = None;
        }
        s.forget_idle(&self.budget);
    }
}

/// A partition let go (its tenant deleted) gives its share of the store's count back.
impl Drop for Members {
    fn drop(&mut self) {
        let held = self.slots().held();
        self.budget.give_back(held);
    }
}

impl Slots {
    /// Whether a read that began with `ticket` may keep what it read.
    fn lands(&self, group: &str, ticket: &Ticket) -> bool {
        ticket.began != 0
            && match self.groups.get(group) {
                Some(slot) => {
                    slot.writers == 0 && slot.began < ticket.began && slot.members.is_none()
                }
                None => ticket.began > self.floor,
            }
    }

    /// The members this partition keeps.
    fn held(&self) -> usize {
        self.groups
            .values()
            .map(|slot| slot.members.as_ref().map_or(0, count))
            .sum()
    }

    /// Forgets the members and bookkeeping of every group not being written.
    fn forget_idle(&mut self, budget: &Budget) {
        self.forget(budget, |slot| slot.writers > 0);
    }

    /// Forgets the bookkeeping of groups neither kept nor being written; if that is not enough,
    /// of every group not being written.
    fn make_room(&mut self, budget: &Budget) {
        self.forget(budget, |slot| slot.writers > 0 || slot.members.is_some());
        if self.groups.len() >= MOST_GROUPS {
            self.forget_idle(budget);
        }
    }

    fn forget(&mut self, budget: &Budget, keep: impl Fn(&Slot) -> bool) {
        self.clock += 1;
        self.floor = self.clock;
        let before = self.held();
        self.groups.retain(|_, slot| keep(slot));
        budget.give_back(before - self.held());
    }
}

/// What a committed write did to one group's members; each moves the group's version by one.
pub(crate) enum Change<'a> {
    /// The group's members moved by a [`MemberChange`], its record to `version`.
    Moved(&'a MemberChange, u64),
    /// The group's record moved to `version`, its members stayed.
    Kept(u64),
    /// One member left the group (it was deleted).
    Left(&'a str),
}

impl Change<'_> {
    /// Whether the change moves the group from `version`: a member's deletion moves it from
    /// whatever it was.
    fn from(&self, version: u64) -> bool {
        match self {
            Change::Moved(_, to) | Change::Kept(to) => version.checked_add(1) == Some(*to),
            Change::Left(_) => true,
        }
    }

    fn apply(&self, runs: &mut Runs) {
        match self {
            Change::Kept(_) => {}
            Change::Moved(change, _) => {
                for m in &change.removed {
                    remove(runs, &m.value);
                }
                for m in change.updated.iter().chain(&change.added) {
                    put(runs, m);
                }
            }
            Change::Left(id) => remove(runs, id),
        }
    }
}

/// The run where `id` is or would go: the first whose last member is not below it, else the last.
fn run_of(runs: &Runs, id: &str) -> usize {
    runs.partition_point(|run| run.last().is_some_and(|m| m.value.as_str() < id))
        .min(runs.len().saturating_sub(1))
}

fn remove(runs: &mut Runs, id: &str) {
    let r = run_of(runs, id);
    let Some(run) = runs.get_mut(r) else {
        return;
    };
    if let Ok(i) = run.binary_search_by(|m| m.value.as_str().cmp(id)) {
        // Copied only while a read holds it.
        Arc::make_mut(run).members_mut().remove(i);
        if run.is_empty() {
            runs.remove(r);
        }
    }
}

fn put(runs: &mut Runs, member: &Member) {
    if runs.is_empty() {
        runs.push(Arc::new(Run::kept(vec![member.clone()])));
        return;
    }
    let r = run_of(runs, &member.value);
    let run = Arc::make_mut(&mut runs[r]).members_mut();
    match run.binary_search_by(|m| m.value.cmp(&member.value)) {
        Ok(i) => run[i] = member.clone(),
        Err(i) => run.insert(i, member.clone()),
    }
    if run.len() >= 2 * RUN {
        let rest = run.split_off(RUN);
        runs.insert(r + 1, Arc::new(Run::kept(rest)));
    }
}

#[cfg(test)]
impl Members {
    /// How many members of `group` are kept, if any.
    pub(crate) fn kept(&self, group: &str) -> Option<usize> {
        let s = self.slots();
        s.groups
            .get(group)
            .and_then(|slot| slot.members.as_ref().map(count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_core::model::StoredKind;

    fn member(i: usize) -> Member {
        Member {
            value: format!("u{i:04}"),
            kind: StoredKind::User,
            display: None,
        }
    }

    fn many(n: usize) -> Vec<Member> {
        (0..n).map(member).collect()
    }

    fn listed(shared: &SharedMembers) -> Vec<Member> {
        shared.iter().cloned().collect()
    }

    /// Offers `members` as those of the group's version 1.
    fn offer(m: &Members, group: &str, ticket: Ticket, members: Vec<Member>) {
        m.offer(group, ticket, 1, &into_runs(members));
    }

    fn ticket(m: &Members, group: &str) -> Ticket {
        match m.get(group, 1) {
            Kept::Miss(t) => t,
            Kept::Hit(_) => panic!("{group} is kept already"),
        }
    }

    /// A group of 10,000 members read once took 44 MiB: each run cut from the front of the
    /// list kept the room of all the members after it.
    #[test]
    fn runs_cut_from_a_large_group_hold_no_room_beyond_their_members() {
        let pieces = cut(many(10_000));
        assert_eq!(pieces.len(), 10_000usize.div_ceil(RUN));
        assert!(pieces.iter().all(|p| p.len() <= RUN && p.capacity() <= RUN));
        let ids: Vec<String> = pieces.into_iter().flatten().map(|m| m.value).collect();
        assert_eq!(
            ids,
            many(10_000)
                .into_iter()
                .map(|m| m.value)
                .collect::<Vec<_>>()
        );
        assert!(cut(Vec::new()).is_empty());
    }

    #[test]
    fn a_read_is_kept_only_when_no_write_of_its_group_overlapped_it() {
        let m = Members::new(Arc::default());
        // Alone: kept, and read back.
        let t = ticket(&m, "g");
        offer(&m, "g", t, many(100));
        assert!(matches!(m.get("g", 1), Kept::Hit(k) if listed(&k) == many(100)));
        // Asked at another version of the group: not those.
        assert!(matches!(m.get("g", 2), Kept::Miss(_)));

        // A write begun after the read began (and ended before the offer).
        let m = Members::new(Arc::default());
        let t = ticket(&m, "g");
        m.begin("g");
        m.end("g", None);
        offer(&m, "g", t, many(100));
        assert_eq!(m.kept("g"), None);

        // A write under way when the read began, ended before the offer.
        let m = Members::new(Arc::default());
        m.begin("g");
        let t = ticket(&m, "g");
        m.end("g", None);
        offer(&m, "g", t, many(100));
        assert_eq!(m.kept("g"), None);

        // A write of another group does not matter; one that ended before the read began neither.
        let m = Members::new(Arc::default());
        m.begin("g");
        m.end("g", None);
        let t = ticket(&m, "g");
        m.begin("h");
        offer(&m, "g", t, many(100));
        assert_eq!(m.kept("g"), Some(100));

        // Forgetting everything turns away the reads begun before.
        let m = Members::new(Arc::default());
        let t = ticket(&m, "g");
        m.forget_all();
        offer(&m, "g", t, many(100));
        assert_eq!(m.kept("g"), None);

        // Small groups are not kept.
        let m = Members::new(Arc::default());
        let t = ticket(&m, "g");
        offer(&m, "g", t, many(KEPT_FROM - 1));
        assert_eq!(m.kept("g"), None);
    }

    #[test]
    fn kept_members_move_with_a_committed_change_and_are_forgotten_otherwise() {
        let m = Members::new(Arc::default());
        let t = ticket(&m, "g");
        offer(&m, "g", t, many(100));
        // While written, a read of the version before is served what is kept; one of any other
        // version may not keep what it reads.
        m.begin("g");
        assert!(matches!(m.get("g", 1), Kept::Hit(_)));
        assert!(matches!(m.get("g", 2), Kept::Miss(Ticket { began: 0 })));
        let mut renamed = member(7);
        renamed.display = Some("Seven".into());
        let change = MemberChange {
            removed: vec![member(3), member(500)],
            added: vec![member(150), member(0)],
            updated: vec![renamed.clone()],
        };
        m.end("g", Some(Change::Moved(&change, 2)));
        let mut want = many(100);
        want.retain(|x| x.value != "u0003");
        want[6] = renamed;
        want.push(member(150));
        let Kept::Hit(kept) = m.get("g", 2) else {
            panic!("g is no longer kept")
        };
        assert_eq!(listed(&kept), want);
        assert!(matches!(m.get("g", 1), Kept::Miss(_)));

        m.begin("g");
        m.end("g", Some(Change::Left("u0150")));
        want.pop();
        assert!(matches!(m.get("g", 3), Kept::Hit(k) if listed(&k) == want));
        // A rename moves the version only.
        m.begin("g");
        m.end("g", Some(Change::Kept(4)));
        assert!(matches!(m.get("g", 4), Kept::Hit(k) if listed(&k) == want));

        // A change from a version other than the one kept: something moved the group unseen.
        m.begin("g");
        m.end("g", Some(Change::Kept(9)));
        assert_eq!(m.kept("g"), None);
        let t = ticket(&m, "g");
        offer(&m, "g", t, many(100));

        // An outcome other than a commit forgets.
        m.begin("g");
        m.end("g", None);
        assert_eq!(m.kept("g"), None);

        // So does an import while the write is under way.
        let t = ticket(&m, "g");
        offer(&m, "g", t, many(100));
        m.begin("g");
        m.forget_all();
        m.end("g", Some(Change::Left("u0001")));
        assert_eq!(m.kept("g"), None);
    }

    #[test]
    fn too_many_members_start_the_cache_afresh() {
        let m = Members::new(Arc::default());
        let (half, rest) = (MOST_MEMBERS / 2 + 1, MOST_MEMBERS / 2);
        let t = ticket(&m, "a");
        offer(&m, "a", t, many(half));
        let t = ticket(&m, "b");
        offer(&m, "b", t, many(rest));
        assert_eq!((m.kept("a"), m.kept("b")), (None, Some(rest)));

        // Partitions share the count: one cannot take what another keeps.
        let budget = Arc::new(Budget::default());
        let (m, other) = (Members::new(Arc::clone(&budget)), Members::new(budget));
        let t = ticket(&m, "a");
        offer(&m, "a", t, many(half));
        let t = ticket(&other, "b");
        offer(&other, "b", t, many(rest));
        assert_eq!((m.kept("a"), other.kept("b")), (Some(half), None));
        // Once the first forgets (an import), the other has room.
        m.forget_all();
        let t = ticket(&other, "b");
        offer(&other, "b", t, many(rest));
        assert_eq!(other.kept("b"), Some(rest));
        // And once the other is let go (its tenant deleted), the first has room again.
        drop(other);
        let t = ticket(&m, "a");
        offer(&m, "a", t, many(half));
        assert_eq!(m.kept("a"), Some(half));
    }

    /// The bookkeeping of groups that are neither kept nor being written goes first when it is
    /// full; kept groups stay.
    #[test]
    fn a_full_bookkeeping_forgets_idle_groups_before_kept_ones() {
        let m = Members::new(Arc::default());
        let t = ticket(&m, "kept");
        offer(&m, "kept", t, many(100));
        for i in 0..MOST_GROUPS + 10 {
            let g = format!("g{i}");
            m.begin(&g);
            m.end(&g, None);
        }
        assert_eq!(m.kept("kept"), Some(100));
        assert!(m.slots().groups.len() <= MOST_GROUPS);
    }

    /// Runs stay in order, none empty or past twice [`RUN`], through adds, removals and renames
    /// anywhere (as a sorted map of the same changes has it); a read that holds runs keeps
    /// seeing them as they were.
    #[test]
    fn runs_move_with_every_change_and_a_read_keeps_what_it_took() {
        use std::collections::BTreeMap;
        let m = Members::new(Arc::default());
        let t = ticket(&m, "g");
        offer(&m, "g", t, many(300).into_iter().step_by(2).collect());
        let mut want: BTreeMap<String, Member> = many(300)
            .into_iter()
            .step_by(2)
            .map(|x| (x.value.clone(), x))
            .collect();
        let held = match m.get("g", 1) {
            Kept::Hit(h) => h,
            Kept::Miss(_) => panic!("not kept"),
        };
        let before = listed(&held);
        // A simple generator: the same sequence each run.
        let mut x: u64 = 7;
        for step in 0..2_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (x >> 33) as usize % 400;
            let mut change = MemberChange::default();
            let mut one = member(i);
            match step % 3 {
                0 => change.added.push(one.clone()),
                1 => change.removed.push(one.clone()),
                _ => {
                    one.display = Some(format!("d{step}"));
                    change.updated.push(one.clone());
                }
            }
            m.begin("g");
            m.end("g", Some(Change::Moved(&change, step + 2)));
            match step % 3 {
                1 => {
                    want.remove(&one.value);
                }
                _ => {
                    want.insert(one.value.clone(), one);
                }
            }
            let s = m.slots();
            let Some(runs) = s.groups.get("g").and_then(|slot| slot.members.as_ref()) else {
                // Fewer than are kept: nothing more to compare.
                assert!(want.len() < KEPT_FROM, "forgotten at {}", want.len());
                return;
            };
            assert!(
                runs.iter().all(|r| !r.is_empty() && r.len() < 2 * RUN),
                "{step}"
            );
            let got: Vec<&Member> = runs.iter().flat_map(|r| r.iter()).collect();
            assert_eq!(got, want.values().collect::<Vec<_>>(), "step {step}");
        }
        assert_eq!(listed(&held), before);
        // Many added at one end: the last run is cut, again and again.
        let change = MemberChange {
            added: (1_000..1_300).map(member).collect(),
            ..MemberChange::default()
        };
        m.begin("g");
        m.end("g", Some(Change::Moved(&change, 2_002)));
        want.extend(change.added.iter().map(|x| (x.value.clone(), x.clone())));
        let s = m.slots();
        let runs = s.groups["g"].members.as_ref().expect("kept");
        assert!(runs.iter().all(|r| !r.is_empty() && r.len() < 2 * RUN));
        let got: Vec<&Member> = runs.iter().flat_map(|r| r.iter()).collect();
        assert_eq!(got, want.values().collect::<Vec<_>>());
    }
}
