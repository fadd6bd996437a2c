//! Reading points: by id, scrolls, counts, facet counts and vector queries.

use crate::convert::{payload_selector, point_ids, point_uuid, vector_selector};
use crate::error::{Result, StoreError};
use crate::store::Store;
use qdrant_client::qdrant::{
    self, CountPointsBuilder, FacetCountsBuilder, Filter, GetPointsBuilder, PointId,
    QueryBatchPointsBuilder, QueryPoints, RetrievedPoint, ScoredPoint, ScrollPointsBuilder,
};

impl Store {
    /// Which of `ids` are points of the collection.
    pub fn existing(&self, ids: &[uuid::Uuid]) -> Result<std::collections::HashSet<uuid::Uuid>> {
        Ok(self
            .lookup(ids, false, None)?
            .iter()
            .filter_map(|p| p.id.as_ref().and_then(point_uuid))
            .collect())
    }

    /// Points by id, with their payload and, when `vector` is given, that vector.
    pub fn get(&self, ids: &[uuid::Uuid], vector: Option<&str>) -> Result<Vec<RetrievedPoint>> {
        self.lookup(ids, true, vector)
    }

    fn lookup(
        &self,
        ids: &[uuid::Uuid],
        payload: bool,
        vector: Option<&str>,
    ) -> Result<Vec<RetrievedPoint>> {
        let request = GetPointsBuilder::new(self.collection().to_string(), point_ids(ids).ids)
            .with_payload(payload)
            .with_vectors(vector_selector(vector))
            .build();
        Ok(self
            .send(
                "a lookup",
                request,
                |c, r| async move { c.get_points(r).await },
            )?
            .result)
    }

    /// Every point `filter` keeps, with the payload keys `keys` (all when empty) and, when `vector`
    /// is given, that vector; `each` gets them a page at a time (its error stops the scroll).
    pub fn scroll<E: From<StoreError>>(
        &self,
        filter: Option<Filter>,
        keys: &[&str],
        vector: Option<&str>,
        mut each: impl FnMut(Vec<RetrievedPoint>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut offset: Option<PointId> = None;
        loop {
            let mut builder = ScrollPointsBuilder::new(self.collection().to_string())
                .limit(1000)
                .with_payload(payload_selector(keys))
                .with_vectors(vector_selector(vector));
            if let Some(f) = &filter {
                builder = builder.filter(f.clone());
            }
            if let Some(o) = offset.take() {
                builder = builder.offset(o);
            }
            let request = builder.build();
            let page = self.send("a scroll", request, |c, r| async move { c.scroll(r).await })?;
            each(page.result)?;
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// A page of the points `filter` keeps in the order `order` (a payload key with a range index,
    /// descending), with the payload keys `keys`.
    pub fn scroll_ordered(
        &self,
        filter: Option<Filter>,
        order: qdrant::OrderBy,
        limit: u32,
        keys: &[&str],
    ) -> Result<Vec<RetrievedPoint>> {
        let mut builder = ScrollPointsBuilder::new(self.collection().to_string())
            .limit(limit)
            .order_by(order)
            .with_payload(payload_selector(keys))
            .with_vectors(false);
        if let Some(f) = filter {
            builder = builder.filter(f);
        }
        let request = builder.build();
        Ok(self
            .send("a scroll", request, |c, r| async move { c.scroll(r).await })?
            .result)
    }

    /// How many points `filter` keeps (exactly).
    pub fn count(&self, filter: Option<Filter>) -> Result<u64> {
        let mut builder = CountPointsBuilder::new(self.collection().to_string()).exact(true);
        if let Some(f) = filter {
            builder = builder.filter(f);
        }
        let request = builder.build();
        Ok(self
            .send("a count", request, |c, r| async move { c.count(r).await })?
            .result
            .map_or(0, |r| r.count))
    }

    /// The values of the keyword `key` among the points `filter` keeps, with their counts, most
    /// frequent first (at most `limit`).
    pub fn facet(
        &self,
        key: &str,
        filter: Option<Filter>,
        limit: u64,
    ) -> Result<Vec<(String, u64)>> {
        let mut builder = FacetCountsBuilder::new(self.collection().to_string(), key)
            .limit(limit)
            .exact(true);
        if let Some(f) = filter {
            builder = builder.filter(f);
        }
        let request = builder.build();
        let hits = self
            .send(
                "a facet count",
                request,
                |c, r| async move { c.facet(r).await },
            )?
            .hits;
        Ok(hits
            .into_iter()
            .filter_map(|h| match h.value.and_then(|v| v.variant) {
                Some(qdrant::facet_value::Variant::StringValue(s)) => Some((s, h.count)),
                Some(qdrant::facet_value::Variant::IntegerValue(i)) => {
                    Some((i.to_string(), h.count))
                }
                _ => None,
            })
            .collect())
    }

    /// Answers one query.
    pub fn query(&self, request: QueryPoints) -> Result<Vec<ScoredPoint>> {
        Ok(self
            .send("a query", request, |c, r| async move { c.query(r).await })?
            .result)
    }

    /// Answers several queries in one call.
    pub fn query_batch(&self, requests: Vec<QueryPoints>) -> Result<Vec<Vec<ScoredPoint>>> {
        let request = QueryBatchPointsBuilder::new(self.collection().to_string(), requests).build();
        Ok(self
            .send("a batch of queries", request, |c, r| async move {
                c.query_batch(r).await
            })?
            .result
            .into_iter()
            .map(|r| r.result)
            .collect())
    }
}
