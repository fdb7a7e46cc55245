//! Standard Webhooks signatures (the Standard Webhooks specification 1.0.0, symmetric scheme), as
//! pure functions, so that receivers can verify our webhooks with any existing verifier library.
//!
//! - A signing secret is 24 to 64 random bytes, shown as `whsec_` and their base64 (standard
//!   alphabet, padded). It is a secret: its `Debug` shows nothing of it.
//! - A message carries three headers: `webhook-id` (the event's id, the same on every delivery
//!   of it), `webhook-timestamp` (the attempt's time, whole seconds since the epoch) and
//!   `webhook-signature`: `v1,` and the base64 of HMAC-SHA256, keyed with the secret's bytes, of
//!   `{id}.{timestamp}.{body}`; while a secret is being rotated, one such signature per secret,
//!   separated by spaces.
//! - A receiver checks the timestamp against its clock (within a tolerance, five minutes in the
//!   specification's libraries) and accepts the message if any `v1` signature matches, compared
//!   in constant time.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// The prefix of a signing secret as shown.
pub const SECRET_PREFIX: &str = "whsec_";
/// The headers of a signed message.
pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// The version tag of a symmetric (HMAC-SHA256) signature.
const VERSION: &str = "v1";

/// A signing secret's bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

/// Why a secret, a message to sign, or a signed message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("a signing secret is whsec_ followed by base64")]
    MalformedSecret,
    #[error(
        "a signing secret has {} to {} bytes",
        SigningSecret::MIN_BYTES,
        SigningSecret::MAX_BYTES
    )]
    SecretLength,
    /// Ids and timestamps are delimited by full stops in what is signed.
    #[error("a webhook id is not empty and has no '.'")]
    Id,
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("webhook-timestamp is not a whole number of seconds")]
    Timestamp,
    #[error("webhook-timestamp is too far from now")]
    OutsideTolerance,
    #[error("no signature matches")]
    NoMatch,
}

impl SigningSecret {
    /// The fewest bytes a secret may have (192 bits).
    pub const MIN_BYTES: usize = 24;
    /// The most bytes a secret may have (512 bits).
    pub const MAX_BYTES: usize = 64;
    /// How many bytes a new secret has (256 bits).
    pub const NEW_BYTES: usize = 32;

