//! vsearch-qdrant: one Qdrant collection as a vector store, over the official client (`qdrant-client`,
//! gRPC).
//!
//! [`Store`] is a blocking facade: each call runs on the store's own tokio runtime and the calling
//! thread waits for it, so the synchronous engine (and the server's blocking pool) can use it without
//! an async context of their own. Calls that fail for a reason that may pass (the server unreachable or
//! overloaded, a timeout, a replica not ready) are retried with exponential backoff ([`Retry`]); what
//! is left is a typed [`StoreError`] that says what happened and what to do.
//!
//! The crate knows nothing of images: points carry a UUID, named vectors and a JSON payload. The
//! engine decides what goes in them.

mod collection;
mod convert;
mod error;
mod layout;
mod points;
mod read;
mod store;

pub use convert::{dense_vector, point_uuid};
pub use error::{Result, StoreError};
pub use layout::{CollectionLayout, Distance, Quantization, VectorSpec};
pub use points::Point;
pub use prost_types::Timestamp;
pub use qdrant_client::qdrant as proto;
pub use store::{Retry, Store, StoreConfig};
