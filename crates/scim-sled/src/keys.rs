//! How entries are laid out as sled keys.

use scim_core::model::{Index, TargetRef};

/// An index's tag: the first byte of each of its entries.
pub(crate) fn tag(index: Index) -> u8 {
    match index {
        Index::UserName => b'u',
        Index::UserExternalId => b'e',
        Index::GroupDisplayName => b'g',
        Index::GroupExternalId => b'x',
    }
}

/// The index whose tag is `byte`.
pub(crate) fn index_of_tag(byte: u8) -> Option<Index> {
    [
        Index::UserName,
        Index::UserExternalId,
        Index::GroupDisplayName,
        Index::GroupExternalId,
    ]
    .into_iter()
    .find(|i| tag(*i) == byte)
}

/// The key of an index entry in stores of earlier releases (today's: [`crate::buckets`]): a tag,
/// the key's length and bytes, and for a non-unique index the id too (so that many ids could
/// share a key). Tests make such stores with it.
#[cfg(test)]
pub(crate) fn index_key(key: &scim_core::model::IndexKey, id: Option<&str>) -> Vec<u8> {
    let text = key.text();
    let mut out = Vec::with_capacity(5 + text.len() + id.map_or(0, str::len));
    out.push(tag(key.index()));
    out.extend_from_slice(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    if !key.is_unique() {
        if let Some(id) = id {
            out.extend_from_slice(id.as_bytes());
        }
    }
    out
}

/// The text of an earlier release's index entry key, and what follows it (the id, in a non-unique
/// index).
pub(crate) fn split_index_key(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(key.get(1..5)?.try_into().ok()?);
    let end = 5usize.checked_add(usize::try_from(len).ok()?)?;
    Some((key.get(5..end)?, key.get(end..)?))
}

/// A webhook endpoint's key in the `webhooks` tree: its tenant's prefix
/// ([`crate::view::tenant_prefix`]), then its id.
pub(crate) fn webhook_key(tenant: &str, id: &str) -> String {
    format!("{tenant}\0{id}")
}

pub(crate) fn membership_key(group_id: &str, member_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(group_id.len() + 1 + member_id.len());
    k.extend_from_slice(group_id.as_bytes());
    k.push(0);
    k.extend_from_slice(member_id.as_bytes());
    k
}

/// A history's key prefix (without `seq`) or one of its entries' keys.
pub(crate) fn target_key(target: &TargetRef, seq: Option<u64>) -> Vec<u8> {
    let mut k = format!("{}:{}", target.target_type.as_str(), target.target_id).into_bytes();
    k.push(0);
    if let Some(seq) = seq {
        k.extend_from_slice(&seq.to_be_bytes());
    }
    k
}

/// The sequence number at the end of a history key.
pub(crate) fn seq_of_target_key(key: &[u8]) -> &[u8] {
    key.len()
        .checked_sub(8)
        .map(|at| &key[at..])
        .unwrap_or_default()
}
