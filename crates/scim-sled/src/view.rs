//! A partition's view of a tree: the whole tree (`default`'s own trees, the operator's feed), or
//! the keys of one tenant in a tree every other tenant shares, each key behind the tenant's
//! prefix (`{tenant}\0`, see [`tenant_prefix`]). A view offers the operations the engine uses,
//! taking and giving keys without the prefix, so that what reads and writes a partition does not
//! know which of the two it has; [`TxView`] is its counterpart inside a transaction. [`Trees`]
//! are the seven trees of a partition.

use std::borrow::Cow;
use std::ops::Bound;

use sled::transaction::{TransactionalTree, UnabortableTransactionError};
use sled::{IVec, Tree};

/// The prefix of a tenant's keys in the shared trees: its id and a NUL. Tenant ids are
/// `[a-z0-9-]{1,63}`, so no tenant's prefix begins another's.
pub(crate) fn tenant_prefix(tenant: impl AsRef<[u8]>) -> Vec<u8> {
    let tenant = tenant.as_ref();
    let mut p = Vec::with_capacity(tenant.len() + 1);
    p.extend_from_slice(tenant);
    p.push(0);
    p
}

/// The first key after every key that begins with `prefix` (`None`: there is none).
pub(crate) fn after_prefix(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A partition's seven trees: `default`'s own (named as before tenants: `users`, …), or the
/// shared ones (`tenants/users`, …).
#[derive(Clone)]
pub(crate) struct Trees {
    pub(crate) users: Tree,
    pub(crate) groups: Tree,
    pub(crate) index: Tree,
    pub(crate) group_members: Tree,
    pub(crate) member_groups: Tree,
    pub(crate) revisions: Tree,
    pub(crate) by_target: Tree,
}

impl Trees {
    /// Opens (or creates) the trees whose names begin with `prefix`.
    pub(crate) fn open(db: &sled::Db, prefix: &str) -> sled::Result<Self> {
        let tree = |name: &str| db.open_tree(format!("{prefix}{name}"));
        Ok(Trees {
            users: tree("users")?,
            groups: tree("groups")?,
            index: tree("index")?,
            group_members: tree("group_members")?,
            member_groups: tree("member_groups")?,
            revisions: tree("revisions")?,
            by_target: tree("revisions_by_target")?,
        })
    }

    /// Each tree, with its name (without the prefix).
    pub(crate) fn named(&self) -> [(&'static str, &Tree); 7] {
        [
            ("users", &self.users),
            ("groups", &self.groups),
            ("index", &self.index),
            ("group_members", &self.group_members),
            ("member_groups", &self.member_groups),
            ("revisions", &self.revisions),
            ("revisions_by_target", &self.by_target),
        ]
    }
}

/// A tree, or one tenant's keys in it.
#[derive(Clone)]
pub(crate) struct View {
    tree: Tree,
    prefix: Vec<u8>,
}

impl View {
    /// The whole tree.
    pub(crate) fn whole(tree: Tree) -> Self {
        View {
            tree,
            prefix: Vec::new(),
        }
    }

    /// The keys of `tree` that begin with `prefix`, seen without it.
    pub(crate) fn prefixed(tree: Tree, prefix: Vec<u8>) -> Self {
        View { tree, prefix }
    }

    /// The tree underneath (a transaction spans trees).
    pub(crate) fn tree(&self) -> &Tree {
        &self.tree
    }

    /// This view inside a transaction over its tree.
    pub(crate) fn tx<'t>(&'t self, tree: &'t TransactionalTree) -> TxView<'t> {
        TxView {
            tree,
            prefix: &self.prefix,
        }
    }

    fn key<'k>(&self, key: &'k [u8]) -> Cow<'k, [u8]> {
        if self.prefix.is_empty() {
            Cow::Borrowed(key)
        } else {
            Cow::Owned(joined(&self.prefix, key))
        }
    }

    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> sled::Result<Option<IVec>> {
        self.tree.get(self.key(key.as_ref()))
    }

    pub(crate) fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<IVec>,
    ) -> sled::Result<Option<IVec>> {
        self.tree.insert(self.key(key.as_ref()), value)
    }

    pub(crate) fn contains_key(&self, key: impl AsRef<[u8]>) -> sled::Result<bool> {
        self.tree.contains_key(self.key(key.as_ref()))
    }

    /// The entries whose keys begin with `prefix`, in key order.
    pub(crate) fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        self.walk(self.tree.scan_prefix(self.key(prefix.as_ref())))
    }

    /// Every entry, in key order.
    pub(crate) fn iter(&self) -> Iter {
        if self.prefix.is_empty() {
            self.walk(self.tree.iter())
        } else {
            self.walk(self.tree.scan_prefix(&self.prefix))
        }
    }

    /// The entries between two bounds, in key order.
    pub(crate) fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Iter {
        let from = match from {
            Bound::Included(k) => Bound::Included(joined(&self.prefix, k)),
            Bound::Excluded(k) => Bound::Excluded(joined(&self.prefix, k)),
            Bound::Unbounded => Bound::Included(self.prefix.clone()),
        };
        let to = match to {
            Bound::Included(k) => Bound::Included(joined(&self.prefix, k)),
            Bound::Excluded(k) => Bound::Excluded(joined(&self.prefix, k)),
            Bound::Unbounded => match after_prefix(&self.prefix) {
                Some(end) => Bound::Excluded(end),
                None => Bound::Unbounded,
            },
        };
        self.walk(self.tree.range::<Vec<u8>, _>((from, to)))
    }

    /// The number of entries (sled counts by walking them).
    pub(crate) fn len(&self) -> usize {
        self.iter().count()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    fn walk(&self, inner: sled::Iter) -> Iter {
        Iter {
            inner,
            strip: self.prefix.len(),
        }
    }
}

