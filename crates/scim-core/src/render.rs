//! Records as clients see them: the canonical document with `id`, `meta`, and `groups` (a user)
//! or `members` (a group), then projected. The related values are read through the store (for
//! a request) or a [`Lookup`] (inside an engine's query); both build the same JSON here.

use scim_proto::resource::{self, Meta, Projection};
use std::fmt;

use scim_proto::schema::Registry;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::model::{rfc3339, Kind, Member, Record, Run, RunText, SharedMembers};
use crate::store::{Lookup, StoreError};

/// The name of the attribute that holds a kind's relations: `groups` or `members`.
pub fn related_name(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "groups",
        Kind::Group => "members",
    }
}

/// A member as the group document holds it: `value`, `display`, `type`.
pub fn member_json(m: &Member) -> Value {
    let mut o = Map::new();
    o.insert("value".into(), Value::String(m.value.clone()));
    if let Some(d) = &m.display {
        o.insert("display".into(), Value::String(d.clone()));
    }
    o.insert(
        "type".into(),
        Value::String(Kind::from(m.kind).name().to_string()),
    );
    Value::Object(o)
}

/// The canonical document with `members` put back (groups), as PATCH and diffs see it.
pub fn with_members(doc: &Value, members: Option<&[Member]>) -> Value {
    into_with_members(doc.clone(), members)
}

/// [`with_members`], of a document the caller owns.
pub fn into_with_members(mut doc: Value, members: Option<&[Member]>) -> Value {
    if let (Some(members), Value::Object(o)) = (members, &mut doc) {
        if !members.is_empty() {
            o.insert(
                "members".into(),
                Value::Array(members.iter().map(member_json).collect()),
            );
        }
    }
    doc
}

/// A group's `members` as rendered: each with its `$ref`.
pub fn members_value(members: &[Member], base: &str) -> Value {
    serde_json::to_value(MembersOut(members.iter(), base)).unwrap_or_default()
}

/// A user's `groups` as rendered, from each group's id and display name.
pub fn groups_value(groups: Vec<(String, Option<Value>)>, base: &str) -> Value {
    serde_json::to_value(GroupsOut(&groups, base)).unwrap_or_default()
}

/// A record's related values as read: a user's groups (id and display name), a group's members.
#[derive(Debug, Clone)]
pub enum Related {
    Groups(Vec<(String, Option<Value>)>),
    Members(MemberList),
}

/// A group's members as an answer shows them: those read (shared with the engine, not copied),
/// less those a change took out or moved, then those it added, in order.
#[derive(Debug, Clone, Default)]
pub struct MemberList {
    read: SharedMembers,
    /// Ids, sorted: few (a change names few members), searched for each member read.
    left_out: Vec<String>,
    added: Vec<Member>,
}

impl MemberList {
    /// The members read, as they are.
    pub fn new(read: SharedMembers) -> Self {
        MemberList {
            read,
            ..MemberList::default()
        }
    }

