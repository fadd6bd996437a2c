//! vsearch-qdrant's own tests, one binary (`cargo test --release -p vsearch-qdrant --test it`), against a
//! real Qdrant server (`../shared/tools/qdrant/qdrant`, started by vsearch-testkit; without it the tests
//! that need it fail unless `VSEARCH_ALLOW_SKIP=qdrant`): typed errors, retries through a proxy that can
//! stall the connection, and batched writes read back.

mod errors;
mod points;
mod retries;
mod support;
