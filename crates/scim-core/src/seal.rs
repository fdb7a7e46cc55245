//! Sealing: the secrets a sender must use whole (webhook signing secrets) are kept in the store
//! only sealed with XChaCha20-Poly1305 under the server's secrets key, which lives outside the
//! store (a file, `secrets_key_file`). A copy of the store, a database dump or a stolen disk
//! image without that file holds no usable secret.
//!
//! Sealed text: `sealed.v1.<key id>.<base64url(nonce ‖ ciphertext)>`, where the key id is the
//! first 8 hex digits of the key's SHA-256, so that a secret sealed under another key (a replica
//! given another file) is named as such instead of failing as "corrupt".

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const PREFIX: &str = "sealed.v1.";
const NONCE: usize = 24;

/// The secrets key: 256 bits. Its `Debug` shows only its id.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    id: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("id", &self.id).finish()
    }
}

impl Sealer {
    /// A key from its 32 bytes.
    pub fn from_key(key: &[u8; 32]) -> Self {
        let id = crate::secret::hex(&Sha256::digest(key))[..8].to_string();
        Sealer {
            cipher: XChaCha20Poly1305::new(key.into()),
            id,
        }
    }

    /// A new random key (a test's, or a first start's): its bytes, to be kept, and the sealer.
    pub fn generate() -> Result<([u8; 32], Self)> {
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key)
            .map_err(|e| Error::Internal(format!("random source: {e}")))?;
        Ok((key, Sealer::from_key(&key)))
    }

    /// A key as written in its file: 64 hex digits (surrounding white space ignored).
    pub fn from_text(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("a secrets key is 64 hex digits (256 bits)".into());
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(|_| "a secrets key is 64 hex digits (256 bits)".to_string())?;
        }
        Ok(Sealer::from_key(&key))
    }

    /// The key's id: the first 8 hex digits of its SHA-256 (safe to show).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `clear`, sealed under a fresh random nonce.
    pub fn seal(&self, clear: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE];
        getrandom::getrandom(&mut nonce)
            .map_err(|e| Error::Internal(format!("random source: {e}")))?;
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), clear.as_bytes())
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!(
            "{PREFIX}{}.{}",
            self.id,
            URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// The clear text of what [`Sealer::seal`] sealed, or why it cannot be had: another key
    /// sealed it, or it is not sealed text, or it was altered.
    pub fn open(&self, sealed: &str) -> Result<String> {
        let unusable = |why: String| Error::Internal(format!("a sealed secret {why}"));
        let rest = sealed
            .strip_prefix(PREFIX)
            .ok_or_else(|| unusable("is not sealed text".into()))?;
        let (id, body) = rest
            .split_once('.')
            .ok_or_else(|| unusable("is not sealed text".into()))?;
        if id != self.id {
            return Err(unusable(format!(
                "was sealed under the secrets key {id}, and this server has the key {}: give \
                 every server of this store the same secrets_key_file",
                self.id
            )));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| unusable("is not sealed text".into()))?;
        if bytes.len() < NONCE {
            return Err(unusable("is not sealed text".into()));
        }
        let (nonce, sealed) = bytes.split_at(NONCE);
        let clear = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), sealed)
            .map_err(|_| unusable("was altered (it does not authenticate)".into()))?;
        String::from_utf8(clear).map_err(|_| unusable("is not text".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_sealed_opens_with_its_key_only_and_never_shows_the_clear_text() {
        let (_, a) = Sealer::generate().expect("key");
        let (_, b) = Sealer::generate().expect("key");
        let clear = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0";
        let sealed = a.seal(clear).expect("sealed");
        assert!(sealed.starts_with("sealed.v1."), "{sealed}");
        assert!(!sealed.contains("c2VjcmV0c2VjcmV0"), "{sealed}");
        // A fresh nonce each time.
        assert_ne!(sealed, a.seal(clear).expect("sealed"));
        assert_eq!(a.open(&sealed).expect("opens"), clear);
        let other = b.open(&sealed).expect_err("another key");
        assert!(other.to_string().contains(a.id()), "{other}");
        // One bit changed anywhere in the body: refused.
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).expect("text");
        assert!(a.open(&altered).is_err());
        assert!(a.open(clear).is_err());
        assert!(format!("{a:?}").contains(a.id()));
    }

    #[test]
    fn a_key_file_holds_64_hex_digits() {
        let text = "00".repeat(31) + "ff";
        let k = Sealer::from_text(&format!(" {text}\n")).expect("a key");
        assert_eq!(k.id(), Sealer::from_text(&text).expect("same").id());
        assert!(Sealer::from_text("abc").is_err());
        assert!(Sealer::from_text(&"zz".repeat(32)).is_err());
    }
}
