//! The learned re-ranker: a small model that reorders a search's candidates by what people open from
//! the page, trained from the search analytics.
//!
//! - [`clicks`]: labels from opens (skip-above: opened or pinned = positive, skipped above an open =
//!   negative) and a simulated user for measurements;
//! - [`model`]: a logistic regression (`linfa-logistic`) over the standardised rows of the ranking
//!   stage's features ([`crate::ranking::Features::values`]: cosine, gap to the best, original rank,
//!   agreement with the head of the list, copies, flags, labels, age, reports, the query's kind; the
//!   analytics record them with every search, so training sees them as the page did), stored
//!   atomically in the records folder as `reranker.json` with a version; it is the ranking stage's
//!   [`Rescorer`](crate::ranking::Rescorer);
//! - [`train`]: the log split by search into training and held-out parts, the fit, and the offline
//!   evaluation (NDCG@10 and MRR of opened results, model order against cosine order);
//! - [`metrics`]: NDCG@k and reciprocal rank;
//! - [`served`]: the re-ranker a server applies: on with a model, off (and why) without one.
//!
//! Until the training part of the log holds [`train::MIN_POSITIVES`] opened or pinned results, no model
//! is trained and the re-ranker stays off, and says so.

pub mod clicks;
pub mod metrics;
pub mod model;
pub mod served;
pub mod train;

pub use clicks::ClickModel;
pub use metrics::RankingFigures;
pub use model::Model;
pub use served::Reranker;
pub use train::{Evaluation, TrainOutcome, MIN_POSITIVES};
