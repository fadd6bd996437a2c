//! vsearch-index's integration tests, one binary (`cargo test --release -p vsearch-index --test it`; one
//! module: `... --test it ivf::`): one module per former test binary, so FAISS is linked once.
//! `ivf_batch` sets FAISS's thread count to 2 for the whole process (as `vsearch --threads 2` would);
//! no test depends on the default.

mod common;

mod disk_estimate;
mod distance_kernels;
mod eval;
mod filtered;
mod flat_hnsw;
mod hnsw_search_graph;
mod ivf;
mod ivf_batch;
mod ivf_quantized;
mod loader_fuzz;
mod quantized_hnsw;
