//! The `vsearch` crate's integration tests, one binary (`cargo test --release --test it`; one module:
//! `cargo test --release --test it qdrant::`): each module was a test binary of its own, and every binary
//! links candle, FAISS and tokio, so one binary builds and links once instead of sixteen times. The tests
//! share no process state beyond the `vsearch` binary they run and the helpers in `common`.

mod common;

mod architecture;
mod blocks;
mod cli_index;
mod collection_loader_fuzz;
mod crash_consistency;
mod deletes_reclaim_space;
mod dupes;
mod fault_injection;
mod hub_standin;
mod labels;
mod metadata_filters;
mod mutated_files;
mod precision_cli;
mod qdrant;
mod qdrant_cluster;
mod search_cli;
mod stable_ids;
