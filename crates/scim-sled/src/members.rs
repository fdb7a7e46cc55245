//! Large groups' members kept in memory, so that a read of a group of hundreds of members copies
//! nothing instead of walking `group_members` (sled's iterator costs about 0.6 µs a member, most
//! of a member PATCH's answer: docs/performance.md, issue 17, tenth part).
//!
//! A group's members are kept in *runs*: up to [`RUN`] members each, in `group_members`' order
//! (by id), each run shared (`Arc`) with the reads that hold it. A read takes the runs' handles
//! ([`SharedMembers`]); a write copies only the runs it changes, and only while a read holds them.
//!
//! The cache holds what sled holds, never something else:
//! - A write that changes a group's members marks the group *written* ([`Members::begin`])
//!   before its transaction and unmarks it once its outcome is known ([`Members::end`]); the
//!   kept members are then moved by the write's change (a committed write), or forgotten (any
//!   other outcome). While a write is marked, reads bypass the cache: sled may already show the
//!   write while the cache does not.
//! - A read that missed offers what it read from sled ([`Members::offer`]); the offer is kept only
//!   when no write of the group began since the read began and none was marked when it began,
//!   so that a read that raced a write never lands.
//! - Anything else that writes members (an import) forgets everything ([`Members::forget_all`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use scim_core::model::{Member, SharedMembers};
use scim_core::store::MemberChange;

/// Groups with fewer members are not kept: walking them costs little.
pub(crate) const KEPT_FROM: usize = 64;
/// At most this many members are kept in all (about 150 bytes each); past it, everything kept is
/// forgotten and the cache fills again with the groups read since.
const MOST_MEMBERS: usize = 100_000;
/// At most this many groups have bookkeeping; past it, that of groups neither kept nor being
/// written is forgotten.
const MOST_GROUPS: usize = 4_096;
/// Members a run holds when made; a run that grows to twice this is cut in two.
pub(crate) const RUN: usize = 64;

/// A group's members in runs, in order.
pub(crate) type Runs = Vec<Arc<Vec<Member>>>;

/// `members` (in order) cut into runs, moved, not copied.
pub(crate) fn into_runs(mut members: Vec<Member>) -> Runs {
    let mut runs = Vec::with_capacity(members.len().div_ceil(RUN));
    while members.len() > RUN {
        let rest = members.split_off(RUN);
        runs.push(Arc::new(std::mem::replace(&mut members, rest)));
    }
    if !members.is_empty() {
        runs.push(Arc::new(members));
    }
    runs
}

fn count(runs: &Runs) -> usize {
    runs.iter().map(|run| run.len()).sum()
}

/// The members of a partition's large groups, as committed.
#[derive(Default)]
pub(crate) struct Members {
    inner: Mutex<Slots>,
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
    /// Members kept in all.
    held: usize,
}

#[derive(Default)]
struct Slot {
    /// Writes of the group begun and not ended.
    writers: u32,
    /// When the last write of the group began.
    began: u64,
    /// The members, when kept.
    members: Option<Runs>,
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
    fn slots(&self) -> MutexGuard<'_, Slots> {
        // The bookkeeping stays whole whatever panicked while it was held (each change is made
        // under one lock, after its checks).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept members of `group`, unless a write of it is under way or none are kept.
    pub(crate) fn get(&self, group: &str) -> Kept {
        let mut s = self.slots();
        s.clock += 1;
        match s.groups.get(group) {
            Some(slot) if slot.writers == 0 => match &slot.members {
                Some(runs) => Kept::Hit(SharedMembers::from_runs(runs.clone())),
                None => Kept::Miss(Ticket { began: s.clock }),
            },
            // Being written: no read that begins now may land.
            Some(_) => Kept::Miss(Ticket { began: 0 }),
            None => Kept::Miss(Ticket { began: s.clock }),
        }
    }

    /// Keeps `runs`, read from sled since `ticket` was given, unless a write of the group began
    /// since (or was under way then), or they are too few to be worth keeping.
    pub(crate) fn offer(&self, group: &str, ticket: Ticket, runs: &Runs) {
        let n = count(runs);
        if !(KEPT_FROM..=MOST_MEMBERS).contains(&n) {
            return;
        }
        let mut s = self.slots();
        if !s.lands(group, &ticket) {
            return;
        }
        if s.held + n > MOST_MEMBERS {
            s.forget_idle();
        }
        if !s.groups.contains_key(group) && s.groups.len() >= MOST_GROUPS {
            s.forget_idle();
        }
        s.held += n;
        s.groups.entry(group.to_string()).or_default().members = Some(runs.clone());
    }

