//! A local collection opened for search: its images and their metadata, queries (a query's vector, the
//! filter inside the search, pages), browsing and facets. The query-side code a Qdrant collection
//! shares ([`query_vector`], [`answer`], [`video_groups`]) lives here too.

pub mod answer;
pub mod browse;
pub mod collection;
pub mod facts;
pub mod images;
pub mod query;
pub mod query_vector;
pub mod video_groups;
