//! Lists and searches (RFC 7644 §3.4.2, §3.4.3): a validated query becomes one [`Query`] per
//! resource type, which the engine answers; the page is rendered here.

use std::sync::Arc;

use scim_proto::list::{self, ListQuery};
use scim_proto::resource::Projection;
use serde_json::value::RawValue;

use crate::error::Result;

/// A ListResponse whose resources are JSON text as rendered.
pub type ListPage = list::ListResponse<Box<RawValue>>;
use crate::model::{Kind, Record};
use crate::query::{probes, Matcher};
use crate::store::{Found, Query, Selection};
use crate::{render, Context, Directory};

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
        Ok(list::list_response(found.total, query.start_index, page))
    }

    /// A search at the root (RFC 7644 §3.4.3): every resource type, each with its own query (an
    /// attribute one type does not define matches nothing there), users first, then groups.
    pub async fn search_all(
        &self,
        queries: &[(Kind, ListQuery)],
        ctx: &Context,
    ) -> Result<ListPage> {
        let Some((_, first)) = queries.first() else {
            return Ok(list::list_response(0, 1, Vec::new()));
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
        Ok(list::list_response(total, first.start_index, page))
    }

    async fn render_page(
        &self,
        kind: Kind,
        records: Vec<Record>,
        ctx: &Context,
        projection: &Projection,
    ) -> Result<Vec<Box<RawValue>>> {
        // A page's users' groups, read at once (one query on a database, not one per user).
        let mut groups = if kind == Kind::User
            && !projection.omits(&self.registry, kind, render::related_name(kind))
        {
            let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
            Some(self.store.groups_of_each(&ids).await?)
        } else {
            None
        };
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let known = groups
                .as_mut()
                .map(|g| g.remove(&record.id).unwrap_or_default());
            out.push(
                self.render_with(kind, record, ctx, projection, None, known)
                    .await?
                    .body,
            );
        }
        Ok(out)
    }
}
