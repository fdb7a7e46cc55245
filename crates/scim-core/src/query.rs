//! Query planning: from a validated SCIM list query to the [`Query`] an engine answers. The
//! [`Matcher`] decides which records belong to the answer and how they sort (the authority every
//! engine defers to); [`probes`] name the index entries whose union holds every possible match,
//! so that an engine with those indexes reads only candidates; [`Collector`] sorts and pages
//! what an engine selected, the same way for every engine.

use std::collections::HashMap;
use std::sync::Arc;

use scim_proto::filter::{self, AttrPath, CompareOp, Filter, Literal};
use scim_proto::list::{self, SortOrder};
use scim_proto::resource::Projection;
use scim_proto::schema::{AttrType, Registry};
use serde_json::Value;

use crate::model::{Index, IndexKey, Kind, Record};
use crate::policy;
use crate::render;
use crate::store::{Found, Lookup, StoreError};

/// The folded form of a case-insensitive value, as indexes hold it: the one folding every engine
/// uses (uniqueness of `userName` and group `displayName`, and their lookups).
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// The index entries a document owns.
pub fn index_keys(kind: Kind, doc: &Value) -> Vec<IndexKey> {
    let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_string);
    let mut keys = Vec::new();
    match kind {
        Kind::User => {
            if let Some(u) = text("userName") {
                keys.push(IndexKey::UserName(fold(&u)));
            }
            if let Some(e) = text("externalId") {
                keys.push(IndexKey::UserExternalId(e));
            }
        }
        Kind::Group => {
            if let Some(d) = text("displayName") {
                keys.push(IndexKey::GroupDisplayName(fold(&d)));
            }
            if let Some(e) = text("externalId") {
                keys.push(IndexKey::GroupExternalId(e));
            }
        }
    }
    keys
}

/// An index lookup that finds every resource a filter can match, or a superset of them. Values
/// are in the index's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Id(String),
    /// One index entry: `eq`.
    Equal(IndexKey),
    /// Every entry of an index whose text satisfies `op value`: `co`, `sw`, `ew`, `gt`, `ge`,
    /// `lt`, `le`. A scan of the index's keys, far smaller than the records.
    Matching(Index, CompareOp, String),
}

/// Whether an index entry's text satisfies `op value`, both in the index's form. It agrees with
/// the filter evaluator on the attribute (which folds both sides when not `caseExact`).
pub fn index_text_matches(text: &str, op: CompareOp, value: &str) -> bool {
    match op {
        CompareOp::Eq => text == value,
        CompareOp::Ne => text != value,
        CompareOp::Co => text.contains(value),
        CompareOp::Sw => text.starts_with(value),
        CompareOp::Ew => text.ends_with(value),
        CompareOp::Gt => text > value,
        CompareOp::Ge => text >= value,
        CompareOp::Lt => text < value,
        CompareOp::Le => text <= value,
    }
}

/// The index probes whose union holds every resource the filter can match, when there are such
/// probes; `None` means a scan is needed. The filter is still evaluated on every candidate.
pub fn probes(registry: &Registry, kind: Kind, f: &Filter) -> Option<Vec<Probe>> {
    match f {
        Filter::Compare {
            path,
            op,
            value: Literal::String(s),
        } if path.sub.is_none() && *op != CompareOp::Ne => {
            let r = registry.resolve(kind, path)?;
            if r.extension {
                return None;
            }
            let (index, text) = match (kind, r.attribute.name.as_str()) {
                (_, "id") if *op == CompareOp::Eq => return Some(vec![Probe::Id(s.clone())]),
                (Kind::User, "externalId") => (Index::UserExternalId, s.clone()),
                (Kind::Group, "externalId") => (Index::GroupExternalId, s.clone()),
                (Kind::User, "userName") => (Index::UserName, fold(s)),
                (Kind::Group, "displayName") => (Index::GroupDisplayName, fold(s)),
                _ => return None,
            };
            Some(vec![match op {
                CompareOp::Eq => Probe::Equal(index.key(text)),
                other => Probe::Matching(index, *other, text),
            }])
        }
        Filter::And(children) => children.iter().find_map(|c| probes(registry, kind, c)),
        Filter::Or(children) => {
            let mut all = Vec::new();
            for c in children {
                all.extend(probes(registry, kind, c)?);
            }
            Some(all)
        }
        _ => None,
    }
}