    /// Marks `group` written: called before the transaction of a write that changes its members.
    pub(crate) fn begin(&self, group: &str) {
        let mut s = self.slots();
        s.clock += 1;
        let now = s.clock;
        if !s.groups.contains_key(group) && s.groups.len() >= MOST_GROUPS {
            s.forget_idle();
        }
        let slot = s.groups.entry(group.to_string()).or_default();
        slot.writers += 1;
        slot.began = now;
    }

    /// Unmarks `group`, once the write's outcome is known: `Some(change)` when it committed
    /// and its change is known (the kept members move by it), `None` otherwise (they are
    /// forgotten). The members move without the lock, while the group is still marked.
    pub(crate) fn end(&self, group: &str, moved: Option<Change<'_>>) {
        let (kept, forgot) = {
            let mut s = self.slots();
            let kept = s.groups.get_mut(group).and_then(|slot| slot.members.take());
            let before = kept.as_ref().map_or(0, count);
            s.held = s.held.saturating_sub(before);
            (kept, s.forgot)
        };
        let members = match (moved, kept) {
            (Some(change), Some(mut runs)) => {
                change.apply(&mut runs);
                (KEPT_FROM..=MOST_MEMBERS)
                    .contains(&count(&runs))
                    .then_some(runs)
            }
            _ => None,
        };
        let mut s = self.slots();
        let forgotten = s.forgot != forgot;
        let Some(slot) = s.groups.get_mut(group) else {
            return;
        };
        slot.writers = slot.writers.saturating_sub(1);
        if let Some(runs) = members.filter(|_| !forgotten) {
            let n = count(&runs);
            slot.members = Some(runs);
            s.held += n;
        }
    }

