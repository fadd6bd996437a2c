//! The images a collection serves, with their metadata: looked up by id, selected by a filter, listed
//! for browsing.

use crate::types::error::Result;
use crate::types::filter::Filter;
use crate::types::metadata::ImageMeta;
use std::collections::{HashMap, HashSet};
use vsearch_index::IdFilter;

/// The served images, by id.
#[derive(Debug, Clone, Default)]
pub struct Images {
    by_id: HashMap<u64, ImageMeta>,
    /// How many of them are video frames.
    frames: usize,
}

impl Images {
    /// From metadata rows.
    pub fn new(rows: impl IntoIterator<Item = ImageMeta>) -> Self {
        let by_id: HashMap<u64, ImageMeta> = rows.into_iter().map(|m| (m.id, m)).collect();
        let frames = by_id.values().filter(|m| m.video.is_some()).count();
        Self { by_id, frames }
    }

    /// Whether some of them are video frames.
    pub fn has_frames(&self) -> bool {
        self.frames > 0
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The image `id`.
    pub fn get(&self, id: u64) -> Option<&ImageMeta> {
        self.by_id.get(&id)
    }

    /// Whether `id` is served.
    pub fn contains(&self, id: u64) -> bool {
        self.by_id.contains_key(&id)
    }

    /// Every id, ascending.
    pub fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.by_id.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The ids `filter` keeps, after validating it ([`Filter::validate`]).
    pub fn select(&self, filter: &Filter) -> Result<IdFilter> {
        Ok(IdFilter::from_ids(
            self.matching(Some(filter), &HashSet::new())?.map(|m| m.id),
        ))
    }

    /// The images `filter` keeps (all without one) that are not in `hidden`, the filter validated first.
    pub(crate) fn matching<'a>(
        &'a self,
        filter: Option<&'a Filter>,
        hidden: &'a HashSet<u64>,
    ) -> Result<impl Iterator<Item = &'a ImageMeta> + 'a> {
        if let Some(f) = filter {
            f.validate()?;
        }
        Ok(self
            .iter()
            .filter(move |m| !hidden.contains(&m.id) && filter.is_none_or(|f| f.matches(m))))
    }

    /// Every image, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &ImageMeta> {
        self.by_id.values()
    }
}
