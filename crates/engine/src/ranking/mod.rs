//! The ranking stage: what happens between retrieval (an index's candidates in cosine order) and the
//! answer. Retrieval hands over `k x factor` candidates ([`Candidate`]: id, cosine, rank, and the facts the
//! steps read: stored vector, content hash, PDQ hash, mtime, labels, open reports); the stage
//! ([`stage::rank`]) then runs, in this order, the steps its [`RankOptions`] turn on:
//!
//! 1. **re-score** (optional): a learned model ([`Rescorer`]: [`Features`] in, a relevance out) replaces
//!    the cosine as each candidate's relevance;
//! 2. **boosts and demotions** ([`Boosts`]): recency, a label's score, a flag, open reports, added to
//!    the relevance;
//! 3. **collapse** ([`copies`]): one result per duplicate group, the group's best-scoring copy leading
//!    with the other copies' ids;
//! 4. **diversity** ([`diversity`]): maximal marginal relevance over the stored vectors.
//!
//! (`min_score` is applied by retrieval, on the cosine, as before.) Everything here is plain data and
//! computation; gathering the candidates' facts from a backend is [`crate::answers`]'s work.

pub mod boosts;
pub mod clusters;
pub mod copies;
pub mod diversity;
pub mod features;
pub mod options;
pub mod rescorer;
pub mod stage;

pub use boosts::{Boosts, Recency};
pub use copies::{StoredCopies, StoredCopy, COPY_GROUPS_FILE};
pub use features::{
    Candidate, CandidateFacts, Features, QueryKind, Row, FEATURES_VERSION, FEATURE_NAMES,
};
pub use options::{RankOptions, RANKING_FILE};
pub use rescorer::Rescorer;
pub use stage::{rank, Ranked, RankedResult};
