//! Lists and searches (RFC 7644 §3.4.2, §3.4.3): a validated query becomes one [`Query`] per
//! resource type, which the engine answers; the page is rendered here.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use scim_proto::list::{self, ListQuery};
use scim_proto::resource::Projection;
use scim_proto::urn;
use serde_json::Value;

use crate::error::Result;
use crate::model::{Kind, Record};
use crate::query::{probes, Matcher};
use crate::render::JsonText;
use crate::store::{Found, Query, Selection};
use crate::{render, Context, Directory};

/// A ListResponse (RFC 7644 §3.4.2) whose resources are JSON text as rendered.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub total: usize,
    pub start_index: usize,
    pub resources: Vec<JsonText>,
}

impl ListPage {
    /// The ListResponse as JSON text: the envelope [`list::list_response`] writes, with each
    /// resource's text copied in.
    pub fn into_text(self) -> Vec<u8> {
        let size: usize = self.resources.iter().map(|r| r.as_bytes().len() + 1).sum();
        let mut out = Vec::with_capacity(size + 160);
        out.extend_from_slice(b"{\"schemas\":[\"");
        out.extend_from_slice(urn::LIST_RESPONSE.as_bytes());
        out.extend_from_slice(b"\"],\"totalResults\":");
        out.extend_from_slice(self.total.to_string().as_bytes());
        out.extend_from_slice(b",\"startIndex\":");
        out.extend_from_slice(self.start_index.to_string().as_bytes());
        out.extend_from_slice(b",\"itemsPerPage\":");
        out.extend_from_slice(self.resources.len().to_string().as_bytes());
        out.extend_from_slice(b",\"Resources\":[");
        for (i, r) in self.resources.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(r.as_bytes());
        }
        out.extend_from_slice(b"]}");
        out
    }

    /// The ListResponse as a value (for tests and views that read into it).
    pub fn to_value(&self) -> serde_json::Value {
        let resources = self.resources.iter().map(JsonText::to_value).collect();
        list::list_response(self.total, self.start_index, resources)
    }

    fn new(total: usize, start_index: usize, resources: Vec<JsonText>) -> Self {
        ListPage {
            total,
            start_index,
            resources,
        }
    }
}

impl Directory {
    /// The engine query for one resource type's part of a list.
    fn plan(
        &self,
        kind: Kind,
        query: &ListQuery,
        ctx: &Context,
        skip: usize,
        take: usize,
    ) -> Query {
        let selection = if query.filter.is_none() && query.sort_by.is_none() {
            Selection::All
        } else {
            let probes = query
                .filter
                .as_ref()
                .and_then(|f| probes(&self.registry, kind, f));
            let matcher = Matcher::scim(
                Arc::clone(&self.registry),
                kind,
                query.filter.clone(),
                query.sort_by.clone().map(|by| (by, query.sort_order)),
                &ctx.base_url,
            );
            Selection::Matching {
                matcher: Arc::new(matcher),
                probes,
            }
        };
        Query {
            kind,
            selection,
            skip,
            take,
        }
    }

    /// A list or search of one resource type.
    pub async fn list(&self, kind: Kind, query: &ListQuery, ctx: &Context) -> Result<ListPage> {
        let skip = query.start_index.saturating_sub(1);
        let found = self
            .store
            .query(self.plan(kind, query, ctx, skip, query.count))
            .await?;
        let page = self
            .render_page(kind, found.records, ctx, &query.projection)
            .await?;
        Ok(ListPage::new(found.total, query.start_index, page))
    }

    /// A search at the root (RFC 7644 §3.4.3): every resource type, each with its own query (an
    /// attribute one type does not define matches nothing there), users first, then groups.
    pub async fn search_all(
        &self,
        queries: &[(Kind, ListQuery)],
        ctx: &Context,
    ) -> Result<ListPage> {
        let Some((_, first)) = queries.first() else {
            return Ok(ListPage::new(0, 1, Vec::new()));
        };
        let mut skip = first.start_index.saturating_sub(1);
        let mut room = first.count;
        let mut total = 0;
        let mut page = Vec::new();
        for (kind, query) in queries {
            let Found { total: n, records } = self
                .store
                .query(self.plan(*kind, query, ctx, skip, room))
                .await?;
            total += n;
            room = room.saturating_sub(records.len());
            skip = skip.saturating_sub(n);
            page.extend(
                self.render_page(*kind, records, ctx, &query.projection)
                    .await?,
            );
        }
        Ok(ListPage::new(total, first.start_index, page))
    }

    async fn render_page(
        &self,
        kind: Kind,
        records: Vec<Record>,
        ctx: &Context,
        projection: &Projection,
    ) -> Result<Vec<JsonText>> {
        // A page's users' groups, read at once (one query on a database, not one per user).
        let mut groups = if kind == Kind::User
            && !projection.omits(&self.registry, kind, render::related_name(kind))
        {
            let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
            Some(self.store.groups_of_each(&ids).await?)
        } else {
            None
        };
        // Each group's display name read once a page: a page's users share their groups.
        let distinct: HashSet<String> = groups
            .iter()
            .flat_map(HashMap::values)
            .flatten()
            .cloned()
            .collect();
        let mut displays: HashMap<String, Option<Value>> = HashMap::with_capacity(distinct.len());
        for gid in distinct {
            let display = self.group_display(&gid).await?;
            displays.insert(gid, display);
        }
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let known = groups.as_mut().map(|g| {
                g.remove(&record.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|gid| {
                        let display = displays.get(&gid).cloned().flatten();
                        (gid, display)
                    })
                    .collect()
            });
            out.push(
                self.render_with(kind, record, ctx, projection, None, known)
                    .await?
                    .body,
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_as_text_is_the_list_response_serde_writes() {
        let resources = vec![
            JsonText(br#"{"id":"a","userName":"x\"y"}"#.to_vec()),
            JsonText(br#"{"id":"b"}"#.to_vec()),
        ];
        for page in [
            ListPage::new(12, 3, resources),
            ListPage::new(0, 1, Vec::new()),
        ] {
            let text = page.clone().into_text();
            let values: Vec<serde_json::Value> =
                page.resources.iter().map(JsonText::to_value).collect();
            let expected = list::list_response(page.total, page.start_index, values).to_string();
            assert_eq!(std::str::from_utf8(&text).expect("UTF-8"), expected);
        }
    }
}
