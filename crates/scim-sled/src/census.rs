//! What a list needs besides the records themselves, kept in memory so that a page costs its own
//! records only: the number of records of each kind, and where the last pages served ended.
//!
//! sled 0.34 can neither count a tree (`Tree::len` walks it) nor seek to a position, so without
//! this every `GET /Users?startIndex=N` walked the whole tree twice. The count is exact: it is
//! computed once while no write is in flight, then moved by every create and delete inside the
//! store's write barrier. A cursor ("position N starts after key K") is used only while no create
//! or delete has happened since it was recorded, so a resumed page is the page a walk from the
//! start would give. A page that no cursor starts resumes from the nearest one before it and walks
//! the rest (remembering, as it goes, every [`STEP`]th position it passes): clients that read
//! pages side by side, or out of order, resume too.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use scim_core::model::Kind;

/// At most this many cursors are kept; the map starts afresh when full.
const MAX_CURSORS: usize = 256;

/// A walk that skips records remembers every `STEP`th position it passes (a page of 100 is what
/// identity providers ask for).
pub const STEP: usize = 100;

/// The generation the cursors were recorded at, and (kind, position) → the key of the record
/// just before that position.
type Cursors = (u64, BTreeMap<(usize, usize), Vec<u8>>);

#[derive(Default)]
pub struct Census {
    /// The number of records of each kind, once known.
    counts: Mutex<[Option<usize>; 2]>,
    /// Moves before and after every create or delete.
    generation: AtomicU64,
    /// Creates and deletes in flight.
    pending: AtomicUsize,
    cursors: Mutex<Cursors>,
}

/// Held around a create or delete: while it lives, no cursor is recorded or used.
pub struct Changing<'c>(&'c Census);

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        self.0.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

fn slot(kind: Kind) -> usize {
    match kind {
        Kind::User => 0,
        Kind::Group => 1,
    }
}

impl Census {
    /// Marks a create or delete as in flight until the guard drops.
    pub fn changing(&self) -> Changing<'_> {
        self.pending.fetch_add(1, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        Changing(self)
    }

    /// The count, when known.
    pub fn count(&self, kind: Kind) -> Option<usize> {
        self.counts.lock().ok().and_then(|c| c[slot(kind)])
    }

    /// Records a count computed while no write was in flight.
    pub fn set_count(&self, kind: Kind, n: usize) {
        if let Ok(mut c) = self.counts.lock() {
            c[slot(kind)] = Some(n);
        }
    }

    /// Moves a known count by a committed create (+1) or delete (-1).
    pub fn adjust(&self, kind: Kind, created: bool) {
        if let Ok(mut c) = self.counts.lock() {
            if let Some(n) = &mut c[slot(kind)] {
                *n = if created { *n + 1 } else { n.saturating_sub(1) };
            }
        }
    }

    /// Forgets everything (after an import).
    pub fn reset(&self) {
        if let Ok(mut c) = self.counts.lock() {
            *c = [None, None];
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut m) = self.cursors.lock() {
            m.1.clear();
        }
    }

    /// The generation, if no create or delete is in flight: a walk that starts and ends at the
    /// same stable generation saw no create or delete.
    pub fn stable(&self) -> Option<u64> {
        let generation = self.generation.load(Ordering::SeqCst);
        (self.pending.load(Ordering::SeqCst) == 0).then_some(generation)
    }

    /// The nearest remembered position at or before `position`, with the key just before it, if
    /// a walk recorded one and nothing changed since.
    pub fn nearest(&self, kind: Kind, position: usize) -> Option<(usize, Vec<u8>)> {
        let now = self.stable()?;
        let cursors = self.cursors.lock().ok()?;
        if cursors.0 != now {
            return None;
        }
        let slot = slot(kind);
        cursors
            .1
            .range((slot, 0)..=(slot, position))
            .next_back()
            .map(|(&(_, at), key)| (at, key.clone()))
    }

    /// Records that `position` starts after `key`, for a walk that began at generation `began`;
    /// nothing is recorded if a create or delete started since.
    pub fn remember(&self, kind: Kind, position: usize, began: u64, key: Vec<u8>) {
        if self.stable() != Some(began) {
            return;
        }
        if let Ok(mut cursors) = self.cursors.lock() {
            let (generation, map) = &mut *cursors;
            if *generation != began || map.len() >= MAX_CURSORS {
                *generation = began;
                map.clear();
            }
            map.insert((slot(kind), position), key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_used_only_while_nothing_was_created_or_deleted() {
        let census = Census::default();
        let began = census.stable().expect("nothing in flight");
        census.remember(Kind::User, 100, began, b"k100".to_vec());
        assert_eq!(
            census.nearest(Kind::User, 100),
            Some((100, b"k100".to_vec()))
        );
        assert_eq!(census.nearest(Kind::Group, 100), None);
        assert_eq!(census.nearest(Kind::User, 99), None);
        {
            let _change = census.changing();
            assert_eq!(census.stable(), None);
            assert_eq!(
                census.nearest(Kind::User, 100),
                None,
                "a change is in flight"
            );
        }
        assert_eq!(census.nearest(Kind::User, 100), None, "a change happened");
    }

    #[test]
    fn a_walk_overlapping_a_change_records_nothing() {
        let census = Census::default();
        let began = census.stable().expect("nothing in flight");
        drop(census.changing());
        census.remember(Kind::User, 100, began, b"k".to_vec());
        let now = census.stable().expect("nothing in flight");
        assert_ne!(now, began);
        assert_eq!(census.nearest(Kind::User, 100), None);
    }

    #[test]
    fn a_position_resumes_from_the_nearest_cursor_before_it_of_its_kind() {
        let census = Census::default();
        let began = census.stable().expect("nothing in flight");
        census.remember(Kind::User, 100, began, b"k100".to_vec());
        census.remember(Kind::User, 300, began, b"k300".to_vec());
        census.remember(Kind::Group, 200, began, b"g200".to_vec());
        assert_eq!(
            census.nearest(Kind::User, 250),
            Some((100, b"k100".to_vec()))
        );
        assert_eq!(
            census.nearest(Kind::User, 5000),
            Some((300, b"k300".to_vec()))
        );
        assert_eq!(
            census.nearest(Kind::Group, 5000),
            Some((200, b"g200".to_vec()))
        );
        // Cursors of an earlier generation are gone once one of the new generation is recorded.
        drop(census.changing());
        let now = census.stable().expect("nothing in flight");
        census.remember(Kind::User, 200, now, b"k200'".to_vec());
        assert_eq!(
            census.nearest(Kind::User, 5000),
            Some((200, b"k200'".to_vec()))
        );
        assert_eq!(census.nearest(Kind::Group, 5000), None);
    }

    #[test]
    fn counts_move_only_once_known() {
        let census = Census::default();
        census.adjust(Kind::User, true);
        assert_eq!(census.count(Kind::User), None);
        census.set_count(Kind::User, 10);
        census.adjust(Kind::User, true);
        census.adjust(Kind::User, false);
        census.adjust(Kind::User, false);
        assert_eq!(census.count(Kind::User), Some(9));
        assert_eq!(census.count(Kind::Group), None);
        census.reset();
        assert_eq!(census.count(Kind::User), None);
    }
}
