//! API keys: minted from the OS's random source, stored only as SHA-256 digests, checked in
//! constant time. Several keys may be active at once; a revoked key fails on the next request.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::store::{Actor, ApiKey, Revision, Store};

/// The prefix of every key, so that secret scanners can spot leaked keys.
pub const PREFIX: &str = "scim_";

/// A fresh key: 256 bits from the OS, hex-encoded behind [`PREFIX`].
pub fn generate() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| Error::internal(format!("random source: {e}")))?;
    Ok(format!("{PREFIX}{}", hex(&bytes)))
}

/// The stored form of a key: lower-case hex SHA-256.
pub fn digest(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Finds the active key whose digest matches `presented`. Every active key is compared, in
/// constant time, whatever matches: the time taken does not tell how close a guess was.
pub fn find<'k>(keys: &'k [ApiKey], presented: &str) -> Option<&'k ApiKey> {
    let wanted = digest(presented);
    let mut found = None;
    for key in keys.iter().filter(|k| k.revoked.is_none()) {
        let equal: bool = key.digest.as_bytes().ct_eq(wanted.as_bytes()).into();
        if equal && found.is_none() {
            found = Some(key);
        }
    }
    found
}

/// The current time in RFC 3339, UTC.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The actor recorded for key management done by the operator on the command line.
pub fn operator() -> Actor {
    Actor {
        name: "Operator".into(),
        key_id: None,
        key_label: None,
    }
}

/// Mints a key and stores its digest. Returns the stored entry and the key, which is shown once.
pub fn create(
    store: &dyn Store,
    label: &str,
    admin: bool,
    actor: Actor,
) -> Result<(ApiKey, String)> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(Error::invalid_value(
            "a key's label must have 1 to 100 characters",
        ));
    }
    let key = generate()?;
    let entry = ApiKey {
        id: uuid::Uuid::new_v4().to_string(),
        label: label.to_string(),
        digest: digest(&key),
        admin,
        created: now(),
        last_used: None,
        revoked: None,
    };
    store.put_key(&entry, key_revision("key.create", &entry, actor))?;
    store.flush()?;
    Ok((entry, key))
}

/// Revokes a key; it fails from the next request on.
pub fn revoke(store: &dyn Store, id: &str, actor: Actor) -> Result<ApiKey> {
    let mut entry = store
        .keys()?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(|| Error::NotFound(format!("no key with id {}", crate::error::quote(id))))?;
    if entry.revoked.is_none() {
        entry.revoked = Some(now());
        store.put_key(&entry, key_revision("key.revoke", &entry, actor))?;
        store.flush()?;
    }
    Ok(entry)
}

fn key_revision(action: &str, key: &ApiKey, actor: Actor) -> Revision {
    Revision {
        seq: 0,
        time: now(),
        actor,
        action: action.into(),
        target_type: "ApiKey".into(),
        target_id: key.id.clone(),
        changes: vec![crate::store::AttributeChange {
            attribute: "label".into(),
            before: None,
            after: Some(serde_json::Value::String(key.label.clone())),
        }],
        request_id: None,
        related: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, secret: &str, revoked: bool) -> ApiKey {
        ApiKey {
            id: id.into(),
            label: id.into(),
            digest: digest(secret),
            admin: false,
            created: now(),
            last_used: None,
            revoked: revoked.then(now),
        }
    }

    #[test]
    fn keys_have_256_random_bits_and_differ() {
        let a = generate().expect("key");
        let b = generate().expect("key");
        assert_ne!(a, b);
        let body = a.strip_prefix(PREFIX).expect("prefix");
        assert_eq!(body.len(), 64);
        assert!(body.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn find_matches_only_active_keys() {
        let keys = vec![
            key("a", "one", false),
            key("b", "two", true),
            key("c", "three", false),
        ];
        assert_eq!(find(&keys, "one").map(|k| k.id.as_str()), Some("a"));
        assert_eq!(find(&keys, "three").map(|k| k.id.as_str()), Some("c"));
        assert!(find(&keys, "two").is_none(), "revoked");
        assert!(find(&keys, "four").is_none());
        assert!(find(&[], "one").is_none());
    }
}
