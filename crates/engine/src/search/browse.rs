//! Browsing a collection without a query: its images newest first, a page at a time, optionally
//! filtered ([`crate::types::filter`]), and the facets a filter bar offers (folders and formats with counts).

use crate::search::collection::Collection;
use crate::search::images::Images;
use crate::types::error::Result;
use crate::types::filter::Filter;
use crate::types::metadata::ImageMeta;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// One page of [`Images::browse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Browse {
    /// The images of the page, newest first.
    pub images: Vec<ImageMeta>,
    /// Images matching the filter (all pages).
    pub total: usize,
}

/// One value of a facet and how many images have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCount {
    /// The value (a folder, `""` at the top; a format).
    pub value: String,
    /// Images with it.
    pub count: usize,
}

/// What a filter bar offers: the folders and the formats of the images a filter keeps, with counts,
/// sorted by value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facets {
    /// Folders (exactly that folder, not its subfolders).
    pub folders: Vec<FacetCount>,
    /// Formats (`jpeg`, `png`, ...).
    pub formats: Vec<FacetCount>,
}

impl Collection {
    /// A page of the served images `filter` keeps and no block hides, newest first (see
    /// [`Images::browse`]).
    pub fn browse(&self, offset: usize, limit: usize, filter: Option<&Filter>) -> Result<Browse> {
        self.images()
            .browse_except(offset, limit, filter, &self.block_state().hidden)
    }

    /// The folders and formats of the served images `filter` keeps and no block hides (see
    /// [`Images::facets`]).
    pub fn facets(&self, filter: Option<&Filter>) -> Result<Facets> {
        self.images()
            .facets_except(filter, &self.block_state().hidden)
    }
}

impl Images {
    /// The page `offset .. offset + limit` of the images that match `filter` (all without one), newest
    /// first: by date taken when the image has one, else by modification time (as instants), then by id.
    /// `total` counts every match.
    pub fn browse(&self, offset: usize, limit: usize, filter: Option<&Filter>) -> Result<Browse> {
        self.browse_except(offset, limit, filter, &HashSet::new())
    }

    /// [`Images::browse`] without the ids of `hidden`.
    pub(crate) fn browse_except(
        &self,
        offset: usize,
        limit: usize,
        filter: Option<&Filter>,
        hidden: &HashSet<u64>,
    ) -> Result<Browse> {
        let mut matching: Vec<(Option<jiff::Timestamp>, &ImageMeta)> = self
            .matching(filter, hidden)?
            .map(|m| (m.sort_instant(), m))
            .collect();
        // Newest first (no date last), then id ascending.
        matching.sort_by(|(ta, a), (tb, b)| tb.cmp(ta).then(a.id.cmp(&b.id)));
        let total = matching.len();
        let images = matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(_, m)| m.clone())
            .collect();
        Ok(Browse { images, total })
    }

    /// The folders and formats of the images `filter` keeps (all without one), with counts.
    pub fn facets(&self, filter: Option<&Filter>) -> Result<Facets> {
        self.facets_except(filter, &HashSet::new())
    }

    /// [`Images::facets`] without the ids of `hidden`.
    pub(crate) fn facets_except(
        &self,
        filter: Option<&Filter>,
        hidden: &HashSet<u64>,
    ) -> Result<Facets> {
        let mut folders: BTreeMap<&str, usize> = BTreeMap::new();
        let mut formats: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.matching(filter, hidden)? {
            *folders.entry(&m.folder).or_default() += 1;
            *formats.entry(&m.format).or_default() += 1;
        }
        let counts = |map: BTreeMap<&str, usize>| {
            map.into_iter()
                .map(|(value, count)| FacetCount {
                    value: value.to_string(),
                    count,
                })
                .collect()
        };
        Ok(Facets {
            folders: counts(folders),
            formats: counts(formats),
        })
    }
}
