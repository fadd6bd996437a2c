//! Browsing a collection: its images newest first, a page at a time, and the facets a filter bar offers.

use crate::collection::Collection;
use crate::error::Result;
use crate::filter::Filter;
use crate::images::Images;
use crate::metadata::ImageMeta;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One page of the collection's images.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Browse {
    pub images: Vec<ImageMeta>,
    /// Images matching the filter (all pages).
    pub total: usize,
}

/// A value of a key and how many images have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facet {
    pub value: String,
    pub count: usize,
}

/// The folders and formats of the images a filter keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Facets {
    /// By folder name (`""` is the top folder).
    pub folders: Vec<Facet>,
    /// By format name.
    pub formats: Vec<Facet>,
}

impl Collection {
    /// The images `filter` keeps, newest first (see [`Images::browse`]).
    pub fn browse(&self, offset: usize, limit: usize, filter: Option<&Filter>) -> Result<Browse> {
        self.images().browse(offset, limit, filter)
    }

    /// Folders and formats of the images `filter` keeps (see [`Images::facets`]).
    pub fn facets(&self, filter: Option<&Filter>) -> Result<Facets> {
        self.images().facets(filter)
    }
}

impl Images {
    /// The images `filter` keeps, newest first (date taken, else modification time), then by id; the page
    /// `offset .. offset + limit`.
    pub fn browse(&self, offset: usize, limit: usize, filter: Option<&Filter>) -> Result<Browse> {
        let mut kept = self.filtered(filter)?;
        kept.sort_by(|a, b| {
            let date = |m: &ImageMeta| m.taken_at.clone().unwrap_or_else(|| m.mtime.clone());
            date(b).cmp(&date(a)).then(a.id.cmp(&b.id))
        });
        let total = kept.len();
        let images = kept.into_iter().skip(offset).take(limit).cloned().collect();
        Ok(Browse { images, total })
    }

    /// Folders and formats of the images `filter` keeps, with counts.
    pub fn facets(&self, filter: Option<&Filter>) -> Result<Facets> {
        let mut folders = BTreeMap::<&str, usize>::new();
        let mut formats = BTreeMap::<&str, usize>::new();
        for m in self.filtered(filter)? {
            *folders.entry(&m.folder).or_default() += 1;
            *formats.entry(&m.format).or_default() += 1;
        }
        let list = |map: BTreeMap<&str, usize>| {
            map.into_iter()
                .map(|(value, count)| Facet {
                    value: value.to_string(),
                    count,
                })
                .collect()
        };
        Ok(Facets {
            folders: list(folders),
            formats: list(formats),
        })
    }

    /// The images `filter` keeps (all when none), by id.
    fn filtered(&self, filter: Option<&Filter>) -> Result<Vec<&ImageMeta>> {
        Ok(match filter {
            None => self
                .ids()
                .into_iter()
                .filter_map(|id| self.get(id))
                .collect(),
            Some(filter) => {
                let allowed = self.select(filter)?;
                allowed.ids().filter_map(|id| self.get(id)).collect()
            }
        })
    }
}
