//! How a record is stored: its bookkeeping in a small binary header, then its document's JSON
//! text as the core wrote it, so that reading a record copies the document out without a scan
//! ([`Doc::from_stored`]) and decodes only a few fixed fields and short strings.
//!
//! ```text
//! 0x01                          the format (a record of earlier releases is JSON: it begins `{`)
//! u8                            kind: 0 user, 1 group
//! u64                           version
//! i128, i32                     created: Unix time in nanoseconds, UTC offset in seconds
//! i128, i32                     lastModified, the same way
//! str                           id
//! u32, then (u8, str) each      index entries: their index's tag ([`crate::keys::tag`]), text
//! u8, then str, str if 1        profile: none (0), or display name and role
//! the rest                      the document's JSON text
//! ```
//!
//! A group's member (under its membership key) is stored the same way, in a few bytes:
//!
//! ```text
//! 0x01                          the format (a member of earlier releases is JSON: it begins `{`)
//! u8                            kind: 0 user, 1 group
//! str                           id
//! u8, then str if 1             display: none (0), or the text the client sent
//! ```
//!
//! Integers are big-endian; a `str` is its length (u32) then its UTF-8 bytes. Records and
//! members written by earlier releases (JSON) are read as they are and written in this form when
//! next written, so a store needs no migration: both forms are read.

use scim_core::model::{Doc, Member, Profile, Record, StoredKind};
use scim_core::store::StoreError;
use time::{OffsetDateTime, UtcOffset};

use crate::keys::{index_of_tag, tag};

/// The first byte of a record in this form.
const FORM: u8 = 0x01;

/// A record's stored bytes.
pub(crate) fn encode_record(record: &Record) -> Result<Vec<u8>, StoreError> {
    let doc = record.doc.text();
    if !is_object(doc.as_bytes()) {
        return Err(corrupt(format!(
            "the document of record {} is not an object",
            record.id
        )));
    }
    let mut out = Vec::with_capacity(64 + record.id.len() + doc.len());
    out.push(FORM);
    out.push(kind_byte(record.kind));
    out.extend_from_slice(&record.version.to_be_bytes());
    put_time(&mut out, record.created);
    put_time(&mut out, record.last_modified);
    put_str(&mut out, &record.id)?;
    out.extend_from_slice(&len(record.index.len())?.to_be_bytes());
    for key in &record.index {
        out.push(tag(key.index()));
        put_str(&mut out, key.text())?;
    }
    match &record.profile {
        None => out.push(0),
        Some(p) => {
            out.push(1);
            put_str(&mut out, &p.display_name)?;
            put_str(&mut out, &p.role)?;
        }
    }
    out.extend_from_slice(doc.as_bytes());
    Ok(out)
}

/// A record from its stored bytes, in either form.
pub(crate) fn decode_record(bytes: &[u8]) -> Result<Record, StoreError> {
    if bytes.first() != Some(&FORM) {
        return crate::decode(bytes);
    }
    let mut r = Reader(&bytes[1..]);
    let kind = r.kind("record")?;
    let version = u64::from_be_bytes(r.array()?);
    let created = r.time()?;
    let last_modified = r.time()?;
    let id = r.string()?;
    let n = u32::from_be_bytes(r.array()?);
    let mut index = Vec::new();
    for _ in 0..n {
        let byte = r.byte()?;
        let which =
            index_of_tag(byte).ok_or_else(|| corrupt(format!("index tag {byte} in a record")))?;
        index.push(which.key(r.string()?));
    }
    let profile = if r.marker("profile")? {
        Some(Profile {
            display_name: r.string()?,
            role: r.string()?,
        })
    } else {
        None
    };
    let doc = r.0;
    if !is_object(doc) {
        return Err(corrupt(format!(
            "the document of record {id} is not an object"
        )));
    }
    let doc = String::from_utf8(doc.to_vec()).map_err(|e| corrupt(e.to_string()))?;
    Ok(Record {
        id,
        kind,
        version,
        created,
        last_modified,
        doc: Doc::from_stored(doc),
        index,
        profile,
    })
}

