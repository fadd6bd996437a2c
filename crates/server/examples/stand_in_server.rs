//! Serves a folder of `.jpg` photos through the real router with the tests' stand-in collection
//! (colour histograms, exact search), for driving the web page and the OpenAPI checks without a model:
//! `cargo run --release -p vsearch-server --example stand_in_server -- FOLDER [ADDR]`.

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::sync::Arc;
use vsearch_server::{router, AppState, ServeOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let folder = args.next().ok_or("usage: stand_in_server FOLDER [ADDR]")?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let backend = Arc::new(common::HistogramCollection::build(std::path::Path::new(
        &folder,
    )));
    let state = AppState::new(backend, &ServeOptions::default());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("stand-in server at http://{}/", listener.local_addr()?);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(vsearch_server::shutdown_signal())
        .await?;
    Ok(())
}
