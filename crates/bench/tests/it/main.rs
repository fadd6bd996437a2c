//! vsearch-bench's integration tests, one binary (`cargo test --release -p vsearch-bench --test it`): one
//! module per former test binary, so the crate's tests build and link once.

mod bench;
mod collection;
mod neural_set;