/// A group's member as stored under its membership key: [`FORM`], its kind (as a record's), its
/// id, then `display` when the client sent one (a marker byte, then the text). Members of
/// earlier releases are JSON (they begin `{`) and are read as they are.
pub(crate) fn encode_member(member: &Member) -> Result<Vec<u8>, StoreError> {
    let display = member.display.as_deref();
    let mut out = Vec::with_capacity(11 + member.value.len() + display.map_or(0, str::len));
    out.push(FORM);
    out.push(kind_byte(member.kind));
    put_str(&mut out, &member.value)?;
    match display {
        None => out.push(0),
        Some(d) => {
            out.push(1);
            put_str(&mut out, d)?;
        }
    }
    Ok(out)
}

/// A member from its stored bytes, in either form.
pub(crate) fn decode_member(bytes: &[u8]) -> Result<Member, StoreError> {
    if bytes.first() != Some(&FORM) {
        return crate::decode(bytes);
    }
    let mut r = Reader(&bytes[1..]);
    let kind = r.kind("member")?;
    let value = r.string()?;
    let display = if r.marker("member display")? {
        Some(r.string()?)
    } else {
        None
    };
    if !r.0.is_empty() {
        return Err(corrupt(format!("member {value} has bytes after its end")));
    }
    Ok(Member {
        value,
        kind,
        display,
    })
}

/// Whether a document's text is an object, as far as its first and last bytes tell: the text is
/// the core's, written by serde_json, so this only catches a record damaged by hand.
fn is_object(doc: &[u8]) -> bool {
    doc.first() == Some(&b'{') && doc.last() == Some(&b'}')
}

fn corrupt(reason: String) -> StoreError {
    StoreError::Corrupt(reason)
}

fn len(n: usize) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| corrupt(format!("{n} is too long for a record")))
}

