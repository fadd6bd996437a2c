//! The bottom layer: what every other module speaks in (errors, image ids, image metadata, the filter
//! grammar, label policies, queries and their answers, a collection's file layout). Imports nothing of
//! the crate above it.

pub mod error;
pub mod fault;
pub mod filter;
pub mod image_id;
pub mod label_policy;
pub mod layout;
pub mod metadata;
pub mod query;