/// Whether probes touch only a handful of records: single entries (`id eq`, `userName eq`,
/// `externalId eq`, or an `or` of a few of them), whatever the store's size.
pub fn is_point(probes: &[Probe]) -> bool {
    probes.len() <= 8
        && probes
            .iter()
            .all(|p| matches!(p, Probe::Id(_) | Probe::Equal(..)))
}

/// What a matcher tests.
#[derive(Debug, Clone)]
enum Test {
    /// Every record.
    All,
    /// A SCIM filter, on the record as a client would see it.
    Filter(Filter),
    /// The admin page's search: `userName` or the profile's display name contains this
    /// (lower-cased) text.
    Text(String),
}

/// Decides which records a list holds and how they sort: for every engine, the authority.
#[derive(Debug, Clone)]
pub struct Matcher {
    registry: Arc<Registry>,
    kind: Kind,
    test: Test,
    sort: Option<(AttrPath, SortOrder)>,
    /// Where resources are said to live (`meta.location`), which a filter may name.
    base_url: String,
    /// The filter or the sort names `groups` (users) or `members` (groups).
    related: bool,
    /// The filter and the sort name only attributes the stored document holds (not `id`,
    /// `meta`, `schemas` or the related values), so they are tested on the document itself,
    /// without rendering the resource: a canonical document holds nothing the rendering would
    /// take out.
    direct: bool,
}

/// The attributes a rendered resource has that its stored document may not.
const RENDERED_ONLY: [&str; 3] = ["id", "meta", "schemas"];

impl Matcher {
    /// A SCIM list's matcher: its filter (if any) and its sort (if any).
    pub fn scim(
        registry: Arc<Registry>,
        kind: Kind,
        filter: Option<Filter>,
        sort: Option<(AttrPath, SortOrder)>,
        base_url: &str,
    ) -> Self {
        // Whether the filter or the sort names a top-level attribute.
        let names = |name: &str| {
            filter.as_ref().is_some_and(|f| list::mentions(f, name))
                || sort
                    .as_ref()
                    .is_some_and(|(p, _)| p.name.eq_ignore_ascii_case(name))
        };
        let related = names(render::related_name(kind));
        let direct = !related && !RENDERED_ONLY.iter().any(|n| names(n));
        Matcher {
            registry,
            kind,
            test: filter.map_or(Test::All, Test::Filter),
            sort,
            base_url: base_url.to_string(),
            related,
            direct,
        }
    }

