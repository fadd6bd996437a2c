//! The index kinds: their names, parsing, display and the order in which queries prefer them.
//!
//! Every other crate (engine, server, command line, bench) names index kinds through this type.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The index families.
///
/// The name of a kind (`flat`, `hnsw`, `ivf`) is the same in JSON, on the command line, in URLs and
/// in folder names; [`IndexKind::name`] gives it and [`FromStr`] parses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum IndexKind {
    /// Exact search: every vector compared with the query; the ground truth of the others.
    Flat,
    /// Hierarchical navigable small-world graph (hnsw_rs).
    Hnsw,
    /// Inverted file of FAISS: lists of full vectors (IVF-Flat) or product-quantised codes (IVF-PQ).
    Ivf,
}

impl IndexKind {
    /// Every kind, in declaration order.
    pub const ALL: [IndexKind; 3] = [IndexKind::Flat, IndexKind::Hnsw, IndexKind::Ivf];

    /// The order in which a query that names no index picks one among those built: the fast
    /// approximate ones first, exact search last.
    pub const PREFERENCE: [IndexKind; 3] = [IndexKind::Hnsw, IndexKind::Ivf, IndexKind::Flat];

    /// The kinds a new collection builds.
    pub const DEFAULT_SET: [IndexKind; 3] = Self::PREFERENCE;

    /// The kind's name: `flat`, `hnsw` or `ivf`.
    pub const fn name(self) -> &'static str {
        match self {
            IndexKind::Flat => "flat",
            IndexKind::Hnsw => "hnsw",
            IndexKind::Ivf => "ivf",
        }
    }

    /// Every kind's name, in declaration order.
    pub fn names() -> [&'static str; 3] {
        Self::ALL.map(Self::name)
    }

    /// The first kind of [`IndexKind::PREFERENCE`] for which `built` holds.
    pub fn preferred(built: impl Fn(IndexKind) -> bool) -> Option<IndexKind> {
        Self::PREFERENCE.into_iter().find(|&k| built(k))
    }
}

impl fmt::Display for IndexKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names no index kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown index kind {given:?}: expected one of flat, hnsw, ivf")]
pub struct UnknownIndexKind {
    /// What was given.
    pub given: String,
}

impl FromStr for IndexKind {
    type Err = UnknownIndexKind;

    /// Parses a kind's name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownIndexKind {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_display_and_serde_agree() {
        for kind in IndexKind::ALL {
            assert_eq!(kind.name().parse::<IndexKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.name());
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<IndexKind>(&json).unwrap(), kind);
        }
        assert_eq!("HNSW".parse::<IndexKind>(), Ok(IndexKind::Hnsw));
        let err = "annoy".parse::<IndexKind>().unwrap_err();
        assert!(err.to_string().contains("flat, hnsw, ivf"), "{err}");
    }

    #[test]
    fn preference_is_hnsw_then_ivf_then_flat() {
        assert_eq!(IndexKind::preferred(|_| true), Some(IndexKind::Hnsw));
        assert_eq!(
            IndexKind::preferred(|k| k != IndexKind::Hnsw),
            Some(IndexKind::Ivf)
        );
        assert_eq!(
            IndexKind::preferred(|k| k == IndexKind::Flat),
            Some(IndexKind::Flat)
        );
        assert_eq!(IndexKind::preferred(|_| false), None);
    }
}