    /// The members read, less the ids of `left_out`, then `added`.
    pub fn changed(read: SharedMembers, mut left_out: Vec<String>, added: Vec<Member>) -> Self {
        left_out.sort_unstable();
        MemberList {
            read,
            left_out,
            added,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Member> + Clone {
        self.read
            .iter()
            .filter(|m| !self.is_left_out(m))
            .chain(self.added.iter())
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl From<Vec<Member>> for MemberList {
    fn from(members: Vec<Member>) -> Self {
        MemberList::new(members.into())
    }
}

impl Related {
    /// As a value: [`groups_value`] or [`members_value`].
    pub fn value(&self, base: &str) -> Value {
        match self {
            Related::Groups(g) => serde_json::to_value(GroupsOut(g, base)),
            Related::Members(m) => serde_json::to_value(MembersOut(m.iter(), base)),
        }
        .unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        match self {
            Related::Groups(g) => g.is_empty(),
            Related::Members(m) => m.is_empty(),
        }
    }

    /// Writes the JSON text of [`Self::value`], without building the value: the same bytes
    /// serde_json writes for [`MembersOut`] and [`GroupsOut`]
    /// (`text_rendering_writes_the_bytes_value_rendering_does`), written field by field, since a
    /// large group's answer is mostly its members.
    fn write_text(&self, base: &str, out: &mut Vec<u8>) {
        match self {
            Related::Groups(groups) => {
                out.push(b'[');
                for (i, (gid, display)) in groups.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"value\":");
                    push_str(out, gid);
                    out.extend_from_slice(b",\"$ref\":");
                    push_reference(out, base, Kind::Group.endpoint(), gid);
                    if let Some(display) = display {
                        out.extend_from_slice(b",\"display\":");
                        push_json(out, display);
                    }
                    out.extend_from_slice(b",\"type\":\"direct\"}");
                }
                out.push(b']');
            }
            Related::Members(members) => members.write_text(base, out),
        }
    }
}

impl MemberList {
    /// The members' JSON text (see [`Related::write_text`]). A run that keeps its text, under
    /// this base, and holds no member left out is copied whole.
    fn write_text(&self, base: &str, out: &mut Vec<u8>) {
        let writer = MemberText::new(base);
        let guess = |n: usize| n * (176 + base.len());
        out.reserve(
            self.read
                .runs()
                .iter()
                .map(|run| guess(run.len()))
                .sum::<usize>()
                + guess(self.added.len()),
        );
        out.push(b'[');
        let mut first = true;
        let mut next = |out: &mut Vec<u8>| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
        };
        for run in self.read.runs() {
            if let Some(text) = run.text(base, |members| writer.run(members)) {
                if !self.holds_left_out(run, text) {
                    if !text.text.is_empty() {
                        next(out);
                        out.extend_from_slice(&text.text);
                    }
                    continue;
                }
            }
            for m in run.iter().filter(|m| !self.is_left_out(m)) {
                next(out);
                writer.write(out, m);
            }
        }
        for m in &self.added {
            next(out);
            writer.write(out, m);
        }
        out.push(b']');
    }

    fn is_left_out(&self, m: &Member) -> bool {
        !self.left_out.is_empty()
            && self
                .left_out
                .binary_search_by(|id| id.as_str().cmp(&m.value))
                .is_ok()
    }

    /// Whether `run` may hold a member left out: for ascending ids, whether an id left out
    /// lies between its first and last.
    fn holds_left_out(&self, run: &Run, text: &RunText) -> bool {
        if self.left_out.is_empty() {
            return false;
        }
        match (text.ascending, run.first(), run.last()) {
            (true, Some(first), Some(last)) => {
                let from = self
                    .left_out
                    .partition_point(|id| id.as_str() < first.value.as_str());
                self.left_out
                    .get(from)
                    .is_some_and(|id| id.as_str() <= last.value.as_str())
            }
            _ => run.iter().any(|m| self.is_left_out(m)),
        }
    }
}

/// How members are written under one base: the base and the endpoints are checked once, and
/// what follows a member's `value` (its `type` and the start of its `$ref`) is made once for
/// each kind.
struct MemberText<'a> {
    base: &'a str,
    plain_base: bool,
    user: Vec<u8>,
    group: Vec<u8>,
}

impl<'a> MemberText<'a> {
    fn new(base: &'a str) -> Self {
        let after_value = |kind: Kind| {
            let mut text = b",\"type\":".to_vec();
            push_str(&mut text, kind.name());
            text.extend_from_slice(b",\"$ref\":\"");
            text.extend_from_slice(base.as_bytes());
            text.push(b'/');
            text.extend_from_slice(kind.endpoint().as_bytes());
            text.push(b'/');
            text
        };
        MemberText {
            base,
            plain_base: is_plain(base)
                && is_plain(Kind::User.endpoint())
                && is_plain(Kind::Group.endpoint()),
            user: after_value(Kind::User),
            group: after_value(Kind::Group),
        }
    }

    /// One member, as serde_json writes [`MemberOut`].
    fn write(&self, out: &mut Vec<u8>, m: &Member) {
        let kind = Kind::from(m.kind);
        let plain_id = is_plain(&m.value);
        out.extend_from_slice(b"{\"value\":");
        if plain_id {
            push_quoted(out, &m.value);
        } else {
            push_json(out, &m.value);
        }
        if let Some(display) = &m.display {
            out.extend_from_slice(b",\"display\":");
            push_str(out, display);
        }
        if self.plain_base && plain_id {
            out.extend_from_slice(match kind {
                Kind::User => &self.user,
                Kind::Group => &self.group,
            });
            out.extend_from_slice(m.value.as_bytes());
            out.extend_from_slice(b"\"}");
        } else {
            out.extend_from_slice(b",\"type\":");
            push_str(out, kind.name());
            out.extend_from_slice(b",\"$ref\":");
            push_reference(out, self.base, kind.endpoint(), &m.value);
            out.push(b'}');
        }
    }

