//! One module per subcommand.

pub mod analytics;
pub mod bench;
pub mod block;
pub mod dupes;
pub mod embed;
pub mod eval;
pub mod hashes;
pub mod index;
pub mod labels;
pub mod models;
pub mod qdrant;
pub mod rank;
pub mod records;
pub mod reports;
pub mod search;
pub mod serve;
