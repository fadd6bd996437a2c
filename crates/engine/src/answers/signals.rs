//! What the ranking stage reads from a collection's records folder: its ranking defaults
//! ([`crate::ranking::RANKING_FILE`]), the stored copy groups ([`crate::ranking::COPY_GROUPS_FILE`]) and
//! the open reports on each image (the reports queue).

use crate::backend::Backend;
use crate::ranking::{RankOptions, StoredCopies};
use crate::reports::store::{CaseStatus, ReportStore, REPORTS_FILE};
use crate::types::error::Result;
use crate::types::image_id::ImageId;
use std::collections::HashMap;

/// The collection's ranking defaults (the built-in ones without a records folder or file).
pub fn defaults(backend: &dyn Backend) -> Result<RankOptions> {
    match backend.records_dir() {
        Some(dir) => RankOptions::read(&dir),
        None => Ok(RankOptions::default()),
    }
}

/// The copy groups stored in the records folder, if any.
pub fn stored_copies(backend: &dyn Backend) -> Option<StoredCopies> {
    backend.records_dir().and_then(|d| StoredCopies::read(&d))
}

/// Reports on open cases, by image; empty when the collection keeps no reports. A reports database
/// that cannot be read is logged and counts nothing (a search does not fail over it).
pub fn open_reports(backend: &dyn Backend) -> HashMap<ImageId, u32> {
    let mut out = HashMap::new();
    let Some(dir) = backend.records_dir() else {
        return out;
    };
    if !dir.join(REPORTS_FILE).exists() {
        return out;
    }
    let mut read = || -> Result<()> {
        let store = ReportStore::open(&dir)?;
        for case in store.cases(Some(CaseStatus::Open))? {
            let n = store.reports(case.id)?.len().max(1) as u32;
            *out.entry(case.image).or_default() += n;
        }
        Ok(())
    };
    if let Err(e) = read() {
        tracing::warn!(
            "ranking: the open reports cannot be read ({e}); no report demotes a result"
        );
    }
    out
}
