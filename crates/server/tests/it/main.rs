//! vsearch-server's integration tests, one binary (`cargo test --release -p vsearch-server --test it`; one
//! module: `... --test it live_update::`): one module per former test binary, so the server and its
//! dependencies are linked once. `shutdown` sends SIGTERM to this process: only the server it starts
//! listens for it (the other tests serve through `common::Server`, which installs no signal handler).

mod common;

mod analytics;
mod engine_e2e;
mod faults;
mod http_api;
mod live_update;
mod metrics;
mod reports;
mod search_features;
mod shutdown;