/// A kind as stored: 0 user, 1 group.
fn kind_byte(kind: StoredKind) -> u8 {
    match kind {
        StoredKind::User => 0,
        StoredKind::Group => 1,
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), StoreError> {
    out.extend_from_slice(&len(s.len())?.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_time(out: &mut Vec<u8>, t: OffsetDateTime) {
    out.extend_from_slice(&t.unix_timestamp_nanos().to_be_bytes());
    out.extend_from_slice(&t.offset().whole_seconds().to_be_bytes());
}

/// The bytes of a record not yet read.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.0.len() < n {
            return Err(corrupt("a record ends early".to_string()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    /// A kind ([`kind_byte`]) of a `what`.
    fn kind(&mut self, what: &str) -> Result<StoredKind, StoreError> {
        match self.byte()? {
            0 => Ok(StoredKind::User),
            1 => Ok(StoredKind::Group),
            other => Err(corrupt(format!("{what} kind {other}"))),
        }
    }

    /// Whether an optional part follows: its marker, 0 (none) or 1.
    fn marker(&mut self, what: &str) -> Result<bool, StoreError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(corrupt(format!("{what} marker {other}"))),
        }
    }

    fn byte(&mut self) -> Result<u8, StoreError> {
        Ok(self.array::<1>()?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn string(&mut self) -> Result<String, StoreError> {
        let n = u32::from_be_bytes(self.array()?);
        let n = usize::try_from(n).map_err(|e| corrupt(e.to_string()))?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| corrupt(e.to_string()))
    }

    fn time(&mut self) -> Result<OffsetDateTime, StoreError> {
        let nanos = i128::from_be_bytes(self.array()?);
        let offset = i32::from_be_bytes(self.array()?);
        let offset = UtcOffset::from_whole_seconds(offset).map_err(|e| corrupt(e.to_string()))?;
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map(|t| t.to_offset(offset))
            .map_err(|e| corrupt(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_core::model::IndexKey;
    use serde_json::json;
    use time::macros::datetime;

    fn ada() -> Record {
        Record {
            id: "2819c223".into(),
            kind: StoredKind::User,
            version: 7,
            created: datetime!(2026-12-06 18:37:23.123456789 UTC),
            last_modified: datetime!(2026-12-07 01:02:03.5 +02:00),
            doc: Doc::new(
                json!({"schemas": ["urn:x"], "userName": "Ada", "name": {"givenName": "Ada"}}),
            ),
            index: vec![
                IndexKey::UserName("ada".into()),
                IndexKey::UserExternalId("Ext-1".into()),
            ],
            profile: Some(Profile {
                display_name: "Ada Lovelace".into(),
                role: "Everyone".into(),
            }),
        }
    }

    #[test]
    fn a_document_that_is_not_an_object_is_not_stored() {
        let record = Record {
            doc: Doc::new(json!(["not", "an", "object"])),
            ..ada()
        };
        assert!(matches!(
            encode_record(&record),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn a_record_reads_back_as_it_was_written_with_its_document_text_unchanged() {
        for record in [
            ada(),
            Record {
                kind: StoredKind::Group,
                profile: None,
                index: Vec::new(),
                ..ada()
            },
            // The group indexes' tags too.
            Record {
                kind: StoredKind::Group,
                profile: None,
                index: vec![
                    IndexKey::GroupDisplayName("admins".into()),
                    IndexKey::GroupExternalId("G-1".into()),
                ],
                ..ada()
            },
        ] {
            let bytes = encode_record(&record).expect("encodes");
            assert_eq!(bytes[0], FORM);
            let back = decode_record(&bytes).expect("decodes");
            assert_eq!(back, record);
            assert_eq!(back.doc.text(), record.doc.text());
            assert_eq!(back.last_modified.offset(), record.last_modified.offset());
        }
    }

    #[test]
    fn a_record_an_earlier_release_wrote_as_json_is_read() {
        let record = ada();
        let earlier = serde_json::to_vec(&record).expect("JSON");
        assert_eq!(earlier[0], b'{');
        assert_eq!(decode_record(&earlier).expect("decodes"), record);
    }

    #[test]
    fn damaged_records_are_refused_as_corrupt_and_never_panic() {
        let bytes = encode_record(&ada()).expect("encodes");
        let header = bytes.len() - ada().doc.text().len();
        // Cut anywhere in the header, or with no document after it.
        for end in 0..=header {
            assert!(
                matches!(decode_record(&bytes[..end]), Err(StoreError::Corrupt(_))),
                "{end} bytes read as a record"
            );
        }
        // Any byte of the header changed: an error or a record, never a panic.
        for at in 0..header {
            for value in [0u8, 0x7f, 0xff] {
                let mut b = bytes.clone();
                b[at] = value;
                let _ = decode_record(&b);
            }
        }
        let mut kind = bytes.clone();
        kind[1] = 9;
        assert!(matches!(decode_record(&kind), Err(StoreError::Corrupt(_))));
        // An index tag no index has: after the format, kind, version, two times, id and count.
        let mut tagged = bytes.clone();
        let at = 1 + 1 + 8 + 2 * 20 + 4 + ada().id.len() + 4;
        assert_eq!(tagged[at], b'u', "the first index entry's tag");
        tagged[at] = b'z';
        assert!(matches!(
            decode_record(&tagged),
            Err(StoreError::Corrupt(_))
        ));
        let mut doc = bytes;
        doc.push(b' ');
        assert!(matches!(decode_record(&doc), Err(StoreError::Corrupt(_))));
    }

    fn members() -> Vec<Member> {
        vec![
            Member {
                value: "2819c223-7f76-453a-919d-413861904646".into(),
                kind: StoredKind::User,
                display: None,
            },
            Member {
                value: "g-9".into(),
                kind: StoredKind::Group,
                display: Some("Engineering \"core\" ☃".into()),
            },
            Member {
                value: "u-2".into(),
                kind: StoredKind::User,
                display: Some(String::new()),
            },
        ]
    }

    #[test]
    fn a_member_reads_back_as_it_was_written_and_one_an_earlier_release_wrote_as_json_too() {
        for m in members() {
            let bytes = encode_member(&m).expect("encodes");
            assert_eq!(bytes[0], FORM);
            assert_eq!(decode_member(&bytes).expect("decodes"), m);
            let earlier = serde_json::to_vec(&m).expect("JSON");
            assert_eq!(earlier[0], b'{');
            assert_eq!(decode_member(&earlier).expect("decodes"), m);
        }
    }

    #[test]
    fn damaged_members_are_refused_as_corrupt_and_never_panic() {
        for m in members() {
            let bytes = encode_member(&m).expect("encodes");
            for end in 0..bytes.len() {
                assert!(
                    matches!(decode_member(&bytes[..end]), Err(StoreError::Corrupt(_))),
                    "{end} bytes of {bytes:?} read as a member"
                );
            }
            for at in 0..bytes.len() {
                for value in [0u8, 0x7f, 0xff] {
                    let mut b = bytes.clone();
                    b[at] = value;
                    let _ = decode_member(&b);
                }
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(matches!(
                decode_member(&longer),
                Err(StoreError::Corrupt(_))
            ));
            let mut kind = bytes;
            kind[1] = 9;
            assert!(matches!(decode_member(&kind), Err(StoreError::Corrupt(_))));
        }
    }
}
