//! The `vsearch` crate's integration tests, one binary (`cargo test --release --test it`; one module:
//! `cargo test --release --test it qdrant::`): each module was a test binary of its own, each compiled
//! against candle, FAISS and tokio, so one binary builds once instead of sixteen times. Sharing a process is
//! safe: no test changes its own environment or other process-wide settings (fault injection, caches and
//! seeds reach the `vsearch` processes a test starts through their environment), and servers and Qdrant
//! nodes listen on free ports.

mod common;

mod analytics;
mod architecture;
mod blocks;
mod cli_index;
mod collection_loader_fuzz;
mod crash_consistency;
mod deletes_reclaim_space;
mod dupes;
mod fault_injection;
mod full_disk;
mod hashes;
mod heif;
mod hub_standin;
mod labels;
mod metadata_filters;
mod mutated_files;
mod pdq;
mod precision_cli;
mod qdrant;
mod qdrant_cluster;
mod qdrant_reports;
mod qdrant_safety;
mod ranking;
mod reports;
mod rerank;
mod search_cli;
mod stable_ids;
mod thumbnails;
mod videos;