    /// The admin search over users: `userName` or display name contains `text`, any case.
    pub fn text(registry: Arc<Registry>, text: &str) -> Self {
        Matcher {
            registry,
            kind: Kind::User,
            test: Test::Text(text.trim().to_lowercase()),
            sort: None,
            base_url: String::new(),
            related: false,
            direct: true,
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The SCIM filter, for an engine that can answer (part of) it itself.
    pub fn filter(&self) -> Option<&Filter> {
        match &self.test {
            Test::Filter(f) => Some(f),
            _ => None,
        }
    }

    /// The sort, for an engine that can sort itself.
    pub fn sort(&self) -> Option<&(AttrPath, SortOrder)> {
        self.sort.as_ref()
    }

    /// The schemas the filter and the sort are resolved with.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Where resources are said to live (`meta.location`, `$ref`), which a filter may name.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Whether this is the admin page's text search (neither [`Matcher::filter`] nor "every
    /// record"), which only the matcher itself answers.
    pub fn is_text_search(&self) -> bool {
        matches!(self.test, Test::Text(_))
    }

    /// Whether testing a record reads its groups (users) or members (groups) through the
    /// [`Lookup`].
    pub fn needs_related(&self) -> bool {
        self.related
    }

    /// Whether a record that owns the index entry of `found`'s one probe (or has its id)
    /// belongs to the answer without a test: the filter is one `eq` on `id`, `userName`,
    /// `externalId` or a group's `displayName`, `found` is what [`probes`] plans for it, the
    /// index holds the attribute's values as the filter compares them (folded by [`fold`] when
    /// the attribute is not `caseExact`, as the filter folds them), and nothing is sorted.
    ///
    /// Ownership is read from the record itself ([`Record::index`], written with its
    /// document), never from the index: a record renamed between an engine's index read and
    /// its record read no longer owns the entry, and is tested.
    pub fn decided_by(&self, found: &[Probe]) -> bool {
        let Test::Filter(
            f @ Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: Literal::String(_),
            },
        ) = &self.test
        else {
            return false;
        };
        if self.sort.is_some() || self.related || path.sub.is_some() {
            return false;
        }
        let Some(r) = self.registry.resolve(self.kind, path) else {
            return false;
        };
        let a = r.attribute;
        if r.extension || a.multi_valued || a.kind != AttrType::String {
            return false;
        }
        let planned = probes(&self.registry, self.kind, f);
        let folds = match planned.as_deref() {
            Some([Probe::Id(_)]) => false,
            Some([Probe::Equal(key)]) => {
                matches!(key.index(), Index::UserName | Index::GroupDisplayName)
            }
            _ => return false,
        };
        // A folded index decides only a folded comparison, an exact one only an exact one.
        folds != a.case_exact && planned.as_deref() == Some(found)
    }

    /// Whether `record` belongs to the answer; if so, its sort key (`None` without a sort, or
    /// when it has no value to sort by).
    pub fn test(
        &self,
        record: &Record,
        lookup: &dyn Lookup,
    ) -> Result<Option<Option<Value>>, StoreError> {
        match &self.test {
            Test::All if self.sort.is_none() => Ok(Some(None)),
            Test::Text(q) => {
                let profile = record
                    .profile
                    .clone()
                    .unwrap_or_else(|| policy::initial_profile(&record.doc, policy::DEFAULT_ROLE));
                let user_name = record.doc.get("userName").and_then(Value::as_str);
                let hit = [user_name, Some(profile.display_name.as_str())]
                    .into_iter()
                    .flatten()
                    .any(|v| v.to_lowercase().contains(q.as_str()));
                Ok(hit.then_some(None))
            }
            Test::All | Test::Filter(_) if self.direct => {
                let doc = record.doc.value();
                if let Test::Filter(f) = &self.test {
                    if !filter::matches(f, doc, &self.registry, self.kind) {
                        return Ok(None);
                    }
                }
                let key = self
                    .sort
                    .as_ref()
                    .and_then(|(by, _)| list::sort_key(&self.registry, self.kind, doc, by));
                Ok(Some(key))
            }
            Test::All | Test::Filter(_) => {
                let related = if self.related {
                    Some(render::related_from(
                        lookup,
                        self.kind,
                        &record.id,
                        &self.base_url,
                    )?)
                } else {
                    None
                };
                let projection = if self.related {
                    Projection::default()
                } else {
                    Projection::without(render::related_name(self.kind))
                };
                let resource = render::resource(
                    &self.registry,
                    self.kind,
                    record.clone(),
                    related,
                    &self.base_url,
                    &projection,
                );
                if let Test::Filter(f) = &self.test {
                    if !filter::matches(f, &resource, &self.registry, self.kind) {
                        return Ok(None);
                    }
                }
                let key = self
                    .sort
                    .as_ref()
                    .and_then(|(by, _)| list::sort_key(&self.registry, self.kind, &resource, by));
                Ok(Some(key))
            }
        }
    }
}

/// At most this many matched records are kept between the test and the page; beyond it, the
/// page's records are read again.
const KEEP_RECORDS: usize = 100;

/// Gathers what a matcher accepted, then sorts and pages it: the part of a query every engine
/// that selects candidates itself does the same way.
pub struct Collector<'m> {
    matcher: &'m Matcher,
    matched: Vec<(String, Option<Value>)>,
    kept: HashMap<String, Record>,
    /// The one probe whose owners match without a test ([`Matcher::decided_by`]).
    decided: Option<Probe>,
}