    /// A run's members, separated by commas.
    fn run(&self, members: &[Member]) -> RunText {
        let mut text = Vec::new();
        for (i, m) in members.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            self.write(&mut text, m);
        }
        RunText {
            base: self.base.into(),
            text: text.into_boxed_slice(),
            ascending: members.windows(2).all(|w| w[0].value < w[1].value),
        }
    }
}

/// Whether serde_json writes `s` as it is between quotes: no control character, quote or
/// backslash (it escapes nothing else).
fn is_plain(s: &str) -> bool {
    // Eight bytes at a time (a large group's answer checks every member's id): a byte below
    // 0x20, or equal to `"` or `\`, sets the high bit of its lane in `special` (each test is
    // exact for whether any lane matches; bytes of 0x80 and up never match).
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let special = |x: u64| {
        below(x, 0x20) | below(x ^ (ONES * u64::from(b'"')), 1) | below(x ^ (ONES * 0x5c), 1)
    };
    let mut chunks = s.as_bytes().chunks_exact(8);
    for c in &mut chunks {
        let lanes = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
        if special(u64::from_le_bytes(lanes)) != 0 {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// A string as serde_json writes it: copied when plain (ids, most names), else escaped.
fn push_str(out: &mut Vec<u8>, s: &str) {
    if is_plain(s) {
        push_quoted(out, s);
    } else {
        push_json(out, s);
    }
}

/// A string known plain ([`is_plain`]), between quotes.
fn push_quoted(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// [`Reference`] as serde_json writes it.
fn push_reference(out: &mut Vec<u8>, base: &str, endpoint: &str, id: &str) {
    if is_plain(base) && is_plain(endpoint) && is_plain(id) {
        out.push(b'"');
        out.extend_from_slice(base.as_bytes());
        out.push(b'/');
        out.extend_from_slice(endpoint.as_bytes());
        out.push(b'/');
        out.extend_from_slice(id.as_bytes());
        out.push(b'"');
    } else {
        push_json(out, &format!("{base}/{endpoint}/{id}"));
    }
}

/// A group's members as sent, under `base`: the one definition of their JSON, as a value and as
/// text.
struct MembersOut<'a, I: Iterator<Item = &'a Member> + Clone>(I, &'a str);

/// A user's groups as sent, likewise.
struct GroupsOut<'a>(&'a [(String, Option<Value>)], &'a str);

/// One member: `value`, `display`, `type`, `$ref`, in that order.
#[derive(Serialize)]
struct MemberOut<'a> {
    value: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "$ref")]
    reference: Reference<'a>,
}

/// One group of a user: `value`, `$ref`, `display`, `type` (always `direct`), in that order.
#[derive(Serialize)]
struct GroupOut<'a> {
    value: &'a str,
    #[serde(rename = "$ref")]
    reference: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a Value>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// `{base}/{endpoint}/{id}`, written without building the string first.
struct Reference<'a>(&'a str, &'static str, &'a str);

impl Serialize for Reference<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}/{}/{}", self.0, self.1, self.2))
    }
}

impl<'a, I: Iterator<Item = &'a Member> + Clone> Serialize for MembersOut<'a, I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let MembersOut(members, base) = self;
        let base: &str = base;
        s.collect_seq(members.clone().map(|m| {
            let kind = Kind::from(m.kind);
            MemberOut {
                value: &m.value,
                display: m.display.as_deref(),
                kind: kind.name(),
                reference: Reference(base, kind.endpoint(), &m.value),
            }
        }))
    }
}

impl Serialize for GroupsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let GroupsOut(groups, base) = *self;
        s.collect_seq(groups.iter().map(|(gid, display)| GroupOut {
            value: gid,
            reference: Reference(base, Kind::Group.endpoint(), gid),
            display: display.as_ref(),
            kind: "direct",
        }))
    }
}

/// A group's display name as its record holds it.
pub fn group_display(record: &Record) -> Option<Value> {
    record.doc.get("displayName").cloned()
}

/// `groups` or `members` of a record, read through a [`Lookup`].
pub fn related_from(
    lookup: &dyn Lookup,
    kind: Kind,
    id: &str,
    base: &str,
) -> Result<Value, StoreError> {
    match kind {
        Kind::User => {
            let mut groups = Vec::new();
            for gid in lookup.groups_of(id)? {
                let display = lookup
                    .record(Kind::Group, &gid)?
                    .and_then(|g| group_display(&g));
                groups.push((gid, display));
            }
            Ok(groups_value(groups, base))
        }
        Kind::Group => Ok(members_value(&lookup.members(id)?, base)),
    }
}