fn joined(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + key.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(key);
    k
}

/// A walk over a view: its keys come without the view's prefix.
pub(crate) struct Iter {
    inner: sled::Iter,
    strip: usize,
}

impl Iterator for Iter {
    type Item = sled::Result<(IVec, IVec)>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.inner.next()?;
        Some(self.stripped(item))
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        let item = self.inner.next_back()?;
        Some(self.stripped(item))
    }
}

impl Iter {
    /// An entry with its key's view prefix taken off.
    fn stripped(&self, item: sled::Result<(IVec, IVec)>) -> sled::Result<(IVec, IVec)> {
        let strip = self.strip;
        item.map(|(k, v)| {
            let k = if strip == 0 {
                k
            } else {
                IVec::from(k.get(strip..).unwrap_or_default())
            };
            (k, v)
        })
    }

    pub(crate) fn keys(self) -> impl DoubleEndedIterator<Item = sled::Result<IVec>> {
        self.map(|r| r.map(|(k, _)| k))
    }

    pub(crate) fn values(self) -> impl Iterator<Item = sled::Result<IVec>> {
        // The values need no stripping: leave the keys alone.
        self.inner.values()
    }
}

/// A [`View`] inside a transaction.
pub(crate) struct TxView<'t> {
    tree: &'t TransactionalTree,
    prefix: &'t [u8],
}

type TxResult<T> = Result<T, UnabortableTransactionError>;

impl TxView<'_> {
    fn key(&self, key: &[u8]) -> IVec {
        if self.prefix.is_empty() {
            IVec::from(key)
        } else {
            IVec::from(joined(self.prefix, key))
        }
    }

    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> TxResult<Option<IVec>> {
        self.tree.get(self.key(key.as_ref()))
    }

    pub(crate) fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<IVec>,
    ) -> TxResult<Option<IVec>> {
        self.tree.insert(self.key(key.as_ref()), value)
    }

    pub(crate) fn remove(&self, key: impl AsRef<[u8]>) -> TxResult<Option<IVec>> {
        self.tree.remove(self.key(key.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, Tree) {
        let dir = tempfile::tempdir().expect("dir");
        let db = sled::Config::new()
            .path(dir.path())
            .temporary(true)
            .open()
            .expect("db");
        let tree = db.open_tree("t").expect("tree");
        (dir, tree)
    }

    fn keys(walk: Iter) -> Vec<Vec<u8>> {
        walk.keys().map(|k| k.expect("key").to_vec()).collect()
    }

    #[test]
    fn a_tenants_view_sees_its_own_keys_only_and_without_its_prefix() {
        let (_dir, tree) = tree();
        let a = View::prefixed(tree.clone(), tenant_prefix("a"));
        let ab = View::prefixed(tree.clone(), tenant_prefix("a-b"));
        let b = View::prefixed(tree.clone(), tenant_prefix("b"));
        for (view, keys) in [
            (&a, ["1", "2", "3"]),
            (&ab, ["1", "4", "5"]),
            (&b, ["2", "9", "x"]),
        ] {
            for k in keys {
                view.insert(k, k.as_bytes()).expect("insert");
            }
        }
        tree.insert(b"a", b"no prefix".as_slice()).expect("insert");
        assert_eq!(keys(a.iter()), [b"1", b"2", b"3"]);
        assert_eq!(keys(ab.iter()), [b"1", b"4", b"5"]);
        assert_eq!(keys(b.scan_prefix("")), [b"2", b"9", b"x"]);
        assert_eq!(a.len(), 3);
        assert_eq!(a.get("4").expect("get"), None);
        assert_eq!(ab.get("4").expect("get").as_deref(), Some(b"4".as_slice()));
        assert!(b.contains_key("x").expect("contains"));
        assert!(!a.contains_key("x").expect("contains"));
        use Bound::{Excluded, Included, Unbounded};
        assert_eq!(keys(a.range(Excluded(b"1"), Unbounded)), [b"2", b"3"]);
        assert_eq!(keys(a.range(Unbounded, Excluded(b"3"))), [b"1", b"2"]);
        assert_eq!(keys(b.range(Included(b"9"), Unbounded)), [b"9", b"x"]);
        let values: Vec<IVec> = b.iter().values().map(|v| v.expect("value")).collect();
        assert_eq!(values, [b"2".as_slice(), b"9", b"x"]);
        tree.remove(b"a\x002").expect("remove");
        assert_eq!(keys(a.iter()), [b"1", b"3"]);
        let empty = View::prefixed(tree.clone(), tenant_prefix("c"));
        assert!(empty.is_empty());
        let whole = View::whole(tree);
        assert_eq!(whole.len(), 9);
        assert_eq!(keys(whole.scan_prefix("a\0")), [b"a\x001", b"a\x003"]);
    }

    #[test]
    fn the_end_of_a_prefix_is_its_successor() {
        assert_eq!(after_prefix(b"acme\0"), Some(b"acme\x01".to_vec()));
        assert_eq!(after_prefix(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(after_prefix(b"\xff\xff"), None);
        assert_eq!(after_prefix(b""), None);
    }
}