impl<'m> Collector<'m> {
    pub fn new(matcher: &'m Matcher) -> Self {
        Collector {
            matcher,
            matched: Vec::new(),
            kept: HashMap::new(),
            decided: None,
        }
    }

    /// A collector for a query whose filter plans `probes` (if any): a candidate that owns the
    /// entry of a probe that decides the filter ([`Matcher::decided_by`]) is kept without a
    /// test, however the engine found it; any other is tested.
    pub fn probed(matcher: &'m Matcher, probes: Option<&[Probe]>) -> Self {
        Collector {
            decided: probes
                .filter(|p| matcher.decided_by(p))
                .and_then(|p| p.first().cloned()),
            ..Collector::new(matcher)
        }
    }

    /// Tests a candidate and keeps it if it matches.
    pub fn offer(&mut self, record: Record, lookup: &dyn Lookup) -> Result<(), StoreError> {
        let owner = match &self.decided {
            Some(Probe::Equal(key)) => record.index.contains(key),
            Some(Probe::Id(id)) => record.id == *id,
            Some(Probe::Matching(..)) | None => false,
        };
        let tested = if owner {
            Some(None)
        } else {
            self.matcher.test(&record, lookup)?
        };
        if let Some(key) = tested {
            self.matched.push((record.id.clone(), key));
            if self.matched.len() <= KEEP_RECORDS {
                self.kept.insert(record.id.clone(), record);
            } else {
                self.kept.clear();
            }
        }
        Ok(())
    }

    /// Orders the matches (by sort key, then by id), counts them, and reads the page.
    pub fn finish(
        self,
        skip: usize,
        take: usize,
        lookup: &dyn Lookup,
    ) -> Result<Found, StoreError> {
        let kind = self.matcher.kind;
        let page = self.page(skip, take);
        let mut records = Vec::with_capacity(page.entries.len());
        for entry in page.entries {
            match entry {
                PageEntry::Kept(r) => records.push(r),
                // A record deleted since it matched is left out.
                PageEntry::Read(id) => records.extend(lookup.record(kind, &id)?),
            }
        }
        Ok(Found {
            total: page.total,
            records,
        })
    }

    /// Orders the matches (by sort key, then by id), counts them, and names the page: the records
    /// kept, and the ids of those the engine reads again (an engine whose reads are
    /// asynchronous reads them itself).
    pub fn page(mut self, skip: usize, take: usize) -> Page {
        if !self.matched.windows(2).all(|w| w[0].0 <= w[1].0) {
            self.matched.sort_by(|a, b| a.0.cmp(&b.0));
        }
        if let Some((by, order)) = &self.matcher.sort {
            list::sort_by_key(
                &self.matcher.registry,
                self.matcher.kind,
                &mut self.matched,
                |(_, k)| k.as_ref(),
                by,
                *order,
            );
        }
        let total = self.matched.len();
        let entries = self
            .matched
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|(id, _)| match self.kept.remove(&id) {
                Some(r) => PageEntry::Kept(r),
                None => PageEntry::Read(id),
            })
            .collect();
        Page { total, entries }
    }
}

/// What a [`Collector`] selected: how many in all, and the page's entries in order.
#[derive(Debug)]
pub struct Page {
    pub total: usize,
    pub entries: Vec<PageEntry>,
}

