//! How the index is stored: its entries in buckets, so that a large store has few index keys.
//!
//! An index entry is an index, a text and the id of the record that holds it. It lives in the
//! bucket of its index and of its text's hash, a sled key of four bytes:
//!
//! ```text
//! key:    tag (crate::keys::tag), 0xB0, the first two bytes of SHA-256(salt, text)
//! value:  entries, in (text, id) order, each: u32 length, text, u32 length, id (big-endian)
//! ```
//!
//! Why: sled 0.34 keeps an entry of its page table in memory for every page of a store, cached
//! or not, and splits a leaf once it holds 17 keys, so the number of keys, not their size, sets
//! the memory of a large store. One key an entry made the index the largest of a store's trees
//! (two keys a user, appended in order: half-full leaves). With at most 65,536 buckets an index,
//! a store of 1,000,000 users has some 131,000 index keys instead of 2,000,000; a small store
//! has about one entry a bucket, as before (docs/performance.md, "Issue 17, seventh part").
//!
//! The salt is the store's own, drawn at random when the store is made (`__scim_index_salt__`
//! in sled's default tree), so that nobody can choose texts that fall into one bucket and make
//! its every write long.
//!
//! Stores of earlier releases kept one key an entry (tag, u32 length, text [, id] → id); they
//! are moved into buckets once, at open ([`crate::SledStore::open`]).

use std::ops::Bound;

use scim_core::model::{Index, IndexKey};
use scim_core::store::StoreError;
use sha2::{Digest, Sha256};
use sled::transaction::UnabortableTransactionError;
use sled::{IVec, Tree};

use crate::keys::{index_of_tag, split_index_key, tag};
use crate::storage;
use crate::view::{TxView, View};

/// The second byte of a bucket's key. An entry of earlier releases has there the first byte of
/// its text's length, which is 0 for any text under 16 MiB.
const BUCKET: u8 = 0xB0;

/// The store's salt of the buckets' hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Salt([u8; 16]);

impl Salt {
    /// A new salt, from the operating system's random source.
    pub(crate) fn random() -> Result<Salt, String> {
        let mut bytes = [0u8; 16];
        getrandom::getrandom(&mut bytes).map_err(|e| format!("no random salt: {e}"))?;
        Ok(Salt(bytes))
    }

    /// A salt as it is stored; `None` if the bytes are not one.
    pub(crate) fn from_stored(bytes: &[u8]) -> Option<Salt> {
        bytes.try_into().ok().map(Salt)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key of the bucket that holds an index's entries of `text`.
    fn bucket(&self, index: Index, text: &[u8]) -> [u8; 4] {
        let digest = Sha256::new()
            .chain_update(self.0)
            .chain_update(text)
            .finalize();
        [tag(index), BUCKET, digest[0], digest[1]]
    }
}

/// The entries of a bucket's value, in order: (text, id).
fn entries(bytes: &[u8]) -> Entries<'_> {
    Entries(bytes)
}

struct Entries<'a>(&'a [u8]);

impl<'a> Entries<'a> {
    fn part(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(self.0.get(..4)?.try_into().ok()?);
        let end = 4usize.checked_add(usize::try_from(len).ok()?)?;
        let part = self.0.get(4..end)?;
        self.0 = &self.0[end..];
        Some(part)
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        match (self.part(), self.part()) {
            (Some(text), Some(id)) => Some(Ok((text, id))),
            _ => {
                self.0 = &[];
                Some(Err(StoreError::Corrupt(
                    "an index bucket ends inside an entry".into(),
                )))
            }
        }
    }
}

fn put(out: &mut Vec<u8>, part: &[u8]) {
    out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(part);
}

/// A bucket's value with the entry (text, id) in it, in its place.
fn with(bucket: Option<&[u8]>, text: &[u8], id: &[u8]) -> Result<Vec<u8>, StoreError> {
    let bucket = bucket.unwrap_or_default();
    let mut out = Vec::with_capacity(bucket.len() + 8 + text.len() + id.len());
    let mut placed = false;
    for entry in entries(bucket) {
        let entry = entry?;
        if !placed && (text, id) <= entry {
            if (text, id) != entry {
                put(&mut out, text);
                put(&mut out, id);
            }
            placed = true;
        }
        put(&mut out, entry.0);
        put(&mut out, entry.1);
    }
    if !placed {
        put(&mut out, text);
        put(&mut out, id);
    }
    Ok(out)
}