/// The full representation of a record with its related values, projected.
pub fn resource(
    registry: &Registry,
    kind: Kind,
    record: Record,
    related: Option<Value>,
    base_url: &str,
    projection: &Projection,
) -> Value {
    let meta = meta(&record);
    let full = resource::render(
        registry,
        kind,
        &record.id,
        record.doc.into_value(),
        &meta,
        related,
        base_url,
    );
    projection.apply(registry, kind, full)
}

/// [`resource`] as JSON text. With the default projection the stored document's text is copied,
/// attribute by attribute, between `schemas` and `id` in front and the related values and `meta`
/// behind, the order [`resource::render`] gives: no parse of the document, no value built. (A
/// canonical document holds nothing the default projection takes out: no unknown attribute,
/// none returned `never`.) Any other projection renders a value and projects it.
pub fn resource_text(
    registry: &Registry,
    kind: Kind,
    record: &Record,
    related: Option<Related>,
    base_url: &str,
    projection: &Projection,
) -> JsonText {
    if projection.is_default() {
        if let Some(text) = copied(registry, kind, record, related.as_ref(), base_url) {
            return text;
        }
    }
    let related = related.map(|r| r.value(base_url));
    let value = resource(
        registry,
        kind,
        record.clone(),
        related,
        base_url,
        projection,
    );
    JsonText(value.to_string().into_bytes())
}

/// JSON text the core wrote (a rendered resource, a page of them), sent as it is. Made only
/// here and in [`crate::ListPage`], from text serde_json wrote or checked
/// (`text_rendering_writes_the_bytes_value_rendering_does`). A stored document's text is the
/// core's own, written by serde_json when the record was committed, and is copied unparsed when
/// its `schemas` come first: reads trust the store as they do for filters (an engine's check
/// parses every stored document; sled checks its pages' checksums as it reads them).
///
/// Kept as bytes: every piece of it is text (a `str` or serde_json's output), so it is UTF-8
/// without a check of its every byte (a large group's answer is tens of KiB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(pub(crate) Vec<u8>);

impl JsonText {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The text as a value, for a view that holds it.
    pub fn to_value(&self) -> Value {
        serde_json::from_slice(&self.0).unwrap_or(Value::Null)
    }
}