/// One record of a page: kept since its test, or to be read again by its id.
#[derive(Debug)]
pub enum PageEntry {
    Kept(Record),
    Read(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_proto::filter::Literal;

    #[test]
    fn equality_on_indexed_attributes_becomes_probes() {
        let r = Registry::builtin();
        let eq = |name: &str, v: &str| Filter::Compare {
            path: AttrPath::simple(name),
            op: CompareOp::Eq,
            value: Literal::String(v.into()),
        };
        assert_eq!(
            probes(&r, Kind::User, &eq("USERNAME", "Bob")),
            Some(vec![Probe::Equal(IndexKey::UserName("bob".into()))])
        );
        assert_eq!(
            probes(&r, Kind::User, &eq("externalId", "X1")),
            Some(vec![Probe::Equal(IndexKey::UserExternalId("X1".into()))])
        );
        assert_eq!(
            probes(&r, Kind::Group, &eq("displayName", "Ops")),
            Some(vec![Probe::Equal(IndexKey::GroupDisplayName("ops".into()))])
        );
        assert_eq!(
            probes(&r, Kind::User, &eq("displayName", "Bob")),
            None,
            "not indexed for users"
        );
        let and = Filter::And(vec![eq("title", "x"), eq("userName", "a")]);
        assert_eq!(
            probes(&r, Kind::User, &and),
            Some(vec![Probe::Equal(IndexKey::UserName("a".into()))])
        );
        let or = Filter::Or(vec![eq("userName", "a"), eq("title", "x")]);
        assert_eq!(probes(&r, Kind::User, &or), None, "one branch needs a scan");
        let or = Filter::Or(vec![eq("userName", "a"), eq("id", "b")]);
        assert_eq!(
            probes(&r, Kind::User, &or),
            Some(vec![
                Probe::Equal(IndexKey::UserName("a".into())),
                Probe::Id("b".into())
            ])
        );
    }

    #[test]
    fn ordering_and_substring_operators_on_indexed_attributes_scan_the_index() {
        let r = Registry::builtin();
        let f = |text: &str| filter::parse_filter(text).expect("filter");
        assert_eq!(
            probes(&r, Kind::User, &f("userName co \"ALI\"")),
            Some(vec![Probe::Matching(
                Index::UserName,
                CompareOp::Co,
                "ali".into()
            )])
        );
        assert_eq!(
            probes(&r, Kind::Group, &f("displayName sw \"Eng\"")),
            Some(vec![Probe::Matching(
                Index::GroupDisplayName,
                CompareOp::Sw,
                "eng".into()
            )])
        );
        assert_eq!(
            probes(&r, Kind::User, &f("externalId gt \"A\"")),
            Some(vec![Probe::Matching(
                Index::UserExternalId,
                CompareOp::Gt,
                "A".into()
            )]),
            "externalId is case-exact: not folded"
        );
        assert_eq!(
            probes(&r, Kind::User, &f("userName ne \"a\"")),
            None,
            "ne needs a scan"
        );
        assert_eq!(probes(&r, Kind::User, &f("id co \"a\"")), None);
        assert!(index_text_matches("alice", CompareOp::Co, "lic"));
        assert!(index_text_matches("alice", CompareOp::Ge, "alice"));
        assert!(!index_text_matches("alice", CompareOp::Lt, "alice"));
    }

    #[test]
    fn index_keys_fold_names_and_keep_external_ids() {
        let doc = serde_json::json!({"userName": "Ada@X", "externalId": "E1"});
        assert_eq!(
            index_keys(Kind::User, &doc),
            [
                IndexKey::UserName("ada@x".into()),
                IndexKey::UserExternalId("E1".into())
            ]
        );
        let doc = serde_json::json!({"displayName": "Ops"});
        assert_eq!(
            index_keys(Kind::Group, &doc),
            [IndexKey::GroupDisplayName("ops".into())]
        );
    }

    #[test]
    fn one_equality_on_an_index_or_the_id_is_decided_by_its_probe() {
        let registry = Arc::new(Registry::builtin());
        let matcher = |r: &Arc<Registry>, kind: Kind, text: &str, sort: Option<&str>| {
            let f = filter::parse_filter(text).expect("filter");
            let sort = sort.map(|s| (AttrPath::simple(s), list::SortOrder::Ascending));
            let m = Matcher::scim(Arc::clone(r), kind, Some(f.clone()), sort, "https://x");
            let planned = probes(r, kind, &f);
            (m, planned)
        };
        let decided = |r: &Arc<Registry>, kind: Kind, text: &str, sort: Option<&str>| {
            let (m, planned) = matcher(r, kind, text, sort);
            planned.is_some_and(|p| m.decided_by(&p))
        };
        for (kind, text) in [
            (Kind::User, "userName eq \"Ada\""),
            (
                Kind::User,
                "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"Ada\"",
            ),
            (Kind::User, "externalId eq \"E1\""),
            (Kind::User, "id eq \"abc\""),
            (Kind::Group, "displayName eq \"Ops\""),
            (Kind::Group, "externalId eq \"g\""),
        ] {
            assert!(decided(&registry, kind, text, None), "{text}");
        }
        for (kind, text, sort) in [
            (Kind::User, "userName eq \"Ada\"", Some("userName")),
            (Kind::User, "userName co \"Ada\"", None),
            (Kind::User, "userName eq \"a\" and title eq \"x\"", None),
            (Kind::User, "userName eq \"a\" or userName eq \"b\"", None),
            (Kind::User, "userName eq \"a\" or id eq \"b\"", None),
        ] {
            assert!(
                !decided(&registry, kind, text, sort),
                "{text}, sorted by {sort:?}"
            );
        }
        // Probes other than the filter's own decide nothing.
        let (m, _) = matcher(&registry, Kind::User, "userName eq \"Ada\"", None);
        assert!(!m.decided_by(&[Probe::Equal(IndexKey::UserName("bob".into()))]));
        assert!(!m.decided_by(&[Probe::Equal(IndexKey::UserName("Ada".into()))]));
        assert!(!m.decided_by(&[]));
        // A schema whose userName were case-exact would compare what the folded index does not.
        let mut exact = Registry::builtin();
        for schema in &mut exact.schemas {
            for a in &mut schema.attributes {
                if a.name == "userName" {
                    a.case_exact = true;
                }
            }
        }
        let exact = Arc::new(exact);
        assert!(!decided(&exact, Kind::User, "userName eq \"Ada\"", None));
        assert!(decided(&exact, Kind::User, "externalId eq \"E1\"", None));
    }

    #[test]
    fn a_decided_probe_keeps_its_owners_untested_and_tests_a_record_renamed_since() {
        let registry = Arc::new(Registry::builtin());
        let f = filter::parse_filter("userName eq \"ADA\"").expect("filter");
        let found = probes(&registry, Kind::User, &f).expect("probes");
        let matcher = Matcher::scim(registry, Kind::User, Some(f), None, "https://x");
        let record = |id: &str, user_name: &str, index: Vec<IndexKey>| Record {
            id: id.into(),
            kind: Kind::User.into(),
            version: 1,
            created: time::OffsetDateTime::UNIX_EPOCH,
            last_modified: time::OffsetDateTime::UNIX_EPOCH,
            doc: serde_json::from_str(&serde_json::json!({"userName": user_name}).to_string())
                .expect("test value"),
            index,
            profile: None,
        };
        let ada = IndexKey::UserName("ada".into());
        let mut collector = Collector::probed(&matcher, Some(&found));
        // Owns the entry: kept. Its document is not read (here it disagrees, which a store
        // never writes, to show that no test ran).
        collector
            .offer(record("a", "someone else", vec![ada.clone()]), &NoRelations)
            .expect("offer");
        // Renamed between the index read and the record read: owns no such entry, tested, out.
        collector
            .offer(
                record("b", "bob", vec![IndexKey::UserName("bob".into())]),
                &NoRelations,
            )
            .expect("offer");
        // Written without its entries (an older record): tested, and it matches.
        collector
            .offer(record("c", "Ada", Vec::new()), &NoRelations)
            .expect("offer");
        let found = collector.finish(0, 10, &NoRelations).expect("page");
        let ids: Vec<&str> = found.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!((found.total, ids), (2, vec!["a", "c"]));
        // Without the probes, every candidate is tested.
        let mut tested = Collector::new(&matcher);
        tested
            .offer(record("a", "someone else", vec![ada]), &NoRelations)
            .expect("offer");
        assert_eq!(tested.finish(0, 10, &NoRelations).expect("page").total, 0);
    }

    /// A lookup with no relations: the filters below never name them.
    struct NoRelations;
    impl Lookup for NoRelations {
        fn record(&self, _: Kind, _: &str) -> Result<Option<Record>, StoreError> {
            Ok(None)
        }
        fn members(&self, _: &str) -> Result<Vec<crate::model::Member>, StoreError> {
            Ok(Vec::new())
        }
        fn groups_of(&self, _: &str) -> Result<Vec<String>, StoreError> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn filters_tested_on_the_stored_document_agree_with_the_rendered_resource() {
        let registry = Arc::new(Registry::builtin());
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let docs = [
            serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ada", "name": {"familyName": "Lovelace", "givenName": "Ada"},
                "emails": [{"value": "ada@x.test", "type": "work", "primary": true}],
                "active": true, "title": "Countess"}),
            serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", enterprise],
                "userName": "Grace", "externalId": "g1", "active": false,
                "emails": [{"value": "grace@y.test", "type": "home"}],
                enterprise: {"department": "Navy", "employeeNumber": "7"}}),
            serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "zed"}),
        ];
        let filters = [
            "userName eq \"ADA\"",
            "name.familyName co \"love\"",
            "emails[type eq \"work\" and value ew \".test\"]",
            "active eq false",
            "title pr",
            "not (userName sw \"a\")",
            "externalId eq \"g1\" or userName gt \"y\"",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"navy\"",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"zed\"",
            "emails.value co \"grace\"",
        ];
        let sorts = [None, Some("name.familyName"), Some("userName")];
        let mut hits = 0;
        for text in filters {
            for sort in sorts {
                let filter = filter::parse_filter(text).expect("filter");
                let sort = sort.map(|s| (AttrPath::simple(s), list::SortOrder::Ascending));
                let direct = Matcher::scim(
                    Arc::clone(&registry),
                    Kind::User,
                    Some(filter),
                    sort.clone(),
                    "https://x",
                );
                assert!(direct.direct, "{text}");
                let rendered = Matcher {
                    direct: false,
                    ..direct.clone()
                };
                for (i, doc) in docs.iter().enumerate() {
                    let record = Record {
                        id: format!("id{i}"),
                        kind: Kind::User.into(),
                        version: 1,
                        created: time::OffsetDateTime::UNIX_EPOCH,
                        last_modified: time::OffsetDateTime::UNIX_EPOCH,
                        doc: serde_json::from_str::<crate::model::Doc>(&doc.to_string())
                            .expect("test value"),
                        index: Vec::new(),
                        profile: None,
                    };
                    let a = direct.test(&record, &NoRelations).expect("test value");
                    let b = rendered.test(&record, &NoRelations).expect("test value");
                    assert_eq!(a, b, "{text} on {doc}");
                    hits += usize::from(a.is_some());
                }
            }
        }
        assert!(hits >= 20, "the filters match something ({hits})");
        for text in [
            "id eq \"x\"",
            "meta.lastModified gt \"2020\"",
            "groups pr",
            "schemas eq \"x\"",
        ] {
            let f = filter::parse_filter(text).expect("filter");
            let m = Matcher::scim(
                Arc::clone(&registry),
                Kind::User,
                Some(f),
                None,
                "https://x",
            );
            assert!(!m.direct, "{text} is tested on the rendered resource");
        }
    }
}
