//! The hook of a learned re-scorer: features in, a relevance out.
//!
//! The ranking stage ([`crate::ranking::stage::rank`]) calls [`Rescorer::score`] once per candidate,
//! before boosts, collapse and diversity, and takes what it returns as the candidate's relevance in place
//! of the cosine. Boosts are then added to it, collapse keeps each group's highest, and maximal marginal
//! relevance weighs it against the cosine similarity between results, so a score on the cosine's scale
//! (about -1 to 1, higher is better) mixes with them as the cosine does. The answer names the re-scorer
//! ([`Rescorer::name`]) among its steps.

use crate::ranking::features::Features;

/// A model that scores candidates from their [`Features`].
pub trait Rescorer: Send + Sync + std::fmt::Debug {
    /// What the answer's steps call it (e.g. `"logistic@3"`: the model and its generation).
    fn name(&self) -> String;
    /// The relevance of one candidate (higher first).
    fn score(&self, features: &Features) -> f32;
}