/// The default representation written from the document's text; `None` when the text is not an
/// object (never, for a document the core stored).
fn copied(
    registry: &Registry,
    kind: Kind,
    record: &Record,
    related: Option<&Related>,
    base_url: &str,
) -> Option<JsonText> {
    let doc = record.doc.text();
    if let Some((schemas, after)) = schemas_first(doc) {
        // The document as written with `schemas` first (what the core writes for a body that
        // sends them first, as identity providers do): the rest of its text is what the
        // member-by-member copy below would write, so it is copied whole.
        let mut out: Vec<u8> = Vec::with_capacity(doc.len() + 320);
        out.extend_from_slice(b"{\"schemas\":");
        out.extend_from_slice(schemas.as_bytes());
        out.extend_from_slice(b",\"id\":");
        push_json(&mut out, &record.id);
        out.extend_from_slice(&after.as_bytes()[..after.len() - 1]);
        return finish(out, kind, record, related, base_url);
    }
    let Members(members) = serde_json::from_str(doc).ok()?;
    let mut out: Vec<u8> = Vec::with_capacity(doc.len() + 320);
    out.extend_from_slice(b"{\"schemas\":");
    match members.iter().find(|(k, _)| k.as_str() == "schemas") {
        Some((_, schemas)) => out.extend_from_slice(schemas.get().as_bytes()),
        None => push_json(&mut out, &[&registry.core(kind).id]),
    }
    out.extend_from_slice(b",\"id\":");
    push_json(&mut out, &record.id);
    for (key, value) in &members {
        if key.as_str() == "schemas" {
            continue;
        }
        out.push(b',');
        push_json(&mut out, key.as_str());
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    finish(out, kind, record, related, base_url)
}

/// The related values and `meta` after a document's attributes, and the closing brace.
fn finish(
    mut out: Vec<u8>,
    kind: Kind,
    record: &Record,
    related: Option<&Related>,
    base_url: &str,
) -> Option<JsonText> {
    if let Some(related) = related.filter(|r| !r.is_empty()) {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(related_name(kind).as_bytes());
        out.extend_from_slice(b"\":");
        related.write_text(base_url, &mut out);
    }
    out.extend_from_slice(b",\"meta\":");
    push_meta(&mut out, kind, record, base_url);
    out.push(b'}');
    Some(JsonText(out))
}

/// A document's text that begins with its `schemas` (compact, as serde_json writes it), split
/// into that array's text and the text after it (`,` and the other attributes, then `}`; or
/// `}` alone). `None` for any other text, which is then parsed.
fn schemas_first(doc: &str) -> Option<(&str, &str)> {
    const PREFIX: &str = "{\"schemas\":[";
    let bytes = doc.as_bytes().get(PREFIX.len()..)?;
    if !doc.starts_with(PREFIX) {
        return None;
    }
    let mut i = 0;
    if bytes.first() == Some(&b']') {
        i = 1;
    } else {
        loop {
            if bytes.get(i) != Some(&b'"') {
                return None;
            }
            i += 1;
            loop {
                match bytes.get(i)? {
                    b'"' => break,
                    b'\\' => i += 2,
                    _ => i += 1,
                }
            }
            i += 1;
            match bytes.get(i)? {
                b',' => i += 1,
                b']' => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    let end = PREFIX.len() + i;
    let (schemas, after) = (doc.get(PREFIX.len() - 1..end)?, doc.get(end..)?);
    (after == "}" || (after.starts_with(',') && after.ends_with('}'))).then_some((schemas, after))
}

fn push_json(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    // Writing JSON into memory fails only for a map with non-string keys, which none of these
    // has.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// `meta` as serde_json writes [`Meta::rendered`] (`text_rendering_writes_the_bytes_value_rendering_does`),
/// written field by field: a list page writes one for each of its records.
fn push_meta(out: &mut Vec<u8>, kind: Kind, record: &Record, base: &str) {
    out.extend_from_slice(b"{\"resourceType\":");
    push_str(out, kind.name());
    out.extend_from_slice(b",\"created\":");
    push_time(out, record.created);
    out.extend_from_slice(b",\"lastModified\":");
    push_time(out, record.last_modified);
    out.extend_from_slice(b",\"location\":");
    push_reference(out, base, kind.endpoint(), &record.id);
    // `W/"7"`, its quotes escaped.
    out.extend_from_slice(b",\"version\":\"W/\\\"");
    out.extend_from_slice(record.version.to_string().as_bytes());
    out.extend_from_slice(b"\\\"\"}");
}

/// A time as [`rfc3339`] gives it, as a JSON string (its characters need no escape); an empty
/// string when RFC 3339 cannot express it, as there.
fn push_time(out: &mut Vec<u8>, t: time::OffsetDateTime) {
    out.push(b'"');
    let at = out.len();
    if t.format_into(out, &time::format_description::well_known::Rfc3339)
        .is_err()
    {
        out.truncate(at);
    }
    out.push(b'"');
}

/// A record's `meta` fields.
fn meta(record: &Record) -> Meta {
    Meta {
        created: rfc3339(record.created),
        last_modified: rfc3339(record.last_modified),
        version: record.version,
    }
}

/// A JSON object's members in order, each value as its text: what [`copied`] splices.
struct Members<'a>(Vec<(Key<'a>, &'a RawValue)>);

/// A member's name: borrowed from the text unless it was written with escapes.
enum Key<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl<'de> Visitor<'de> for Name {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_string()))
            }
        }
        d.deserialize_str(Name)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, value));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Doc, StoredKind};
    use serde_json::json;
    use std::sync::Arc;
    use time::macros::datetime;

    fn record(kind: Kind, doc: Value) -> Record {
        Record {
            id: "2819c223-7f76-453a-919d-413861904646".into(),
            kind: kind.into(),
            version: 7,
            created: datetime!(2026-12-06 10:47:12.125 UTC),
            last_modified: datetime!(2026-12-06 11:00:00 UTC),
            // As read from a store: text, parsed only if read into.
            doc: serde_json::from_str::<Doc>(&doc.to_string()).expect("test value"),
            index: Vec::new(),
            profile: None,
        }
    }

    /// A record rendered both ways with the default projection: as text, and as a value.
    fn both_ways(
        registry: &Registry,
        kind: Kind,
        r: Record,
        related: Option<Related>,
        base: &str,
    ) -> (JsonText, Value) {
        let text = resource_text(
            registry,
            kind,
            &r,
            related.clone(),
            base,
            &Projection::default(),
        );
        let related = related.map(|r| r.value(base));
        let value = resource(registry, kind, r, related, base, &Projection::default());
        (text, value)
    }

    /// Every user and group body of the IdP corpus, canonical, and a few written to probe the
    /// splicing: `schemas` last or missing, escapes in names and values, no attribute at all.
    fn documents(registry: &Registry) -> Vec<(Kind, Value)> {
        let mut docs = Vec::new();
        let mut bodies = Vec::new();
        for idp in std::fs::read_dir(fixtures::idp()).expect("test value") {
            let idp = idp.expect("test value").path();
            if !idp.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(idp).expect("test value") {
                let text =
                    std::fs::read_to_string(file.expect("test value").path()).expect("test value");
                let case: Value = serde_json::from_str(&text).expect("test value");
                for step in case["steps"].as_array().into_iter().flatten() {
                    if let Some(body) = step.get("body") {
                        bodies.push(body.clone());
                    }
                }
            }
        }
        for body in &bodies {
            for kind in [Kind::User, Kind::Group] {
                if let Ok(mut doc) = resource::from_request(registry, kind, body, false) {
                    if let Some(o) = doc.as_object_mut() {
                        o.shift_remove("members");
                    }
                    docs.push((kind, doc));
                }
            }
        }
        assert!(docs.len() > 20, "the corpus gave {} documents", docs.len());
        docs.push((
            Kind::User,
            json!({"userName": "a\"b\\c\u{0001}é😀", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}),
        ));
        docs.push((
            Kind::User,
            json!({"userName": "no-schemas", "name": {"givenName": "</script>"}}),
        ));
        docs.push((Kind::Group, json!({})));
        docs.push((
            Kind::User,
            json!({"schemas": ["urn:a]b", "urn:\"c\\\"],d"], "userName": "brackets"}),
        ));
        docs.push((Kind::Group, json!({"schemas": []})));
        docs.push((
            Kind::Group,
            json!({"schemas": [], "displayName": "empty schemas"}),
        ));
        docs.push((
            Kind::User,
            json!({"userName": "pretty", "emails": [{"value": "p@x.test"}]}),
        ));
        docs.push((
            Kind::User,
            serde_json::from_str(r#"{"user\u004eame": "escaped-key", "schemas": []}"#)
                .expect("test value"),
        ));
        docs
    }

    /// The eight-bytes-at-a-time check agrees with the byte-by-byte one for every byte in every
    /// lane, and for text with none of them.
    #[test]
    fn a_string_is_plain_exactly_when_no_byte_needs_escaping() {
        let by_byte = |s: &str| s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
        for c in (0u32..0x80).chain([0xe9, 0x2603, 0x1f600]) {
            let c = char::from_u32(c).expect("char");
            for at in 0..20 {
                let mut s: String = "a-Z_0~9 ".repeat(3).chars().take(at).collect();
                s.push(c);
                s.push_str("plain text, é and ☃ too");
                assert_eq!(is_plain(&s), by_byte(&s), "{s:?}");
            }
        }
        assert!(is_plain("2819c223-7f76-453a-919d-413861904646"));
        assert!(!is_plain("2819c223-7f76-453a-919d-41386190464\""));
        assert!(is_plain(""));
    }

    /// An answer's members: those read, in their runs' order, less those left out, then those
    /// added, in the order given.
    #[test]
    fn a_member_list_shows_those_read_less_those_left_out_then_those_added() {
        let member = |value: &str| Member {
            value: value.into(),
            display: None,
            kind: StoredKind::User,
        };
        let ids = |list: &MemberList| list.iter().map(|m| m.value.clone()).collect::<Vec<_>>();
        let read = SharedMembers::from_runs(vec![
            Arc::new(Run::new(vec![member("a"), member("c"), member("e")])),
            Arc::new(Run::default()),
            Arc::new(Run::kept(vec![member("g"), member("i")])),
        ]);
        assert_eq!(read.iter().count(), 5);
        assert_eq!(
            ids(&MemberList::new(read.clone())),
            ["a", "c", "e", "g", "i"]
        );
        let list = MemberList::changed(
            read.clone(),
            vec!["i".into(), "c".into(), "z".into(), "e".into()],
            vec![member("e"), member("b")],
        );
        assert_eq!(ids(&list), ["a", "g", "e", "b"]);
        assert!(!list.is_empty());
        let none = MemberList::changed(
            read,
            ["a", "c", "e", "g", "i"].map(String::from).to_vec(),
            Vec::new(),
        );
        assert!(none.is_empty());
        assert!(
            MemberList::new(SharedMembers::from_runs(vec![Arc::new(Run::default())])).is_empty()
        );
    }

    /// Runs that keep their text are copied whole only under the base it was made for and when
    /// no member left out may be in them; every answer is what serde_json writes for the list.
    #[test]
    fn kept_runs_are_copied_only_under_their_base_and_without_a_member_left_out() {
        let member = |value: &str, display: Option<&str>| Member {
            value: value.into(),
            display: display.map(str::to_string),
            kind: if value.starts_with('g') {
                StoredKind::Group
            } else {
                StoredKind::User
            },
        };
        let runs = [
            Arc::new(Run::kept(vec![
                member("b", Some("B \"b\"")),
                member("d", None),
                member("f", Some("F")),
            ])),
            Arc::new(Run::kept(vec![member("h", None), member("j", Some("J"))])),
            // Not ascending: a run that cannot be judged by its first and last.
            Arc::new(Run::kept(vec![
                member("t", None),
                member("gp", None),
                member("x", None),
            ])),
        ];
        let read = SharedMembers::from_runs(runs.to_vec());
        let (base, other) = ("https://x/scim/v2", "https://y/t/a\"b/scim/v2");
        let as_text = |list: &MemberList, base: &str| {
            let mut out = Vec::new();
            list.write_text(base, &mut out);
            String::from_utf8(out).expect("text")
        };
        let as_value = |list: &MemberList, base: &str| {
            serde_json::to_string(&Related::Members(list.clone()).value(base)).expect("value")
        };
        let added = || vec![member("c", None), member("z", Some("Z"))];
        // Left out: none; one inside the first run; one between runs and one after all (no run
        // holds them); one in the run that is not ascending; and every member.
        let cases: Vec<(Vec<&str>, usize)> = vec![
            (vec![], 8),
            (vec!["d"], 7),
            (vec!["i", "zz"], 8),
            (vec!["gp"], 7),
            (vec!["b", "d", "f", "gp", "h", "j", "t", "x"], 0),
        ];
        for round in 0..2 {
            for (left_out, shown) in &cases {
                let left_out: Vec<String> = left_out.iter().map(|s| s.to_string()).collect();
                for with_added in [false, true] {
                    let list = MemberList::changed(
                        read.clone(),
                        left_out.clone(),
                        if with_added { added() } else { Vec::new() },
                    );
                    assert_eq!(list.iter().count(), shown + 2 * usize::from(with_added));
                    for b in [base, other] {
                        assert_eq!(
                            as_text(&list, b),
                            as_value(&list, b),
                            "round {round}, left out {left_out:?}, base {b}"
                        );
                    }
                }
            }
        }
        // Each run kept the text of the first base it was written under, and is not written
        // again for it; under another base it keeps nothing.
        for run in &runs {
            let kept = run.text(base, |_| panic!("written again")).expect("kept");
            assert!(kept.text.starts_with(b"{\"value\":"));
            assert!(run.text(other, |_| panic!("written again")).is_none());
        }
        assert!(runs[0].text(base, |_| panic!()).expect("kept").ascending);
        assert!(!runs[2].text(base, |_| panic!()).expect("kept").ascending);
        // A copy, or a run changed, starts without text; a run that keeps none never keeps one.
        let mut changed = (*runs[0]).clone();
        assert!(changed
            .text(base, |m| MemberText::new(other).run(m))
            .is_none());
        changed.members_mut().pop();
        let text = changed
            .text(base, |m| MemberText::new(base).run(m))
            .expect("kept");
        assert_eq!(text.text.iter().filter(|&&b| b == b'{').count(), 2);
        let once = Run::new(vec![member("a", None)]);
        assert!(once.text(base, |m| MemberText::new(base).run(m)).is_none());
    }

    #[test]
    fn text_rendering_writes_the_bytes_value_rendering_does() {
        let registry = Registry::builtin();
        let groups = Related::Groups(vec![
            ("g1".into(), Some(json!("Engineering \"core\" ☃"))),
            ("g2".into(), None),
            ("g\u{7}3".into(), Some(json!(null))),
        ]);
        let member = |value: &str, display: Option<&str>, kind: StoredKind| Member {
            value: value.into(),
            display: display.map(str::to_string),
            kind,
        };
        // Members read in two runs that keep their text (the first base's), one member left
        // out, then one added.
        let members = Related::Members(MemberList::changed(
            SharedMembers::from_runs(vec![
                Arc::new(Run::kept(vec![
                    member("u1", Some("Ada"), StoredKind::User),
                    member("u1x", None, StoredKind::User),
                ])),
                Arc::new(Run::kept(vec![member(
                    "u\"2\\",
                    Some("Ada \"the first\" \u{1}é😀"),
                    StoredKind::User,
                )])),
            ]),
            vec!["u1x".into()],
            vec![member("g9", None, StoredKind::Group)],
        ));
        let mut compared = 0;
        // A base with a quote in it is escaped as serde_json escapes it.
        for (base, (kind, doc)) in [
            "https://scim.example.test/t/acme/scim/v2",
            "https://x/t/a\"b",
        ]
        .into_iter()
        .flat_map(|base| documents(&registry).into_iter().map(move |d| (base, d)))
        {
            let related = match kind {
                Kind::User => groups.clone(),
                Kind::Group => members.clone(),
            };
            let empty = match kind {
                Kind::User => Related::Groups(Vec::new()),
                Kind::Group => Related::Members(MemberList::default()),
            };
            for related in [None, Some(empty), Some(related)] {
                let (text, value) =
                    both_ways(&registry, kind, record(kind, doc.clone()), related, base);
                assert_eq!(
                    std::str::from_utf8(text.as_bytes()).expect("UTF-8"),
                    serde_json::to_string(&value).expect("test value"),
                    "{doc}"
                );
                compared += 1;
            }
        }
        assert!(compared > 120);
    }

    #[test]
    fn meta_is_written_as_the_value_rendering_writes_it_whatever_the_times_and_version() {
        let registry = Registry::builtin();
        let times = [
            datetime!(2026-12-06 10:47:12.123456789 UTC),
            datetime!(2026-12-07 01:02:03.5 +02:00),
            datetime!(1999-01-01 00:00:00 -05:30),
            datetime!(0001-01-01 00:00:00.000000001 UTC),
        ];
        for (kind, created, last_modified, version) in [
            (Kind::User, times[0], times[1], 0),
            (Kind::Group, times[2], times[3], u64::MAX),
            (Kind::User, times[3], times[0], 1),
        ] {
            let mut r = record(kind, json!({"displayName": "x"}));
            (r.created, r.last_modified, r.version) = (created, last_modified, version);
            let (text, value) = both_ways(&registry, kind, r, None, "https://x");
            assert_eq!(
                std::str::from_utf8(text.as_bytes()).expect("UTF-8"),
                serde_json::to_string(&value).expect("text")
            );
        }
    }

    #[test]
    fn a_document_with_schemas_first_is_split_after_them_and_any_other_is_left_to_the_parse() {
        assert_eq!(
            schemas_first(r#"{"schemas":["urn:a","u\"]n"],"userName":"x"}"#),
            Some((r#"["urn:a","u\"]n"]"#, r#","userName":"x"}"#))
        );
        assert_eq!(schemas_first(r#"{"schemas":[]}"#), Some(("[]", "}")));
        for other in [
            r#"{"userName":"x","schemas":["urn:a"]}"#,
            r#"{ "schemas":["urn:a"]}"#,
            r#"{"schemas":["urn:a"] ,"userName":"x"}"#,
            r#"{"schemas":["urn:a"],"userName":"x""#,
            r#"{"schemas":["urn:a""#,
            r#"{"schemas":["urn:a\"#,
            r#"{"schemas":[1]}"#,
            r#"{"schemas":"#,
            "",
        ] {
            assert_eq!(schemas_first(other), None, "{other}");
        }
        // What the core stores for the IdP corpus: most documents take the copy.
        let registry = Registry::builtin();
        let docs = documents(&registry);
        let split = docs
            .iter()
            .filter(|(kind, doc)| schemas_first(record(*kind, doc.clone()).doc.text()).is_some())
            .count();
        assert!(split * 2 > docs.len(), "{split} of {}", docs.len());
    }

    #[test]
    fn a_document_read_with_whitespace_renders_the_same_json() {
        let registry = Registry::builtin();
        let doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada", "name": {"givenName": "Ada"}});
        let mut r = record(Kind::User, doc.clone());
        r.doc = serde_json::from_str::<Doc>(&serde_json::to_string_pretty(&doc).expect("text"))
            .expect("doc");
        let (text, value) = both_ways(&registry, Kind::User, r, None, "https://x");
        assert_eq!(text.to_value(), value);
    }

    #[test]
    fn a_projection_still_projects_the_text() {
        let registry = Registry::builtin();
        let r = record(
            Kind::User,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada", "title": "Countess"}),
        );
        let only = Projection::parse(&registry, Kind::User, &["userName".to_string()], &[])
            .expect("test value");
        let text = resource_text(&registry, Kind::User, &r, None, "https://x", &only);
        let got = text.to_value();
        assert_eq!(got["userName"], "ada");
        assert!(got.get("title").is_none(), "{got}");
    }
}
