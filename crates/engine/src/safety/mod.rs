//! Keeping a collection clean: takedowns by similarity ([`blocks`]), duplicate groups ([`dupes`]),
//! matching against banks of known-bad PDQ hashes ([`hashbanks`]), zero-shot label scoring ([`labels`]), and the precision/recall evaluation of such pair classifiers
//! ([`classifier_eval`]).

pub mod blocks;
pub mod classifier_eval;
pub mod dupes;
pub mod hashbanks;
pub(crate) mod image_set;
pub mod labels;
pub mod on_qdrant;
pub mod qdrant_labels;
pub mod signature;
