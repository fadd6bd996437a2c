//! One module per subcommand.

pub mod bench;
pub mod block;
pub mod embed;
pub mod index;
pub mod models;
pub mod search;
pub mod serve;