    /// A new secret: random bytes from the OS.
    pub fn generate() -> Result<Self> {
        let mut bytes = vec![0u8; Self::NEW_BYTES];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| Error::Internal(format!("random source: {e}")))?;
        Ok(SigningSecret(bytes))
    }

    /// A secret as shown (`whsec_…`; the prefix may be left out, as the specification's
    /// libraries allow).
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| SignatureError::MalformedSecret)?;
        Self::from_bytes(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, SignatureError> {
        if (Self::MIN_BYTES..=Self::MAX_BYTES).contains(&bytes.len()) {
            Ok(SigningSecret(bytes))
        } else {
            Err(SignatureError::SecretLength)
        }
    }

    /// The secret as shown to its receiver, once: `whsec_` and its base64.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

fn check_id(id: &str) -> Result<(), SignatureError> {
    if id.is_empty() || id.contains('.') {
        Err(SignatureError::Id)
    } else {
        Ok(())
    }
}

/// The signature of a message with one secret: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}`.
pub fn sign(
    secret: &SigningSecret,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    check_id(id)?;
    let tag = secret.mac(id, timestamp, body).finalize().into_bytes();
    Ok(format!("{VERSION},{}", STANDARD.encode(tag)))
}

/// The three headers of a message, as name and value, signed with each secret (the current one,
/// and during a rotation the previous one too) in `webhook-signature`.
pub fn headers(
    secrets: &[&SigningSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<[(&'static str, String); 3], SignatureError> {
    let signatures = secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok([
        (HEADER_ID, id.to_string()),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (HEADER_SIGNATURE, signatures.join(" ")),
    ])
}

/// Verifies a message as a receiver does: its timestamp within `tolerance` seconds of `now`
/// (seconds since the epoch), and one of its `v1` signatures made with `secret` (compared in
/// constant time). Other versions' signatures are passed over.
pub fn verify(
    secret: &SigningSecret,
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance: u64,
) -> Result<(), SignatureError> {
    let id = id.ok_or(SignatureError::Missing(HEADER_ID))?;
    let timestamp = timestamp.ok_or(SignatureError::Missing(HEADER_TIMESTAMP))?;
    let signatures = signatures.ok_or(SignatureError::Missing(HEADER_SIGNATURE))?;
    check_id(id)?;
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Timestamp)?;
    if now.abs_diff(timestamp) > tolerance {
        return Err(SignatureError::OutsideTolerance);
    }
    let matches = signatures
        .split(' ')
        .filter_map(|s| s.split_once(','))
        .filter(|(version, _)| *version == VERSION)
        .filter_map(|(_, tag)| STANDARD.decode(tag).ok())
        .any(|tag| secret.mac(id, timestamp, body).verify_slice(&tag).is_ok());
    if matches {
        Ok(())
    } else {
        Err(SignatureError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks test vector ("sign function works" in the specification
    /// repository's libraries).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> SigningSecret {
        SigningSecret::parse(SECRET).expect("the vector's secret")
    }

    #[test]
    fn signs_the_specifications_test_vector() {
        assert_eq!(sign(&secret(), ID, TIMESTAMP, BODY), Ok(SIGNATURE.into()));
        let unprefixed = SigningSecret::parse(&SECRET[SECRET_PREFIX.len()..]).expect("bare");
        assert_eq!(unprefixed, secret());
        assert_eq!(secret().reveal(), SECRET);
    }

    #[test]
    fn verifies_what_it_signs_and_nothing_else() {
        let s = secret();
        let ok = |id: &str, ts: &str, sig: &str, body: &[u8], now: i64| {
            verify(&s, Some(id), Some(ts), Some(sig), body, now, 300)
        };
        let ts = TIMESTAMP.to_string();
        assert_eq!(ok(ID, &ts, SIGNATURE, BODY, TIMESTAMP), Ok(()));
        assert_eq!(ok(ID, &ts, SIGNATURE, BODY, TIMESTAMP + 300), Ok(()));
        assert_eq!(
            ok(ID, &ts, SIGNATURE, BODY, TIMESTAMP + 301),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            ok(ID, &ts, SIGNATURE, BODY, TIMESTAMP - 301),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            ok(ID, &ts, SIGNATURE, br#"{"test": 2432232315}"#, TIMESTAMP),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            ok("msg_other", &ts, SIGNATURE, BODY, TIMESTAMP),
            Err(SignatureError::NoMatch)
        );
        let later = (TIMESTAMP + 1).to_string();
        assert_eq!(
            ok(ID, &later, SIGNATURE, BODY, TIMESTAMP),
            Err(SignatureError::NoMatch)
        );
        let other = SigningSecret::generate().expect("secret");
        assert_eq!(
            verify(
                &other,
                Some(ID),
                Some(&ts),
                Some(SIGNATURE),
                BODY,
                TIMESTAMP,
                300
            ),
            Err(SignatureError::NoMatch)
        );
        // Another version's tag, a cut signature, garbage: no match.
        for bad in [
            "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "v1,g0hM9SsE",
            "v1,",
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ] {
            assert_eq!(
                ok(ID, &ts, bad, BODY, TIMESTAMP),
                Err(SignatureError::NoMatch),
                "{bad}"
            );
        }
        assert_eq!(
            ok(ID, "soon", SIGNATURE, BODY, TIMESTAMP),
            Err(SignatureError::Timestamp)
        );
        assert_eq!(
            ok(ID, &i64::MIN.to_string(), SIGNATURE, BODY, i64::MAX),
            Err(SignatureError::OutsideTolerance),
            "no overflow"
        );
        assert_eq!(
            verify(&s, None, Some(&ts), Some(SIGNATURE), BODY, TIMESTAMP, 300),
            Err(SignatureError::Missing(HEADER_ID))
        );
    }

    #[test]
    fn a_rotation_signs_with_both_secrets_and_either_verifies() {
        let (old, new) = (secret(), SigningSecret::generate().expect("secret"));
        let [(id_name, id), (ts_name, ts), (sig_name, sigs)] =
            headers(&[&new, &old], ID, TIMESTAMP, BODY).expect("headers");
        assert_eq!(
            (id_name, ts_name, sig_name),
            ("webhook-id", "webhook-timestamp", "webhook-signature")
        );
        assert_eq!((id.as_str(), ts.as_str()), (ID, "1614265330"));
        assert_eq!(sigs.split(' ').nth(1), Some(SIGNATURE));
        for s in [&old, &new] {
            let r = verify(s, Some(&id), Some(&ts), Some(&sigs), BODY, TIMESTAMP, 300);
            assert_eq!(r, Ok(()));
        }
    }

    #[test]
    fn secrets_are_24_to_64_bytes_of_base64_and_never_shown_by_debug() {
        let new = SigningSecret::generate().expect("secret");
        assert_eq!(new.0.len(), 32);
        let shown = new.reveal();
        assert!(shown.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&shown), Ok(new.clone()));
        assert_ne!(SigningSecret::generate().expect("secret"), new);
        assert_eq!(format!("{new:?}"), "SigningSecret(…)");
        assert_eq!(
            SigningSecret::parse("whsec_c2hvcnQ="),
            Err(SignatureError::SecretLength)
        );
        assert_eq!(
            SigningSecret::from_bytes(vec![7; 65]),
            Err(SignatureError::SecretLength)
        );
        assert_eq!(
            SigningSecret::parse("whsec_not base64!"),
            Err(SignatureError::MalformedSecret)
        );
    }

    #[test]
    fn ids_with_full_stops_are_refused() {
        assert_eq!(sign(&secret(), "msg.1", 1, b"{}"), Err(SignatureError::Id));
        assert_eq!(sign(&secret(), "", 1, b"{}"), Err(SignatureError::Id));
    }
}

/// Against the Standard Webhooks project's own Rust library (`standardwebhooks`), written
/// independently of ours: it verifies what we sign, and signs as we do.
#[cfg(test)]
mod independent {
    use super::*;

    fn header_map(headers: &[(&'static str, String); 3]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().expect("a header value"));
        }
        map
    }

    #[test]
    fn the_standard_webhooks_library_verifies_our_signatures() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let body = br#"{"id":"evt_1","type":"user.suspended","data":{"active":false}}"#;
        for _ in 0..20 {
            let secret = SigningSecret::generate().expect("secret");
            let theirs = standardwebhooks::Webhook::new(&secret.reveal()).expect("their parse");
            let ours = headers(&[&secret], "evt_0a1b", now, body).expect("headers");
            assert!(theirs.verify(body, &header_map(&ours)).is_ok());
            assert!(
                theirs.verify(b"{}", &header_map(&ours)).is_err(),
                "a changed body"
            );
            assert_eq!(
                theirs.sign("evt_0a1b", now, body).ok(),
                sign(&secret, "evt_0a1b", now, body).ok()
            );
            // During a rotation, a receiver that knows only the old secret still verifies.
            let next = SigningSecret::generate().expect("secret");
            let both = headers(&[&next, &secret], "evt_0a1b", now, body).expect("headers");
            assert!(theirs.verify(body, &header_map(&both)).is_ok());
            let only_next = headers(&[&next], "evt_0a1b", now, body).expect("headers");
            assert!(theirs.verify(body, &header_map(&only_next)).is_err());
        }
    }

    #[test]
    fn we_verify_what_the_standard_webhooks_library_signs() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let secret = SigningSecret::generate().expect("secret");
        let theirs = standardwebhooks::Webhook::new(&secret.reveal()).expect("their parse");
        let signature = theirs
            .sign("msg_2", now, b"[1,2]")
            .expect("their signature");
        let ts = now.to_string();
        assert_eq!(
            verify(
                &secret,
                Some("msg_2"),
                Some(&ts),
                Some(&signature),
                b"[1,2]",
                now,
                300
            ),
            Ok(())
        );
    }
}