    /// Forgets every group's members: for a write that does not go through [`Self::begin`].
    pub(crate) fn forget_all(&self) {
        let mut s = self.slots();
        s.forgot += 1;
        for slot in s.groups.values_mut() {
            slot.members = None;
        }
        s.forget_idle();
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

    /// Forgets the members and bookkeeping of every group not being written.
    fn forget_idle(&mut self) {
        self.clock += 1;
        self.floor = self.clock;
        self.groups.retain(|_, slot| slot.writers > 0);
        self.held = self
            .groups
            .values()
            .map(|slot| slot.members.as_ref().map_or(0, count))
            .sum();
    }
}

/// What a committed write did to one group's members.
pub(crate) enum Change<'a> {
    /// The group's members moved by a [`MemberChange`].
    Moved(&'a MemberChange),
    /// One member left the group (it was deleted).
    Left(&'a str),
}

impl Change<'_> {
    fn apply(&self, runs: &mut Runs) {
        match self {
            Change::Moved(change) => {
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
        Arc::make_mut(run).remove(i);
        if run.is_empty() {
            runs.remove(r);
        }
    }
}

fn put(runs: &mut Runs, member: &Member) {
    if runs.is_empty() {
        runs.push(Arc::new(vec![member.clone()]));
        return;
    }
    let r = run_of(runs, &member.value);
    let run = Arc::make_mut(&mut runs[r]);
    match run.binary_search_by(|m| m.value.cmp(&member.value)) {
        Ok(i) => run[i] = member.clone(),
        Err(i) => run.insert(i, member.clone()),
    }
    if run.len() >= 2 * RUN {
        let rest = run.split_off(RUN);
        runs.insert(r + 1, Arc::new(rest));
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

    fn offer(m: &Members, group: &str, ticket: Ticket, members: Vec<Member>) {
        m.offer(group, ticket, &into_runs(members));
    }

    fn ticket(m: &Members, group: &str) -> Ticket {
        match m.get(group) {
            Kept::Miss(t) => t,
            Kept::Hit(_) => panic!("{group} is kept already"),
        }
    }

    #[test]
    fn a_read_is_kept_only_when_no_write_of_its_group_overlapped_it() {
        let m = Members::default();
        // Alone: kept, and read back.
        let t = ticket(&m, "g");
        offer(&m, "g", t, many(100));
        assert!(matches!(m.get("g"), Kept::Hit(k) if listed(&k) == many(100)));

        // A write begun after the read began (and ended before the offer).
        let m = Members::default();
        let t = ticket(&m, "g");
        m.begin("g");
        m.end("g", None);
        offer(&m, "g", t, many(100));
        assert_eq!(m.kept("g"), None);

        // A write under way when the read began, ended before the offer.
        let m = Members::default();
        m.begin("g");
        let t = ticket(&m, "g");
        m.end("g", None);
        offer(&m, "g", t, many(100));
        assert_eq!(m.kept("g"), None);

        // A write of another group does not matter; one that ended before the read began neither.
        let m = Members::default();
        m.begin("g");
        m.end("g", None);
        let t = ticket(&m, "g");
        m.begin("h");
        offer(&m, "g", t, many(100));
        assert_eq!(m.kept("g"), Some(100));

        // Forgetting everything turns away the reads begun before.
        let m = Members::default();
        let t = ticket(&m, "g");
        m.forget_all();
        offer(&m, "g", t, many(100));
        assert_eq!(m.kept("g"), None);

        // Small groups are not kept.
        let m = Members::default();
        let t = ticket(&m, "g");
        offer(&m, "g", t, many(KEPT_FROM - 1));
        assert_eq!(m.kept("g"), None);
    }

    #[test]
    fn kept_members_move_with_a_committed_change_and_are_forgotten_otherwise() {
        let m = Members::default();
        let t = ticket(&m, "g");
        offer(&m, "g", t, many(100));
        // While written, a read is not served what is kept.
        m.begin("g");
        assert!(matches!(m.get("g"), Kept::Miss(_)));
        let mut renamed = member(7);
        renamed.display = Some("Seven".into());
        let change = MemberChange {
            removed: vec![member(3), member(500)],
            added: vec![member(150), member(0)],
            updated: vec![renamed.clone()],
        };
        m.end("g", Some(Change::Moved(&change)));
        let mut want = many(100);
        want.retain(|x| x.value != "u0003");
        want[6] = renamed;
        want.push(member(150));
        let Kept::Hit(kept) = m.get("g") else {
            panic!("g is no longer kept")
        };
        assert_eq!(listed(&kept), want);

        m.begin("g");
        m.end("g", Some(Change::Left("u0150")));
        want.pop();
        assert!(matches!(m.get("g"), Kept::Hit(k) if listed(&k) == want));

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
        let m = Members::default();
        let (half, rest) = (MOST_MEMBERS / 2 + 1, MOST_MEMBERS / 2);
        let t = ticket(&m, "a");
        offer(&m, "a", t, many(half));
        let t = ticket(&m, "b");
        offer(&m, "b", t, many(rest));
        assert_eq!((m.kept("a"), m.kept("b")), (None, Some(rest)));
    }

    /// Runs stay in order, none empty or past twice [`RUN`], through adds, removals and renames
    /// anywhere (as a sorted map of the same changes has it); a read that holds runs keeps
    /// seeing them as they were.
    #[test]
    fn runs_move_with_every_change_and_a_read_keeps_what_it_took() {
        use std::collections::BTreeMap;
        let m = Members::default();
        let t = ticket(&m, "g");
        offer(&m, "g", t, many(300).into_iter().step_by(2).collect());
        let mut want: BTreeMap<String, Member> = many(300)
            .into_iter()
            .step_by(2)
            .map(|x| (x.value.clone(), x))
            .collect();
        let held = match m.get("g") {
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
            m.end("g", Some(Change::Moved(&change)));
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
        m.end("g", Some(Change::Moved(&change)));
        want.extend(change.added.iter().map(|x| (x.value.clone(), x.clone())));
        let s = m.slots();
        let runs = s.groups["g"].members.as_ref().expect("kept");
        assert!(runs.iter().all(|r| !r.is_empty() && r.len() < 2 * RUN));
        let got: Vec<&Member> = runs.iter().flat_map(|r| r.iter()).collect();
        assert_eq!(got, want.values().collect::<Vec<_>>());
    }
}