/// A bucket's value without the entry (text, id); `None` if nothing is left.
fn without(bucket: &[u8], text: &[u8], id: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    let mut out = Vec::with_capacity(bucket.len());
    for entry in entries(bucket) {
        let entry = entry?;
        if entry != (text, id) {
            put(&mut out, entry.0);
            put(&mut out, entry.1);
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// The ids of a bucket's entries of `text`, in id order.
fn ids_of(bucket: &[u8], text: &[u8]) -> Result<Vec<String>, StoreError> {
    let mut ids = Vec::new();
    for entry in entries(bucket) {
        let (t, id) = entry?;
        if t == text {
            ids.push(String::from_utf8_lossy(id).into_owned());
        }
    }
    Ok(ids)
}

/// A partition's index: its view of the index tree, and the store's salt.
#[derive(Clone)]
pub(crate) struct IndexTree {
    pub(crate) view: View,
    pub(crate) salt: Salt,
}

/// An entry of the index, as a walk finds it.
pub(crate) struct Entry {
    pub(crate) index: Index,
    pub(crate) text: Vec<u8>,
    pub(crate) id: Vec<u8>,
}

impl IndexTree {
    /// The ids an index key points to, in id order (one at most for a unique index).
    pub(crate) fn ids(&self, key: &IndexKey) -> Result<Vec<String>, StoreError> {
        let text = key.text().as_bytes();
        match self
            .view
            .get(self.salt.bucket(key.index(), text))
            .map_err(storage)?
        {
            Some(bucket) => ids_of(&bucket, text),
            None => Ok(Vec::new()),
        }
    }

    /// Every entry of one index (`Some`) or of all of them, by bucket.
    pub(crate) fn entries(
        &self,
        of: Option<Index>,
    ) -> impl Iterator<Item = Result<Entry, StoreError>> {
        let walk = match of {
            Some(index) => self.view.scan_prefix([tag(index), BUCKET]),
            None => self.view.iter(),
        };
        walk.flat_map(|item| {
            let found: Vec<Result<Entry, StoreError>> = match item.map_err(storage) {
                Err(e) => vec![Err(e)],
                Ok((key, bucket)) => match bucket_index(&key) {
                    None => vec![Err(StoreError::Corrupt(format!(
                        "index key {:?} is not a bucket's",
                        String::from_utf8_lossy(&key)
                    )))],
                    Some(index) => entries(&bucket)
                        .map(|e| {
                            e.map(|(text, id)| Entry {
                                index,
                                text: text.to_vec(),
                                id: id.to_vec(),
                            })
                        })
                        .collect(),
                },
            };
            found
        })
    }

    /// Adds an entry outside a transaction (an import into an empty partition).
    pub(crate) fn add(&self, key: &IndexKey, id: &str) -> Result<(), StoreError> {
        let text = key.text().as_bytes();
        let bucket = self.salt.bucket(key.index(), text);
        let old = self.view.get(bucket).map_err(storage)?;
        let new = with(old.as_deref(), text, id.as_bytes())?;
        self.view.insert(bucket, new).map_err(storage)?;
        Ok(())
    }

    /// This index inside a transaction over its tree.
    pub(crate) fn tx<'t>(&'t self, tree: &'t sled::transaction::TransactionalTree) -> TxIndex<'t> {
        TxIndex {
            view: self.view.tx(tree),
            salt: self.salt,
        }
    }
}

/// The index of a bucket key; `None` for a key that is not a bucket's.
fn bucket_index(key: &[u8]) -> Option<Index> {
    match key {
        [t, BUCKET, _, _] => index_of_tag(*t),
        _ => None,
    }
}

/// A partition's index inside a transaction.
pub(crate) struct TxIndex<'t> {
    view: TxView<'t>,
    salt: Salt,
}

type TxResult<T> = Result<T, UnabortableTransactionError>;

impl TxIndex<'_> {
    /// The id that holds `key` in a unique index, if any.
    pub(crate) fn owner(&self, key: &IndexKey) -> TxResult<Result<Option<String>, StoreError>> {
        let text = key.text().as_bytes();
        let Some(bucket) = self.view.get(self.salt.bucket(key.index(), text))? else {
            return Ok(Ok(None));
        };
        Ok(ids_of(&bucket, text).map(|ids| ids.into_iter().next()))
    }

    /// Adds the entry (key, id).
    pub(crate) fn insert(&self, key: &IndexKey, id: &str) -> TxResult<Result<(), StoreError>> {
        let text = key.text().as_bytes();
        let at = self.salt.bucket(key.index(), text);
        let old: Option<IVec> = self.view.get(at)?;
        match with(old.as_deref(), text, id.as_bytes()) {
            Ok(new) => {
                self.view.insert(at, new)?;
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// Removes the entry (key, id), if it is there.
    pub(crate) fn remove(&self, key: &IndexKey, id: &str) -> TxResult<Result<(), StoreError>> {
        let text = key.text().as_bytes();
        let at = self.salt.bucket(key.index(), text);
        let Some(old) = self.view.get(at)? else {
            return Ok(Ok(()));
        };
        match without(&old, text, id.as_bytes()) {
            Ok(Some(new)) => {
                self.view.insert(at, new)?;
            }
            Ok(None) => {
                self.view.remove(at)?;
            }
            Err(e) => return Ok(Err(e)),
        }
        Ok(Ok(()))
    }
}

/// An entry of an earlier release's index: its index, text and id; `None` for a key that is not
/// one (a bucket's).
fn legacy_entry(key: &[u8], value: &[u8]) -> Option<(Index, Vec<u8>, Vec<u8>)> {
    let index = index_of_tag(*key.first()?)?;
    if key.get(1) == Some(&BUCKET) && key.len() == 4 {
        return None;
    }
    let (text, _) = split_index_key(key)?;
    Some((index, text.to_vec(), value.to_vec()))
}

/// An entry of an earlier release's index met by [`move_into_buckets`]: its key, its tenant's
/// prefix, its index, text and id.
type Legacy = (IVec, Vec<u8>, Index, Vec<u8>, Vec<u8>);

/// Moves the entries of an earlier release's index tree into buckets, a transaction for each
/// few hundred, so that a move cut short is taken up at the next open and loses nothing: an
/// entry leaves its old key in the transaction that puts it in its bucket. `shared`: the tree's
/// keys are behind their tenant's prefix (up to the first NUL). Returns how many it moved.
pub(crate) fn move_into_buckets(tree: &Tree, shared: bool, salt: Salt) -> Result<u64, StoreError> {
    const CHUNK: usize = 512;
    let mut moved = 0u64;
    let mut after: Option<IVec> = None;
    loop {
        let from = match &after {
            Some(k) => Bound::Excluded(k.to_vec()),
            None => Bound::Unbounded,
        };
        let mut chunk: Vec<Legacy> = Vec::new();
        let mut last = None;
        for item in tree.range::<Vec<u8>, _>((from, Bound::Unbounded)) {
            let (key, value) = item.map_err(storage)?;
            last = Some(key.clone());
            let (prefix, rest) = if shared {
                match key.iter().position(|b| *b == 0) {
                    Some(at) => key.split_at(at + 1),
                    None => continue,
                }
            } else {
                key.split_at(0)
            };
            if let Some((index, text, id)) = legacy_entry(rest, &value) {
                let prefix = prefix.to_vec();
                chunk.push((key.clone(), prefix, index, text, id));
                if chunk.len() == CHUNK {
                    break;
                }
            }
        }
        if chunk.is_empty() {
            return Ok(moved);
        }
        tree.transaction(|tx| {
            for (old, prefix, index, text, id) in &chunk {
                let mut at = prefix.clone();
                at.extend_from_slice(&salt.bucket(*index, text));
                let bucket = tx.get(&at)?;
                let new = with(bucket.as_deref(), text, id)
                    .map_err(sled::transaction::ConflictableTransactionError::Abort)?;
                tx.insert(at, new)?;
                tx.remove(old)?;
            }
            Ok(())
        })
        .map_err(|e| match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => storage(e),
        })?;
        moved += chunk.len() as u64;
        after = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn salt() -> Salt {
        Salt([7; 16])
    }

    fn all(bucket: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        entries(bucket)
            .map(|e| e.map(|(t, i)| (t.to_vec(), i.to_vec())).expect("entry"))
            .collect()
    }

    #[test]
    fn a_bucket_keeps_its_entries_in_order_once_each() {
        let mut b = with(None, b"bob", b"2").expect("with");
        b = with(Some(&b), b"al", b"9").expect("with");
        b = with(Some(&b), b"bob", b"1").expect("with");
        b = with(Some(&b), b"bob", b"2").expect("with");
        b = with(Some(&b), b"zed", b"3").expect("with");
        assert_eq!(
            all(&b),
            [
                (b"al".to_vec(), b"9".to_vec()),
                (b"bob".to_vec(), b"1".to_vec()),
                (b"bob".to_vec(), b"2".to_vec()),
                (b"zed".to_vec(), b"3".to_vec()),
            ]
        );
        assert_eq!(ids_of(&b, b"bob").expect("ids"), ["1", "2"]);
        assert_eq!(ids_of(&b, b"bo").expect("ids"), Vec::<String>::new());
        let b = without(&b, b"bob", b"1").expect("without").expect("left");
        assert_eq!(ids_of(&b, b"bob").expect("ids"), ["2"]);
        let b = without(&b, b"nobody", b"1")
            .expect("without")
            .expect("left");
        assert_eq!(all(&b).len(), 3);
        let mut left = Some(b);
        for (t, i) in [("al", "9"), ("bob", "2"), ("zed", "3")] {
            let (t, i) = (t.as_bytes(), i.as_bytes());
            left = without(&left.expect("left"), t, i).expect("without");
        }
        assert_eq!(left, None);
    }

    #[test]
    fn a_truncated_bucket_is_corrupt_not_a_panic() {
        let b = with(None, b"alice", b"1").expect("with");
        for cut in 1..b.len() {
            let r: Result<Vec<_>, _> = entries(&b[..cut]).collect();
            assert!(r.is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn a_text_s_bucket_depends_on_the_index_and_the_salt_and_never_looks_like_an_old_entry() {
        let a = salt().bucket(Index::UserName, b"alice");
        assert_eq!(a, salt().bucket(Index::UserName, b"alice"));
        assert_ne!(a[0], salt().bucket(Index::UserExternalId, b"alice")[0]);
        let other = Salt([8; 16]);
        let differ = (0..64)
            .map(|i| format!("user{i}"))
            .filter(|t| {
                salt().bucket(Index::UserName, t.as_bytes())
                    != other.bucket(Index::UserName, t.as_bytes())
            })
            .count();
        assert!(differ > 60, "only {differ} of 64 texts moved with the salt");
        assert_eq!(bucket_index(&a), Some(Index::UserName));
        assert!(legacy_entry(&a, b"1").is_none());
        let old = crate::keys::index_key(&Index::UserName.key("alice".into()), Some("1"));
        assert_eq!(
            legacy_entry(&old, b"1"),
            Some((Index::UserName, b"alice".to_vec(), b"1".to_vec()))
        );
    }

    #[test]
    fn sixty_thousand_texts_spread_over_the_buckets() {
        let mut counts = std::collections::HashMap::new();
        for i in 0..60_000 {
            *counts
                .entry(salt().bucket(Index::UserName, format!("user{i}@example.com").as_bytes()))
                .or_insert(0u32) += 1;
        }
        // 65,536 buckets: close to 1 - 1/e of them hold one at least.
        assert!(counts.len() > 35_000, "{} buckets", counts.len());
        assert!(counts.values().all(|n| *n < 12));
    }
}
