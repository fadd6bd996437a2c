//! Answers as users get them: retrieval from a [`Backend`], then the ranking stage
//! ([`crate::ranking`]) with what the collection knows besides the vectors (its ranking defaults, the
//! stored copy groups, open reports): searches ([`search()`]) and recommendations ([`recommend()`]).
//! Written once over the [`Backend`] trait, so a local collection and a Qdrant collection answer alike.
//!
//! [`Backend`]: crate::backend::Backend

pub mod measure;
pub mod recommend;
pub mod search;
pub mod signals;

pub use recommend::{cold_start, recommend, ColdStart, RecommendOptions, Recommendations};
pub use search::{search, Learning};
